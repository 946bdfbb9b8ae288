"""Config (IFMap) iq codec: `<config><update>/<delete>` of nodes and links."""

from __future__ import annotations

from filament.wire.xmpp.model import CONTROL_JID, ConfigLink, ConfigNode, ConfigUpdate, XmppDecodeError
from filament.wire.xmpp.xml import esc

OBJECTS_PER_IQ = 16


def _value_xml(tag: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "".join(_value_xml(tag, v) for v in value)
    if isinstance(value, dict):
        inner = "".join(_value_xml(k.replace("_", "-"), v) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, bool):
        return f"<{tag}>{'true' if value else 'false'}</{tag}>"
    return f"<{tag}>{esc(value)}</{tag}>"


def node_xml(node: ConfigNode, *, with_props: bool = True) -> str:
    props = ""
    if with_props:
        props = "".join(_value_xml(k.replace("_", "-"), v) for k, v in node.props.items())
    return f'<node type="{esc(node.type)}"><name>{esc(node.name)}</name>{props}</node>'


def link_xml(link: ConfigLink) -> str:
    (lt, ln), (rt, rn) = link.left, link.right
    return (
        f'<link><node type="{esc(lt)}"><name>{esc(ln)}</name></node>'
        f'<node type="{esc(rt)}"><name>{esc(rn)}</name></node>'
        f'<metadata type="{esc(link.metadata)}"></metadata></link>'
    )


def encode_config(msg: ConfigUpdate) -> list[bytes]:
    """Encode as one or more iqs of about 16 objects each (a link counts double)."""
    out: list[bytes] = []
    blocks: list[str] = []
    cur_kind = ""
    cur: list[str] = []
    weight = 0

    def close_block():
        nonlocal cur, cur_kind
        if cur:
            blocks.append(f"<{cur_kind}>{''.join(cur)}</{cur_kind}>")
        cur = []

    def flush():
        nonlocal blocks, weight
        close_block()
        if blocks:
            out.append(
                (
                    f'<iq type="set" from="{CONTROL_JID}" to="{esc(msg.to)}/config">'
                    f"<config>{''.join(blocks)}</config></iq>"
                ).encode()
            )
        blocks, weight = [], 0

    for kind, obj in msg.ops:
        if kind != cur_kind:
            close_block()
            cur_kind = kind
        if isinstance(obj, ConfigLink):
            cur.append(link_xml(obj))
            weight += 2
        else:
            cur.append(node_xml(obj, with_props=(kind == "update")))
            weight += 1
        if weight >= OBJECTS_PER_IQ:
            flush()
            cur_kind = kind
    flush()
    return out


def _to_value(el):
    children = list(el)
    if not children:
        return (el.text or "").strip()
    out: dict = {}
    for c in children:
        key = c.tag.replace("-", "_")
        val = _to_value(c)
        if key in out:
            if not isinstance(out[key], list):
                out[key] = [out[key]]
            out[key].append(val)
        else:
            out[key] = val
    return out


def _node_ref(el) -> tuple[str, str]:
    t = el.get("type", "")
    name = el.findtext("name")
    if not t or name is None:
        raise XmppDecodeError("config node without type or name")
    return t, name.strip()


def decode_config(config_el, to: str = "") -> ConfigUpdate:
    """Decode a `<config>` element. Property values come back as nested dicts of
    strings (a repeated element becomes a list); typing them is the caller's job."""
    ops = []
    for block in config_el:
        if block.tag not in ("update", "delete"):
            raise XmppDecodeError(f"unknown config block <{block.tag}>")
        for obj in block:
            if obj.tag == "node":
                t, name = _node_ref(obj)
                props = {c.tag.replace("-", "_"): _to_value(c) for c in obj if c.tag != "name"}
                ops.append((block.tag, ConfigNode(t, name, props)))
            elif obj.tag == "link":
                nodes = obj.findall("node")
                meta = obj.find("metadata")
                if len(nodes) != 2 or meta is None:
                    raise XmppDecodeError("config link needs two nodes and metadata")
                ops.append((block.tag, ConfigLink(_node_ref(nodes[0]), _node_ref(nodes[1]), meta.get("type", ""))))
            else:
                raise XmppDecodeError(f"unknown config element <{obj.tag}>")
    if to.endswith("/config"):
        to = to[: -len("/config")]
    return ConfigUpdate(ops=tuple(ops), to=to)
