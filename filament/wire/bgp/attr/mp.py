"""MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), RFC 4760.

Errors here reset the session (RFC 7606 §7.11: the NLRI cannot be located reliably).
NLRI of a family we do not parse are kept as ``raw`` bytes for the session to ignore.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.attr import OPTIONAL, RESET, Attribute, register
from filament.wire.bgp.common import SAFI_MPLS_VPN, Context, Family, ip_bytes, ip_str
from filament.wire.bgp.errors import BgpError, OPTIONAL_ATTRIBUTE_ERROR, UPDATE_MESSAGE
from filament.wire.bgp.nlri import decode_nlri, encode_nlri, supported


def _error(reason: str) -> BgpError:
    return BgpError(UPDATE_MESSAGE, OPTIONAL_ATTRIBUTE_ERROR, reason=reason)


def _encode_next_hop(family: Family, next_hop: str, link_local: str) -> bytes:
    addrs = [ip_bytes(a) for a in (next_hop, link_local) if a]
    if family.safi == SAFI_MPLS_VPN:
        # RFC 4364 §4.3.2: the next hop is a VPN address with RD 0.
        return b"".join(bytes(8) + a for a in addrs)
    return b"".join(addrs)


def _decode_next_hop(family: Family, raw: bytes) -> tuple[str, str]:
    if family.safi == SAFI_MPLS_VPN:
        if len(raw) not in (12, 24, 48):
            raise _error(f"VPN next hop length {len(raw)}")
        step = len(raw) if len(raw) < 48 else 24
        raw = b"".join(raw[k + 8 : k + step] for k in range(0, len(raw), step))
    if len(raw) in (4, 16):
        return ip_str(raw), ""
    if len(raw) == 32:
        return ip_str(raw[:16]), ip_str(raw[16:])
    if len(raw) == 0:
        return "", ""
    raise _error(f"next hop length {len(raw)}")


@register
@dataclass(frozen=True, slots=True)
class MpReach(Attribute):
    family: Family
    next_hop: str
    nlri: tuple = ()
    link_local: str = ""
    raw: bytes = b""
    CODE = 14
    FLAGS = OPTIONAL
    ON_ERROR = RESET

    def encode_value(self, ctx: Context) -> bytes:
        nh = _encode_next_hop(self.family, self.next_hop, self.link_local)
        body = self.raw if self.raw else encode_nlri(self.family, self.nlri, ctx)
        return struct.pack("!HBB", self.family.afi, self.family.safi, len(nh)) + nh + b"\x00" + body

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "MpReach":
        if len(data) < 5:
            raise _error("MP_REACH_NLRI too short")
        afi, safi, nhlen = struct.unpack_from("!HBB", data)
        if len(data) < 5 + nhlen:
            raise _error("MP_REACH_NLRI next hop overruns")
        fam = Family(afi, safi)
        body = data[5 + nhlen :]
        if not supported(fam):
            return cls(fam, "", (), "", bytes(body))
        nh, ll = _decode_next_hop(fam, data[4 : 4 + nhlen])
        return cls(fam, nh, tuple(decode_nlri(fam, body, ctx)), ll)


@register
@dataclass(frozen=True, slots=True)
class MpUnreach(Attribute):
    family: Family
    nlri: tuple = ()
    raw: bytes = b""
    CODE = 15
    FLAGS = OPTIONAL
    ON_ERROR = RESET

    def encode_value(self, ctx: Context) -> bytes:
        body = self.raw if self.raw else encode_nlri(self.family, self.nlri, ctx)
        return struct.pack("!HB", self.family.afi, self.family.safi) + body

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "MpUnreach":
        if len(data) < 3:
            raise _error("MP_UNREACH_NLRI too short")
        afi, safi = struct.unpack_from("!HB", data)
        fam = Family(afi, safi)
        if not supported(fam):
            return cls(fam, (), bytes(data[3:]))
        return cls(fam, tuple(decode_nlri(fam, data[3:], ctx)))

    @property
    def end_of_rib(self) -> bool:
        """RFC 4724 §2: an MP_UNREACH with no NLRI marks End-of-RIB for its family."""
        return not self.nlri and not self.raw
