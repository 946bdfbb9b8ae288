"""NLRI codecs, one module per address family, registered by (AFI, SAFI)."""

from __future__ import annotations

from typing import Callable

from filament.wire.bgp.common import Context, Family
from filament.wire.bgp.errors import BgpError, OPTIONAL_ATTRIBUTE_ERROR, UPDATE_MESSAGE

Decoder = Callable[[Family, bytes, Context], list]
Encoder = Callable[[object, Context], bytes]
_DECODERS: dict[Family, Decoder] = {}
_ENCODERS: dict[Family, Encoder] = {}


def register(*families: Family):
    """Class decorator: the class's ``decode_all``/``encode`` serve these families."""

    def wrap(cls):
        for fam in families:
            _DECODERS[fam] = cls.decode_all
            _ENCODERS[fam] = cls.encode
        return cls

    return wrap


def supported(family: Family) -> bool:
    return family in _DECODERS


def decode_nlri(family: Family, data: bytes, ctx: Context) -> list:
    """All NLRI of one family packed in ``data``."""
    dec = _DECODERS.get(family)
    if dec is None:
        raise BgpError(UPDATE_MESSAGE, OPTIONAL_ATTRIBUTE_ERROR, reason=f"unsupported family {family}")
    return dec(family, bytes(data), ctx)


def nlri_encoder(family: Family) -> Encoder:
    """The ``encode(nlri, ctx) -> bytes`` of one family (to encode many NLRI one by one)."""
    return _ENCODERS[family]


def encode_nlri(family: Family, items, ctx: Context) -> bytes:
    enc = _ENCODERS[family]
    return b"".join(enc(n, ctx) for n in items)


from filament.wire.bgp.nlri import evpn, ip, rtc, vpn  # noqa: E402,F401  (registration)
