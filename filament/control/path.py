"""Paths, path preference and best-path / ECMP selection (pure)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

INFEASIBLE_FLAGS = frozenset({"NoTunnelEncap", "AsPathLooped", "RoutingPolicyReject", "OriginatorIdLooped", "ClusterListLooped"})
# Higher wins: BGP/XMPP < ServiceChain < StaticRoute < Aggregate < Local.
SOURCE_PRIORITY = {"BGP": 0, "XMPP": 0, "ServiceChain": 1, "StaticRoute": 2, "Aggregate": 3, "Local": 4}


@dataclass(frozen=True, slots=True)
class Path:
    """One path of a route. ``peer`` is the peer key ('' for locally originated);
    a secondary (replicated) path names its ``primary_table``."""

    peer: str
    protocol: str = "XMPP"
    next_hop: str = ""
    label: int = 0
    l3_label: int = 0
    label_block: str = ""
    encap: tuple[str, ...] = ()
    local_pref: int = 100
    med: int = 0
    sequence: int = 0
    sticky: bool = False
    etree_leaf: bool = False
    llgr_stale: bool = False
    as_path_len: int = 0
    as_path: tuple = ()  # a learned path's AS_PATH segments ((type, (asn, ...)), ...), kept for re-advertisement
    origin: int = 0
    security_groups: tuple[int, ...] = ()
    tags: tuple[int, ...] = ()
    communities: tuple[str, ...] = ()
    route_targets: tuple[str, ...] = ()
    source_rd: str = ""
    sub_protocol: str = ""
    router_mac: str = ""
    origin_vn: str = ""  # "<asn>:<vn index>" from a learned route's origin-VN community
    flags: frozenset[str] = frozenset()
    router_id: int = 0
    primary_table: str = ""
    last_modified: float = 0.0

    @property
    def feasible(self) -> bool:
        return not (self.flags & INFEASIBLE_FLAGS)

    @property
    def stale(self) -> bool:
        return "Stale" in self.flags

    @property
    def ident(self) -> tuple[str, str]:
        return (self.peer, self.primary_table)

    def ecmp_key(self) -> tuple:
        """Smaller is better; paths with equal keys are ECMP with the best."""
        return (
            not self.feasible,
            -self.local_pref,
            self.etree_leaf,
            not self.sticky,
            -self.sequence,
            self.llgr_stale or "LlgrStale" in self.flags,
            self.as_path_len,
            self.origin,
            self.med,
        )

    def order_key(self) -> tuple:
        return self.ecmp_key() + (
            -SOURCE_PRIORITY.get(self.protocol, 0),
            self.protocol != "XMPP",
            self.router_id,
            self.peer,
            self.primary_table,
        )

    def same_attributes(self, other: "Path") -> bool:
        """Equal except for the timestamp (a republish of the same path is no change)."""
        return self.order_key() == other.order_key() and self._rest() == other._rest()

    def _rest(self) -> tuple:
        return (
            self.next_hop, self.label, self.l3_label, self.label_block, self.encap,
            self.security_groups, self.tags, self.communities, self.route_targets,
            self.source_rd, self.sub_protocol, self.router_mac, self.origin_vn, self.flags, self.as_path,
        )


def derived_med(local_pref: int, med: int) -> int:
    """The original's MED rule for agent paths: derived from local-pref when 0."""
    if med:
        return med
    if local_pref == 100:
        return 200
    if local_pref == 200:
        return 100
    if local_pref == 0:
        return 0
    return (1 << 32) - 1 - local_pref


def sort_paths(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=Path.order_key)


def best_path(paths: list[Path]) -> Path | None:
    """The best feasible path, or None."""
    if not paths:
        return None
    best = min(paths, key=Path.order_key)
    return best if best.feasible else None


def ecmp_paths(paths: list[Path]) -> list[Path]:
    """The best path and all paths equal to it up to the router-id tie-breakers."""
    best = best_path(paths)
    if best is None:
        return []
    key = best.ecmp_key()
    return [p for p in sort_paths(paths) if p.ecmp_key() == key]


def router_id_int(address: str) -> int:
    try:
        return int(ipaddress.ip_address(address))
    except ValueError:
        return 0
