"""KEEPALIVE (RFC 4271 §4.4): a bare header."""

from __future__ import annotations

from dataclasses import dataclass

from filament.wire.bgp.common import Context
from filament.wire.bgp.message import HEADER_SIZE, KEEPALIVE, register


@register(KEEPALIVE, HEADER_SIZE, HEADER_SIZE)
@dataclass(frozen=True, slots=True)
class Keepalive:
    def encode_body(self, ctx: Context) -> bytes:
        return b""

    @classmethod
    def decode_body(cls, body: bytes, ctx: Context) -> "Keepalive":
        return cls()
