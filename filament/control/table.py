"""Routing tables: one per (routing instance, family) plus the VPN and rtarget tables."""

from __future__ import annotations

from filament.control.path import Path

MASTER_INSTANCE = "default-domain:default-project:ip-fabric:__default__"
VRF_FAMILIES = ("inet", "inet6", "evpn", "ermvpn")
VPN_TABLES = {"inet": "bgp.l3vpn.0", "inet6": "bgp.l3vpn-inet6.0", "evpn": "bgp.evpn.0", "ermvpn": "bgp.ermvpn.0"}
RTARGET_TABLE = "bgp.rtarget.0"


def table_name(instance: str, family: str) -> str:
    """`<ri>.<family>.0`, or `<family>.0` for the master instance."""
    if instance == MASTER_INSTANCE:
        return f"{family}.0"
    return f"{instance}.{family}.0"


def family_of(table: str) -> str:
    return table.rsplit(".", 2)[-2]


def instance_of(table: str) -> str:
    """The routing instance a table belongs to (the master for `inet.0`, `bgp.*`)."""
    parts = table.rsplit(".", 2)
    if len(parts) < 3 or table.startswith("bgp.") or table.count(".") == 1:
        return MASTER_INSTANCE
    return parts[0]


class Route:
    """A destination: its paths (best first) and when it last changed."""

    __slots__ = ("paths", "last_modified")

    def __init__(self, now: float):
        self.paths: list[Path] = []
        self.last_modified = now

    def get(self, ident: tuple[str, str]) -> Path | None:
        for p in self.paths:
            if p.ident == ident:
                return p
        return None


class RouteTable:
    __slots__ = ("name", "instance", "family", "routes")

    def __init__(self, name: str, instance: str, family: str):
        self.name = name
        self.instance = instance
        self.family = family
        self.routes: dict[str, Route] = {}

    def set_path(self, key: str, path: Path, now: float) -> bool:
        """Add or replace the path with the same identity; False when nothing changed."""
        route = self.routes.get(key)
        if route is None:
            route = self.routes[key] = Route(now)
        ident = path.ident
        for i, p in enumerate(route.paths):
            if p.ident == ident:
                if p.same_attributes(path):
                    return False
                route.paths[i] = path
                break
        else:
            route.paths.append(path)
        if len(route.paths) > 1:
            route.paths.sort(key=Path.order_key)
        route.last_modified = now
        return True

    def remove_path(self, key: str, ident: tuple[str, str], now: float) -> Path | None:
        route = self.routes.get(key)
        if route is None:
            return None
        for i, p in enumerate(route.paths):
            if p.ident == ident:
                del route.paths[i]
                if route.paths:
                    route.last_modified = now
                else:
                    del self.routes[key]
                return p
        return None

    def summary(self) -> dict:
        primary = secondary = infeasible = stale = llgr = paths = 0
        for r in self.routes.values():
            for p in r.paths:
                paths += 1
                if p.primary_table:
                    secondary += 1
                else:
                    primary += 1
                if not p.feasible:
                    infeasible += 1
                if p.stale:
                    stale += 1
                if "LlgrStale" in p.flags:
                    llgr += 1
        return {
            "name": self.name,
            "prefixes": len(self.routes),
            "paths": paths,
            "primary_paths": primary,
            "secondary_paths": secondary,
            "infeasible_paths": infeasible,
            "stale_paths": stale,
            "llgr_stale_paths": llgr,
        }
