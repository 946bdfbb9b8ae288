"""UPDATE (RFC 4271 §4.3) with RFC 7606 revised error handling."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.attr import DecodedAttributes, decode_attributes, encode_attributes
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import NextHop, Origin
from filament.wire.bgp.attr.mp import MpReach, MpUnreach
from filament.wire.bgp.common import IPV4_UNICAST, Context
from filament.wire.bgp.errors import MALFORMED_ATTRIBUTE_LIST, UPDATE_MESSAGE, BgpError
from filament.wire.bgp.message import UPDATE, register
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
