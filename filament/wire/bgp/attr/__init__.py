"""Path attributes: one module per attribute (or close family), registered by type code.

``decode_attributes`` applies RFC 7606: each attribute's ``ON_ERROR`` says whether a
malformed instance withdraws the UPDATE's routes, is discarded, or resets the session.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from filament.wire.bgp.common import Context
from filament.wire.bgp.errors import (
    ATTRIBUTE_FLAGS_ERROR, ATTRIBUTE_LENGTH_ERROR, MALFORMED_ATTRIBUTE_LIST, UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
    UPDATE_MESSAGE, AttributeDiscard, BgpError, TreatAsWithdraw,
)

OPTIONAL = 0x80
TRANSITIVE = 0x40
PARTIAL = 0x20
EXTENDED_LENGTH = 0x10

WITHDRAW, DISCARD, RESET = "withdraw", "discard", "reset"


class Attribute:
    """Base of every attribute model (frozen dataclasses)."""

    CODE: ClassVar[int]
    FLAGS: ClassVar[int]
    ON_ERROR: ClassVar[str] = WITHDRAW

    def encode_value(self, ctx: Context) -> bytes:
        raise NotImplementedError

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "Attribute":
        raise NotImplementedError

    def encode(self, ctx: Context) -> bytes:
        value = self.encode_value(ctx)
        flags = self.FLAGS
        if len(value) > 255:
            return struct.pack("!BBH", flags | EXTENDED_LENGTH, self.CODE, len(value)) + value
        return struct.pack("!BBB", flags, self.CODE, len(value)) + value


_REGISTRY: dict[int, type[Attribute]] = {}


def register(cls):
    _REGISTRY[cls.CODE] = cls
    return cls


def attribute_class(code: int) -> type[Attribute] | None:
    return _REGISTRY.get(code)


@dataclass(frozen=True, slots=True)
class UnknownAttribute(Attribute):
    """An optional transitive attribute we do not understand: passed on with Partial set."""

    code: int
    flags: int
    data: bytes

    def encode(self, ctx: Context) -> bytes:
        flags = (self.flags | PARTIAL) & ~EXTENDED_LENGTH
        if len(self.data) > 255:
            return struct.pack("!BBH", flags | EXTENDED_LENGTH, self.code, len(self.data)) + self.data
        return struct.pack("!BBB", flags, self.code, len(self.data)) + self.data


@dataclass(frozen=True, slots=True)
class DecodedAttributes:
    attributes: dict  # code -> Attribute, first occurrence wins
    withdraw_reason: str = ""  # non-empty: RFC 7606 treat-as-withdraw applies
    discarded: tuple[int, ...] = ()


def decode_attributes(data: bytes, ctx: Context) -> DecodedAttributes:
    """Decode the path attribute block; raises BgpError only when the session must reset."""
    attrs: dict[int, Attribute] = {}
    withdraw = ""
    discarded: list[int] = []
    i, n = 0, len(data)
    while i < n:
        if i + 3 > n:
            raise BgpError(UPDATE_MESSAGE, MALFORMED_ATTRIBUTE_LIST, reason="truncated attribute header")
        flags, code = data[i], data[i + 1]
        if flags & EXTENDED_LENGTH:
            if i + 4 > n:
                raise BgpError(UPDATE_MESSAGE, MALFORMED_ATTRIBUTE_LIST, reason="truncated attribute header")
            (alen,) = struct.unpack_from("!H", data, i + 2)
            start = i + 4
        else:
            alen = data[i + 2]
            start = i + 3
        end = start + alen
        if end > n:
            raise BgpError(UPDATE_MESSAGE, ATTRIBUTE_LENGTH_ERROR, data[i:n], reason=f"attribute {code} overruns")
        value = data[start:end]
        raw = data[i:end]
        i = end
        cls = _REGISTRY.get(code)
        if cls is None:
            if not flags & OPTIONAL:
                raise BgpError(UPDATE_MESSAGE, UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, raw, reason=f"attribute {code}")
            if flags & TRANSITIVE and code not in attrs:
                attrs[code] = UnknownAttribute(code, flags, bytes(value))
            continue
        if code in attrs:
            if cls.ON_ERROR == RESET:  # duplicate MP_REACH/MP_UNREACH (RFC 7606 §3g)
                raise BgpError(UPDATE_MESSAGE, MALFORMED_ATTRIBUTE_LIST, reason=f"duplicate attribute {code}")
            continue
        try:
            if (flags & (OPTIONAL | TRANSITIVE)) != (cls.FLAGS & (OPTIONAL | TRANSITIVE)):
                raise BgpError(UPDATE_MESSAGE, ATTRIBUTE_FLAGS_ERROR, raw, reason=f"attribute {code} flags")
            attrs[code] = cls.decode_value(bytes(value), ctx)
        except BgpError as exc:
            action = cls.ON_ERROR
            if isinstance(exc, AttributeDiscard) and action != RESET:
                action = DISCARD
            if action == RESET:
                if not exc.data:
                    exc.data = bytes(raw)
                raise
            if action == DISCARD:
                discarded.append(code)
            else:
                withdraw = withdraw or exc.reason or f"attribute {code}"
    return DecodedAttributes(attrs, withdraw, tuple(discarded))


def encode_attributes(attrs, ctx: Context) -> bytes:
    return b"".join(a.encode(ctx) for a in attrs)


def _length_error(what: str) -> TreatAsWithdraw:
    return TreatAsWithdraw(UPDATE_MESSAGE, ATTRIBUTE_LENGTH_ERROR, reason=f"{what} length")


from filament.wire.bgp.attr import as_path, basic, communities, ext_communities, mp, pmsi  # noqa: E402,F401
