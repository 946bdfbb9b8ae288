"""OPEN capabilities (RFC 5492), registered by capability code.

Unknown capabilities decode to ``UnknownCapability`` and are ignored by the session
(RFC 5492 §3); only a malformed capability is an error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.common import Family
from filament.wire.bgp.errors import BgpError, OPEN_MESSAGE, UNSUPPORTED_OPTIONAL_PARAMETER

MULTIPROTOCOL = 1
ROUTE_REFRESH = 2
GRACEFUL_RESTART = 64
FOUR_OCTET_AS = 65
ENHANCED_ROUTE_REFRESH = 70
ROUTE_REFRESH_OLD = 128

_REGISTRY: dict[int, type] = {}


def register(cls):
    _REGISTRY[cls.CODE] = cls
    return cls


def _bad(what: str) -> BgpError:
    # RFC 5492 does not name a subcode for a malformed capability; like GoBGP and FRR
    # we answer "Unsupported Optional Parameter"-class OPEN errors.
    return BgpError(OPEN_MESSAGE, UNSUPPORTED_OPTIONAL_PARAMETER, reason=f"malformed capability {what}")


@register
@dataclass(frozen=True, slots=True)
class Multiprotocol:
    family: Family
    CODE = MULTIPROTOCOL

    def value(self) -> bytes:
        return struct.pack("!HBB", self.family.afi, 0, self.family.safi)

    @classmethod
    def parse(cls, data: bytes) -> "Multiprotocol":
        if len(data) != 4:
            raise _bad("multiprotocol")
        afi, _, safi = struct.unpack("!HBB", data)
        return cls(Family(afi, safi))


@register
@dataclass(frozen=True, slots=True)
class RouteRefresh:
    CODE = ROUTE_REFRESH

    def value(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, data: bytes) -> "RouteRefresh":
        if data:
            raise _bad("route refresh")
        return cls()


@register
@dataclass(frozen=True, slots=True)
class EnhancedRouteRefresh:
    CODE = ENHANCED_ROUTE_REFRESH

    def value(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, data: bytes) -> "EnhancedRouteRefresh":
        if data:
            raise _bad("enhanced route refresh")
        return cls()


@register
@dataclass(frozen=True, slots=True)
class FourOctetAs:
    asn: int
    CODE = FOUR_OCTET_AS

    def value(self) -> bytes:
        return struct.pack("!I", self.asn)

    @classmethod
    def parse(cls, data: bytes) -> "FourOctetAs":
        if len(data) != 4:
            raise _bad("4-octet AS")
        return cls(struct.unpack("!I", data)[0])


@register
@dataclass(frozen=True, slots=True)
class GracefulRestart:
    """RFC 4724 §3: ``families`` maps each family to its forwarding-state-preserved bit."""

    restart_time: int
    restarting: bool = False
    notification: bool = False  # RFC 8538 'N' bit
    families: tuple[tuple[Family, bool], ...] = ()
    CODE = GRACEFUL_RESTART

    def value(self) -> bytes:
        head = (0x8000 if self.restarting else 0) | (0x4000 if self.notification else 0) | (self.restart_time & 0xFFF)
        return struct.pack("!H", head) + b"".join(
            struct.pack("!HBB", f.afi, f.safi, 0x80 if fwd else 0) for f, fwd in self.families
        )

    @classmethod
    def parse(cls, data: bytes) -> "GracefulRestart":
        if len(data) < 2 or (len(data) - 2) % 4:
            raise _bad("graceful restart")
        (head,) = struct.unpack_from("!H", data)
        fams = tuple(
            (Family(*struct.unpack_from("!HB", data, k)), bool(data[k + 3] & 0x80)) for k in range(2, len(data), 4)
        )
        return cls(head & 0xFFF, bool(head & 0x8000), bool(head & 0x4000), fams)


@dataclass(frozen=True, slots=True)
class UnknownCapability:
    code: int
    data: bytes

    @property
    def CODE(self) -> int:  # noqa: N802 - same interface as the registered classes
        return self.code

    def value(self) -> bytes:
        return self.data


def encode_capability(cap) -> bytes:
    v = cap.value()
    return bytes([cap.CODE, len(v)]) + v


def decode_capabilities(data: bytes) -> list:
    """The capabilities in one Capabilities optional parameter."""
    out = []
    i, n = 0, len(data)
    while i < n:
        if i + 2 > n:
            raise _bad("header")
        code, size = data[i], data[i + 1]
        if i + 2 + size > n:
            raise _bad("overrun")
        body = bytes(data[i + 2 : i + 2 + size])
        cls = _REGISTRY.get(code)
        if cls is None and code == ROUTE_REFRESH_OLD:
            cls = RouteRefresh
        out.append(cls.parse(body) if cls else UnknownCapability(code, body))
        i += 2 + size
    return out
