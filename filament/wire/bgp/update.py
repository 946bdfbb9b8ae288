"""UPDATE (RFC 4271 §4.3) with RFC 7606 revised error handling."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.attr import DecodedAttributes, decode_attributes, encode_attributes
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import NextHop, Origin
from filament.wire.bgp.attr.mp import MpReach, MpUnreach
from filament.wire.bgp.common import IPV4_UNICAST, Context, Family
from filament.wire.bgp.errors import MALFORMED_ATTRIBUTE_LIST, UPDATE_MESSAGE, BgpError
from filament.wire.bgp.message import HEADER_SIZE, MAX_SIZE, UPDATE, frame, register
from filament.wire.bgp.nlri import decode_nlri, encode_nlri


@register(UPDATE, 23)
@dataclass(frozen=True, slots=True)
class Update:
    """``withdrawn``/``nlri`` are IPv4 unicast prefixes; other families ride in the
    MpReach/MpUnreach attributes. A non-empty ``treat_as_withdraw`` names the RFC 7606
    error that turns every route this UPDATE announces into a withdrawal."""

    withdrawn: tuple = ()
    attributes: tuple = ()
    nlri: tuple = ()
    treat_as_withdraw: str = ""
    discarded: tuple[int, ...] = ()

    def get(self, cls):
        return next((a for a in self.attributes if isinstance(a, cls)), None)

    @property
    def end_of_rib(self):
        """The family this UPDATE marks End-of-RIB for (RFC 4724 §2), else None."""
        if not self.withdrawn and not self.nlri:
            if not self.attributes:
                return IPV4_UNICAST
            if len(self.attributes) == 1 and isinstance(self.attributes[0], MpUnreach) and self.attributes[0].end_of_rib:
                return self.attributes[0].family
        return None

    def announced(self) -> list[tuple]:
        """(family, nlri, next hop) for every route announced (none if treat-as-withdraw)."""
        if self.treat_as_withdraw:
            return []
        out = []
        nh = self.get(NextHop)
        for p in self.nlri:
            out.append((IPV4_UNICAST, p, nh.address if nh else ""))
        mp = self.get(MpReach)
        if mp is not None:
            out.extend((mp.family, p, mp.next_hop) for p in mp.nlri)
        return out

    def announced_by_family(self) -> list[tuple]:
        """(family, next hop, nlri tuple) per announcing part of the UPDATE (NLRI field,
        MP_REACH): ``announced()`` without a tuple per route."""
        if self.treat_as_withdraw:
            return []
        out = []
        if self.nlri:
            nh = self.get(NextHop)
            out.append((IPV4_UNICAST, nh.address if nh else "", self.nlri))
        mp = self.get(MpReach)
        if mp is not None and mp.nlri:
            out.append((mp.family, mp.next_hop, mp.nlri))
        return out

    def withdrawals(self) -> list[tuple]:
        """(family, nlri) for every route withdrawn, including treat-as-withdraw ones."""
        out = [(IPV4_UNICAST, p) for p in self.withdrawn]
        un = self.get(MpUnreach)
        if un is not None:
            out.extend((un.family, p) for p in un.nlri)
        if self.treat_as_withdraw:
            out.extend((IPV4_UNICAST, p) for p in self.nlri)
            mp = self.get(MpReach)
            if mp is not None:
                out.extend((mp.family, p) for p in mp.nlri)
        return out

    def encode_body(self, ctx: Context) -> bytes:
        w = encode_nlri(IPV4_UNICAST, self.withdrawn, ctx)
        a = encode_attributes(self.attributes, ctx)
        return struct.pack("!H", len(w)) + w + struct.pack("!H", len(a)) + a + encode_nlri(IPV4_UNICAST, self.nlri, ctx)

    @classmethod
    def decode_body(cls, body: bytes, ctx: Context) -> "Update":
        (wlen,) = struct.unpack_from("!H", body)
        if 2 + wlen + 2 > len(body):
            raise BgpError(UPDATE_MESSAGE, MALFORMED_ATTRIBUTE_LIST, reason="withdrawn length")
        withdrawn = decode_nlri(IPV4_UNICAST, body[2 : 2 + wlen], ctx)
        (alen,) = struct.unpack_from("!H", body, 2 + wlen)
        astart = 4 + wlen
        if astart + alen > len(body):
            raise BgpError(UPDATE_MESSAGE, MALFORMED_ATTRIBUTE_LIST, reason="attribute length")
        dec: DecodedAttributes = decode_attributes(body[astart : astart + alen], ctx)
        nlri = decode_nlri(IPV4_UNICAST, body[astart + alen :], ctx)
        attrs = dec.attributes
        withdraw = dec.withdraw_reason
        mp = attrs.get(MpReach.CODE)
        if not withdraw and (nlri or (mp is not None and mp.nlri)):
            # RFC 7606 §3d: a missing well-known mandatory attribute is treat-as-withdraw.
            for needed in (Origin, AsPath) + ((NextHop,) if nlri else ()):
                if needed.CODE not in attrs:
                    withdraw = f"missing {needed.__name__}"
                    break
        if alen == 0 and not nlri and wlen == 0:
            pass  # End-of-RIB for IPv4 unicast
        return cls(tuple(withdrawn), tuple(attrs.values()), tuple(nlri), withdraw, dec.discarded)


def pack_routes(family: Family, attributes: tuple | None, next_hop: str, nlri: list[bytes], ctx: Context,
                max_size: int = MAX_SIZE) -> list[bytes]:
    """Whole UPDATE messages (header included) carrying the pre-encoded NLRI ``nlri`` of
    ``family``: announced with ``attributes`` (MP_REACH / NEXT_HOP from ``next_hop`` are
    added) or withdrawn when ``attributes`` is None, as many per message as fit in
    ``max_size``. Attributes are encoded once per call and each NLRI exactly once (the
    caller's), which is what makes reflecting many routes with one attribute set cheap."""
    if family == IPV4_UNICAST:
        if attributes is None:
            return [frame(UPDATE, struct.pack("!H", len(w)) + w + b"\x00\x00") for w in _chunks(nlri, max_size - 23)]
        a = encode_attributes(sorted(attributes + (NextHop(next_hop),), key=_code), ctx)
        head = b"\x00\x00" + struct.pack("!H", len(a)) + a
        return [frame(UPDATE, head + body) for body in _chunks(nlri, max_size - HEADER_SIZE - len(head))]
    if attributes is None:
        # MP_UNREACH: 4-byte attribute header (extended length), AFI/SAFI 3 bytes
        return [frame(UPDATE, b"\x00\x00" + _attr_block(MpUnreach(family, raw=body).encode(ctx)))
                for body in _chunks(nlri, max_size - HEADER_SIZE - 4 - 4 - 3)]
    before = encode_attributes(sorted((a for a in attributes if a.CODE < MpReach.CODE), key=_code), ctx)
    after = encode_attributes(sorted((a for a in attributes if a.CODE > MpReach.CODE), key=_code), ctx)
    nh_len = len(MpReach(family, next_hop, raw=b"\x00").encode_value(ctx)) - 1  # AFI/SAFI, next hop, reserved
    room = max_size - HEADER_SIZE - 4 - len(before) - len(after) - 4 - nh_len
    out = []
    for body in _chunks(nlri, room):
        mp = MpReach(family, next_hop, raw=body).encode(ctx)
        out.append(frame(UPDATE, b"\x00\x00" + _attr_block(before + mp + after)))
    return out


def _attr_block(attrs: bytes) -> bytes:
    return struct.pack("!H", len(attrs)) + attrs


def _chunks(items: list[bytes], room: int):
    """Concatenations of consecutive ``items`` of at most ``room`` bytes each."""
    chunk: list[bytes] = []
    used = 0
    for item in items:
        if chunk and used + len(item) > room:
            yield b"".join(chunk)
            chunk, used = [], 0
        chunk.append(item)
        used += len(item)
    if chunk:
        yield b"".join(chunk)


def _code(attr) -> int:
    return attr.CODE
