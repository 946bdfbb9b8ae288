"""The RIB side of BGP: neighbors are another peer kind of the control node.

Routes a neighbor announces become primary paths (protocol ``BGP``, peer = neighbor
name) in ``bgp.l3vpn.0`` / ``bgp.l3vpn-inet6.0`` / ``bgp.evpn.0`` (the RIB imports
them into instances by route target) or, for IPv4/IPv6 unicast, in the master
instance's ``inet.0`` / ``inet6.0``. Whatever the RIB touches in those tables and
``bgp.rtarget.0`` is re-evaluated per neighbor (level-triggered: the advertisement is
computed from the table as it is now) and queued on the session's coalescing
Adj-RIB-Out. ``export_path`` is the pure decision. Neighbors share the per-route work
(best path, NLRI, attributes per (local AS, iBGP) policy): only split horizon, RT
interest and the Adj-RIB-Out bookkeeping are per neighbor.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from filament.control.bgp_routes import (
    FAMILY_TABLE, TABLE_FAMILY, UNICAST_FAMILIES, attributes_for, nlri_for, path_for_nlri, path_template,
)
from filament.control.bgp_session import BgpSession
from filament.control.bgp_speaker import BgpSpeaker
from filament.control.path import Path, best_path
from filament.control.rib import Rib, is_flood_key
from filament.wire.bgp import EVPN, IPV6_UNICAST, RTC, Update
from filament.wire.bgp.common import Family
from filament.wire.bgp.nlri.evpn import InclusiveMulticast
from filament.wire.bgp.nlri.rtc import RtMembership

log = logging.getLogger("filament.control.bgp")

DEFAULT_RT = "default"
RTARGET_TABLE = "bgp.rtarget.0"
VPN_EXPORT_TABLES = ("bgp.l3vpn.0", "bgp.l3vpn-inet6.0", "bgp.evpn.0")


def export_path(rib: Rib, table: str, key: str, *, peer: str, ibgp: bool, ibgp_peers: set[str]) -> Path | None:
    """The path to advertise to neighbor ``peer`` for ``key`` (None: withdraw).

    Only the best path is considered (no "next best" when it may not be sent): a route
    learned from the neighbor itself, or learned over iBGP when ``peer`` is iBGP
    (split horizon, RFC 4271 §9.2), is withdrawn. Flood routes (EVPN BUM, ermvpn) are
    not exported, except an agent's EVPN broadcast route, which ``nlri_for`` turns into
    the inclusive multicast (type 3) route of its VTEP.
    """
    t = rib.tables.get(table)
    route = t.routes.get(key) if t is not None else None
    if route is None:
        return None
    if table == RTARGET_TABLE:
        # any membership we may pass on: ours (agents' subscriptions), and neighbors' under
        # the same split horizon as VPN routes (so a router behind one control node draws
        # routes from the others)
        return best_path([p for p in route.paths if p.protocol != "BGP" or _may_send(p, peer, ibgp, ibgp_peers)])
    best = exportable_best(t, key)
    if best is not None and best.protocol == "BGP" and not _may_send(best, peer, ibgp, ibgp_peers):
        return None
    return best


def exportable_best(table, key: str) -> Path | None:
    """The part of ``export_path`` that does not depend on the neighbor (not for
    ``bgp.rtarget.0``): the best path, unless the key is a flood route not exported."""
    route = table.routes.get(key)
    if route is None or not route.paths:
        return None
    best = route.paths[0]  # a route keeps its paths best first (RouteTable.set_path)
    if not best.feasible:
        return None
    if table.family in ("evpn", "ermvpn") and is_flood_key(table.family, key):
        # an agent's broadcast route goes out as its VTEP's type-3 route; ermvpn and
        # learned flood routes stay ingress-replication state between agents
        return best if table.family == "evpn" and best.protocol != "BGP" else None
    return best


def _may_send(path: Path, peer: str, ibgp: bool, ibgp_peers: set[str]) -> bool:
    return path.peer != peer and not (ibgp and path.peer in ibgp_peers)


def rt_interest_allows(interest: frozenset[str] | set[str], route_targets) -> bool:
    """RFC 4684: a VPN route goes to an RTC neighbor only if it carries a target the
    neighbor asked for, or the neighbor sent the default membership (``DEFAULT_RT``)."""
    return DEFAULT_RT in interest or not interest.isdisjoint(route_targets)

def membership_target(nlri: RtMembership) -> str:
    """The route target a membership NLRI asks for (``DEFAULT_RT`` for the default route)."""
    return DEFAULT_RT if nlri.target is None else str(nlri.target)


@dataclass
class GracefulRestart:
    """A GR-capable neighbor's restart in progress: its paths are kept stale until it
    sends End-of-RIB for each family (or ``restart_time`` passes)."""

    tables: set[str]
    timer: asyncio.TimerHandle | None = None
    pending_eor: set[str] = field(default_factory=set)


class BgpBridge:
    """BgpHandler for all sessions of a control node; owns the ``BgpSpeaker``."""

    def __init__(self, node):
        self.node = node
        self.speaker = BgpSpeaker(self)
        # per neighbor: (table, key) -> (family, nlri) we last advertised
        self._adv: dict[str, dict[tuple[str, str], tuple[Family, object]]] = {}
        # per neighbor: RT membership it advertised (RFC 4684): route target -> NLRIs asking for it
        self._interest: dict[str, dict[str, set[RtMembership]]] = {}
        self.restarting: dict[str, GracefulRestart] = {}

    @property
    def rib(self) -> Rib:
        return self.node.rib

    def sessions(self) -> list[BgpSession]:
        return list(self.speaker.sessions.values())

    def _ibgp_peers(self) -> set[str]:
        return {s.config.name for s in self.speaker.sessions.values() if s.config.ibgp}

    # ---- RIB -> neighbors -----------------------------------------------------------

    def export(self, changes: dict[str, dict[str, None]]) -> None:
        """Re-evaluate the touched exported keys for every established neighbor."""
        sessions = [s for s in self.sessions() if s.established]
        if not sessions:
            return
        ibgp = self._ibgp_peers()
        for tname, keys in changes.items():
            if tname in TABLE_FAMILY:
                self._export_keys(sessions, tname, keys, ibgp)

    def _export_table(self, sess: BgpSession, tname: str) -> None:
        self._export_keys([sess], tname, list(self.rib.tables[tname].routes), self._ibgp_peers())

    def _export_keys(self, sessions: list[BgpSession], tname: str, keys, ibgp_peers: set[str]) -> None:
        """Export ``keys`` of one table to ``sessions`` (those with its family negotiated).

        The best path, its NLRI and its attributes (per (local AS, iBGP) policy: an update
        group) are computed once per key; each neighbor then applies split horizon and
        its RT interest, and the Adj-RIB-Out diff decides announce / withdraw / nothing."""
        fam = TABLE_FAMILY[tname]
        members = [s for s in sessions if fam in s.negotiated.families]
        if not members:
            return
        if tname == RTARGET_TABLE:
            for sess in members:
                for key in keys:
                    self._export_rtarget(sess, key, ibgp_peers)
            return
        t = self.rib.tables[tname]
        evpn = fam == EVPN
        vpn = tname in VPN_EXPORT_TABLES
        views = []
        for sess in members:
            cfg = sess.config
            interest = self._interest.get(cfg.name, {}).keys() if vpn and RTC in sess.negotiated.families else None
            # unicast toward eBGP: next hop self (RFC 4271 §5.1.3, as GoBGP and FRR do); VPN
            # routes keep the vRouter's next hop (the control node is not in the data path)
            next_hop_self = fam in UNICAST_FAMILIES and not cfg.ibgp
            views.append((sess, cfg.name, cfg.ibgp, (cfg.local_asn, cfg.ibgp), self._adv.setdefault(cfg.name, {}),
                          interest, self._self_next_hop(sess, fam) if next_hop_self else None))
        for key in keys:
            best = exportable_best(t, key)
            nlri = None
            if best is not None:
                nlri = nlri_for(tname, key, best, ethernet_tag=self.rib.evpn_ethernet_tag(best) if evpn else None)
                if nlri is None:
                    best = None
            attrs_by_policy: dict[tuple, tuple] = {}
            akey = (tname, key)
            for sess, name, ibgp, policy, adv, interest, self_nh in views:
                path = best
                if path is not None:
                    if path.protocol == "BGP" and not _may_send(path, name, ibgp, ibgp_peers):
                        path = None
                    elif interest is not None and not rt_interest_allows(interest, path.route_targets):
                        path = None
                old = adv.get(akey)
                if path is None:
                    if old is not None:
                        del adv[akey]
                        sess.withdraw(*old)
                    continue
                if old is not None and old[1] != nlri:
                    if str(old[1]) == str(nlri):
                        sess.forget(*old)  # same route, new label: the new announcement replaces it
                    else:
                        sess.withdraw(*old)  # another route now (e.g. the EVPN ethernet tag moved)
                adv[akey] = (fam, nlri)
                attrs = attrs_by_policy.get(policy)
                if attrs is None:
                    attrs = attrs_by_policy[policy] = attributes_for(
                        path, local_asn=policy[0], ibgp=ibgp, evpn=evpn, vn_index=self.rib.origin_vn_index(path),
                        pmsi=isinstance(nlri, InclusiveMulticast))
                sess.advertise(fam, nlri, attrs, path.next_hop if self_nh is None else self_nh)

    @staticmethod
    def _self_next_hop(sess: BgpSession, fam: Family) -> str:
        """Our address as a next hop of ``fam`` ('' lets the session use its local address;
        IPv6 routes over an IPv4 session get the IPv4-mapped form, as FRR sends)."""
        local = sess.local_next_hop
        if fam == IPV6_UNICAST and ":" not in local:
            return f"::ffff:{local}"
        return ""

    def _export_rtarget(self, sess: BgpSession, key: str, ibgp: set[str]) -> None:
        cfg = sess.config
        adv = self._adv.setdefault(cfg.name, {})
        akey = (RTARGET_TABLE, key)
        old = adv.get(akey)
        path = export_path(self.rib, RTARGET_TABLE, key, peer=cfg.name, ibgp=cfg.ibgp, ibgp_peers=ibgp)
        nlri = nlri_for(RTARGET_TABLE, key, path) if path is not None else None
        if nlri is None:
            if old is not None:
                del adv[akey]
                sess.withdraw(*old)
            return
        adv[akey] = (RTC, nlri)
        sess.advertise(RTC, nlri, attributes_for(path, local_asn=cfg.local_asn, ibgp=cfg.ibgp), "")

    # ---- BgpHandler -----------------------------------------------------------------

    def on_established(self, session: BgpSession) -> None:
        name = session.config.name
        self._adv[name] = {}
        gr = self.restarting.get(name)
        if gr is not None:
            gr_cap = session.negotiated.peer_gr
            still = {FAMILY_TABLE[f] for f, _fwd in (gr_cap.families if gr_cap else ()) if FAMILY_TABLE.get(f) in gr.tables}
            if gr.tables - still:  # families it no longer preserves: their stale paths go now
                self._sweep(name, gr.tables - still)
            gr.tables = gr.pending_eor = still
            if not still:
                self._end_restart(name)
        else:
            self._interest[name] = {}
        for tname in TABLE_FAMILY:
            self._export_table(session, tname)

    def on_update(self, session: BgpSession, update: Update) -> None:
        name = session.config.name
        now = self.node.now()
        rib = self.rib
        interest = self._interest.setdefault(name, {})
        before = set(interest)
        for fam, nlri in update.withdrawals():
            table = FAMILY_TABLE.get(fam)
            if table is not None:
                rib.remove_bgp_path(name, table, nlri.prefix if fam in UNICAST_FAMILIES else str(nlri), now)
            if fam == RTC:
                rt = membership_target(nlri)
                asking = interest.get(rt)
                if asking is not None:
                    asking.discard(nlri)
                    if not asking:
                        del interest[rt]
        template = None
        for fam, next_hop, nlris in update.announced_by_family():
            if fam not in FAMILY_TABLE:
                continue
            if template is None:  # one per UPDATE: every route in it shares the attributes
                template = path_template(name, session.negotiated.peer_router_id, update.attributes,
                                         local_asn=session.config.local_asn, now=now)
            rtc = fam == RTC
            for nlri in nlris:
                table, key, path = path_for_nlri(template, fam, nlri, next_hop)
                rib.add_bgp_path(table, key, path, now)
                if rtc:
                    interest.setdefault(membership_target(nlri), set()).add(nlri)
        self.node.flush()
        if set(interest) != before:
            for tname in VPN_EXPORT_TABLES:  # what this neighbor may receive changed
                self._export_table(session, tname)

    def advertised(self, name: str) -> list[tuple[str, str]]:
        """The (table, key)s currently advertised to neighbor ``name``."""
        return sorted(self._adv.get(name, ()))

    def interest(self, name: str) -> frozenset[str]:
        """The route targets neighbor ``name`` advertised membership for."""
        return frozenset(self._interest.get(name, ()))

    def on_route_refresh(self, session: BgpSession, family: Family) -> None:
        tname = FAMILY_TABLE.get(family)
        if tname is not None:
            self._export_table(session, tname)

    def on_end_of_rib(self, session: BgpSession, family: Family) -> None:
        name = session.config.name
        gr = self.restarting.get(name)
        table = FAMILY_TABLE.get(family)
        if gr is None or table not in gr.pending_eor:
            return
        gr.pending_eor.discard(table)
        self._sweep(name, {table})
        if not gr.pending_eor:
            self._end_restart(name)

    def on_closed(self, session: BgpSession, reason: str) -> None:
        name = session.config.name
        self._adv.pop(name, None)
        gr_cap = session.negotiated.peer_gr
        tables = {FAMILY_TABLE[f] for f, _fwd in (gr_cap.families if gr_cap else ()) if f in FAMILY_TABLE}
        if session.config.gr_helper and session.closed_gracefully and gr_cap and gr_cap.restart_time and tables:
            self._start_restart(name, tables, gr_cap.restart_time)
            return
        self._end_restart(name)
        self._interest.pop(name, None)
        self.rib.remove_peer(name, self.node.now())
        self.node.flush()

    # ---- graceful restart (helper, RFC 4724 §4.2) -----------------------------------

    def _start_restart(self, name: str, tables: set[str], restart_time: int) -> None:
        """Keep the neighbor's paths in ``tables`` as stale; drop the rest."""
        old = self.restarting.pop(name, None)
        if old is not None and old.timer is not None:
            old.timer.cancel()
        now = self.node.now()
        for table, key in self.rib.peer_paths(name):
            if table not in tables:
                self.rib.remove_bgp_path(name, table, key, now)
        n = self.rib.mark_stale(name, now)
        timer = asyncio.get_running_loop().call_later(restart_time, self._restart_expired, name)
        self.restarting[name] = GracefulRestart(set(tables), timer, set(tables))
        log.info("bgp %s restarting: %d paths kept stale for up to %ds", name, n, restart_time)
        self.node.flush()

    def _restart_expired(self, name: str) -> None:
        gr = self.restarting.get(name)
        if gr is None:
            return
        log.info("bgp %s: restart time expired, removing its stale paths", name)
        self._sweep(name, gr.tables)
        self._end_restart(name)

    def _sweep(self, name: str, tables: set[str]) -> None:
        n = self.rib.sweep_stale(name, self.node.now(), tables=tables)
        if RTARGET_TABLE in tables:
            interest: dict[str, set[RtMembership]] = {}
            for table, key in self.rib.peer_paths(name):
                if table == RTARGET_TABLE:
                    nlri = nlri_for(table, key, Path(peer=name))
                    interest.setdefault(membership_target(nlri), set()).add(nlri)
            self._interest[name] = interest
            sess = next((s for s in self.sessions() if s.config.name == name and s.established), None)
            if sess is not None:
                for tname in VPN_EXPORT_TABLES:
                    self._export_table(sess, tname)
        if n:
            log.info("bgp %s: swept %d stale paths", name, n)
        self.node.flush()

    def _end_restart(self, name: str) -> None:
        gr = self.restarting.pop(name, None)
        if gr is not None and gr.timer is not None:
            gr.timer.cancel()

    # ---- lifecycle ------------------------------------------------------------------

    async def reconcile(self, configs) -> None:
        """Make the sessions match config; a removed neighbor's paths go with it."""
        before = {s.config.name for s in self.sessions()}
        await self.speaker.reconcile(list(configs))
        gone = before - {s.config.name for s in self.sessions()}
        for name in gone:
            self._end_restart(name)
            self._adv.pop(name, None)
            self._interest.pop(name, None)
            self.rib.remove_peer(name, self.node.now())
        if gone:
            self.node.flush()
