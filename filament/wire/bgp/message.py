"""The BGP message header (RFC 4271 §4.1) and the per-type codec registry."""

from __future__ import annotations

import struct
from typing import Callable

from filament.wire.bgp.common import DEFAULT_CONTEXT, Context
from filament.wire.bgp.errors import BAD_MESSAGE_LENGTH, BAD_MESSAGE_TYPE, CONNECTION_NOT_SYNCHRONIZED, MESSAGE_HEADER, BgpError

MARKER = b"\xff" * 16
HEADER_SIZE = 19
MAX_SIZE = 4096
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5

# type -> (message class, minimum length, maximum length)
_REGISTRY: dict[int, tuple[type, int, int]] = {}


def register(msg_type: int, min_len: int, max_len: int = MAX_SIZE) -> Callable[[type], type]:
    def wrap(cls):
        _REGISTRY[msg_type] = (cls, min_len, max_len)
        cls.TYPE = msg_type
        return cls

    return wrap


def frame(msg_type: int, body: bytes) -> bytes:
    size = HEADER_SIZE + len(body)
    if size > MAX_SIZE:
        raise ValueError(f"BGP message of {size} bytes exceeds {MAX_SIZE}")
    return MARKER + struct.pack("!HB", size, msg_type) + body


def encode_message(msg, ctx: Context = DEFAULT_CONTEXT) -> bytes:
    return frame(msg.TYPE, msg.encode_body(ctx))


def parse_header(header: bytes) -> tuple[int, int]:
    """(length, type) of a 19-byte header, validated; raises BgpError (code 1)."""
    if len(header) < HEADER_SIZE:
        raise BgpError(MESSAGE_HEADER, BAD_MESSAGE_LENGTH, reason="truncated header")
    if header[:16] != MARKER:
        raise BgpError(MESSAGE_HEADER, CONNECTION_NOT_SYNCHRONIZED, reason="bad marker")
    size, mtype = struct.unpack_from("!HB", header, 16)
    entry = _REGISTRY.get(mtype)
    if entry is None:
        raise BgpError(MESSAGE_HEADER, BAD_MESSAGE_TYPE, bytes([mtype]), reason=f"type {mtype}")
    _, lo, hi = entry
    if size < lo or size > hi:
        raise BgpError(MESSAGE_HEADER, BAD_MESSAGE_LENGTH, struct.pack("!H", size), reason=f"length {size} for type {mtype}")
    return size, mtype


def decode_message(data: bytes, ctx: Context = DEFAULT_CONTEXT):
    """One whole message (header included) to its model."""
    size, mtype = parse_header(data)
    if len(data) != size:
        raise BgpError(MESSAGE_HEADER, BAD_MESSAGE_LENGTH, struct.pack("!H", size), reason="length mismatch")
    return _REGISTRY[mtype][0].decode_body(bytes(data[HEADER_SIZE:]), ctx)


def split_messages(buf: bytearray) -> list[bytes]:
    """Remove and return the complete messages at the start of ``buf`` (header-checked)."""
    out = []
    pos = 0
    while len(buf) - pos >= HEADER_SIZE:
        size, _ = parse_header(bytes(buf[pos : pos + HEADER_SIZE]))
        if len(buf) - pos < size:
            break
        out.append(bytes(buf[pos : pos + size]))
        pos += size
    del buf[:pos]
    return out
