"""Small XML helpers shared by the XMPP codecs (stdlib expat, namespaces dropped)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from filament.wire.xmpp.model import XmppDecodeError


def parse(data: bytes) -> ET.Element:
    """Parse one stanza as a standalone document; element names lose namespaces.

    DTDs and entity declarations are refused outright (no entity expansion).
    """
    if b"<!" in data:
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise XmppDecodeError("DTD/entity declarations are not allowed")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise XmppDecodeError(f"malformed XML: {exc}") from None
    except (ValueError, UnicodeError) as exc:
        raise XmppDecodeError(f"malformed XML: {exc}") from None
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and tag[0] == "{":
            el.tag = tag.rpartition("}")[2]
    return root


def esc(s: object) -> str:
    s = str(s)
    if "&" in s or "<" in s or ">" in s or '"' in s:
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return s


def text(el: ET.Element | None, tag: str, default: str = "") -> str:
    if el is None:
        return default
    child = el.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def integer(el: ET.Element | None, tag: str, error: type[Exception], default: int = 0) -> int:
    raw = text(el, tag)
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise error(f"<{tag}> is not an integer: {raw[:32]!r}") from None
