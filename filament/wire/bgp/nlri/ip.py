"""Plain IPv4/IPv6 unicast prefixes (RFC 4271 §4.3, RFC 4760)."""

from __future__ import annotations

from dataclasses import dataclass

from filament.wire.bgp.common import AFI_IPV4, IPV4_UNICAST, IPV6_UNICAST, Context, Family, prefix_bytes, prefix_str
from filament.wire.bgp.errors import BgpError, INVALID_NETWORK_FIELD, UPDATE_MESSAGE
from filament.wire.bgp.nlri import register


@register(IPV4_UNICAST, IPV6_UNICAST)
@dataclass(frozen=True, slots=True)
class IpPrefix:
    prefix: str

    def __str__(self) -> str:
        return self.prefix

    def encode(self, ctx: Context) -> bytes:
        plen, raw = prefix_bytes(self.prefix)
        return bytes([plen]) + raw

    @staticmethod
    def decode_all(family: Family, data: bytes, ctx: Context) -> list["IpPrefix"]:
        out = []
        i, n = 0, len(data)
        maxlen = 32 if family.afi == AFI_IPV4 else 128
        while i < n:
            plen = data[i]
            size = (plen + 7) // 8
            if plen > maxlen or i + 1 + size > n:
                raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason="bad prefix")
            out.append(IpPrefix(prefix_str(family.afi, plen, data[i + 1 : i + 1 + size])))
            i += 1 + size
        return out
