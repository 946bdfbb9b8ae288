"""AS_PATH (type 2; 2- or 4-octet ASNs per RFC 6793) and AS4_PATH (type 17)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.attr import DISCARD, OPTIONAL, TRANSITIVE, Attribute, register
from filament.wire.bgp.common import Context
from filament.wire.bgp.errors import MALFORMED_AS_PATH, UPDATE_MESSAGE, TreatAsWithdraw

AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET = 1, 2, 3, 4
AS_TRANS = 23456


def _encode(segments, size: int) -> bytes:
    out = bytearray()
    fmt = "!I" if size == 4 else "!H"
    for stype, asns in segments:
        for k in range(0, max(len(asns), 1), 255):
            chunk = asns[k : k + 255]
            out += bytes([stype, len(chunk)])
            for a in chunk:
                out += struct.pack(fmt, a if size == 4 or a <= 0xFFFF else AS_TRANS)
    return bytes(out)


def _decode(data: bytes, size: int) -> tuple:
    segs = []
    i, n = 0, len(data)
    while i < n:
        if i + 2 > n:
            raise TreatAsWithdraw(UPDATE_MESSAGE, MALFORMED_AS_PATH, reason="AS_PATH segment header")
        stype, count = data[i], data[i + 1]
        end = i + 2 + count * size
        if stype not in (AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET) or count == 0 or end > n:
            raise TreatAsWithdraw(UPDATE_MESSAGE, MALFORMED_AS_PATH, reason="AS_PATH segment")
        segs.append((stype, tuple(int.from_bytes(data[j : j + size], "big") for j in range(i + 2, end, size))))
        i = end
    return tuple(segs)


@register
@dataclass(frozen=True, slots=True)
class AsPath(Attribute):
    """``segments``: ((segment type, (asn, ...)), ...)."""

    segments: tuple = ()
    CODE = 2
    FLAGS = TRANSITIVE

    def encode_value(self, ctx: Context) -> bytes:
        return _encode(self.segments, 4 if ctx.as4 else 2)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "AsPath":
        return cls(_decode(data, 4 if ctx.as4 else 2))

    def path_length(self) -> int:
        """RFC 4271 §9.1.2.2: a set counts as one; confederation segments do not count."""
        return sum(len(a) if t == AS_SEQUENCE else 1 if t == AS_SET else 0 for t, a in self.segments)

    def asns(self) -> tuple[int, ...]:
        return tuple(a for _, seg in self.segments for a in seg)

    def prepend(self, asn: int) -> "AsPath":
        if self.segments and self.segments[0][0] == AS_SEQUENCE and len(self.segments[0][1]) < 255:
            first = (AS_SEQUENCE, (asn,) + self.segments[0][1])
            return AsPath((first,) + self.segments[1:])
        return AsPath(((AS_SEQUENCE, (asn,)),) + self.segments)


@register
@dataclass(frozen=True, slots=True)
class As4Path(Attribute):
    """Carried beside a 2-octet AS_PATH for a peer without the 4-octet capability."""

    segments: tuple = ()
    CODE = 17
    FLAGS = OPTIONAL | TRANSITIVE
    ON_ERROR = DISCARD  # RFC 6793 §6

    def encode_value(self, ctx: Context) -> bytes:
        return _encode(self.segments, 4)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "As4Path":
        return cls(_decode(data, 4))
