"""Extended communities (RFC 4360) and the attribute carrying them (type 16).

String forms follow the control node's introspect (reference §8.3):
``target:64512:1``, ``encapsulation:vxlan``, ``rtrmac:02:…``, ``mobility:sticky:3``,
``secgroup:64512:8000003``, ``originvn:64512:5``, ``tag:64512:7``.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from filament.wire.bgp.attr import Attribute, register
from filament.wire.bgp.common import Context, mac_bytes, mac_str
from filament.wire.bgp.errors import ATTRIBUTE_LENGTH_ERROR, UPDATE_MESSAGE, TreatAsWithdraw

ENCAPSULATIONS = {"gre": 2, "vxlan": 8, "nvgre": 9, "mpls": 10, "mpls-o-gre": 11, "vxlan-gpe": 12, "udp": 13, "native": 16}
ENCAPSULATION_NAMES = {v: k for k, v in ENCAPSULATIONS.items()}
# The original's vendor communities: (type for 2-byte AS, type for 4-byte AS, subtype).
_VENDOR = {"secgroup": (0x80, 0x82, 0x04), "originvn": (0x80, 0x82, 0x71), "tag": (0x80, 0x82, 0x84)}


@dataclass(frozen=True, slots=True)
class ExtCommunity:
    type: int
    subtype: int
    value: bytes  # 6 bytes

    def encode(self) -> bytes:
        return bytes([self.type, self.subtype]) + self.value

    @classmethod
    def decode(cls, data: bytes) -> "ExtCommunity":
        return cls(data[0], data[1], bytes(data[2:8]))

    # -- constructors ---------------------------------------------------------------
    @classmethod
    def route_target(cls, text: str) -> "ExtCommunity":
        """From ``target:<asn>:<n>`` or ``target:<ip>:<n>`` (or without the prefix)."""
        body = text.removeprefix("target:")
        admin, _, num = body.rpartition(":")
        if "." in admin:
            return cls(0x01, 0x02, ipaddress.IPv4Address(admin).packed + struct.pack("!H", int(num)))
        a = int(admin)
        if a > 0xFFFF:
            return cls(0x02, 0x02, struct.pack("!IH", a, int(num)))
        return cls(0x00, 0x02, struct.pack("!HI", a, int(num)))

    @classmethod
    def encapsulation(cls, name: str) -> "ExtCommunity":
        return cls(0x03, 0x0C, struct.pack("!IH", 0, ENCAPSULATIONS[name]))

    @classmethod
    def router_mac(cls, mac: str) -> "ExtCommunity":
        return cls(0x06, 0x03, mac_bytes(mac))

    @classmethod
    def mac_mobility(cls, sequence: int, sticky: bool = False) -> "ExtCommunity":
        return cls(0x06, 0x00, struct.pack("!BBI", 1 if sticky else 0, 0, sequence))

    @classmethod
    def vendor(cls, kind: str, asn: int, value: int) -> "ExtCommunity":
        """``kind`` secgroup / originvn / tag; the 4-byte-AS variant when asn > 65535."""
        t2, t4, sub = _VENDOR[kind]
        if asn > 0xFFFF:
            return cls(t4, sub, struct.pack("!IH", asn, value))
        return cls(t2, sub, struct.pack("!HI", asn, value))

    @classmethod
    def parse(cls, text: str) -> "ExtCommunity":
        kind, _, rest = text.partition(":")
        if kind == "target":
            return cls.route_target(rest)
        if kind == "encapsulation":
            return cls.encapsulation(rest)
        if kind == "rtrmac":
            return cls.router_mac(rest)
        if kind == "mobility":
            flag, _, seq = rest.partition(":")
            return cls.mac_mobility(int(seq), flag == "sticky")
        if kind in _VENDOR:
            a, _, v = rest.partition(":")
            return cls.vendor(kind, int(a), int(v))
        raise ValueError(f"unknown extended community {text!r}")

    # -- views ------------------------------------------------------------------------
    @property
    def is_route_target(self) -> bool:
        return self.subtype == 0x02 and self.type in (0x00, 0x01, 0x02)

    def __str__(self) -> str:
        t, s, v = self.type, self.subtype, self.value
        if self.is_route_target:
            if t == 0x00:
                a, n = struct.unpack("!HI", v)
            elif t == 0x01:
                return f"target:{ipaddress.IPv4Address(v[:4])}:{struct.unpack('!H', v[4:])[0]}"
            else:
                a, n = struct.unpack("!IH", v)
            return f"target:{a}:{n}"
        if (t, s) == (0x03, 0x0C):
            code = struct.unpack("!H", v[4:])[0]
            return f"encapsulation:{ENCAPSULATION_NAMES.get(code, code)}"
        if (t, s) == (0x06, 0x03):
            return f"rtrmac:{mac_str(v)}"
        if (t, s) == (0x06, 0x00):
            flags, _, seq = struct.unpack("!BBI", v)
            return f"mobility:{'sticky' if flags & 1 else 'non-sticky'}:{seq}"
        for kind, (t2, t4, sub) in _VENDOR.items():
            if s == sub and t == t2:
                a, n = struct.unpack("!HI", v)
                return f"{kind}:{a}:{n}"
            if s == sub and t == t4:
                a, n = struct.unpack("!IH", v)
                return f"{kind}:{a}:{n}"
        return f"ext:{t:02x}{s:02x}:{v.hex()}"


@register
@dataclass(frozen=True, slots=True)
class ExtCommunities(Attribute):
    communities: tuple[ExtCommunity, ...]
    CODE = 16
    FLAGS = 0xC0  # optional transitive

    def encode_value(self, ctx: Context) -> bytes:
        return b"".join(c.encode() for c in self.communities)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "ExtCommunities":
        if len(data) % 8:
            raise TreatAsWithdraw(UPDATE_MESSAGE, ATTRIBUTE_LENGTH_ERROR, reason="extended communities length")
        return cls(tuple(ExtCommunity.decode(data[i : i + 8]) for i in range(0, len(data), 8)))

    def route_targets(self) -> tuple[ExtCommunity, ...]:
        return tuple(c for c in self.communities if c.is_route_target)
