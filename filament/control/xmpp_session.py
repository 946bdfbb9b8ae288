"""XMPP session adapter: one asyncio Protocol per agent connection.

Bytes -> ``Framer`` -> typed messages -> ``ControlNode`` calls. Any framing,
XML or protocol violation closes this session only, with a log line naming it.
No per-session task or queue: timers are driven by the node's tick, output by
the node's pump under transport flow control (pause/resume_writing).
"""

from __future__ import annotations

import asyncio
import logging

from filament.control.node import ControlNode
from filament.control.rib import SubscriptionError
from filament.control.xmpp_routes import path_from_item, withdraw_key
from filament.wire.xmpp import stanza as xs
from filament.wire.xmpp.framing import (
    KEEPALIVE,
    STREAM_CLOSE,
    Framer,
    Keepalive,
    Stanza,
    StreamClosed,
    StreamHeader,
    XmppFrameError,
    encode_header,
)
from filament.wire.xmpp.model import (
    Collection,
    EndOfRib,
    ItemError,
    Publish,
    RouteUpdate,
    Subscribe,
    Unsubscribe,
    XmppDecodeError,
)

log = logging.getLogger("filament.control.xmpp")


class ProtocolViolation(Exception):
    pass


class XmppSession(asyncio.Protocol):
    def __init__(self, node: ControlNode):
        self.node = node
        self.transport: asyncio.Transport | None = None
        self.framer = Framer(node.opts.max_stanza)
        self.address = ""
        self.peer = None
        self.head = b""
        self.pending: dict[str, dict[str, None]] = {}
        self.paused = False
        self.paused_since = 0.0
        self.closing = False
        self.config_dirty = False
        self.opened_at = node.clock()
        self.last_rx = self.opened_at
        self.last_tx = self.opened_at
        self.last_subscribe = 0.0
        self.eor_sent = False
        self.eor_received = False
        self._publish: Publish | None = None

    @property
    def name(self) -> str:
        return self.peer.name if self.peer else f"<unnamed {self.address}>"

    # ---- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peername = transport.get_extra_info("peername")
        self.address = peername[0] if peername else ""
        transport.set_write_buffer_limits(high=self.node.opts.write_high_water, low=self.node.opts.write_high_water // 4)
        self.node.sessions.add(self)

    def connection_lost(self, exc):
        self.node.sessions.discard(self)
        self.closing = True
        self.node.session_closed(self, str(exc) if exc else "connection closed")

    def pause_writing(self):
        self.paused = True
        self.paused_since = self.node.clock()

    def resume_writing(self):
        self.paused = False
        if self.peer is not None and not self.closing:
            self.node.pump(self)

    def data_received(self, data: bytes):
        if self.closing:
            return
        self.last_rx = self.node.clock()
        try:
            for ev in self.framer.feed(data):
                if self.closing:
                    return
                self._event(ev)
        except (XmppFrameError, XmppDecodeError, ProtocolViolation, SubscriptionError) as exc:
            self.close(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug must not take other sessions down
            log.exception("xmpp session %s (%s): internal error", self.name, self.address)
            self.close(f"internal error: {exc!r}")
        self.node.flush()

    # ---- input --------------------------------------------------------------------

    def _event(self, ev) -> None:
        if isinstance(ev, Keepalive):
            if self.peer:
                self.peer.rx["keepalive"] += 1
            return
        if isinstance(ev, StreamHeader):
            self._open(ev)
            return
        if isinstance(ev, StreamClosed):
            self.close("peer closed the stream")
            return
        if self.peer is None:
            raise ProtocolViolation("stanza before stream header")
        self.peer.rx["update"] += 1
        msg = xs.decode_stanza(ev)
        if isinstance(msg, Subscribe):
            self._subscribe(msg)
        elif isinstance(msg, Unsubscribe):
            if msg.channel == "config":
                self.node.config_subscribe(self, msg.node, False)
            else:
                self.node.unsubscribe(self, msg.node)
        elif isinstance(msg, Publish):
            if msg.entry is None:
                self.node.end_of_rib(self)
            else:
                self._publish = msg
        elif isinstance(msg, Collection):
            self._collection(msg)
        elif isinstance(msg, EndOfRib):
            self.node.end_of_rib(self)
        elif isinstance(msg, RouteUpdate):
            raise ProtocolViolation("route message from an agent")
        else:
            raise ProtocolViolation(f"unexpected {type(msg).__name__}")

    def _open(self, h: StreamHeader) -> None:
        if self.peer is not None:
            raise ProtocolViolation("second stream header")
        name = h.from_
        if not self.node.session_open(self, name):
            self.close(f"duplicate session for {name}")
            return
        self.head = xs.message_head(name)
        reply = StreamHeader(from_=self.node.opts.name, to=name, id="++123")
        self.write(encode_header(reply, server=True), "open")
        log.info("xmpp session %s (%s) established", name, self.address)

    def _subscribe(self, msg: Subscribe) -> None:
        if msg.channel == "config":
            self.node.config_subscribe(self, msg.node, True)
        elif msg.channel == "bgp":
            self.node.subscribe(self, msg.node, msg.instance_id)
        else:
            raise ProtocolViolation(f"subscribe on unknown channel {msg.channel!r}")

    def _collection(self, msg: Collection) -> None:
        pub, self._publish = self._publish, None
        nodes = msg.associate or msg.dissociate
        if pub is None or not nodes or nodes[0] != pub.node:
            log.debug("xmpp session %s: collection without matching publish dropped", self.name)
            return
        instance = msg.node
        m = self.node.rib.subscribed(self.peer.name, instance)
        if m is None:
            raise ProtocolViolation(f"route for unsubscribed instance {instance!r}")
        entry = pub.entry
        if isinstance(entry, ItemError):
            log.warning("xmpp session %s: item %s rejected: %s", self.name, pub.node, entry)
            return
        primary = _primary_instance_id(pub.node, entry.family)
        try:
            if msg.associate:
                fam, key, path = path_from_item(
                    entry, peer=self.peer.name, peer_address=self.address, instance_id=m.instance_id, primary_instance_id=primary
                )
                self.node.rib.add_path(instance, fam, key, path, self.node.now())
            else:
                fam, key = withdraw_key(entry, peer_address=self.address, instance_id=m.instance_id, primary_instance_id=primary)
                self.node.rib.remove_path(self.peer.name, instance, fam, key, self.node.now())
        except ItemError as exc:
            log.warning("xmpp session %s: item %s rejected: %s", self.name, pub.node, exc)

    # ---- output / timers ----------------------------------------------------------

    def write(self, data: bytes, kind: str = "update") -> None:
        if self.transport is None or self.closing:
            return
        self.transport.write(data)
        self.last_tx = self.node.clock()
        if self.peer is not None:
            self.peer.tx[kind] = self.peer.tx.get(kind, 0) + 1

    def tick(self, now: float) -> None:
        opts = self.node.opts
        if self.peer is None:
            if now - self.opened_at > opts.open_timeout:
                self.close("no stream header within the open timeout")
            return
        if now - self.last_rx > opts.hold_time:
            self.close("hold timer expired")
            return
        if self.paused and now - self.paused_since > opts.stuck_timeout:
            self.close(f"peer stuck: not reading for {opts.stuck_timeout:.0f}s")
            return
        if now - self.last_tx >= opts.hold_time / 3:
            self.write(KEEPALIVE, "keepalive")
        if not self.eor_sent and not self.pending and now - max(self.last_subscribe, self.opened_at) >= opts.eor_quiet:
            self.eor_sent = True
            self.write(self.head + xs.items_body("0/0/EndOfRib", []), "update")
        if not self.eor_received and now - self.opened_at > opts.eor_receive_timeout:
            self.eor_received = True
            self.node.end_of_rib(self)

    def close(self, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        log.warning("xmpp session %s (%s) closed: %s", self.name, self.address, reason)
        if self.transport is not None:
            try:
                self.transport.write(STREAM_CLOSE)
            except Exception:  # noqa: BLE001 - transport already broken
                pass
            self.transport.abort() if self.paused else self.transport.close()


def _primary_instance_id(node: str, family: str) -> int | None:
    """inet publish nodes may carry a 6th `/` token: the primary instance id."""
    if family not in ("inet", "inet6"):
        return None
    parts = node.split("/")
    if len(parts) >= 6 and parts[-1].isdigit() and parts[-2].isdigit():
        return int(parts[-1])
    return None
