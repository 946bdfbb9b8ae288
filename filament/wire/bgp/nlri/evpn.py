"""EVPN NLRI route types 1-5 (RFC 7432 §7, RFC 9136 for type 5).

Label fields are kept as the raw 24-bit value: whether it is an MPLS label
(``value >> 4``) or a VXLAN VNI (RFC 8365 §5.1.3) depends on the route's
encapsulation community, which only the caller knows.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.common import EVPN, Context, Family, RouteDistinguisher, ip_bytes, ip_str, mac_bytes, mac_str
from filament.wire.bgp.errors import BgpError, INVALID_NETWORK_FIELD, UPDATE_MESSAGE
from filament.wire.bgp.nlri import register

ESI_ZERO = bytes(10)


def esi_str(esi: bytes) -> str:
    return ":".join(f"{b:02x}" for b in esi) if esi != ESI_ZERO else "0"


def _bad(reason: str) -> BgpError:
    return BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason=f"EVPN {reason}")


def _ip(data: bytes, bits: int, allow_empty: bool = False) -> str:
    if bits == 0 and allow_empty:
        return ""
    if bits not in (32, 128):
        raise _bad(f"IP length {bits}")
    return ip_str(data)


def _iplen(addr: str) -> bytes:
    return bytes([0]) if not addr else bytes([len(ip_bytes(addr)) * 8]) + ip_bytes(addr)


@dataclass(frozen=True, slots=True)
class EthernetAutoDiscovery:
    """Type 1."""

    rd: RouteDistinguisher
    esi: bytes
    ethernet_tag: int
    label: int
    TYPE = 1

    def __str__(self) -> str:
        return f"1-{self.rd}-{esi_str(self.esi)}-{self.ethernet_tag}"

    def body(self) -> bytes:
        return self.rd.encode() + self.esi + struct.pack("!I", self.ethernet_tag) + self.label.to_bytes(3, "big")

    @classmethod
    def parse(cls, b: bytes) -> "EthernetAutoDiscovery":
        if len(b) != 25:
            raise _bad("type 1 length")
        return cls(RouteDistinguisher.decode(b[:8]), b[8:18], struct.unpack_from("!I", b, 18)[0], int.from_bytes(b[22:25], "big"))


@dataclass(frozen=True, slots=True)
class MacIpAdvertisement:
    """Type 2. ``ip`` is '' for a MAC-only route; ``label2`` 0 when absent."""

    rd: RouteDistinguisher
    esi: bytes
    ethernet_tag: int
    mac: str
    ip: str
    label: int
    label2: int | None = None
    TYPE = 2

    def __str__(self) -> str:
        return f"2-{self.rd}-{self.ethernet_tag}-{self.mac},{self.ip or '0.0.0.0'}"

    def body(self) -> bytes:
        out = self.rd.encode() + self.esi + struct.pack("!I", self.ethernet_tag) + b"\x30" + mac_bytes(self.mac)
        out += _iplen(self.ip) + self.label.to_bytes(3, "big")
        if self.label2 is not None:
            out += self.label2.to_bytes(3, "big")
        return out

    @classmethod
    def parse(cls, b: bytes) -> "MacIpAdvertisement":
        if len(b) < 33 or b[22] != 48:
            raise _bad("type 2 MAC")
        bits = b[29]
        size = bits // 8
        rest = b[30 + size :]
        if bits % 8 or len(rest) not in (3, 6):
            raise _bad("type 2 length")
        return cls(
            RouteDistinguisher.decode(b[:8]), b[8:18], struct.unpack_from("!I", b, 18)[0], mac_str(b[23:29]),
            _ip(b[30 : 30 + size], bits, allow_empty=True), int.from_bytes(rest[:3], "big"),
            int.from_bytes(rest[3:6], "big") if len(rest) == 6 else None,
        )


@dataclass(frozen=True, slots=True)
class InclusiveMulticast:
    """Type 3."""

    rd: RouteDistinguisher
    ethernet_tag: int
    originator: str
    TYPE = 3

    def __str__(self) -> str:
        return f"3-{self.rd}-{self.ethernet_tag}-{self.originator}"

    def body(self) -> bytes:
        return self.rd.encode() + struct.pack("!I", self.ethernet_tag) + _iplen(self.originator)

    @classmethod
    def parse(cls, b: bytes) -> "InclusiveMulticast":
        if len(b) < 13 or len(b) != 13 + b[12] // 8 or b[12] % 8:
            raise _bad("type 3 length")
        return cls(RouteDistinguisher.decode(b[:8]), struct.unpack_from("!I", b, 8)[0], _ip(b[13:], b[12]))


@dataclass(frozen=True, slots=True)
class EthernetSegment:
    """Type 4."""

    rd: RouteDistinguisher
    esi: bytes
    originator: str
    TYPE = 4

    def __str__(self) -> str:
        return f"4-{self.rd}-{esi_str(self.esi)}-{self.originator}"

    def body(self) -> bytes:
        return self.rd.encode() + self.esi + _iplen(self.originator)

    @classmethod
    def parse(cls, b: bytes) -> "EthernetSegment":
        if len(b) < 19 or len(b) != 19 + b[18] // 8 or b[18] % 8:
            raise _bad("type 4 length")
        return cls(RouteDistinguisher.decode(b[:8]), b[8:18], _ip(b[19:], b[18]))


@dataclass(frozen=True, slots=True)
class IpPrefixRoute:
    """Type 5 (RFC 9136). ``prefix`` is 'ip/len'; ``gateway`` '' means all zeros."""

    rd: RouteDistinguisher
    esi: bytes
    ethernet_tag: int
    prefix: str
    gateway: str
    label: int
    TYPE = 5

    def __str__(self) -> str:
        return f"5-{self.rd}-{self.ethernet_tag}-{self.prefix}"

    def body(self) -> bytes:
        ip, _, plen = self.prefix.partition("/")
        raw = ip_bytes(ip)
        gw = ip_bytes(self.gateway) if self.gateway else bytes(len(raw))
        return self.rd.encode() + self.esi + struct.pack("!IB", self.ethernet_tag, int(plen)) + raw + gw + self.label.to_bytes(3, "big")

    @classmethod
    def parse(cls, b: bytes) -> "IpPrefixRoute":
        if len(b) == 34:
            size = 4
        elif len(b) == 58:
            size = 16
        else:
            raise _bad("type 5 length")
        plen = b[22]
        if plen > size * 8:
            raise _bad("type 5 prefix length")
        ip = ip_str(b[23 : 23 + size])
        gw_raw = b[23 + size : 23 + 2 * size]
        gw = "" if not any(gw_raw) else ip_str(gw_raw)
        return cls(RouteDistinguisher.decode(b[:8]), b[8:18], struct.unpack_from("!I", b, 18)[0], f"{ip}/{plen}", gw,
                   int.from_bytes(b[23 + 2 * size :], "big"))


ROUTE_TYPES = {c.TYPE: c for c in (EthernetAutoDiscovery, MacIpAdvertisement, InclusiveMulticast, EthernetSegment, IpPrefixRoute)}


@dataclass(frozen=True, slots=True)
class UnknownEvpnRoute:
    """A route type we do not parse, kept so it can be ignored (RFC 7432 §7)."""

    route_type: int
    data: bytes

    def __str__(self) -> str:
        return f"{self.route_type}-{self.data.hex()}"

    def body(self) -> bytes:
        return self.data


@register(EVPN)
class EvpnCodec:
    @staticmethod
    def encode(route, ctx: Context) -> bytes:
        body = route.body()
        rtype = route.route_type if isinstance(route, UnknownEvpnRoute) else route.TYPE
        return bytes([rtype, len(body)]) + body

    @staticmethod
    def decode_all(family: Family, data: bytes, ctx: Context) -> list:
        out = []
        i, n = 0, len(data)
        while i < n:
            if i + 2 > n:
                raise _bad("truncated header")
            rtype, size = data[i], data[i + 1]
            if i + 2 + size > n:
                raise _bad("route overruns")
            body = data[i + 2 : i + 2 + size]
            cls = ROUTE_TYPES.get(rtype)
            out.append(cls.parse(body) if cls else UnknownEvpnRoute(rtype, body))
            i += 2 + size
        return out
