"""OPEN (RFC 4271 §4.2) with Capabilities (RFC 5492) and extended parameters (RFC 9072)."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from filament.wire.bgp.capabilities import FourOctetAs, decode_capabilities, encode_capability
from filament.wire.bgp.common import Context
from filament.wire.bgp.errors import (
    BAD_BGP_IDENTIFIER, OPEN_MESSAGE, UNACCEPTABLE_HOLD_TIME, UNSUPPORTED_OPTIONAL_PARAMETER, UNSUPPORTED_VERSION, BgpError,
)
from filament.wire.bgp.message import OPEN, register

CAPABILITIES_PARAM = 2
AS_TRANS = 23456


@register(OPEN, 29)
@dataclass(frozen=True, slots=True)
class Open:
    """``asn`` is the real (possibly 4-octet) ASN: from the 4-octet capability when present."""

    asn: int
    hold_time: int
    router_id: str
    capabilities: tuple = ()
    version: int = 4

    def capability(self, cls):
        return next((c for c in self.capabilities if isinstance(c, cls)), None)

    def encode_body(self, ctx: Context) -> bytes:
        # All capabilities in one parameter, as GoBGP sends them (RFC 5492 allows either).
        caps = b"".join(encode_capability(c) for c in self.capabilities)
        params = bytes([CAPABILITIES_PARAM, len(caps)]) + caps if caps else b""
        if len(params) > 255:
            raise ValueError("capabilities too long for one OPEN parameter")
        my_as = self.asn if self.asn <= 0xFFFF else AS_TRANS
        return struct.pack("!BHH", self.version, my_as, self.hold_time) + ipaddress.IPv4Address(self.router_id).packed + bytes([len(params)]) + params

    @classmethod
    def decode_body(cls, body: bytes, ctx: Context) -> "Open":
        version, my_as, hold = struct.unpack_from("!BHH", body)
        if version != 4:
            raise BgpError(OPEN_MESSAGE, UNSUPPORTED_VERSION, struct.pack("!H", 4), reason=f"version {version}")
        if hold in (1, 2):
            raise BgpError(OPEN_MESSAGE, UNACCEPTABLE_HOLD_TIME, reason=f"hold time {hold}")
        rid = body[5:9]
        if rid == bytes(4):
            raise BgpError(OPEN_MESSAGE, BAD_BGP_IDENTIFIER, reason="zero identifier")
        plen = body[9]
        params = body[10:]
        wide = False
        if plen == 255 and params[:1] == b"\xff":  # RFC 9072 extended optional parameters
            if len(params) < 3:
                raise BgpError(OPEN_MESSAGE, UNSUPPORTED_OPTIONAL_PARAMETER, reason="extended parameters")
            (plen,) = struct.unpack_from("!H", params, 1)
            params = params[3:]
            wide = True
        if len(params) != plen:
            raise BgpError(OPEN_MESSAGE, 0, reason="optional parameters length")
        caps: list = []
        i = 0
        hdr = 3 if wide else 2
        while i < plen:
            if i + hdr > plen:
                raise BgpError(OPEN_MESSAGE, 0, reason="truncated optional parameter")
            ptype = params[i]
            size = struct.unpack_from("!H", params, i + 1)[0] if wide else params[i + 1]
            if i + hdr + size > plen:
                raise BgpError(OPEN_MESSAGE, 0, reason="optional parameter overruns")
            value = params[i + hdr : i + hdr + size]
            if ptype != CAPABILITIES_PARAM:
                raise BgpError(OPEN_MESSAGE, UNSUPPORTED_OPTIONAL_PARAMETER, reason=f"parameter {ptype}")
            caps.extend(decode_capabilities(value))
            i += hdr + size
        four = next((c for c in caps if isinstance(c, FourOctetAs)), None)
        asn = four.asn if four is not None else my_as
        return cls(asn, hold, str(ipaddress.IPv4Address(rid)), tuple(caps), version)
