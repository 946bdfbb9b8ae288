"""Shared pieces: address families, route distinguishers, prefixes, decode context."""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from filament.wire.bgp.errors import BgpError, UPDATE_MESSAGE, INVALID_NETWORK_FIELD, OPTIONAL_ATTRIBUTE_ERROR

AFI_IPV4 = 1
AFI_IPV6 = 2
AFI_L2VPN = 25
SAFI_UNICAST = 1
SAFI_MPLS_LABEL = 4
SAFI_EVPN = 70
SAFI_RTC = 132
SAFI_MPLS_VPN = 128


@dataclass(frozen=True, slots=True)
class Family:
    afi: int
    safi: int

    def __str__(self) -> str:
        return FAMILY_NAMES.get(self, f"{self.afi}/{self.safi}")

    def __hash__(self) -> int:  # families key per-route dicts: skip hashing a field tuple
        return self.afi << 8 | self.safi


IPV4_UNICAST = Family(AFI_IPV4, SAFI_UNICAST)
IPV6_UNICAST = Family(AFI_IPV6, SAFI_UNICAST)
IPV4_VPN = Family(AFI_IPV4, SAFI_MPLS_VPN)
IPV6_VPN = Family(AFI_IPV6, SAFI_MPLS_VPN)
EVPN = Family(AFI_L2VPN, SAFI_EVPN)
RTC = Family(AFI_IPV4, SAFI_RTC)
FAMILY_NAMES = {
    IPV4_UNICAST: "inet", IPV6_UNICAST: "inet6", IPV4_VPN: "inet-vpn", IPV6_VPN: "inet6-vpn",
    EVPN: "e-vpn", RTC: "route-target",
}
FAMILY_BY_NAME = {v: k for k, v in FAMILY_NAMES.items()}


@dataclass(frozen=True, slots=True)
class Context:
    """What the session negotiated that changes the wire format."""

    as4: bool = True


DEFAULT_CONTEXT = Context()


@dataclass(frozen=True, slots=True)
class RouteDistinguisher:
    """RFC 4364 §4.2: type 0 (AS2:N4), 1 (IP:N2), 2 (AS4:N2)."""

    type: int
    admin: int  # ASN, or the IPv4 address as an int
    assigned: int

    @classmethod
    def parse(cls, text: str) -> "RouteDistinguisher":
        admin, _, num = text.rpartition(":")
        if "." in admin:
            v4 = v4_int(admin)
            return cls(1, int(ipaddress.IPv4Address(admin)) if v4 is None else v4, int(num))
        a = int(admin)
        return cls(2 if a > 0xFFFF else 0, a, int(num))

    def __str__(self) -> str:
        if self.type == 1:
            a = self.admin
            return f"{a >> 24 & 255}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}:{self.assigned}"
        return f"{self.admin}:{self.assigned}"

    def encode(self) -> bytes:
        if self.type == 0:
            return struct.pack("!HHI", 0, self.admin, self.assigned)
        if self.type in (1, 2):
            return struct.pack("!HIH", self.type, self.admin, self.assigned)
        return struct.pack("!H", self.type) + self.admin.to_bytes(6, "big")

    @classmethod
    def decode_cached(cls, data: bytes) -> "RouteDistinguisher":
        """``decode`` through a small cache: an UPDATE's routes mostly share one RD."""
        rd = _RD_CACHE.get(data)
        if rd is None:
            if len(_RD_CACHE) >= 4096:
                _RD_CACHE.clear()
            rd = _RD_CACHE[bytes(data)] = cls.decode(data)
        return rd

    @classmethod
    def decode(cls, data: bytes) -> "RouteDistinguisher":
        if len(data) != 8:
            raise BgpError(UPDATE_MESSAGE, OPTIONAL_ATTRIBUTE_ERROR, reason="bad RD length")
        (t,) = struct.unpack_from("!H", data)
        if t == 0:
            _, a, n = struct.unpack("!HHI", data)
            return cls(0, a, n)
        if t in (1, 2):
            _, a, n = struct.unpack("!HIH", data)
            return cls(t, a, n)
        # Unknown RD types are kept opaque (admin = 6 raw bytes).
        return cls(t, int.from_bytes(data[2:], "big"), 0)


RD_ZERO = RouteDistinguisher(0, 0, 0)
_RD_CACHE: dict[bytes, RouteDistinguisher] = {}


def v4_int(text: str) -> int | None:
    """A dotted-quad IPv4 address as an int, None when ``text`` is not exactly one
    (callers fall back to ``ipaddress`` for other forms and its error messages). The
    hot paths of route reflection parse addresses per route; ``ipaddress`` costs ~10 us,
    ``inet_pton`` (as strict: no leading zeros, no short forms) a fraction of one."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError, TypeError):
        return None


def ip_bytes(addr: str) -> bytes:
    v4 = v4_int(addr)
    if v4 is not None:
        return v4.to_bytes(4, "big")
    return ipaddress.ip_address(addr).packed


def ip_str(data: bytes) -> str:
    if len(data) == 4:
        return f"{data[0]}.{data[1]}.{data[2]}.{data[3]}"
    if len(data) == 16:
        return str(ipaddress.IPv6Address(bytes(data)))
    raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason=f"bad address length {len(data)}")


def mac_str(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def prefix_bytes(prefix: str) -> tuple[int, bytes]:
    """(length in bits, the minimum bytes holding the prefix); host bits are cleared."""
    addr, slash, plen = prefix.partition("/")
    v4 = v4_int(addr)
    if v4 is not None and (not slash or (plen.isdigit() and plen.isascii() and int(plen) <= 32)):
        n = int(plen) if slash else 32
        v4 &= (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
        return n, v4.to_bytes(4, "big")[: (n + 7) // 8]
    net = ipaddress.ip_network(prefix, strict=False)
    n = net.prefixlen
    return n, net.network_address.packed[: (n + 7) // 8]


def prefix_str(afi: int, plen: int, data: bytes) -> str:
    size = 4 if afi == AFI_IPV4 else 16
    if plen > size * 8:
        raise BgpError(UPDATE_MESSAGE, INVALID_NETWORK_FIELD, reason=f"prefix length {plen}")
    if size == 4 and len(data) <= 4:
        v = int.from_bytes(bytes(data) + bytes(4 - len(data)), "big") & ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF)
        return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}/{plen}"
    raw = bytes(data) + bytes(size - len(data))
    addr = ipaddress.IPv4Address(raw) if size == 4 else ipaddress.IPv6Address(raw)
    return str(ipaddress.ip_network(f"{addr}/{plen}", strict=False))


def label_bytes(label: int, bottom: bool = True) -> bytes:
    """A 3-byte MPLS label field (20-bit label, bottom-of-stack bit)."""
    return ((label << 4) | (1 if bottom else 0)).to_bytes(3, "big")


def label_value(data: bytes) -> int:
    return int.from_bytes(data[:3], "big") >> 4
