"""Render the nftables side of the datapath (pure): the owned tables ``inet filament``
and ``arp filament``.

Per routing instance: packets entering from its vifs or its VXLAN device get the
instance's table id as mark (one ``iifname`` map lookup, however many ports). Flows from
or to a filtered or NATed port (``tracked``) get their instance's conntrack zone by that
mark (overlapping subnets stay apart); everything else we mark, and our VXLAN devices'
encapsulated packets, is not tracked, and with nothing to track no ``ct`` expression is
rendered, so conntrack stays out of the namespace. The mark is what selects the routing table (one ``ip rule fwmark`` per instance, no rule per
interface: the kernel walks ip rules one by one for every routed packet). ARP is not IP,
so the ``arp`` table's input chain marks ARP requests the same way: proxy ARP's route
lookup then uses the instance's table. A flow between two networks on one host enters
through vifs of both instances: ``ZoneOverride`` puts both directions in one zone.
Because the mark selects the table, a chain may re-route a packet by re-marking it
(floating IPs). With ``net.ipv4.fwmark_reflect=1`` replies the host itself generates —
gateway echo replies, ICMP frag-needed — route through the instance's table. The mark is
cleared at postrouting (after SNAT) so VXLAN's underlay lookup is unaffected.

Floating IPs (``FipNat``): DNAT at prerouting for the FIP arriving in the public
instance, then a re-mark to the private table; the port's traffic its own table cannot
route (``fib daddr . mark oif missing``) is re-marked to the public table and SNATed to
the FIP at postrouting. Both directions of such flows use the private instance's zone.

ACLs (forward hook, chain ``acl``): established/related conntrack entries are accepted
first; a new flow then jumps, through one ``iifname`` and one ``oifname`` verdict map, to
its input vif's egress chain and its output vif's ingress chain (``eg-<vif>``,
``in-<vif>``), which jump to the stages in order (network policy, then security groups).
A ``pass`` rule sets the flow's conntrack mark to the rule's id and returns; a ``deny``
(or the chain's default deny) sets the (never confirmed) conntrack mark to the rule id,
records the flow in the ``dropped`` set (key: addresses, protocol, packet mark = the
instance's table, conntrack mark = rule id; 2 min timeout) and drops. Every rule has a
counter and a comment naming the rule, so ``filament flow`` attributes both kinds of
flow. A dropped flow never reaches the conntrack table (it is never confirmed), hence
the set; kernel ``log`` is not used because nf_log is off in non-initial namespaces by
default.

Interfaces are matched by name, so the tables may be (and are) loaded before the
interfaces they name are configured: a port is filtered from its first packet.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from filament.datapath.state import VXLAN_PORT, AclRule, FipNat, VifAcl

TABLE = "filament"  # the name of both owned tables: `inet filament` and `arp filament`
FAMILIES = ("inet", "arp")
DROPPED_SET = "dropped"
FULL = (0, 65535)
# `ct zone` is not usable in a set key on nftables 1.0.6 (its length comes out as 0)
DROPPED_KEY = "ip saddr . ip daddr . meta l4proto . meta mark . ct mark"


@dataclass(frozen=True, slots=True, order=True)
class ZoneBinding:
    iif: str
    table: int
    zone: int


@dataclass(frozen=True, slots=True, order=True)
class ZoneOverride:
    """Packets routed by ``table`` to ``prefix`` (a local port of another network) use
    ``zone``: a flow between two networks on one host enters through vifs of two
    instances, and conntrack must see both directions in one zone (the smaller one)."""

    table: int
    prefix: str
    zone: int


def zone_for_vni(vni: int) -> int:
    return vni % 65534 + 1


def rule_id(comment: str) -> int:
    """A stable id (ct mark / drop mark) for a rule's comment: same rule, same id, across
    re-renders, so marks of live flows keep naming the right rule."""
    return zlib.crc32(comment.encode()) % 0x7FFFFFFF + 1


def default_deny(acl: VifAcl) -> str:
    return f"default-deny {acl.stage} {acl.direction} {acl.vif}"


def chain_name(acl: VifAcl) -> str:
    return f"{acl.stage}-{'in' if acl.direction == 'ingress' else 'eg'}-{acl.vif}"


def _ports(field: str, r: tuple[int, int]) -> str:
    return f"th {field} {r[0]}" if r[0] == r[1] else f"th {field} {r[0]}-{r[1]}"


def _match(rule: AclRule, direction: str) -> str:
    parts = ["meta nfproto ipv4"]
    if rule.protocol != "any":
        parts.append(f"meta l4proto {rule.protocol}")
    if rule.sport != FULL or rule.dport != FULL:
        if rule.protocol == "any":
            parts.append("meta l4proto { 6, 17 }")
        if rule.protocol in ("any", "6", "17"):  # ICMP etc. have no ports: ranges ignored
            if rule.sport != FULL:
                parts.append(_ports("sport", rule.sport))
            if rule.dport != FULL:
                parts.append(_ports("dport", rule.dport))
    if rule.remote:
        field = "saddr" if direction == "ingress" else "daddr"
        addrs = rule.remote[0] if len(rule.remote) == 1 else "{ " + ", ".join(rule.remote) + " }"
        parts.append(f"ip {field} {addrs}")
    return " ".join(parts)


def _drop(comment: str) -> str:
    return (f"ct mark set {rule_id(comment):#x} add @{DROPPED_SET} {{ {DROPPED_KEY} }} "
            f'counter drop comment "{comment}"')


def _acl_rules(acl: VifAcl) -> tuple[str, ...]:
    lines = []
    for r in acl.rules:
        m = _match(r, acl.direction)
        if r.action == "pass":
            lines.append(f'{m} ct mark set {rule_id(r.uuid):#x} counter return comment "{r.uuid}"')
        else:
            lines.append(f"{m} {_drop(r.uuid)}")
    dd = default_deny(acl)
    lines.append(f"meta nfproto ipv4 {_drop(dd)}")
    lines.append(f'counter drop comment "{dd}"')  # not IPv4: no set key, still dropped
    return tuple(lines)


def vif_chain_name(vif: str, direction: str) -> str:
    """The chain a vif's traffic in one direction enters (it jumps to each stage)."""
    return f"{'in' if direction == 'ingress' else 'eg'}-{vif}"


VIF_MAPS = {"egress": "iifname", "ingress": "oifname"}  # verdict map name -> the key it is looked up by


def _acl_parts(acls: list[VifAcl]) -> tuple[str, set[tuple[str, str, str, str]], list[tuple[str, tuple[str, ...]]]]:
    """The fixed ``acl`` part (set, maps, chain), the vif verdict map elements and the
    per-vif chains (entry chains, then each stage's)."""
    if not acls:
        return "", set(), []
    order = {"policy": 0, "sg": 1}
    acls = sorted(acls, key=lambda a: (a.direction != "egress", a.vif, order.get(a.stage, 2)))
    stages: dict[tuple[str, str], list[VifAcl]] = {}
    for a in acls:
        stages.setdefault((a.vif, a.direction), []).append(a)
    elements = {("inet", d, f'"{vif}"', f"jump {vif_chain_name(vif, d)}") for vif, d in stages}
    chains = [(vif_chain_name(vif, d), tuple(f"jump {chain_name(a)}" for a in chain))
              for (vif, d), chain in sorted(stages.items())]
    chains += [(chain_name(a), _acl_rules(a)) for a in acls]
    fixed = (
        f"  set {DROPPED_SET} {{\n    typeof {DROPPED_KEY}\n"
        "    flags dynamic,timeout; timeout 2m; size 65536;\n  }\n"
        "  chain acl {\n    type filter hook forward priority filter; policy accept;\n"
        '    ct state established,related counter accept comment "established,related"\n'
        + "".join(f"    {key} vmap @{name}\n" for name, key in VIF_MAPS.items()) + "  }\n"
    )
    return fixed, elements, chains


def _nat_part(nats: list[FipNat]) -> str:
    """Floating IPs: DNAT in, re-route by mark after NAT, SNAT out (see ``FipNat``)."""
    if not nats:
        return ""
    nats = sorted(set(nats))
    dnat = "".join(f"    meta mark {n.public_table:#x} ip daddr {n.fip} dnat ip to {n.fixed}\n" for n in nats)
    # after NAT: DNATed packets (and replies to SNATed ones) now go to the fixed IP, in the
    # private zone the pre chain gave them: route them by the private instance's table
    route = "".join(
        f"    meta mark {n.public_table:#x} ct zone {n.zone} ip daddr {n.fixed} meta mark set {n.private_table:#x}\n"
        for n in nats
    )
    # the port's packets its own instance has no route for leave by the public instance
    # (fib reports no oif for local routes too: the gateway address is excluded first)
    route += "".join(
        f'    iifname "{n.vif}" meta mark {n.private_table:#x} fib daddr type != local '
        f"fib daddr . mark oif missing meta mark set {n.public_table:#x}\n"
        for n in nats if n.outbound
    )
    snat = "".join(
        f"    meta mark {n.public_table:#x} ct zone {n.zone} ip saddr {n.fixed} snat ip to {n.fip}\n" for n in nats
    )
    return (
        "  chain fip_dnat {\n    type nat hook prerouting priority dstnat; policy accept;\n"
        f"{dnat}  }}\n"
        "  chain fip_route {\n    type filter hook prerouting priority dstnat + 10; policy accept;\n"
        f"{route}  }}\n"
        "  chain fip_snat {\n    type nat hook postrouting priority srcnat; policy accept;\n"
        f"{snat}  }}\n"
    )


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The owned tables, split so a change can be applied in place: ``base`` is all but
    the per-vif parts (named maps declared empty; a change there reloads everything),
    ``elements`` the named maps' entries (family, map, key, value), ``chains`` the per-vif
    ACL chains (name, rules). ``text`` is the whole, as one declarative script."""

    base: str = ""
    elements: frozenset[tuple[str, str, str, str]] = frozenset()
    chains: tuple[tuple[str, tuple[str, ...]], ...] = ()
    text: str = ""


# named maps (key : value) and sets (key only: their elements' value is "")
MAP_TYPES = {"marks": "ifname : mark", "egress": "ifname : verdict", "ingress": "ifname : verdict",
             "tracked_vifs": "ifname", "tracked_addrs": "ipv4_addr"}


def _element(key: str, value: str) -> str:
    return f"{key} : {value}" if value else key


def _declare(family: str, name: str, elements: set[tuple[str, str, str, str]] | None) -> str:
    mine = sorted((k, v) for f, m, k, v in elements or () if (f, m) == (family, name))
    inline = f"; elements = {{ {', '.join(_element(k, v) for k, v in mine)} }}" if mine else ""
    kind = "map" if ":" in MAP_TYPES[name] else "set"
    return f"  {kind} {name} {{ type {MAP_TYPES[name]}{inline}; }}\n"


def render(bindings: list[ZoneBinding], acls: list[VifAcl] | None = None,
           overrides: list[ZoneOverride] | None = None, nats: list[FipNat] | None = None,
           tracked: list[tuple[str, str]] | None = None, vtep: str = "") -> Ruleset:
    """``tracked``: (vif, IPv4 address) of the ports whose flows conntrack must see (the
    filtered or NATed ones, the original's "P" vifs); other ports' packets are not
    tracked (the original forwards them without flows too), which spares conntrack's
    per-packet cost. ``vtep``: this host's VXLAN address; the encapsulated packets of
    our VXLAN devices (to or from it, UDP port 4789) are not tracked either."""
    if not bindings:
        return Ruleset()
    elements = {(fam, "marks", f'"{b.iif}"', f"{b.table:#x}") for b in bindings for fam in ("inet", "arp")}
    for vif, ip in tracked or ():
        elements |= {("inet", "tracked_vifs", f'"{vif}"', ""), ("inet", "tracked_addrs", ip, "")}
    zone_map = ", ".join(f"{t:#x} : {z}" for t, z in sorted({(b.table, b.zone) for b in bindings}))
    tables_set = ", ".join(f"{t:#x}" for t in sorted({b.table for b in bindings}))
    zones = f"ct zone set meta mark map {{ {zone_map} }}"
    # a packet's first `ct zone set` wins (it attaches a conntrack template), so the
    # overrides come first and end the chain; then the flows of tracked ports (from or
    # to one) get their instance's zone, and the rest of what we marked is not tracked.
    # With nothing to track there is no `ct zone set` at all: conntrack's hooks are only
    # registered in a namespace while some rule needs them (they cost even untracked
    # packets a few percent).
    conntrack = bool(tracked or overrides)
    out = ""
    if conntrack:
        pre = "    meta mark set iifname map @marks\n"
        pre += "".join(
            f"    meta mark {o.table:#x} ip daddr {o.prefix} ct zone set {o.zone} accept\n"
            for o in sorted(set(overrides or ()))
        )
        pre += f"    iifname @tracked_vifs {zones} accept\n    ip daddr @tracked_addrs {zones} accept\n"
        out = f"    {zones}\n"
        pre += f"    meta mark {{ {tables_set} }} notrack\n"
    else:
        # nothing tracked: mark and untrack in one rule (one lookup per packet; the
        # notrack matters where something else hooks conntrack into the namespace)
        pre = "    meta mark set iifname map @marks notrack\n"
    if vtep:
        pre += f"    ip daddr {vtep} udp dport {VXLAN_PORT} notrack\n"
        out = f"    ip saddr {vtep} udp dport {VXLAN_PORT} notrack\n" + out
    acl_fixed, acl_elements, chains = _acl_parts(list(acls or ()))
    elements |= acl_elements
    maps = ["marks", "tracked_vifs", "tracked_addrs"] + (list(VIF_MAPS) if acl_fixed else [])

    def tables(elems, vif_chains) -> str:
        return (
            f"table inet {TABLE} {{\n"
            + "".join(_declare("inet", m, elems) for m in maps)
            + "  chain pre {\n    type filter hook prerouting priority raw; policy accept;\n"
            f"{pre}  }}\n"
            # what the host itself sends with an instance's mark (gateway replies, ICMP
            # errors): the instance's zone, so it matches a tracked flow
            "  chain out {\n    type filter hook output priority raw; policy accept;\n"
            f"{out}  }}\n"
            # the mark has done its work once routed (and SNAT matched it): clear it so
            # the VXLAN device's underlay lookup uses `main`
            "  chain post {\n    type filter hook postrouting priority srcnat + 10; policy accept;\n"
            "    meta mark set 0\n  }\n"
            f"{_nat_part(list(nats or ()))}"
            f"{acl_fixed}"
            + "".join(f"  chain {name} {{\n" + "".join(f"    {r}\n" for r in rules) + "  }\n" for name, rules in vif_chains)
            + "}\n"
            # proxy ARP looks the target up with the ARP packet's mark: the instance's table
            f"table arp {TABLE} {{\n"
            + _declare("arp", "marks", elems)
            + "  chain in {\n    type filter hook input priority filter; policy accept;\n"
            "    meta mark set iifname map @marks\n  }\n"
            "}\n"
        )

    return Ruleset(tables(None, ()), frozenset(elements), tuple(chains), tables(elements, chains))


def update_script(old: Ruleset, new: Ruleset) -> str:
    """Commands (one transaction) turning the loaded ``old`` into ``new`` when their
    ``base`` is the same: new chains first (their rules may jump to each other), changed
    chains flushed and refilled, map entries added and removed, then removed chains
    emptied and deleted (after the entries and jumps naming them are gone)."""
    t = f"inet {TABLE}"
    was, now = dict(old.chains), dict(new.chains)
    out = [f"add chain {t} {name}" for name in now if name not in was]
    for name, rules in now.items():
        if was.get(name) != rules:
            if name in was:
                out.append(f"flush chain {t} {name}")
            out += [f"add rule {t} {name} {r}" for r in rules]
    # an entry gone or with a new value is deleted first (a key cannot be added twice)
    out += [f"delete element {f} {TABLE} {m} {{ {k} }}" for f, m, k, _ in sorted(old.elements - new.elements)]
    out += [f"add element {f} {TABLE} {m} {{ {_element(k, v)} }}" for f, m, k, v in sorted(new.elements - old.elements)]
    gone = [name for name in was if name not in now]
    out += [f"flush chain {t} {name}" for name in gone] + [f"delete chain {t} {name}" for name in gone]
    return "".join(f"{line}\n" for line in out)
