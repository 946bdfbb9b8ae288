"""Stanza codecs: subscribe/unsubscribe, publish+collection, route messages, EoR.

``decode_stanza`` turns one framed stanza into a typed message (either direction);
the ``encode_*`` functions produce the exact shapes the original sends.
"""

from __future__ import annotations

from filament.wire.xmpp import config as config_codec
from filament.wire.xmpp.framing import Stanza
from filament.wire.xmpp.items import decode_entry, encode_entry, publish_node
from filament.wire.xmpp.model import (
    CONTROL_JID,
    EOR_NODE,
    PUBSUB_NS,
    Collection,
    EndOfRib,
    ItemError,
    Publish,
    RouteEntry,
    RouteUpdate,
    Subscribe,
    Unsubscribe,
    XmppDecodeError,
)
from filament.wire.xmpp.xml import esc, parse


def channel_of(to: str) -> str:
    """Dispatch by substring of `to`, as the original does."""
    if "bgp-peer" in to:
        return "bgp"
    if "config" in to:
        return "config"
    if "dns-peer" in to:
        return "dns"
    return ""


# ---- decode -----------------------------------------------------------------------


def decode_stanza(stanza: Stanza):
    """Decode a framed stanza into a typed message; raises XmppDecodeError."""
    root = parse(stanza.data)
    if root.tag == "iq":
        return _decode_iq(root)
    if root.tag == "message":
        return _decode_message(root)
    raise XmppDecodeError(f"unknown stanza <{root.tag}>")


def _decode_iq(root) -> object:
    sender = root.get("from", "")
    channel = channel_of(root.get("to", ""))
    if root.get("type", "set") not in ("set", "get"):
        raise XmppDecodeError(f"unsupported iq type {root.get('type')!r}")
    pubsub = root.find("pubsub")
    if pubsub is None:
        config = root.find("config")
        if config is not None:
            return config_codec.decode_config(config, to=root.get("to", ""))
        raise XmppDecodeError("iq without pubsub")
    if len(pubsub) != 1:
        raise XmppDecodeError("pubsub must hold exactly one request")
    req = pubsub[0]
    node = req.get("node", "")
    if req.tag == "subscribe":
        if not node:
            raise XmppDecodeError("subscribe without node")
        iid = None
        raw = req.findtext("options/instance-id")
        if raw is not None:
            try:
                iid = int(raw.strip())
            except ValueError:
                raise XmppDecodeError(f"bad instance-id {raw[:20]!r}") from None
        return Subscribe(node=node, instance_id=iid, channel=channel, sender=sender)
    if req.tag == "unsubscribe":
        if not node:
            raise XmppDecodeError("unsubscribe without node")
        return Unsubscribe(node=node, channel=channel, sender=sender)
    if req.tag == "publish":
        if node == EOR_NODE:
            return EndOfRib(sender=sender)
        item = req.find("item")
        if item is None:
            return Publish(node=node, entry=None, sender=sender)
        entry_el = item.find("entry")
        if entry_el is None:
            return Publish(node=node, entry=None, sender=sender)
        try:
            entry = decode_entry(entry_el)
        except ItemError as exc:
            # keep the session: the item is rejected when the collection arrives
            return Publish(node=node, entry=exc, sender=sender)  # type: ignore[arg-type]
        return Publish(node=node, entry=entry, sender=sender)
    if req.tag == "collection":
        assoc = tuple(a.get("node", "") for a in req.findall("associate"))
        dis = tuple(d.get("node", "") for d in req.findall("dissociate"))
        return Collection(node=node, associate=assoc, dissociate=dis, sender=sender)
    raise XmppDecodeError(f"unknown pubsub request <{req.tag}>")


def _decode_message(root) -> object:
    event = root.find("event")
    if event is None:
        raise XmppDecodeError("message without event")
    items = event.find("items")
    if items is None:
        raise XmppDecodeError("event without items")
    node = items.get("node", "")
    if node == EOR_NODE:
        return EndOfRib(sender=root.get("from", ""))
    reach = []
    for it in items.findall("item"):
        entry_el = it.find("entry")
        if entry_el is None:
            raise XmppDecodeError("item without entry")
        try:
            reach.append((it.get("id", ""), decode_entry(entry_el)))
        except ItemError as exc:
            raise XmppDecodeError(str(exc)) from None
    retracts = tuple(r.get("id", "") for r in items.findall("retract"))
    if retracts:
        reach = []  # the reference agent ignores items in a message with retracts
    return RouteUpdate(node=node, items=tuple(reach), retracts=retracts, to=root.get("to", ""))


# ---- encode: agent -> control node ----------------------------------------------


def _iq(sender: str, channel: str, ident: str, body: str) -> bytes:
    return (
        f'<iq type="set" from="{esc(sender)}" to="{CONTROL_JID}/{channel}" id="{esc(ident)}">'
        f'<pubsub xmlns="{PUBSUB_NS}">{body}</pubsub></iq>'
    ).encode()


def encode_subscribe(sender: str, node: str, instance_id: int | None = None, *, config: bool = False, ident: str = "subscribe") -> bytes:
    if config:
        return _iq(sender, "config", ident, f'<subscribe node="{esc(node)}"></subscribe>')
    opts = f"<options><instance-id>{instance_id}</instance-id></options>" if instance_id is not None else ""
    return _iq(sender, "bgp-peer", ident, f'<subscribe node="{esc(node)}">{opts}</subscribe>')


def encode_unsubscribe(sender: str, node: str, *, config: bool = False, ident: str = "unsubscribe") -> bytes:
    channel = "config" if config else "bgp-peer"
    return _iq(sender, channel, ident, f'<unsubscribe node="{esc(node)}"></unsubscribe>')


def encode_publish(sender: str, vrf: str, entry: RouteEntry, *, add: bool = True, seq: int = 0) -> bytes:
    """The publish + collection pair that adds (or withdraws) ``entry`` in ``vrf``."""
    node = publish_node(entry, vrf)
    pub = _iq(sender, "bgp-peer", f"pubsub{seq}", f'<publish node="{esc(node)}"><item>{encode_entry(entry)}</item></publish>')
    verb = "associate" if add else "dissociate"
    coll = _iq(
        sender,
        "bgp-peer",
        f"collection{seq}",
        f'<collection node="{esc(vrf)}"><{verb} node="{esc(node)}"></{verb}></collection>',
    )
    return pub + coll


def encode_agent_eor(sender: str) -> bytes:
    return (
        f'<message from="{esc(sender)}" to="{CONTROL_JID}/bgp-peer">'
        f'<event xmlns="{PUBSUB_NS}"><items node="{EOR_NODE}"></items></event></message>'
    ).encode()


# ---- encode: control node -> agent ----------------------------------------------


def item_xml(ident: str, entry: RouteEntry) -> str:
    return f'<item id="{esc(ident)}">{encode_entry(entry)}</item>'


def retract_xml(ident: str) -> str:
    return f'<retract id="{esc(ident)}"></retract>'


def message_head(to_agent: str) -> bytes:
    """Everything before the event body; precomputed once per session."""
    return f'\n<message from="{CONTROL_JID}" to="{esc(to_agent)}/bgp-peer">'.encode()


def items_body(node: str, parts: list[str]) -> bytes:
    """The `<event>` body carrying reach items or retracts (caller keeps them apart)."""
    return (f'<event xmlns="{PUBSUB_NS}"><items node="{esc(node)}">' + "".join(parts) + "</items></event></message>").encode()


def encode_route_update(msg: RouteUpdate) -> bytes:
    if msg.items and msg.retracts:
        raise ValueError("one message carries items or retracts, never both")
    parts = [item_xml(i, e) for i, e in msg.items] or [retract_xml(r) for r in msg.retracts]
    return message_head(msg.to) + items_body(msg.node, parts)


def encode_cn_eor(to_agent: str) -> bytes:
    return message_head(to_agent) + items_body(EOR_NODE, [])
