"""The agent's XMPP session to one control node (the original's dialect).

It reconnects with backoff; on every (re)connect it subscribes to its virtual-router
config and to the routing instances it wants, republishes its routes and sends EoR.
Routes and config of the previous session stay (stale) until the control node's EoR
on the new one, so a control node restart does not flap the datapath (graceful restart).
``inet_routes`` and ``mac_ip_routes`` turn the tables it holds (``1/1/<vrf>``,
``25/242/<vrf>``) into the view's routes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable

from filament.agent.config import ConfigDB
from filament.agent.view import MacIpRoute, PathNextHop, RouteIn
from filament.wire.xmpp import stanza as xs
from filament.wire.xmpp.framing import KEEPALIVE, Framer, Stanza, StreamHeader, encode_header
from filament.wire.xmpp.model import BROADCAST_MAC, CONTROL_JID, ConfigUpdate, EndOfRib, RouteEntry, RouteUpdate, XmppDecodeError

log = logging.getLogger("filament.agent.xmpp")
GSC = "default-global-system-config"


def inet_routes(tables: dict[str, dict[str, RouteEntry]]) -> dict[str, dict[str, RouteIn]]:
    """The inet routes a control node sent, per VRF, as the agent's view uses them: next
    hops with a VNI (VXLAN only; the label is the VNI when none is given) merged over the
    route's items (ECMP), and the security-group ids of every item."""
    out: dict[str, dict[str, RouteIn]] = {}
    for node, items in tables.items():
        if not node.startswith("1/1/"):
            continue
        merged: dict[str, set[PathNextHop]] = {}
        groups: dict[str, set[int]] = {}
        for entry in items.values():
            for nh in entry.next_hops:
                vni = nh.vni or nh.label
                if vni and (not nh.encap or "vxlan" in nh.encap):
                    merged.setdefault(entry.address, set()).add(PathNextHop(nh.address, vni))
                    groups.setdefault(entry.address, set()).update(entry.security_groups)
        out[node[4:]] = {
            p: RouteIn(p, tuple(sorted(h, key=lambda x: (x.address, x.vni))), tuple(sorted(groups[p])))
            for p, h in merged.items()
        }
    return out


def _vxlan_hops(entry: RouteEntry) -> list[PathNextHop]:
    return sorted({PathNextHop(nh.address, nh.vni or nh.label) for nh in entry.next_hops
                   if (nh.vni or nh.label) and (not nh.encap or "vxlan" in nh.encap)},
                  key=lambda x: (x.address, x.vni))


def _host_ip(address: str) -> str:
    """The IPv4 host address of an EVPN item's ``ip/32`` ("" for MAC-only, IPv6, junk)."""
    ip, _, plen = address.partition("/")
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return ""
    return str(addr) if int(addr) and plen in ("", "32") else ""


def mac_ip_routes(tables: dict[str, dict[str, RouteEntry]]) -> dict[str, dict[str, MacIpRoute]]:
    """The EVPN MAC/IP (type 2) routes a control node sent, per VRF and IPv4 address.
    MAC-only, broadcast (BUM) and non-VXLAN items are left out: they route nothing
    here. An address with several MACs keeps the highest mobility sequence, then the
    lowest MAC; several VTEPs (multihoming), the lowest (a MAC has one fdb entry)."""
    out: dict[str, dict[str, MacIpRoute]] = {}
    for node, items in tables.items():
        if not node.startswith("25/242/"):
            continue
        best: dict[str, tuple[tuple[int, str], MacIpRoute]] = {}
        for entry in items.values():
            mac = entry.mac.lower()
            ip = _host_ip(entry.address)
            hops = _vxlan_hops(entry)
            if not ip or not hops or not mac or mac in (BROADCAST_MAC, "00:00:00:00:00:00"):
                continue
            rank = (-entry.sequence, mac)
            if ip not in best or rank < best[ip][0]:
                best[ip] = (rank, MacIpRoute(ip, mac, hops[0]))
        if best:
            out[node[len("25/242/"):]] = {ip: r for ip, (_, r) in sorted(best.items())}
    return out


class _Protocol(asyncio.Protocol):
    def __init__(self, client: "ControlSession"):
        self.client = client
        self.framer = Framer(16 * 1024 * 1024)
        self.transport = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(encode_header(StreamHeader(from_=self.client.name, to=CONTROL_JID), server=False))

    def connection_lost(self, exc):
        if not self.closed.done():
            self.closed.set_result(exc)

    def data_received(self, data: bytes):
        try:
            for ev in self.framer.feed(data):
                if isinstance(ev, StreamHeader):
                    self.transport.write(KEEPALIVE)
                    self.client._established(self)
                elif isinstance(ev, Stanza):
                    try:
                        self.client._message(xs.decode_stanza(ev))
                    except XmppDecodeError as exc:
                        log.warning("%s: undecodable stanza ignored: %s", self.client.peer, exc)
        except Exception:  # a framing error ends this session; the client reconnects
            log.exception("%s: session error", self.client.peer)
            self.transport.close()


class ControlSession:
    def __init__(self, name: str, host: str, port: int, on_change: Callable[[], None], *, source: str | None = None):
        self.name = name
        self.host, self.port = host, port
        self.peer = f"{host}:{port}"
        self.source = source
        self.on_change = on_change
        self.config = ConfigDB()
        self.routes: dict[str, dict[str, RouteEntry]] = {}  # node "1/1/<vrf>", "25/242/<vrf>" -> item id -> entry
        self._stale_config: ConfigDB | None = None
        self._stale_routes: dict[str, dict[str, RouteEntry]] | None = None
        self.wanted_vrfs: set[str] = set()
        self.published: dict[tuple[str, str], RouteEntry] = {}  # (vrf, item id) -> entry
        self._subscribed: set[str] = set()
        self._proto: _Protocol | None = None
        self._iid = 0
        self._seq = 0
        self.up = asyncio.Event()
        self.eor = asyncio.Event()
        self.sessions = 0
        self._task: asyncio.Task | None = None

    # ---- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"xmpp-{self.peer}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._proto and self._proto.transport:
            self._proto.transport.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.2
        while True:
            try:
                kw = {"local_addr": (self.source, 0)} if self.source else {}
                proto = _Protocol(self)
                await loop.create_connection(lambda: proto, self.host, self.port, **kw)
                backoff = 0.2
                exc = await proto.closed
                log.warning("xmpp session to %s lost: %s", self.peer, exc or "closed by peer")
            except OSError as exc:
                log.info("xmpp connect to %s failed: %s", self.peer, exc)
            self._lost()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _lost(self) -> None:
        if self._proto is not None:
            # keep what we had, as stale, until the next session's EoR
            if self._stale_config is None:
                self._stale_config, self._stale_routes = self.config, self.routes
            self.config, self.routes = ConfigDB(), {}
        self._proto = None
        self._subscribed.clear()
        self.up.clear()
        self.eor.clear()

    def _established(self, proto: _Protocol) -> None:
        self._proto = proto
        self.sessions += 1
        log.info("xmpp session to %s established", self.peer)
        self._send(xs.encode_subscribe(self.name, f"virtual-router:{GSC}:{self.name}", config=True))
        self.sync_subscriptions()
        for (vrf, _), entry in sorted(self.published.items()):
            self._publish(vrf, entry, True)
        self._send(xs.encode_agent_eor(self.name))
        self.up.set()

    # ---- what the control node sends --------------------------------------------

    def _message(self, msg) -> None:
        if isinstance(msg, RouteUpdate):
            table = self.routes.setdefault(msg.node, {})
            for ident, entry in msg.items:
                table[ident] = entry
            for ident in msg.retracts:
                table.pop(ident, None)
        elif isinstance(msg, ConfigUpdate):
            self.config.apply(msg)
        elif isinstance(msg, EndOfRib):
            self._stale_config = self._stale_routes = None
            self.eor.set()
        else:
            return
        self.on_change()

    def effective_config(self) -> ConfigDB:
        if self._stale_config is None:
            return self.config
        merged = ConfigDB(dict(self._stale_config.nodes), set(self._stale_config.links))
        merged.nodes.update(self.config.nodes)
        merged.links |= self.config.links
        return merged

    def effective_routes(self) -> dict[str, dict[str, RouteEntry]]:
        if self._stale_routes is None:
            return self.routes
        out = {k: dict(v) for k, v in self._stale_routes.items()}
        for k, v in self.routes.items():
            out.setdefault(k, {}).update(v)
        return out

    # ---- what the agent sends ----------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.write(data)

    def _publish(self, vrf: str, entry: RouteEntry, add: bool) -> None:
        self._seq += 1
        self._send(xs.encode_publish(self.name, vrf, entry, add=add, seq=self._seq))

    def sync_subscriptions(self) -> None:
        if self._proto is None:
            return
        for vrf in sorted(self.wanted_vrfs - self._subscribed):
            self._iid += 1
            self._send(xs.encode_subscribe(self.name, vrf, self._iid))
            self._subscribed.add(vrf)
        for vrf in sorted(self._subscribed - self.wanted_vrfs):
            self._send(xs.encode_unsubscribe(self.name, vrf))
            self._subscribed.discard(vrf)

    def set_published(self, wanted: dict[tuple[str, str], RouteEntry]) -> None:
        """Publish what is new or changed, withdraw what is gone."""
        for key in sorted(self.published.keys() - wanted.keys()):
            self._publish(key[0], self.published.pop(key), False)
        for key, entry in sorted(wanted.items()):
            if self.published.get(key) != entry:
                self.published[key] = entry
                self._publish(key[0], entry, True)

    def subscribe_vm(self, vm_uuid: str) -> None:
        self._send(xs.encode_subscribe(self.name, f"virtual-machine:{vm_uuid}", config=True))
