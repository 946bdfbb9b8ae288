"""Labeled VPN prefixes: VPNv4 / VPNv6 (RFC 4364 §4.3.4, RFC 4659, RFC 8277)."""

from __future__ import annotations

from dataclasses import dataclass

from filament.wire.bgp.common import (
    IPV4_VPN, IPV6_VPN, Context, Family, RouteDistinguisher, label_bytes, prefix_bytes, prefix_str,
)
from filament.wire.bgp.errors import BgpError, INVALID_NETWORK_FIELD, UPDATE_MESSAGE
from filament.wire.bgp.nlri import register

# RFC 8277 §2.4: the label field of a withdrawn route may hold 0x800000.
WITHDRAW_LABEL = 0x800000


@register(IPV4_VPN, IPV6_VPN)
@dataclass(frozen=True, slots=True)
class VpnPrefix:
    rd: RouteDistinguisher
    prefix: str
    labels: tuple[int, ...] = ()

    def __str__(self) -> str:
        """Control-node prefix form ``<rd>:<prefix>``."""
        return f"{self.rd}:{self.prefix}"

    def encode(self, ctx: Context) -> bytes:
        plen, raw = prefix_bytes(self.prefix)
        if len(self.labels) == 1:
            lab = label_bytes(self.labels[0])
        elif self.labels:
            lab = b"".join(label_bytes(v, i == len(self.labels) - 1) for i, v in enumerate(self.labels))
        else:
            lab = WITHDRAW_LABEL.to_bytes(3, "big")
        return bytes([plen + 8 * (len(lab) + 8)]) + lab + self.rd.encode() + raw

    @staticmethod
    def decode_all(family: Family, data: bytes, ctx: Context) -> list["VpnPrefix"]:
        out = []
        i, n = 0, len(data)
        maxlen = 32 if family.afi == 1 else 128
        while i < n:
            bits = data[i]
            i += 1
            size = (bits + 7) // 8
            if i + size > n:
                raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason="VPN prefix overruns")
            body = data[i : i + size]
            i += size
            labels = []
            j = 0
            while True:
                if j + 3 > len(body):
                    raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason="VPN label stack")
                raw = int.from_bytes(body[j : j + 3], "big")
                j += 3
                if raw == WITHDRAW_LABEL or raw == 0:
                    break  # a withdrawal's compatibility label carries no stack
                labels.append(raw >> 4)
                if raw & 1:
                    break
            if len(body) < j + 8:
                raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason="VPN prefix without RD")
            plen = bits - 8 * (j + 8)
            if plen < 0 or plen > maxlen:
                raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason="VPN prefix length")
            rd = RouteDistinguisher.decode_cached(body[j : j + 8])
            out.append(VpnPrefix(rd, prefix_str(family.afi, plen, body[j + 8 :]), tuple(labels)))
        return out
