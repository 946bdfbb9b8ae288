"""Byte framing of the original's XMPP stream (pure, no sockets).

The stream is not parsed as one XML document: the original frames it with
regexes. Between stanzas any run of space, TAB, CR, LF, 0xC8, 0x80 is a
keepalive; a stanza runs from ``<iq``/``<message`` to the first matching end
tag; the stream header ends at ``http://etherx.jabber.org/streams"`` + ``>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEEPALIVE = b"\xc8\x80"
STREAM_NS = "http://etherx.jabber.org/streams"
STREAM_CLOSE = b"</stream:stream>"
_FILLER = b" \t\r\n\xc8\x80"
_HEADER_END = re.compile(rb"http://etherx\.jabber\.org/streams[\"']\s*>")
_XML_DECL = b'<?xml version="1.0"?>'
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(["'])(.*?)\2""", re.S)
_END = {b"iq": re.compile(rb"</iq\s*>"), b"message": re.compile(rb"</message\s*>")}

DEFAULT_MAX_STANZA = 256 * 1024


class XmppFrameError(ValueError):
    """The byte stream cannot be framed: garbage, oversize stanza or bad header."""


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """The `<stream:stream …>` opening of either side."""

    from_: str
    to: str
    id: str = ""
    xmlns: str = ""
    version: str = "1.0"


@dataclass(frozen=True, slots=True)
class Keepalive:
    """One run of keepalive filler bytes between stanzas."""


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The peer sent `</stream:stream>`."""


@dataclass(frozen=True, slots=True)
class Stanza:
    """One framed stanza: its tag (`iq` or `message`) and its raw bytes."""

    tag: str
    data: bytes


def encode_header(h: StreamHeader, *, server: bool) -> bytes:
    """Encode a stream header the way the original does (attribute order matters)."""
    if server:
        text = (
            f'<stream:stream from="{_q(h.from_)}" to="{_q(h.to)}" id="{_q(h.id or "++123")}" '
            f'version="{h.version}" xml:lang="en" xmlns="{_q(h.xmlns or "jabber:client")}" '
            f'xmlns:stream="{STREAM_NS}" >'
        )
    else:
        text = (
            f'<stream:stream from="{_q(h.from_)}" to="{_q(h.to)}" version="{h.version}" '
            f'xml:lang="en" xmlns="{_q(h.xmlns)}" xmlns:stream="{STREAM_NS}" >'
        )
    return text.encode()


def decode_header(data: bytes) -> StreamHeader:
    """Decode the attributes of a framed stream header."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XmppFrameError("stream header is not UTF-8") from exc
    attrs = {m.group(1): _unq(m.group(3)) for m in _ATTR.finditer(text)}
    if attrs.get("xmlns:stream") != STREAM_NS:
        raise XmppFrameError("stream header without xmlns:stream")
    if not attrs.get("from"):
        raise XmppFrameError("stream header without from")
    return StreamHeader(
        from_=attrs.get("from", ""),
        to=attrs.get("to", ""),
        id=attrs.get("id", ""),
        xmlns=attrs.get("xmlns", ""),
        version=attrs.get("version", "1.0"),
    )


class Framer:
    """Incremental framer: feed bytes, get header / keepalive / stanza events.

    The buffer never holds more than ``max_stanza`` bytes of one unfinished
    stanza; beyond that the stream is rejected (bounded memory per session).
    """

    __slots__ = ("_buf", "_header_seen", "max_stanza")

    def __init__(self, max_stanza: int = DEFAULT_MAX_STANZA):
        self._buf = b""
        self._header_seen = False
        self.max_stanza = max_stanza

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list:
        """Consume ``data``; return the complete events it finished."""
        buf = self._buf + data if self._buf else bytes(data)
        out: list = []
        pos = 0
        n = len(buf)
        while pos < n:
            start = pos
            while pos < n and buf[pos] in _FILLER:
                pos += 1
            if pos > start:
                if self._header_seen and (not out or not isinstance(out[-1], Keepalive)):
                    out.append(Keepalive())
                continue
            if not self._header_seen:
                consumed = self._frame_header(buf, pos, out)
            else:
                consumed = self._frame_stanza(buf, pos, out)
            if consumed is None:
                break
            pos = consumed
        self._buf = buf[pos:]
        if len(self._buf) > self.max_stanza:
            raise XmppFrameError(f"unterminated stanza over {self.max_stanza} bytes")
        return out

    def _frame_header(self, buf: bytes, pos: int, out: list) -> int | None:
        rest = buf[pos:]
        if rest.startswith(b"<?"):
            if len(rest) < len(_XML_DECL):
                return None if _XML_DECL.startswith(rest) else self._bad(rest)
            if not rest.startswith(_XML_DECL):
                self._bad(rest)
            return pos + len(_XML_DECL)
        opener = b"<stream:stream"
        if len(rest) < len(opener):
            return None if opener.startswith(rest) else self._bad(rest)
        if not rest.startswith(opener):
            self._bad(rest)
        if len(rest) > len(opener) and rest[len(opener)] not in b" \t\r\n":
            self._bad(rest)
        m = _HEADER_END.search(buf, pos)
        if m is None:
            return None
        out.append(decode_header(buf[pos : m.end()]))
        self._header_seen = True
        return m.end()

    def _frame_stanza(self, buf: bytes, pos: int, out: list) -> int | None:
        if buf.startswith(b"<iq", pos):
            tag = b"iq"
        elif buf.startswith(b"<message", pos):
            tag = b"message"
        elif buf.startswith(b"</stream:stream", pos):
            end = buf.find(b">", pos)
            if end < 0:
                return None
            out.append(StreamClosed())
            return end + 1
        else:
            rest = buf[pos : pos + 16]
            if any(p.startswith(rest) for p in (b"<iq", b"<message", b"</stream:stream")):
                return None
            self._bad(rest)
        after = buf[pos + len(tag) + 1 : pos + len(tag) + 2]
        if after and after not in b" \t\r\n>":
            self._bad(buf[pos : pos + 16])
        m = _END[tag].search(buf, pos)
        if m is None:
            return None
        out.append(Stanza(tag.decode(), buf[pos : m.end()]))
        return m.end()

    @staticmethod
    def _bad(rest: bytes):
        raise XmppFrameError(f"unexpected bytes {rest[:24]!r}")


def _q(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _unq(s: str) -> str:
    return s.replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
