"""The intent the compiler has seen: typed objects plus the indexes the rules need.

`Intent.apply(event)` takes one raw watch event and returns the *dependency keys*
whose value it changed; a rule reads intent only through a `View`, which records
the keys it looked at, so the engine knows exactly which results a change can
affect. Keys are tuples: `("vn", fq)`, `("np", fq)`, `("members", policy)`,
`("project", fq)`, `("ri", fq)`, `("ris-of", vn)`, `("lr", fq)`, `("lrs-on", vn)`,
`("sg", fq)`, `("gsc",)`, `("alloc", owner)`, `("out", kind, key)`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from filament.compiler import model as m

Key = tuple

PARSERS: dict[str, Callable[[dict], Any]] = {
    "virtual-network": m.parse_virtual_network,
    "network-policy": m.parse_network_policy,
    "routing-instance": m.parse_routing_instance,
    "logical-router": m.parse_logical_router,
    "virtual-machine-interface": m.parse_port,
    "security-group": m.parse_security_group,
    "global-system-config": m.parse_system_config,
}
KEY_KIND = {"virtual-network": "vn", "network-policy": "np", "routing-instance": "ri",
            "logical-router": "lr", "virtual-machine-interface": "port", "security-group": "sg"}
INTENT_TYPES = (*PARSERS, "route-target")


class Intent:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {t: {} for t in PARSERS}
        self.by_uuid: dict[str, tuple[str, str]] = {}          # uuid -> (type, fq)
        self.system = m.SystemConfig()
        self.policy_members: dict[str, set[str]] = defaultdict(set)
        self.project_networks: dict[str, set[str]] = defaultdict(set)
        self.network_ris: dict[str, set[str]] = defaultdict(set)
        self.port_routers: dict[str, set[str]] = defaultdict(set)   # port -> LRs naming it
        self.router_networks: dict[str, frozenset[str]] = {}        # LR -> member VNs
        self.network_routers: dict[str, set[str]] = defaultdict(set)
        self.foreign_targets: set[str] = set()      # route-target names we did not create

    # --- reading ------------------------------------------------------------------
    def get(self, type_: str, fq: str) -> Any:
        return self.objects[type_].get(fq)

    # --- applying events ----------------------------------------------------------
    def apply(self, ev: dict) -> set[Key]:
        op = ev.get("op")
        if op == "put":
            return self.put(ev["type"], ev.get("object") or {}, ev.get("uuid"))
        if op == "delete":
            type_ = ev.get("type")
            fq = m.fq_str(ev.get("fq_name") or [])
            if not fq and ev.get("uuid") in self.by_uuid:
                type_, fq = self.by_uuid[ev["uuid"]]
            return self.delete(type_, fq)
        return set()

    def put(self, type_: str, obj: dict, uuid: str | None = None) -> set[Key]:
        if type_ == "route-target":
            name = m.fq_str(obj.get("fq_name") or [])
            creator = (obj.get("id_perms") or {}).get("creator")
            if creator == m.CREATOR:
                self.foreign_targets.discard(name)
            else:
                self.foreign_targets.add(name)
            return {("targets",)}
        parser = PARSERS.get(type_)
        if parser is None:
            return set()
        new = parser(obj)
        if type_ == "global-system-config":
            changed = new != self.system
            self.system = new
            return {("gsc",)} if changed else set()
        fq = new.fq
        if uuid or obj.get("uuid"):
            self.by_uuid[uuid or obj["uuid"]] = (type_, fq)
        old = self.objects[type_].get(fq)
        if old == new:
            return set()
        self.objects[type_][fq] = new
        return self._reindex(type_, fq, old, new)

    def delete(self, type_: str | None, fq: str) -> set[Key]:
        if type_ == "route-target":
            self.foreign_targets.discard(fq)
            return {("targets",)}
        if type_ not in self.objects:
            return set()
        old = self.objects[type_].pop(fq, None)
        if old is None:
            return set()
        if getattr(old, "uuid", None):
            self.by_uuid.pop(old.uuid, None)
        return self._reindex(type_, fq, old, None)

    def _reindex(self, type_: str, fq: str, old: Any, new: Any) -> set[Key]:
        changed: set[Key] = {(KEY_KIND[type_], fq)}
        if type_ == "virtual-network":
            old_p = {a.policy for a in old.policies} if old else set()
            new_p = {a.policy for a in new.policies} if new else set()
            for p in old_p - new_p:
                self.policy_members[p].discard(fq)
            for p in new_p - old_p:
                self.policy_members[p].add(fq)
            changed |= {("members", p) for p in old_p ^ new_p}
            if (old is None) != (new is None):
                parent = (old or new).parent
                (self.project_networks[parent].add if new else
                 self.project_networks[parent].discard)(fq)
                changed.add(("project", parent))
        elif type_ == "routing-instance":
            if (old is None) != (new is None):
                vn = (old or new).network
                (self.network_ris[vn].add if new else self.network_ris[vn].discard)(fq)
                changed.add(("ris-of", vn))
        elif type_ == "logical-router":
            for p in old.ports if old else ():
                self.port_routers[p].discard(fq)
            for p in new.ports if new else ():
                self.port_routers[p].add(fq)
            changed |= self._route_router(fq)
        elif type_ == "virtual-machine-interface":
            if (old.network if old else None) != (new.network if new else None):
                for lr in sorted(self.port_routers.get(fq, ())):
                    changed |= self._route_router(lr)
        return changed

    def _route_router(self, lr: str) -> set[Key]:
        """Recompute the member networks of one logical router (through its ports)."""
        router = self.objects["logical-router"].get(lr)
        members: set[str] = set()
        for p in router.ports if router else ():
            port = self.objects["virtual-machine-interface"].get(p)
            if port is not None and port.network:
                members.add(port.network)
        old = self.router_networks.get(lr, frozenset())
        new = frozenset(members)
        if router is None:
            self.router_networks.pop(lr, None)
        else:
            self.router_networks[lr] = new
        for vn in old - new:
            self.network_routers[vn].discard(lr)
        for vn in new - old:
            self.network_routers[vn].add(lr)
        changed: set[Key] = {("lrs-on", vn) for vn in old ^ new}
        if old != new:
            changed.add(("lr-members", lr))
        return changed


class View:
    """Read access to the intent (and to other rules' results) that records keys."""

    __slots__ = ("intent", "outputs", "deps")

    def __init__(self, intent: Intent, outputs: dict[Key, Any]):
        self.intent = intent
        self.outputs = outputs
        self.deps: set[Key] = set()

    def network(self, fq: str) -> m.VirtualNetwork | None:
        self.deps.add(("vn", fq))
        return self.intent.objects["virtual-network"].get(fq)

    def policy(self, fq: str) -> m.NetworkPolicy | None:
        self.deps.add(("np", fq))
        return self.intent.objects["network-policy"].get(fq)

    def policy_members(self, fq: str) -> list[str]:
        self.deps.add(("members", fq))
        return sorted(self.intent.policy_members.get(fq, ()))

    def project_networks(self, fq: str) -> Iterable[str]:
        self.deps.add(("project", fq))
        return self.intent.project_networks.get(fq, ())

    def routing_instance(self, fq: str) -> m.RoutingInstance | None:
        self.deps.add(("ri", fq))
        return self.intent.objects["routing-instance"].get(fq)

    def logical_router(self, fq: str) -> m.LogicalRouter | None:
        self.deps.add(("lr", fq))
        return self.intent.objects["logical-router"].get(fq)

    def routers_on(self, vn: str) -> list[str]:
        self.deps.add(("lrs-on", vn))
        return sorted(self.intent.network_routers.get(vn, ()))

    def router_networks(self, lr: str) -> frozenset[str]:
        self.deps.add(("lr", lr))
        self.deps.add(("lr-members", lr))
        return self.intent.router_networks.get(lr, frozenset())

    def security_group(self, fq: str) -> m.SecurityGroup | None:
        self.deps.add(("sg", fq))
        return self.intent.objects["security-group"].get(fq)

    def system(self) -> m.SystemConfig:
        self.deps.add(("gsc",))
        return self.intent.system

    def output(self, kind: str, key: str) -> Any:
        self.deps.add(("out", kind, key))
        return self.outputs.get((kind, key))

    def note(self, key: Key) -> None:
        self.deps.add(key)
