"""Route-target membership NLRI (RFC 4684 §4)."""

from __future__ import annotations

from dataclasses import dataclass

from filament.wire.bgp.attr.ext_communities import ExtCommunity
from filament.wire.bgp.common import RTC, Context, Family
from filament.wire.bgp.errors import BgpError, INVALID_NETWORK_FIELD, UPDATE_MESSAGE
from filament.wire.bgp.nlri import register


@register(RTC)
@dataclass(frozen=True, slots=True)
class RtMembership:
    """``origin_as`` 0 with ``target`` None is the default (length 0) route."""

    origin_as: int = 0
    target: ExtCommunity | None = None

    def __str__(self) -> str:
        if self.target is None:
            return "0:0:0"
        return f"{self.origin_as}:{self.target}"

    def encode(self, ctx: Context) -> bytes:
        if self.target is None:
            return b"\x00"
        return bytes([96]) + self.origin_as.to_bytes(4, "big") + self.target.encode()

    @staticmethod
    def decode_all(family: Family, data: bytes, ctx: Context) -> list["RtMembership"]:
        out = []
        i, n = 0, len(data)
        while i < n:
            bits = data[i]
            i += 1
            if bits == 0:
                out.append(RtMembership())
                continue
            size = (bits + 7) // 8
            # Prefixes shorter than origin AS + type (48 bits) are invalid (RFC 4684 §4).
            if bits > 96 or bits < 32 or i + size > n:
                raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason="bad RTC prefix")
            raw = data[i : i + size] + bytes(12 - size)
            i += size
            out.append(RtMembership(int.from_bytes(raw[:4], "big"), ExtCommunity.decode(raw[4:12])))
        return out
