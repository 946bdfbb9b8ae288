"""The control node's routing information base (pure: no sockets, no clocks).

Routing instances own one table per family; primary paths learned from peers are
replicated (as secondary paths) to the family's VPN table with the instance's
export targets and into every instance importing one of those targets (or
connected to it). Peers subscribe to instances (membership); each subscription
adds RT-interest paths to `bgp.rtarget.0` (RFC 4684 route-target constraint).
Every table/key touched is recorded in ``changes`` for the runtime to advertise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from filament.control.path import Path
from filament.control.table import (
    MASTER_INSTANCE,
    RTARGET_TABLE,
    VPN_TABLES,
    VRF_FAMILIES,
    RouteTable,
    table_name,
)
from filament.wire.xmpp.model import BROADCAST_MAC, ItemError


class SubscriptionError(Exception):
    """A peer broke the membership protocol (the session is closed)."""


@dataclass(frozen=True)
class InstanceConfig:
    """What config says about a routing instance."""

    name: str
    import_targets: frozenset[str] = frozenset()
    export_targets: frozenset[str] = frozenset()
    virtual_network: str = ""
    vn_index: int = 0
    vxlan_id: int = 0
    connections: frozenset[str] = frozenset()
    evpn_vlan_based: bool = False  # EVPN ethernet tag 0 (vlan-based) instead of the VNI (vlan-aware)

    @property
    def evpn_ethernet_tag(self) -> int:
        """The ethernet tag of this network's EVPN routes toward BGP neighbors."""
        return 0 if self.evpn_vlan_based else (self.vxlan_id or self.vn_index)


@dataclass
class Membership:
    instance_id: int | None
    stale: bool = False


@dataclass
class Instance:
    name: str
    config: InstanceConfig | None
    tables: dict[str, RouteTable] = field(default_factory=dict)
    effective_imports: frozenset[str] = frozenset()

    @property
    def exports(self) -> frozenset[str]:
        return self.config.export_targets if self.config else frozenset()


def is_flood_key(family: str, key: str) -> bool:
    """EVPN broadcast (BUM) and ermvpn native routes go back only to their publisher."""
    if family == "evpn":
        return key.endswith(BROADCAST_MAC + ",0.0.0.0")
    return family == "ermvpn"


def vpn_key(family: str, key: str, rd: str) -> str:
    """The VRF prefix as it appears in the family's VPN table (RD added/replaced)."""
    if family in ("inet", "inet6"):
        return f"{rd}:{key}"
    if family == "evpn":
        t, old_rd, tail = key.split("-", 2)
        return f"{t}-{rd if old_rd == '0:0' else old_rd}-{tail}"
    return key


def vrf_key(family: str, key: str) -> str | None:
    """The VPN-table key as it appears in an importing instance's table (RD dropped),
    or None for routes not imported into instances (EVPN type 3 and flood routes)."""
    if family in ("inet", "inet6"):
        return key.split(":", 2)[2]
    if family == "evpn":
        t, _rd, tail = key.split("-", 2)
        if t not in ("2", "5") or is_flood_key(family, key):
            return None
        return f"{t}-0:0-{tail}"
    return None


_NO_IMPORTERS: frozenset[str] = frozenset()
BGP_IMPORT_TABLES = frozenset({VPN_TABLES["inet"], VPN_TABLES["inet6"], VPN_TABLES["evpn"]})


class Rib:
    def __init__(self, *, asn: int = 64512, router_id: str = "0.0.0.0"):
        self.asn = asn
        self.router_id = router_id
        self.instances: dict[str, Instance] = {}
        self.tables: dict[str, RouteTable] = {}
        self.membership: dict[str, dict[str, Membership]] = {}
        self.listeners: dict[str, set[str]] = {}
        self.changes: dict[str, dict[str, None]] = {}
        self.flood_owner: dict[tuple[str, str], str] = {}
        self._importers: dict[str, set[str]] = {}
        self._secondaries: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
        self._peer_primaries: dict[str, set[tuple[str, str]]] = {}
        self._peer_rts: dict[str, set[str]] = {}
        self._rt_refs: dict[str, int] = {}
        self._vn_by_index: dict[int, str] = {}
        for fam, name in VPN_TABLES.items():
            self.tables[name] = RouteTable(name, MASTER_INSTANCE, fam)
        self.tables[RTARGET_TABLE] = RouteTable(RTARGET_TABLE, MASTER_INSTANCE, "rtarget")
        self._instance(MASTER_INSTANCE)

    # ---- instances ------------------------------------------------------------

    def _instance(self, name: str) -> Instance:
        inst = self.instances.get(name)
        if inst is None:
            inst = self.instances[name] = Instance(name, None)
            for fam in (("inet", "inet6") if name == MASTER_INSTANCE else VRF_FAMILIES):
                t = RouteTable(table_name(name, fam), name, fam)
                inst.tables[fam] = t
                self.tables[t.name] = t
        return inst

    def instance_vn(self, instance: str) -> str:
        inst = self.instances.get(instance)
        if inst and inst.config and inst.config.virtual_network:
            return inst.config.virtual_network
        return "unresolved"

    def origin_vn_index(self, path: Path) -> int:
        """The VN index of the instance a replicated path was originated in (0: none)."""
        if not path.primary_table:
            return 0
        inst = self.instances.get(self.tables[path.primary_table].instance) if path.primary_table in self.tables else None
        return inst.config.vn_index if inst and inst.config else 0

    def vn_of_origin(self, origin_vn: str) -> str:
        """The VN named by an origin-VN community value ``<asn>:<index>`` (ours only)."""
        asn, _, idx = origin_vn.partition(":")
        if asn != str(self.asn) or not idx.isdigit():
            return "unresolved"
        return self._vn_by_index.get(int(idx), "unresolved")

    def configure(self, configs: dict[str, InstanceConfig], now: float) -> None:
        """Replace the configured instances (level-triggered); re-replicate what moved."""
        old_exports = {n: i.exports for n, i in self.instances.items()}
        old_tags = {n: i.config.evpn_ethernet_tag for n, i in self.instances.items() if i.config}
        old_imports = {n: i.effective_imports for n, i in self.instances.items()}
        for name, cfg in configs.items():
            self._instance(name).config = cfg
        self._vn_by_index = {c.vn_index: c.virtual_network for c in configs.values() if c.vn_index and c.virtual_network}
        for name, inst in list(self.instances.items()):
            if name not in configs and inst.config is not None:
                inst.config = None
        self._recompute_imports()
        moved_rts: set[str] = set()
        affected: set[str] = set()
        for name, inst in self.instances.items():
            if old_exports.get(name, frozenset()) != inst.exports:
                affected.add(name)
            if old_imports.get(name, frozenset()) != inst.effective_imports:
                moved_rts |= old_imports.get(name, frozenset()) ^ inst.effective_imports
        if moved_rts:
            affected |= {n for n, i in self.instances.items() if i.exports & moved_rts}
        for name in sorted(affected):
            self._replicate_instance(name, now)
        if moved_rts:
            self._replicate_bgp(moved_rts, now)
        for name, inst in self.instances.items():
            if inst.config and old_tags.get(name, inst.config.evpn_ethernet_tag) != inst.config.evpn_ethernet_tag:
                self._touch_exported(name)
        for peer in list(self.membership):
            self._sync_rtarget(peer, now)
        self._drop_unused_instances()

    def _recompute_imports(self) -> None:
        links: dict[str, set[str]] = {n: set() for n in self.instances}
        for name, inst in self.instances.items():
            if inst.config:
                for other in inst.config.connections:
                    if other in self.instances:
                        links[name].add(other)
                        links[other].add(name)
        self._importers = {}
        for name, inst in self.instances.items():
            imports = set(inst.config.import_targets) if inst.config else set()
            for other in links[name]:
                imports |= self.instances[other].exports
            inst.effective_imports = frozenset(imports)
            for rt in imports:
                self._importers.setdefault(rt, set()).add(name)

    def _drop_unused_instances(self) -> None:
        used = {i for m in self.membership.values() for i in m}
        for name in list(self.instances):
            inst = self.instances[name]
            if inst.config is None and name != MASTER_INSTANCE and name not in used:
                if all(not t.routes for t in inst.tables.values()):
                    for t in inst.tables.values():
                        del self.tables[t.name]
                        self.listeners.pop(t.name, None)
                    del self.instances[name]

    # ---- membership (subscriptions) -------------------------------------------

    def subscribe(self, peer: str, instance: str, instance_id: int | None, now: float) -> list[str]:
        """Register ``peer`` on the instance's tables; returns those table names."""
        subs = self.membership.setdefault(peer, {})
        cur = subs.get(instance)
        if cur is not None and not cur.stale:
            raise SubscriptionError(f"duplicate subscribe to {instance}")
        subs[instance] = Membership(instance_id)
        inst = self._instance(instance)
        names = [t.name for t in inst.tables.values()]
        for n in names:
            self.listeners.setdefault(n, set()).add(peer)
        self._sync_rtarget(peer, now)
        return names

    def unsubscribe(self, peer: str, instance: str, now: float) -> None:
        subs = self.membership.get(peer, {})
        if instance not in subs:
            raise SubscriptionError(f"unsubscribe from {instance} without subscribe")
        self._leave(peer, instance, now)
        self._sync_rtarget(peer, now)
        self._drop_unused_instances()

    def _leave(self, peer: str, instance: str, now: float) -> None:
        del self.membership[peer][instance]
        if not self.membership[peer]:
            del self.membership[peer]
        inst = self.instances.get(instance)
        if inst is None:
            return
        for t in inst.tables.values():
            ls = self.listeners.get(t.name)
            if ls:
                ls.discard(peer)
            for key in [k for (tn, k) in self._peer_primaries.get(peer, ()) if tn == t.name]:
                self._remove_primary(peer, t.name, key, now)

    def subscribed(self, peer: str, instance: str) -> Membership | None:
        return self.membership.get(peer, {}).get(instance)

    # ---- primary paths ----------------------------------------------------------

    def add_path(self, instance: str, family: str, key: str, path: Path, now: float) -> None:
        """Add/replace the primary path of ``path.peer`` for ``key`` in the instance."""
        if path.peer and instance not in self.membership.get(path.peer, {}):
            raise SubscriptionError(f"route for unsubscribed instance {instance}")
        inst = self._instance(instance)
        t = inst.tables.get(family)
        if t is None:
            raise ItemError(f"no {family} table in {instance}")
        path = replace(path, primary_table="", last_modified=now)
        if t.set_path(key, path, now):
            self._touch(t.name, key, family)
        self._peer_primaries.setdefault(path.peer, set()).add((t.name, key))
        if is_flood_key(family, key):
            self.flood_owner[(t.name, key)] = path.peer
        self._replicate(t.name, key, path.peer, now)

    def remove_path(self, peer: str, instance: str, family: str, key: str, now: float) -> bool:
        if peer and instance not in self.membership.get(peer, {}):
            raise SubscriptionError(f"withdraw for unsubscribed instance {instance}")
        inst = self.instances.get(instance)
        if inst is None:
            return False
        if family not in inst.tables:
            return False
        return self._remove_primary(peer, inst.tables[family].name, key, now)

    def _remove_primary(self, peer: str, tname: str, key: str, now: float) -> bool:
        t = self.tables[tname]
        removed = t.remove_path(key, (peer, ""), now) is not None
        if removed:
            self._touch(tname, key, t.family)
        s = self._peer_primaries.get(peer)
        if s is not None:
            s.discard((tname, key))
            if not s:
                del self._peer_primaries[peer]
        self._replicate(tname, key, peer, now)
        return removed

    def add_bgp_path(self, table: str, key: str, path: Path, now: float) -> None:
        """Add/replace a BGP neighbor's path in a VPN table; it is imported into every
        instance whose effective imports share one of its route targets."""
        t = self.tables[table]
        if path.primary_table or path.last_modified != now:
            path = replace(path, primary_table="", last_modified=now)  # callers on the hot path pass it ready
        if t.set_path(key, path, now):
            self._touch(table, key, t.family)
        self._peer_primaries.setdefault(path.peer, set()).add((table, key))
        self._replicate(table, key, path.peer, now)

    def remove_bgp_path(self, peer: str, table: str, key: str, now: float) -> bool:
        if table not in self.tables:
            return False
        return self._remove_primary(peer, table, key, now)

    def _replicate_bgp(self, route_targets: set[str], now: float) -> None:
        for tname in BGP_IMPORT_TABLES:
            for key, route in list(self.tables[tname].routes.items()):
                for p in [p for p in route.paths if not p.primary_table and set(p.route_targets) & route_targets]:
                    self._replicate(tname, key, p.peer, now)

    def peer_paths(self, peer: str) -> list[tuple[str, str]]:
        return sorted(self._peer_primaries.get(peer, ()))

    # ---- replication ------------------------------------------------------------

    def _replicate_instance(self, instance: str, now: float) -> None:
        inst = self.instances.get(instance)
        if inst is None:
            return
        for t in inst.tables.values():
            for key, route in list(t.routes.items()):
                for p in [p for p in route.paths if not p.primary_table]:
                    self._replicate(t.name, key, p.peer, now)

    def _touch_exported(self, instance: str) -> None:
        """Mark the VPN-table copies of an instance's paths changed (their export form
        depends on instance config that is not part of the path, e.g. the EVPN tag)."""
        names = {t.name for t in self.instances[instance].tables.values()}
        vpn = set(VPN_TABLES.values())
        for (tname, _key, _peer), dsts in self._secondaries.items():
            if tname in names:
                for dt, dk in dsts:
                    if dt in vpn:
                        self._touch(dt, dk, self.tables[dt].family)

    def evpn_ethernet_tag(self, path: Path) -> int | None:
        """The ethernet tag to export a replicated EVPN path with (None: keep the key's)."""
        inst = self.instances.get(self.tables[path.primary_table].instance) if path.primary_table in self.tables else None
        return inst.config.evpn_ethernet_tag if inst and inst.config and inst.name != MASTER_INSTANCE else None

    def _replicate(self, tname: str, key: str, peer: str, now: float) -> None:
        src = self.tables[tname]
        route = src.routes.get(key)
        path = route.get((peer, "")) if route else None
        want: dict[tuple[str, str], Path] = {}
        if path is not None and src.instance != MASTER_INSTANCE:
            inst = self.instances[src.instance]
            rts = tuple(sorted(inst.exports))
            sec = replace(path, primary_table=tname, route_targets=rts)
            want[(VPN_TABLES[src.family], vpn_key(src.family, key, path.source_rd))] = sec
            dests: set[str] = set()
            for rt in rts:
                dests |= self._importers.get(rt, set())
            dests.discard(src.instance)
            if src.family == "ermvpn":
                dests = set()  # multicast trees stay in their instance (and bgp.ermvpn.0)
            for d in dests:
                want[(self.instances[d].tables[src.family].name, key)] = sec
        elif path is not None and tname in BGP_IMPORT_TABLES:
            # a route learned over BGP: import by route target (the key loses its RD)
            dests = set()
            for rt in path.route_targets:
                dests |= self._importers.get(rt, _NO_IMPORTERS)
            vkey = vrf_key(src.family, key) if dests else None
            if vkey is not None:
                sec = replace(path, primary_table=tname)
                for d in dests:
                    want[(self.instances[d].tables[src.family].name, vkey)] = sec
        skey = (tname, key, peer)
        have = self._secondaries.pop(skey, None)
        if have is None:
            if not want:
                return
            have = set()
        for dst in have - want.keys():
            dt = self.tables.get(dst[0])
            if dt is not None and dt.remove_path(dst[1], (peer, tname), now) is not None:
                self._touch(dst[0], dst[1], dt.family)
        for dst, sec in want.items():
            dt = self.tables[dst[0]]
            if dt.set_path(dst[1], sec, now):
                self._touch(dst[0], dst[1], dt.family)
        if want:
            self._secondaries[skey] = set(want)

    # ---- change log -------------------------------------------------------------

    def _touch(self, tname: str, key: str, family: str) -> None:
        ch = self.changes.setdefault(tname, {})
        if is_flood_key(family, key):
            # an olist changes for every publisher when one flood route changes
            t = self.tables[tname]
            for k in t.routes:
                if is_flood_key(family, k):
                    ch[k] = None
        ch[key] = None

    def take_changes(self) -> dict[str, dict[str, None]]:
        ch, self.changes = self.changes, {}
        return ch

    # ---- route-target constraint ------------------------------------------------

    def _sync_rtarget(self, peer: str, now: float) -> None:
        want: set[str] = set()
        for instance in self.membership.get(peer, {}):
            inst = self.instances.get(instance)
            if inst is not None:
                want |= inst.effective_imports
        have = self._peer_rts.get(peer, set())
        t = self.tables[RTARGET_TABLE]
        for rt in have - want:
            if t.remove_path(f"{self.asn}:{rt}", (peer, ""), now) is not None:
                self._touch(RTARGET_TABLE, f"{self.asn}:{rt}", "rtarget")
        for rt in want - have:
            p = Path(peer=peer, protocol="XMPP", next_hop=self.router_id, local_pref=100, last_modified=now)
            if t.set_path(f"{self.asn}:{rt}", p, now):
                self._touch(RTARGET_TABLE, f"{self.asn}:{rt}", "rtarget")
        if want:
            self._peer_rts[peer] = want
        else:
            self._peer_rts.pop(peer, None)

    def interested_peers(self, route_targets) -> set[str]:
        """Peers with an RT-interest path for any of ``route_targets`` (RFC 4684)."""
        t = self.tables[RTARGET_TABLE]
        out: set[str] = set()
        for rt in route_targets:
            r = t.routes.get(f"{self.asn}:{rt}")
            if r:
                out.update(p.peer for p in r.paths)
        return out

    def vpn_export_allowed(self, peer: str, path: Path) -> bool:
        """RT-constraint check for sending a VPN-table path to ``peer``."""
        return bool(self._peer_rts.get(peer, set()) & set(path.route_targets))

    # ---- graceful restart -------------------------------------------------------

    def mark_stale(self, peer: str, now: float) -> int:
        """Keep the peer's paths and subscriptions but flag them stale (GR helper)."""
        n = 0
        for tname, key in list(self._peer_primaries.get(peer, ())):
            t = self.tables[tname]
            p = t.routes[key].get((peer, ""))
            if p is not None and not p.stale:
                t.set_path(key, replace(p, flags=p.flags | {"Stale"}), now)
                self._touch(tname, key, t.family)
                self._replicate(tname, key, peer, now)
                n += 1
        for m in self.membership.get(peer, {}).values():
            m.stale = True
        return n

    def sweep_stale(self, peer: str, now: float, tables: set[str] | None = None) -> int:
        """Delete the peer's paths (in ``tables``, default all) and subscriptions still
        stale (not refreshed)."""
        n = 0
        for tname, key in list(self._peer_primaries.get(peer, ())):
            if tables is not None and tname not in tables:
                continue
            p = self.tables[tname].routes[key].get((peer, ""))
            if p is not None and p.stale:
                self._remove_primary(peer, tname, key, now)
                n += 1
        for instance, m in list(self.membership.get(peer, {}).items()):
            if m.stale:
                self._leave(peer, instance, now)
        self._sync_rtarget(peer, now)
        self._drop_unused_instances()
        return n

    def remove_peer(self, peer: str, now: float) -> None:
        for instance in list(self.membership.get(peer, {})):
            self._leave(peer, instance, now)
        for tname, key in list(self._peer_primaries.get(peer, ())):
            self._remove_primary(peer, tname, key, now)
        self._sync_rtarget(peer, now)
        self._drop_unused_instances()

    # ---- views ------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, list[tuple]]]:
        """Tables as plain data without timestamps (for incremental == recompute tests)."""
        out = {}
        for name, t in self.tables.items():
            if t.routes:
                out[name] = {
                    k: sorted(replace(p, last_modified=0.0).order_key() + p._rest() for p in r.paths)
                    for k, r in t.routes.items()
                }
        return out
