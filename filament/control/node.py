"""The control node's runtime core: peers, the RIB, config clients, output pumping.

Sessions (XMPP today, BGP later) turn bytes into typed calls on ``ControlNode``;
after each input batch ``flush()`` moves the RIB's change log onto each
subscribed peer's coalescing queue (keys, not events: bounded by table size)
and pumps what the peer's transport can take now.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from filament.control import config_view
from filament.control.rib import InstanceConfig, Rib, SubscriptionError
from filament.control.xmpp_routes import advertise
from filament.wire.xmpp import stanza as xs
from filament.wire.xmpp.config import encode_config
from filament.wire.xmpp.model import AFI_SAFI, MAX_ITEMS_PER_MESSAGE, MAX_RETRACTS_PER_MESSAGE, ConfigUpdate

log = logging.getLogger("filament.control")


@dataclass
class ControlOptions:
    name: str = "control"
    router_id: str = "0.0.0.0"
    asn: int = 64512
    hold_time: float = 90.0
    open_timeout: float = 15.0
    eor_quiet: float = 1.0
    eor_receive_timeout: float = 30.0
    gr_enable: bool = True
    gr_time: float = 60.0
    stuck_timeout: float = 90.0
    max_stanza: int = 256 * 1024
    write_high_water: int = 256 * 1024


@dataclass
class PeerInfo:
    """What outlives one session of a peer: identity, flap stats, GR state."""

    name: str
    kind: str = "XMPP"
    address: str = ""
    state: str = "Idle"
    flap_count: int = 0
    flap_time: float = 0.0
    established_at: float = 0.0
    gr_deadline: float = 0.0
    session: object = None
    rx: dict = field(default_factory=lambda: {"open": 0, "keepalive": 0, "update": 0, "close": 0, "total": 0})
    tx: dict = field(default_factory=lambda: {"open": 0, "keepalive": 0, "update": 0, "close": 0, "total": 0})
    config_vms: set = field(default_factory=set)
    config_subscribed: bool = False


class ControlNode:
    def __init__(self, opts: ControlOptions | None = None, *, clock=time.monotonic, wallclock=time.time):
        self.opts = opts or ControlOptions()
        self.clock = clock
        self.wallclock = wallclock
        self.rib = Rib(asn=self.opts.asn, router_id=self.opts.router_id)
        self.peers: dict[str, PeerInfo] = {}
        self.sessions: set = set()
        self.objects: dict[str, dict[str, dict]] = {}
        self.config_revision: int | None = None
        self.config_connected = False
        self.api_url = ""
        self._graph: config_view.ConfigGraph | None = None
        self._adv_cache: dict[tuple[str, str], tuple[str, str | None] | None] = {}
        self.started_at = wallclock()
        self.sent_config: dict[str, config_view.Subgraph] = {}
        self.bgp = None  # BgpBridge when the service runs a BGP speaker

    # ---- time ---------------------------------------------------------------------

    def now(self) -> float:
        """Wall-clock seconds (RIB timestamps are shown by introspect)."""
        return self.wallclock()

    # ---- config -------------------------------------------------------------------

    def apply_config(self, objects: dict[str, dict[str, dict]], revision: int | None = None) -> None:
        """Level-triggered: the whole watched config as it is now."""
        self.objects = objects
        self.config_revision = revision
        gsc = next(iter(objects.get("global-system-config", {}).values()), None)
        if gsc:
            asn = int(gsc.get("autonomous_system") or self.opts.asn)
            if asn != self.rib.asn and not self.rib.membership:
                self.rib.asn = asn
            grp = gsc.get("graceful_restart_parameters") or {}
            if grp.get("enable") is not None and grp.get("xmpp_helper_enable") is not None:
                self.opts.gr_enable = bool(grp.get("enable")) and bool(grp.get("xmpp_helper_enable"))
                if grp.get("restart_time"):
                    self.opts.gr_time = float(grp["restart_time"])
        self.rib.configure(config_view.instance_configs(objects), self.now())
        self._graph = config_view.ConfigGraph(objects)
        for name, peer in self.peers.items():
            if peer.config_subscribed and peer.session is not None:
                self.push_config(peer)
        self.flush()

    def configure_instances(self, configs: dict[str, InstanceConfig]) -> None:
        """Static instance config (tests, benchmarks without a config API)."""
        self.rib.configure(configs, self.now())
        self.flush()

    def push_config(self, peer: PeerInfo) -> None:
        sess = peer.session
        if sess is None or self._graph is None or not peer.config_subscribed:
            return
        if sess.paused:
            sess.config_dirty = True
            return
        sess.config_dirty = False
        new = self._graph.subgraph(peer.name, frozenset(peer.config_vms))
        old = self.sent_config.get(peer.name, config_view.Subgraph({}, frozenset()))
        ops = config_view.diff(old, new)
        self.sent_config[peer.name] = new
        if ops:
            for iq in encode_config(ConfigUpdate(tuple(ops), to=f"default-global-system-config:{peer.name}")):
                sess.write(iq, "update")

    # ---- session events -----------------------------------------------------------

    def session_open(self, sess, name: str) -> bool:
        """A stream header arrived; False refuses the session (duplicate name)."""
        peer = self.peers.get(name)
        if peer is not None and peer.session is not None:
            log.warning("xmpp session %s from %s refused: %s already connected from %s", name, sess.address, name, peer.address)
            return False
        if peer is None:
            peer = self.peers[name] = PeerInfo(name)
        peer.address = sess.address
        peer.session = sess
        peer.state = "Established"
        peer.established_at = self.now()
        peer.gr_deadline = 0.0
        peer.rx["open"] += 1
        peer.tx["open"] += 1
        sess.peer = peer
        return True

    def session_closed(self, sess, reason: str) -> None:
        peer = sess.peer
        if peer is None or peer.session is not sess:
            return
        peer.session = None
        peer.state = "Active"
        peer.flap_count += 1
        peer.flap_time = self.now()
        peer.config_subscribed = False
        self.sent_config.pop(peer.name, None)
        fo = self.rib.flood_owner
        for k in [k for k, v in fo.items() if v == peer.name and k[1] not in self.rib.tables.get(k[0], _EMPTY).routes]:
            del fo[k]
        if self.opts.gr_enable and self.rib.membership.get(peer.name):
            n = self.rib.mark_stale(peer.name, self.now())
            peer.gr_deadline = self.clock() + self.opts.gr_time
            log.info("peer %s down (%s): %d paths kept stale for %.0fs", peer.name, reason, n, self.opts.gr_time)
        else:
            self.rib.remove_peer(peer.name, self.now())
        self.flush()

    def subscribe(self, sess, node: str, instance_id: int | None) -> None:
        tables = self.rib.subscribe(sess.peer.name, node, instance_id, self.now())
        for t in tables:
            keys = self.rib.tables[t].routes.keys()
            if keys:
                q = sess.pending.setdefault(t, {})
                for k in keys:
                    q[k] = None
        sess.last_subscribe = self.clock()

    def unsubscribe(self, sess, node: str) -> None:
        inst = self.rib.instances.get(node)
        self.rib.unsubscribe(sess.peer.name, node, self.now())
        if inst is not None:
            for t in inst.tables.values():
                sess.pending.pop(t.name, None)

    def config_subscribe(self, sess, node: str, subscribe: bool) -> None:
        kind, _, name = node.partition(":")
        peer = sess.peer
        if kind == "virtual-router":
            if subscribe and peer.config_subscribed:
                raise SubscriptionError(f"duplicate config subscribe {node}")
            peer.config_subscribed = subscribe
        elif kind == "virtual-machine":
            if not peer.config_subscribed:
                return  # ignored unless the VR subscribe was seen, as in the original
            (peer.config_vms.add if subscribe else peer.config_vms.discard)(name)
        else:
            raise SubscriptionError(f"config subscribe to unknown node {node!r}")
        if subscribe or kind == "virtual-machine":
            self.push_config(peer)

    def end_of_rib(self, sess) -> None:
        """The agent finished (re)publishing: sweep what it did not refresh."""
        peer = sess.peer
        sess.eor_received = True
        n = self.rib.sweep_stale(peer.name, self.now())
        if n:
            log.info("peer %s end-of-rib: swept %d stale paths", peer.name, n)

    # ---- timers (called about once a second) -------------------------------------

    def tick(self) -> None:
        now = self.clock()
        for name, peer in list(self.peers.items()):
            if peer.session is None and peer.gr_deadline and now >= peer.gr_deadline:
                log.info("peer %s did not return within %.0fs: removing its paths", name, self.opts.gr_time)
                peer.gr_deadline = 0.0
                self.rib.remove_peer(name, self.now())
        for sess in list(self.sessions):
            sess.tick(now)
        self.flush()

    # ---- output -------------------------------------------------------------------

    def flush(self) -> None:
        changes = self.rib.take_changes()
        if changes:
            self._adv_cache.clear()
            if self.bgp is not None:
                self.bgp.export(changes)
            for tname, keys in changes.items():
                listeners = self.rib.listeners.get(tname)
                if not listeners:
                    continue
                for name in listeners:
                    peer = self.peers.get(name)
                    sess = peer.session if peer else None
                    if sess is None:
                        continue
                    q = sess.pending.get(tname)
                    if q is None:
                        sess.pending[tname] = dict(keys)
                    else:
                        q.update(keys)
        for sess in self.sessions:
            if sess.pending and not sess.paused:
                self.pump(sess)

    def _advert(self, tname: str, key: str, peer: str):
        ck = (tname, key)
        table = self.rib.tables.get(tname)
        if table is None:
            return None
        if table.family in ("evpn", "ermvpn"):
            from filament.control.rib import is_flood_key

            if is_flood_key(table.family, key):
                adv = advertise(self.rib, table, key, peer)
                if adv is None:
                    return None
                if adv[1] is None:
                    self.rib.flood_owner.pop(ck, None)  # the owner got its retract
                    return adv[0], None
                return adv[0], xs.item_xml(*adv)
        hit = self._adv_cache.get(ck, False)
        if hit is False:
            adv = advertise(self.rib, table, key, peer)
            hit = None if adv is None else (adv[0], xs.item_xml(*adv) if adv[1] else None)
            self._adv_cache[ck] = hit
        return hit

    def pump(self, sess) -> None:
        """Write the peer's pending routes while its transport has room."""
        peer = sess.peer
        while sess.pending and not sess.paused and not sess.closing:
            tname = next(iter(sess.pending))
            keys = sess.pending[tname]
            table = self.rib.tables.get(tname)
            if table is None or peer.name not in self.rib.listeners.get(tname, ()):
                del sess.pending[tname]
                continue
            afi, safi = AFI_SAFI[table.family]
            node = f"{afi}/{safi}/{table.instance}"
            items: list[str] = []
            retracts: list[str] = []
            while keys and len(items) < MAX_ITEMS_PER_MESSAGE and len(retracts) < MAX_RETRACTS_PER_MESSAGE:
                key = next(iter(keys))
                del keys[key]
                adv = self._advert(tname, key, peer.name)
                if adv is None:
                    continue
                ident, xml = adv
                if xml is None:
                    retracts.append(xs.retract_xml(ident))
                else:
                    items.append(xml)
            if not keys:
                del sess.pending[tname]
            if items:
                sess.write(sess.head + xs.items_body(node, items), "update")
            if retracts:
                sess.write(sess.head + xs.items_body(node, retracts), "update")
        if not sess.pending and not sess.paused and getattr(sess, "config_dirty", False):
            self.push_config(peer)


class _Empty:
    routes: dict = {}


_EMPTY = _Empty()
