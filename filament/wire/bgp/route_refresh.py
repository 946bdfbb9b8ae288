"""ROUTE-REFRESH (RFC 2918) with the enhanced subtypes of RFC 7313."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.common import Context, Family
from filament.wire.bgp.message import ROUTE_REFRESH, register

REQUEST, BEGIN_OF_RR, END_OF_RR = 0, 1, 2


@register(ROUTE_REFRESH, 23, 23)
@dataclass(frozen=True, slots=True)
class RouteRefresh:
    family: Family
    subtype: int = REQUEST

    def encode_body(self, ctx: Context) -> bytes:
        return struct.pack("!HBB", self.family.afi, self.subtype, self.family.safi)

    @classmethod
    def decode_body(cls, body: bytes, ctx: Context) -> "RouteRefresh":
        afi, sub, safi = struct.unpack("!HBB", body)
        return cls(Family(afi, safi), sub)
