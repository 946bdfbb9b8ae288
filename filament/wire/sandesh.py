"""Sandesh-style XML encoding for introspect responses (what ist.py parses).

Values are given as plain Python: ``S("Name", [(field, type, value), ...])`` for a
struct; a list value is ``("list", elem_type, [items])``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from xml.sax.saxutils import escape

STYLESHEET = '<?xml-stylesheet type="text/xsl" href="/universal_parse.xsl"?>'


@dataclass
class S:
    """A Sandesh struct: its name and ordered (field, type, value) triples."""

    name: str
    fields: list

    def to_json(self):
        return {f[0]: _json(f[2]) for f in self.fields}


def L(elem_type: str, items: list) -> tuple:
    return ("list", elem_type, items)


def _json(v):
    if isinstance(v, S):
        return v.to_json()
    if isinstance(v, tuple) and v and v[0] == "list":
        return [_json(x) for x in v[2]]
    return v


def _scalar(t: str, v) -> str:
    if t == "bool":
        return "true" if v else "false"
    return escape(str(v)) if v is not None else ""


def _field(name: str, t: str, v, ident: int, attrs: str = "") -> str:
    if isinstance(v, S):
        return f'<{name} type="struct" identifier="{ident}"{attrs}>{struct_xml(v)}</{name}>'
    if isinstance(v, tuple) and v and v[0] == "list":
        _, et, items = v
        if et == "struct":
            inner = "".join(struct_xml(x) for x in items)
        else:
            inner = "".join(f"<element>{_scalar(et, x)}</element>" for x in items)
        return f'<{name} type="list" identifier="{ident}"{attrs}><list type="{et}" size="{len(items)}">{inner}</list></{name}>'
    return f'<{name} type="{t}" identifier="{ident}"{attrs}>{_scalar(t, v)}</{name}>'


def struct_xml(s: S) -> str:
    body = "".join(_field(f[0], f[1], f[2], i + 1, f[3] if len(f) > 3 else "") for i, f in enumerate(s.fields))
    return f"<{s.name}>{body}</{s.name}>"


def response_xml(s: S) -> str:
    """A complete single-part response document."""
    body = "".join(_field(f[0], f[1], f[2], i + 1, f[3] if len(f) > 3 else "") for i, f in enumerate(s.fields))
    return f'{STYLESHEET}<{s.name} type="sandesh">{body}<more type="bool" identifier="0">false</more></{s.name}>'


def timestamp(t: float) -> str:
    """Boost-style UTC time, as ist.py parses it (`%Y-%b-%d %H:%M:%S.%f`)."""
    if not t:
        return ""
    return time.strftime("%Y-%b-%d %H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e6):06d}"
