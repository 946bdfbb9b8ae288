"""Standard communities (RFC 1997, type 8)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from filament.wire.bgp.attr import OPTIONAL, TRANSITIVE, Attribute, _length_error, register
from filament.wire.bgp.common import Context

WELL_KNOWN = {0xFFFFFF01: "no-export", 0xFFFFFF02: "no-advertise", 0xFFFFFF03: "no-export-subconfed",
              0xFFFF0006: "llgr-stale", 0xFFFF0007: "no-llgr", 0xFFFF0000: "graceful-shutdown", 0xFFFF029A: "no-reoriginate"}
WELL_KNOWN_VALUES = {v: k for k, v in WELL_KNOWN.items()}


def community_str(value: int) -> str:
    return WELL_KNOWN.get(value) or f"{value >> 16}:{value & 0xFFFF}"


def community_value(text: str) -> int:
    if text in WELL_KNOWN_VALUES:
        return WELL_KNOWN_VALUES[text]
    hi, _, lo = text.partition(":")
    return (int(hi) << 16) | int(lo)


@register
@dataclass(frozen=True, slots=True)
class Communities(Attribute):
    values: tuple[int, ...]
    CODE = 8
    FLAGS = OPTIONAL | TRANSITIVE

    def encode_value(self, ctx: Context) -> bytes:
        return struct.pack(f"!{len(self.values)}I", *self.values)

    @classmethod
    def decode_value(cls, data: bytes, ctx: Context) -> "Communities":
        if len(data) % 4:
            raise _length_error("COMMUNITIES")
        return cls(struct.unpack(f"!{len(data) // 4}I", data))

    def strings(self) -> tuple[str, ...]:
        return tuple(community_str(v) for v in self.values)
