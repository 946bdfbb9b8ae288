"""PMSI tunnel attribute (RFC 6514 §5, type 22), used by EVPN type-3 routes."""

from __future__ import annotations

from dataclasses import dataclass

from filament.wire.bgp.attr import OPTIONAL, TRANSITIVE, Attribute, _length_error, register
from filament.wire.bgp.common import Context

INGRESS_REPLICATION = 6


@register
@dataclass(frozen=True, slots=True)
class PmsiTunnel(Attribute):
    """``label`` is the raw 24-bit field (a VNI for VXLAN, RFC 8365 §5.1.3)."""

    tunnel_type: int
    label: int
    tunnel_id: bytes
    flags: int = 0
    CODE = 22
    FLAGS = OPTIONAL | TRANSITIVE

    def encode_value(self, ctx: Context) -> bytes:
        return bytes([self.flags, self.tunnel_type]) + self.label.to_bytes(3, "big") + self.tunnel_id

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "PmsiTunnel":
        if len(data) < 5:
            raise _length_error("PMSI_TUNNEL")
        return cls(data[1], int.from_bytes(data[2:5], "big"), bytes(data[5:]), data[0])
