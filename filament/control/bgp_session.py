"""One BGP peering: the RFC 4271 FSM over asyncio streams, with its timers.

The session owns the TCP connection, OPEN/capability negotiation, KEEPALIVE and hold
timers, NOTIFICATIONs on protocol errors, and a coalescing Adj-RIB-Out: ``advertise``
and ``withdraw`` overwrite a per-route pending entry, so a slow peer costs one entry
per route, never one per change (bounded output). Routes and events go to a
``handler`` (the control node's BGP bridge, or a test double); the session knows
nothing about tables.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import random
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Protocol

from filament.control.bgp_md5 import set_md5
from filament.wire.bgp import (
    IPV4_UNICAST, BgpError, Context, Keepalive, Notification, Open, RouteRefresh, Update, decode_message, encode_message,
)
from filament.wire.bgp import capabilities as caps
from filament.wire.bgp import errors as E
from filament.wire.bgp.attr.as_path import for_four_octet_peer, for_two_octet_peer, from_two_octet_peer
from filament.wire.bgp.attr.mp import MpUnreach
from filament.wire.bgp.common import Family
from filament.wire.bgp.message import HEADER_SIZE, parse_header
from filament.wire.bgp.nlri import nlri_encoder
from filament.wire.bgp.update import pack_routes

log = logging.getLogger("filament.control.bgp")

IDLE, CONNECT, ACTIVE, OPEN_SENT, OPEN_CONFIRM, ESTABLISHED = "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"


@dataclass(frozen=True)
class BgpPeerConfig:
    """What config says about one neighbor (a bgp-router object, or a test)."""

    name: str
    address: str
    peer_asn: int
    local_asn: int
    router_id: str
    families: tuple[Family, ...]
    hold_time: int = 90
    port: int = 179
    local_address: str = ""
    passive: bool = False
    connect_retry: float = 5.0
    graceful_restart_time: int = 0  # 0: do not advertise the GR capability
    max_prefixes: int = 0  # 0: unlimited
    peer_router_id: str = ""  # when known: decides connection collisions up front
    md5_key: str = ""  # RFC 2385 TCP-MD5 key (listener and dialer sockets)
    gr_helper: bool = True  # keep a GR-capable peer's routes as stale while it restarts (RFC 4724)

    @property
    def ibgp(self) -> bool:
        return self.peer_asn == self.local_asn


class BgpHandler(Protocol):
    def on_established(self, session: "BgpSession") -> None: ...
    def on_update(self, session: "BgpSession", update: Update) -> None: ...
    def on_route_refresh(self, session: "BgpSession", family: Family) -> None: ...
    def on_end_of_rib(self, session: "BgpSession", family: Family) -> None: ...
    def on_closed(self, session: "BgpSession", reason: str) -> None: ...


@dataclass
class Negotiated:
    families: tuple[Family, ...] = ()
    hold_time: int = 0
    as4: bool = True
    route_refresh: bool = False
    peer_gr: caps.GracefulRestart | None = None
    peer_router_id: str = ""


@dataclass
class Stats:
    rx: dict = field(default_factory=lambda: {"open": 0, "keepalive": 0, "update": 0, "notification": 0, "refresh": 0, "total": 0})
    tx: dict = field(default_factory=lambda: {"open": 0, "keepalive": 0, "update": 0, "notification": 0, "refresh": 0, "total": 0})
    flaps: int = 0
    flap_time: float = 0.0
    last_error: str = ""
    established_at: float = 0.0


_KIND = {Open: "open", Keepalive: "keepalive", Update: "update", Notification: "notification", RouteRefresh: "refresh"}


class BgpSession:
    """One neighbor. ``run()`` keeps (re)connecting unless passive; ``accept()`` takes an
    inbound connection. ``advertise``/``withdraw`` queue routes for the peer."""

    def __init__(self, config: BgpPeerConfig, handler: BgpHandler, *, clock=time.monotonic, rng: random.Random | None = None):
        self.config = config
        self.handler = handler
        self.clock = clock
        self.rng = rng or random.Random()
        self.state = IDLE
        self.negotiated = Negotiated()
        self.ctx = Context()
        self.stats = Stats()
        # Adj-RIB-Out pending: (family, nlri) -> (attributes, next hop) to announce, None to withdraw.
        self._pending: dict[tuple[Family, object], tuple | None] = {}
        self._pending_eor: list[Family] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._serving: asyncio.Task | None = None
        self._runner: asyncio.Task | None = None
        self._received: dict[Family, set] = {}
        self._stopped = False
        # whether the last Established session ended the way a restart does (no NOTIFICATION
        # either way, or our hold timer expiring), so a GR helper keeps the peer's routes
        self.closed_gracefully = False
        self.local_next_hop = config.local_address or config.router_id
        self._idle = asyncio.Event()
        self._idle.set()

    # ---- public API -----------------------------------------------------------------

    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED

    @property
    def dials(self) -> bool:
        """Whether we open connections. When both ends know each other's identifier only
        the higher one dials, so a control-node mesh never has collisions (the
        connection RFC 4271 §6.8 would keep is the only one made)."""
        if self.config.passive:
            return False
        return not (self.config.peer_router_id and self._inbound_wins())

    def start(self) -> None:
        """Begin connecting (if we dial) in the background."""
        if self._runner is None and self.dials:
            self._runner = asyncio.create_task(self.run(), name=f"bgp-{self.config.name}")

    async def stop(self, reason: str = "peer deconfigured") -> None:
        self._stopped = True
        if self._writer is not None and self.state in (OPEN_SENT, OPEN_CONFIRM, ESTABLISHED):
            self._notify(E.CEASE, E.PEER_DECONFIGURED)
        runner, self._runner = self._runner, None
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
            try:
                await runner
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self._writer is not None:  # an inbound connection: closing it ends its task
            self._writer.close()
            await self._idle.wait()
        self._serving = None

    def advertise(self, family: Family, nlri, attributes: tuple, next_hop: str = "") -> None:
        """Queue an announcement (``attributes`` without MP_REACH); a later call for the
        same route replaces it. ``next_hop`` '' means our local address."""
        if family in self.negotiated.families:
            self._pending[(family, nlri)] = (attributes, next_hop or self.local_next_hop)
            self._wake.set()

    def withdraw(self, family: Family, nlri) -> None:
        if family in self.negotiated.families:
            self._pending[(family, nlri)] = None
            self._wake.set()

    def forget(self, family: Family, nlri) -> None:
        """Drop a queued announcement or withdrawal that a newer one supersedes."""
        self._pending.pop((family, nlri), None)

    def request_refresh(self, family: Family) -> None:
        if self.established and self.negotiated.route_refresh:
            self._send(RouteRefresh(family))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def received_count(self) -> int:
        """Prefixes the peer has announced and not withdrawn (counted when ``max_prefixes`` is set)."""
        return sum(len(s) for s in self._received.values())

    # ---- connection management ------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, and retry after ``connect_retry`` (jittered) until stopped."""
        while not self._stopped:
            self.state = CONNECT
            try:
                reader, writer = await asyncio.wait_for(self._connect(), timeout=max(self.config.connect_retry, 1.0))
            except (OSError, asyncio.TimeoutError) as exc:
                self.state = ACTIVE
                self.stats.last_error = f"connect: {exc}"
                await asyncio.sleep(self.config.connect_retry * self.rng.uniform(0.75, 1.0))
                continue
            self._serving = asyncio.current_task()
            await self._serve(reader, writer)
            if not self._stopped:
                await asyncio.sleep(self.config.connect_retry * self.rng.uniform(0.75, 1.0))

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to the peer, signed with TCP-MD5 when a key is configured."""
        cfg = self.config
        family = socket.AF_INET6 if ":" in cfg.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if cfg.md5_key:
                set_md5(sock, cfg.address, cfg.md5_key)
            if cfg.local_address:
                sock.bind((cfg.local_address, 0))
            await asyncio.get_running_loop().sock_connect(sock, (cfg.address, cfg.port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve an inbound connection. If a session is already past OpenSent this one
        is a collision and is refused (RFC 4271 §6.8, simplified: first one wins)."""
        if self.state in (OPEN_CONFIRM, ESTABLISHED) or self._stopped:
            writer.write(encode_message(Notification(E.CEASE, E.CONNECTION_COLLISION)))
            writer.close()
            return
        if self._runner is not None and self.state == OPEN_SENT and not self._inbound_wins():
            # RFC 4271 §6.8: keep the connection opened by the higher BGP identifier.
            writer.write(encode_message(Notification(E.CEASE, E.CONNECTION_COLLISION)))
            writer.close()
            return
        if self._runner is not None:
            runner, self._runner = self._runner, None
            runner.cancel()
            try:
                await runner  # its cleanup must finish before this connection takes over
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._serving = asyncio.current_task()
        try:
            await self._serve(reader, writer)
        finally:
            if not self._stopped and self.dials and self._runner is None:
                self._runner = asyncio.create_task(self.run(), name=f"bgp-{self.config.name}")

    def _inbound_wins(self) -> bool:
        try:
            return ipaddress.IPv4Address(self.config.peer_router_id or self.config.address) > ipaddress.IPv4Address(self.config.router_id)
        except ValueError:
            return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._idle.clear()
        sock = writer.get_extra_info("sockname")
        self.local_next_hop = self.config.local_address or (sock[0] if sock else self.config.router_id)
        self._pending.clear()
        self._pending_eor.clear()
        self._received.clear()
        self._negotiated_event = asyncio.Event()
        reason = "closed"
        graceful = True
        tasks: list[asyncio.Task] = []
        try:
            self._send(self._open())
            self.state = OPEN_SENT
            tasks = [asyncio.create_task(self._write_loop()), asyncio.create_task(self._keepalive_loop())]
            await self._read_loop(reader)
            reason = "peer closed the connection"
        except BgpError as exc:
            reason = f"sent NOTIFICATION {exc.code}/{exc.subcode}: {exc.reason}"
            graceful = exc.code == E.HOLD_TIMER_EXPIRED
            self._notify(exc.code, exc.subcode, exc.data)
        except _PeerNotification as exc:
            reason = f"received NOTIFICATION {exc.notification}"
            graceful = False
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            reason = f"connection lost: {exc!r}"
        finally:
            for t in tasks:
                t.cancel()
            was = self.state
            self.state = IDLE if self._stopped else ACTIVE
            self.stats.last_error = reason
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass
            self._writer = None
            self._idle.set()
            if was == ESTABLISHED:
                self.closed_gracefully = graceful and not self._stopped
                self.stats.flaps += 1
                self.stats.flap_time = time.time()
                log.info("bgp %s down: %s", self.config.name, reason)
                self.handler.on_closed(self, reason)
            else:
                log.debug("bgp %s: %s in %s", self.config.name, reason, was)

    # ---- reading --------------------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            hold = self.negotiated.hold_time if self.state == ESTABLISHED or self.state == OPEN_CONFIRM else 240
            try:
                header = await asyncio.wait_for(reader.readexactly(HEADER_SIZE), timeout=hold or None)
                size, _ = parse_header(header)
                body = await asyncio.wait_for(reader.readexactly(size - HEADER_SIZE), timeout=hold or None)
            except asyncio.TimeoutError:
                raise BgpError(E.HOLD_TIMER_EXPIRED, 0, reason="hold timer expired") from None
            msg = decode_message(header + body, self.ctx)
            kind = _KIND[type(msg)]
            self.stats.rx[kind] += 1
            self.stats.rx["total"] += 1
            self._receive(msg)

    def _receive(self, msg) -> None:
        if isinstance(msg, Notification):
            raise _PeerNotification(msg)
        if self.state == OPEN_SENT:
            if not isinstance(msg, Open):
                raise BgpError(E.FSM_ERROR, 1, reason=f"{type(msg).__name__} in OpenSent")
            self._negotiate(msg)
            self._send(Keepalive())
            self.state = OPEN_CONFIRM
            return
        if self.state == OPEN_CONFIRM:
            if not isinstance(msg, Keepalive):
                raise BgpError(E.FSM_ERROR, 2, reason=f"{type(msg).__name__} in OpenConfirm")
            self.state = ESTABLISHED
            self.stats.established_at = time.time()
            log.info("bgp %s established (%s)", self.config.name, ", ".join(map(str, self.negotiated.families)))
            self.handler.on_established(self)
            self._pending_eor.extend(self.negotiated.families)  # after the initial dump
            self._wake.set()
            return
        if isinstance(msg, Open):
            raise BgpError(E.FSM_ERROR, 3, reason="OPEN in Established")
        if isinstance(msg, Update):
            self._receive_update(msg)
        elif isinstance(msg, RouteRefresh):
            if msg.family in self.negotiated.families and msg.subtype == 0:
                self.handler.on_route_refresh(self, msg.family)

    def _receive_update(self, update: Update) -> None:
        eor = update.end_of_rib
        if eor is not None:
            log.debug("bgp %s: End-of-RIB for %s", self.config.name, eor)
            self.handler.on_end_of_rib(self, eor)
            return
        if self.config.max_prefixes:  # the received set costs a hash per route: only when limited
            fams = self.negotiated.families
            for fam, nlri in update.withdrawals():
                self._received.get(fam, set()).discard(nlri)
            for fam, nlri, _ in update.announced():
                if fam in fams:
                    self._received.setdefault(fam, set()).add(nlri)
            if self.received_count() > self.config.max_prefixes:
                raise BgpError(E.CEASE, E.MAX_PREFIXES, reason=f"more than {self.config.max_prefixes} prefixes")
        as4_fix = for_four_octet_peer if self.negotiated.as4 else from_two_octet_peer
        update = dataclasses.replace(update, attributes=as4_fix(update.attributes))
        if update.treat_as_withdraw:
            log.warning("bgp %s: UPDATE treated as withdraw: %s", self.config.name, update.treat_as_withdraw)
        self.handler.on_update(self, update)

    def _negotiate(self, peer: Open) -> None:
        cfg = self.config
        if peer.asn != cfg.peer_asn:
            raise BgpError(E.OPEN_MESSAGE, E.BAD_PEER_AS, struct.pack("!H", min(peer.asn, 0xFFFF)), reason=f"AS {peer.asn}")
        if cfg.ibgp and peer.router_id == cfg.router_id:
            raise BgpError(E.OPEN_MESSAGE, E.BAD_BGP_IDENTIFIER, reason="same router id")
        mp = {c.family for c in peer.capabilities if isinstance(c, caps.Multiprotocol)}
        if not any(isinstance(c, caps.Multiprotocol) for c in peer.capabilities):
            mp = {IPV4_UNICAST}  # RFC 4760 §8: no MP capability means IPv4 unicast only
        self.negotiated = Negotiated(
            families=tuple(f for f in cfg.families if f in mp),
            hold_time=0 if peer.hold_time == 0 or cfg.hold_time == 0 else min(peer.hold_time, cfg.hold_time),
            as4=peer.capability(caps.FourOctetAs) is not None,
            route_refresh=peer.capability(caps.RouteRefresh) is not None,
            peer_gr=peer.capability(caps.GracefulRestart),
            peer_router_id=peer.router_id,
        )
        self.ctx = Context(as4=self.negotiated.as4)
        self._negotiated_event.set()

    # ---- writing --------------------------------------------------------------------

    def _open(self) -> Open:
        cfg = self.config
        cl: list = [caps.Multiprotocol(f) for f in cfg.families]
        cl += [caps.RouteRefresh(), caps.FourOctetAs(cfg.local_asn)]
        if cfg.graceful_restart_time:
            cl.append(caps.GracefulRestart(cfg.graceful_restart_time, families=tuple((f, False) for f in cfg.families)))
        elif cfg.gr_helper:
            # RFC 4724 §3: the capability without families says "I can help you restart";
            # peers (gobgpd) send End-of-RIB only to GR-capable neighbors
            cl.append(caps.GracefulRestart(0))
        return Open(cfg.local_asn, cfg.hold_time, cfg.router_id, tuple(cl))

    def _send(self, msg) -> None:
        if self._writer is not None:
            self._send_raw(encode_message(msg, self.ctx), _KIND[type(msg)])

    def _send_raw(self, data: bytes, kind: str) -> None:
        if self._writer is None:
            return
        self._writer.write(data)
        self.stats.tx[kind] += 1
        self.stats.tx["total"] += 1

    def _notify(self, code: int, subcode: int, data: bytes = b"") -> None:
        try:
            self._send(Notification(code, subcode, data))
        except Exception:  # noqa: BLE001 - the connection is going away anyway
            pass

    async def _keepalive_loop(self) -> None:
        await self._negotiated_event.wait()
        hold = self.negotiated.hold_time
        if not hold:
            return  # hold time 0: no keepalives (RFC 4271 §4.4)
        while True:
            await asyncio.sleep(hold / 3)
            self._send(Keepalive())

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.state != ESTABLISHED or self._writer is None:
                continue
            while self._pending:
                for data in self._take_batch():
                    self._send_raw(data, "update")
                await self._writer.drain()
            while self._pending_eor and not self._pending:
                fam = self._pending_eor.pop(0)
                self._send(Update() if fam == IPV4_UNICAST else Update(attributes=(MpUnreach(fam),)))
            await self._writer.drain()

    def _take_batch(self, limit: int = 2048) -> list[bytes]:
        """Up to ``limit`` routes from the pending queue as encoded UPDATEs: routes sharing
        attributes and next hop go together, each message under ``MAX_SIZE``."""
        # Group by the attribute tuple's identity first (the bridge hands out one tuple
        # per attribute set, and hashing a tuple of dataclasses per route is what made
        # this expensive), then merge equal sets that arrived as different objects.
        by_id: dict[tuple, list] = {}
        pending = self._pending
        for _ in range(min(limit, len(pending))):
            (fam, nlri), adv = pending.popitem()
            gk = (fam, None, "") if adv is None else (fam, id(adv[0]), adv[1])
            group = by_id.get(gk)
            if group is None:
                group = by_id[gk] = [adv, []]
            group[1].append(nlri)
        groups: dict[tuple, list] = {}
        for (fam, _, _), (adv, nlris) in by_id.items():
            groups.setdefault((fam, adv), []).extend(nlris)
        out: list[bytes] = []
        ctx = self.ctx
        for (fam, adv), nlris in groups.items():
            enc = nlri_encoder(fam)
            encoded = [enc(n, ctx) for n in nlris]
            if adv is None:
                out.extend(pack_routes(fam, None, "", encoded, ctx))
                continue
            attrs, next_hop = adv
            if not self.negotiated.as4:
                attrs = for_two_octet_peer(attrs)
            out.extend(pack_routes(fam, attrs, next_hop, encoded, ctx))
        return out


class _PeerNotification(Exception):
    def __init__(self, notification: Notification):
        self.notification = notification
        super().__init__(str(notification))
