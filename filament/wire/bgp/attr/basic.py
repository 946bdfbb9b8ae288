"""The small fixed-format attributes of RFC 4271 and RFC 4456 (types 1, 3-7, 9, 10)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.attr import DISCARD, OPTIONAL, TRANSITIVE, Attribute, _length_error, register
from filament.wire.bgp.common import Context, ip_bytes, ip_str
from filament.wire.bgp.errors import INVALID_ORIGIN, UPDATE_MESSAGE, AttributeDiscard, TreatAsWithdraw

IGP, EGP, INCOMPLETE = 0, 1, 2


@register
@dataclass(frozen=True, slots=True)
class Origin(Attribute):
    value: int = IGP
    CODE = 1
    FLAGS = TRANSITIVE

    def encode_value(self, ctx: Context) -> bytes:
        return bytes([self.value])

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "Origin":
        if len(data) != 1:
            raise _length_error("ORIGIN")
        if data[0] > INCOMPLETE:
            raise TreatAsWithdraw(UPDATE_MESSAGE, INVALID_ORIGIN, data, reason="ORIGIN value")
        return cls(data[0])


@register
@dataclass(frozen=True, slots=True)
class NextHop(Attribute):
    address: str
    CODE = 3
    FLAGS = TRANSITIVE

    def encode_value(self, ctx: Context) -> bytes:
        return ip_bytes(self.address)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "NextHop":
        if len(data) != 4:
            raise _length_error("NEXT_HOP")
        return cls(ip_str(data))


class _U32(Attribute):
    __slots__ = ()

    def encode_value(self, ctx: Context) -> bytes:
        return struct.pack("!I", self.value)  # type: ignore[attr-defined]

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context):
        if len(data) != 4:
            raise _length_error(cls.__name__)
        return cls(struct.unpack("!I", data)[0])


@register
@dataclass(frozen=True, slots=True)
class Med(_U32):
    value: int
    CODE = 4
    FLAGS = OPTIONAL


@register
@dataclass(frozen=True, slots=True)
class LocalPref(_U32):
    value: int
    CODE = 5
    FLAGS = TRANSITIVE


@register
@dataclass(frozen=True, slots=True)
class AtomicAggregate(Attribute):
    CODE = 6
    FLAGS = TRANSITIVE
    ON_ERROR = DISCARD

    def encode_value(self, ctx: Context) -> bytes:
        return b""

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "AtomicAggregate":
        if data:
            raise AttributeDiscard(UPDATE_MESSAGE, 5, reason="ATOMIC_AGGREGATE length")
        return cls()


@register
@dataclass(frozen=True, slots=True)
class Aggregator(Attribute):
    asn: int
    address: str
    CODE = 7
    FLAGS = OPTIONAL | TRANSITIVE
    ON_ERROR = DISCARD

    def encode_value(self, ctx: Context) -> bytes:
        return (struct.pack("!I", self.asn) if ctx.as4 else struct.pack("!H", min(self.asn, 23456) if self.asn > 0xFFFF else self.asn)) + ip_bytes(self.address)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "Aggregator":
        size = 4 if ctx.as4 else 2
        if len(data) != size + 4:
            raise AttributeDiscard(UPDATE_MESSAGE, 5, reason="AGGREGATOR length")
        return cls(int.from_bytes(data[:size], "big"), ip_str(data[size:]))


@register
@dataclass(frozen=True, slots=True)
class OriginatorId(Attribute):
    address: str
    CODE = 9
    FLAGS = OPTIONAL

    def encode_value(self, ctx: Context) -> bytes:
        return ip_bytes(self.address)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "OriginatorId":
        if len(data) != 4:
            raise _length_error("ORIGINATOR_ID")
        return cls(ip_str(data))


@register
@dataclass(frozen=True, slots=True)
class ClusterList(Attribute):
    ids: tuple[str, ...]
    CODE = 10
    FLAGS = OPTIONAL

    def encode_value(self, ctx: Context) -> bytes:
        return b"".join(ip_bytes(a) for a in self.ids)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "ClusterList":
        if len(data) % 4:
            raise _length_error("CLUSTER_LIST")
        return cls(tuple(ip_str(data[i : i + 4]) for i in range(0, len(data), 4)))
