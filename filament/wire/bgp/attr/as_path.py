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


def _has_wide(segments) -> bool:
    return any(a > 0xFFFF for _, asns in segments for a in asns)


def for_two_octet_peer(attributes: tuple) -> tuple:
    """RFC 6793 §4.2.2: attributes as sent to a peer without the 4-octet capability.
    AS_PATH then goes out with AS_TRANS in place of wide ASNs (the encoder does that),
    so the real path rides in AS4_PATH (confederation segments excluded)."""
    attrs = tuple(a for a in attributes if not isinstance(a, As4Path))
    path = next((a for a in attrs if isinstance(a, AsPath)), None)
    if path is None or not _has_wide(path.segments):
        return attrs
    segs = tuple(s for s in path.segments if s[0] in (AS_SEQUENCE, AS_SET))
    return attrs + (As4Path(segs),)


def from_two_octet_peer(attributes: tuple) -> tuple:
    """RFC 6793 §4.2.3: merge AS4_PATH from a 2-octet peer into its AS_PATH (the
    AS_PATH's leading ASNs the AS4_PATH does not cover, then the AS4_PATH). An AS4_PATH
    longer than the AS_PATH is ignored. AS4_PATH is dropped either way."""
    path = next((a for a in attributes if isinstance(a, AsPath)), None)
    as4 = next((a for a in attributes if isinstance(a, As4Path)), None)
    rest = tuple(a for a in attributes if not isinstance(a, (AsPath, As4Path)))
    if as4 is None or path is None:
        return tuple(a for a in attributes if not isinstance(a, As4Path))
    keep = path.path_length() - AsPath(as4.segments).path_length()
    if keep < 0:
        return rest + (path,)
    lead: list = []
    for stype, asns in path.segments:
        if keep <= 0:
            break
        if stype == AS_SEQUENCE:
            take = asns[:keep]
            lead.append((stype, take))
            keep -= len(take)
        elif stype == AS_SET:
            lead.append((stype, asns))
            keep -= 1
        else:  # confederation segments do not count and are kept
            lead.append((stype, asns))
    merged = tuple(lead) + tuple(as4.segments)
    if len(lead) and merged and lead[-1][0] == AS_SEQUENCE and as4.segments and as4.segments[0][0] == AS_SEQUENCE:
        merged = tuple(lead[:-1]) + ((AS_SEQUENCE, lead[-1][1] + as4.segments[0][1]),) + tuple(as4.segments[1:])
    return rest + (AsPath(merged),)


def for_four_octet_peer(attributes: tuple) -> tuple:
    """RFC 6793 §3: a 4-octet peer must not get AS4_PATH, and one it sends is ignored."""
    return tuple(a for a in attributes if not isinstance(a, As4Path))
