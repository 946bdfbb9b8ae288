"""Desired (and observed) datapath state: plain frozen values, one class per kernel object kind.

The agent computes a ``DatapathState`` as a pure function of what it has seen; a backend
observes the objects it owns as the same values, so reconciling is a set difference
(``diff``) followed by applying the operations in dependency order.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

VROUTER_MAC = "00:00:5e:00:01:00"  # the original's vRouter MAC: every vif, every vRouter
TABLE_BASE = 0x10000  # routing tables >= this (and < TABLE_LIMIT) belong to Filament
TABLE_LIMIT = 0x2000000
MARK_RULE_PRIORITY = 20050  # ip rules selecting a table by packet mark (nft marks by interface)
# by-interface rules (`iif <vif>`), no longer made (one rule per port slows every routed
# packet) but still ours: observed so a restarted agent sweeps those of older versions
RULE_PRIORITY = 20100
RULE_PRIORITIES = (MARK_RULE_PRIORITY, RULE_PRIORITY)  # the rules Filament owns
VXLAN_PREFIX = "flvx"
VIF_ALIAS_PREFIX = "filament:"  # ifalias marking a vif Filament configured
VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50


def table_for_vni(vni: int) -> int:
    """The routing table of a routing instance (its network's VNI picks it)."""
    return TABLE_BASE + vni


def vxlan_name(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni}"


def vtep_mac(vtep: str) -> str:
    """The inner destination MAC of a VTEP's VXLAN devices (derived from its underlay IP,
    so a sender computes it from a route's next hop without any extra signalling)."""
    b = ipaddress.IPv4Address(vtep).packed
    return "02:00:" + ":".join(f"{x:02x}" for x in b)


@dataclass(frozen=True, slots=True, order=True)
class Vif:
    """A workload port's host-side interface (created by the orchestrator, configured by us)."""

    name: str
    port: str  # vmi uuid (goes into ifalias so we recognise the vif after a restart)
    mtu: int = 1500


@dataclass(frozen=True, slots=True, order=True)
class Vxlan:
    name: str
    vni: int
    local: str
    underlay: str  # underlay device name
    mac: str
    mtu: int = 1500


@dataclass(frozen=True, slots=True, order=True)
class Address:
    """A gateway address on ``lo`` (label ``lo:fl``): the kernel only sends from local
    addresses, so the distributed gateway's ICMP replies need one."""

    ip: str


ADDRESS_LABEL = "lo:fl"


@dataclass(frozen=True, slots=True, order=True)
class Rule:
    """``ip rule`` selecting a routing table by packet mark (or, made by older versions
    and only swept now, by input interface)."""

    table: int
    iif: str = ""
    fwmark: int = 0
    priority: int = RULE_PRIORITY

    @staticmethod
    def by_mark(table: int) -> "Rule":
        """Packets marked with a table id use that table (before any by-interface rule)."""
        return Rule(table, fwmark=table, priority=MARK_RULE_PRIORITY)


@dataclass(frozen=True, slots=True, order=True)
class NextHop:
    dev: str
    via: str = ""  # remote VTEP (onlink) or "" for a directly attached host route


@dataclass(frozen=True, slots=True, order=True)
class Route:
    """A route in a Filament table. kind: unicast | local (gateway) | unreachable."""

    table: int
    prefix: str
    kind: str = "unicast"
    nexthops: tuple[NextHop, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class Neighbour:
    dev: str
    ip: str
    mac: str


@dataclass(frozen=True, slots=True, order=True)
class Fdb:
    dev: str
    mac: str
    dst: str


@dataclass(frozen=True, slots=True, order=True)
class AclRule:
    """One match of a vif's ACL chain, from the packet's point of view in its direction
    (ingress = towards the workload: remote is the source; egress: remote is the
    destination). ``remote == ()`` matches any address; ``uuid`` names the config rule."""

    uuid: str
    action: str  # "pass" | "deny"
    protocol: str = "any"  # "any" or an IP protocol number
    remote: tuple[str, ...] = ()
    sport: tuple[int, int] = (0, 65535)
    dport: tuple[int, int] = (0, 65535)


@dataclass(frozen=True, slots=True, order=True)
class VifAcl:
    """The rules one stage applies to one vif in one direction, first match wins; a packet
    matching none is dropped (default deny). stage: "policy" (the network's ACL) | "sg"."""

    vif: str
    direction: str  # "ingress" | "egress"
    stage: str
    rules: tuple[AclRule, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class FipNat:
    """A floating IP as NAT on one host: traffic to ``fip`` arriving in the public
    instance (``public_table``) is DNATed to ``fixed`` (the port on ``vif``, instance
    ``private_table``); the port's traffic its own instance cannot route goes out through
    the public instance, SNATed to ``fip``. Both directions live in conntrack ``zone``
    (the private instance's). ``outbound``: this FIP is the port's way out (first one)."""

    fip: str
    fixed: str
    vif: str
    public_table: int
    private_table: int
    zone: int
    outbound: bool = True


@dataclass(frozen=True, slots=True, order=True)
class Filter:
    """The nftables side, rendered as the owned tables (zones, marks, ACLs, NAT). ``acls``
    and ``nats`` are what ``text`` was rendered from (for tests and introspect);
    ``ruleset`` is ``text`` in parts (``nft.Ruleset``), so a backend can apply a change in
    place; equality is the text."""

    text: str = ""
    acls: tuple[VifAcl, ...] = field(default=(), compare=False)
    nats: tuple[FipNat, ...] = field(default=(), compare=False)
    ruleset: object = field(default=None, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class DatapathState:
    vifs: frozenset[Vif] = frozenset()
    vxlans: frozenset[Vxlan] = frozenset()
    addresses: frozenset[Address] = frozenset()
    rules: frozenset[Rule] = frozenset()
    routes: frozenset[Route] = frozenset()
    neighbours: frozenset[Neighbour] = frozenset()
    fdbs: frozenset[Fdb] = frozenset()
    filter: Filter = field(default_factory=Filter)

    def count(self) -> int:
        return sum(len(getattr(self, k)) for k in KINDS) + (1 if self.filter.text else 0)


KINDS = ("vifs", "vxlans", "addresses", "rules", "routes", "neighbours", "fdbs")
# Adds go in this order: the nft filter first (it names interfaces, which need not exist
# or be configured yet), so no port is routed before its ACLs and marks are loaded; then
# devices before what refers to them. Deletes in reverse (a port's routes go before the
# filter that still names it).
ADD_ORDER = ("filter", "vifs", "vxlans", "addresses", "neighbours", "fdbs", "routes", "rules")
ROUTING_KINDS = frozenset(ADD_ORDER) - {"filter"}  # what forwards traffic: added only once the filter is in


@dataclass(frozen=True, slots=True)
class Op:
    action: str  # "add" | "del"
    kind: str  # one of KINDS or "filter"
    obj: object

    def __str__(self) -> str:
        return f"{self.action} {self.kind[:-1] if self.kind.endswith('s') else self.kind} {self.obj}"


def diff(desired: DatapathState, actual: DatapathState) -> list[Op]:
    """Operations that turn ``actual`` into ``desired``: deletes first (reverse dependency
    order), then adds. A changed object is a delete of the old value plus an add."""
    dels: list[Op] = []
    adds: list[Op] = []
    for kind in reversed(ADD_ORDER):
        if kind == "filter":
            if desired.filter != actual.filter and not desired.filter.text:
                dels.append(Op("del", "filter", actual.filter))
            continue
        want, have = getattr(desired, kind), getattr(actual, kind)
        # routes are replaced in place by key (table, prefix); no delete needed for a change
        if kind == "routes":
            want_keys = {(r.table, r.prefix) for r in want}
            dels.extend(Op("del", kind, o) for o in sorted(have - want) if (o.table, o.prefix) not in want_keys)
        else:
            dels.extend(Op("del", kind, o) for o in sorted(have - want))
    for kind in ADD_ORDER:
        if kind == "filter":
            if desired.filter != actual.filter and desired.filter.text:
                adds.append(Op("add", "filter", desired.filter))
            continue
        want, have = getattr(desired, kind), getattr(actual, kind)
        adds.extend(Op("add", kind, o) for o in sorted(want - have))
    return dels + adds
