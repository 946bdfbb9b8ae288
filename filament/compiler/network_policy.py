"""Network policies -> one ACL per virtual network, and the networks it connects to.

Follows the original's `VirtualNetworkST.policy_to_acl_rule` / `evaluate`: rules are
kept for network X when X (or `any`) is on one side, `local` means X, a
`network_policy` address expands to the networks carrying that policy, entries are
the product of ports x addresses, covered entries are dropped, and the implicit
entries (X->X pass, a catch-all deny per named pair, any->any pass) are appended.

Where the original would skip a rule it cannot compile (unknown protocol, no
action, a service chain we do not build yet) and so let traffic through the final
any->any pass, Filament fails closed: the rule becomes a `deny` for the pairs it
names. A policy a network refers to but the compiler cannot see turns the final
any->any entry into a deny. Each such case is reported as a `Problem`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product

from filament.compiler import acl as a
from filament.compiler.intent import View
from filament.compiler.model import (
    ANY_PORT, IMPLICIT_ALLOW_UUID, IMPLICIT_DENY_UUID, IP_FABRIC_VN, Address, Derived,
    PolicyRule, Problem, VirtualNetwork,
)


@dataclass(frozen=True)
class Options:
    logical_routers_enabled: bool = True


@dataclass(frozen=True)
class NetworkPolicyResult:
    acls: tuple[Derived, ...]
    connections: frozenset[str]      # networks X wants to exchange routes with; "*" = any
    problems: tuple[Problem, ...]


def compile_network(view: View, fq: str, options: Options) -> NetworkPolicyResult | None:
    vn = view.network(fq)
    if vn is None:
        return None
    problems: list[Problem] = []
    static: list[a.AclRule] | None = None
    dynamic: list[a.AclRule] | None = None
    if not vn.policies and (vn.is_provider_network or vn.provider_links or vn.fabric_snat):
        static = []
    connections: set[str] = set()
    missing_policy = False
    for att in vn.policies:
        if att.dynamic:
            dynamic = [] if dynamic is None else dynamic
            target = dynamic
        else:
            static = [] if static is None else static
            target = static
        policy = view.policy(att.policy)
        if policy is None:
            problems.append(Problem("virtual-network", fq,
                                    f"network-policy {att.policy} not found: denying by default"))
            missing_policy = True
            continue
        for prule in policy.rules:
            entries = _rule_entries(view, vn, policy.fq, prule, problems)
            kept = [e for e in entries if a.append(target, e)]
            connections |= _connections(vn, kept)
    if static is not None:
        for e in _implicit_entries(vn, static, options, missing_policy):
            a.append(static, e)
    acls = []
    if static is not None:
        acls.append(_acl(vn, vn.name, static, False))
    if dynamic is not None:
        acls.append(_acl(vn, "dynamic", dynamic, True))
    return NetworkPolicyResult(tuple(acls), frozenset(connections), tuple(problems))


def _acl(vn: VirtualNetwork, name: str, entries: list[a.AclRule], dynamic: bool) -> Derived:
    fq_name = (*vn.fq.split(":"), name)
    return Derived("access-control-list", fq_name, "virtual-network",
                   {"access_control_list_entries": a.acl_json(entries, dynamic)})


def _me(vn: VirtualNetwork, name: str | None) -> bool:
    return name in (vn.fq, "any")


def _expand(view: View, vn: VirtualNetwork, addr: Address, problems: list[Problem]) -> list[Address]:
    if addr.network_policy:
        if view.policy(addr.network_policy) is None:
            problems.append(Problem("virtual-network", vn.fq,
                                    f"rule names network-policy {addr.network_policy}, not found"))
            return []
        return [a.vn(x) for x in view.policy_members(addr.network_policy)]
    return [addr]


def _rule_entries(view: View, vn: VirtualNetwork, policy: str, prule: PolicyRule,
                  problems: list[Problem]) -> list[a.AclRule]:
    """The ACL entries one policy rule gives network `vn` (ST `policy_to_acl_rule`)."""
    reason = None
    proto = a.protocol_number(prule.protocol, prule.ethertype, missing="any")
    action = prule.action
    if proto is None:
        reason = f"unknown protocol {prule.protocol!r}"
    elif action is None:
        reason = "no action"
    elif action.get("apply_service"):
        reason = "service chains are not compiled yet"
    elif action.get("simple_action") not in (None, "pass", "deny"):
        reason = f"unknown simple_action {action.get('simple_action')!r}"
    if reason:
        problems.append(Problem("network-policy", policy,
                                f"rule {prule.rule_uuid or '?'}: {reason}: compiled as deny"))
        proto, items = "any", a.DENY
        sports = dports = (ANY_PORT,)
    else:
        items = a.action_items({k: v for k, v in action.items() if k != "assign_routing_instance"})
        sports = prule.src_ports or (ANY_PORT,)
        dports = prule.dst_ports or (ANY_PORT,)
    entries: list[a.AclRule] = []
    for saddr in prule.src_addresses:
        svn = saddr.virtual_network
        if svn == "local":
            svn = vn.fq
            saddr = replace(saddr, virtual_network=vn.fq)
        for daddr in prule.dst_addresses:
            dvn = daddr.virtual_network
            dmatch, smatch = daddr, saddr
            if dvn == "local":
                dvn = vn.fq
                dmatch = replace(daddr, virtual_network=vn.fq)
            if _me(vn, dvn) or _me(vn, svn):
                pass
            elif not dvn and daddr.network_policy:
                if vn.fq not in view.policy_members(daddr.network_policy):
                    continue
                dmatch = a.vn(vn.fq)
            elif not svn and saddr.network_policy:
                if vn.fq not in view.policy_members(saddr.network_policy):
                    continue
                smatch = a.vn(vn.fq)
            elif not (svn or dvn or saddr.network_policy or daddr.network_policy) \
                    and saddr.subnets and daddr.subnets:
                pass
            else:
                continue
            for sp, dp, sa, da in product(sports, dports, _expand(view, vn, smatch, problems),
                                          _expand(view, vn, dmatch, problems)):
                for other in (sa.virtual_network, da.virtual_network):
                    if other not in (None, "any", vn.fq) and view.network(other) is None:
                        problems.append(Problem("network-policy", policy,
                                                f"names network {other}, not found"))
                a.append(entries, a.rule(sa, da, items, protocol=proto, src_port=sp, dst_port=dp,
                                         rule_uuid=prule.rule_uuid, direction=prule.direction,
                                         ethertype=prule.ethertype))
    return entries


def _connections(vn: VirtualNetwork, entries: list[a.AclRule]) -> set[str]:
    out: set[str] = set()
    for e in entries:
        if e.simple_action != "pass":
            continue
        peers = set()
        if _me(vn, e.dst.virtual_network):
            peers.add(e.src.virtual_network)
        if _me(vn, e.src.virtual_network):
            peers.add(e.dst.virtual_network)
        for peer in peers:
            if peer == "any":
                out.add("*")
            elif peer and peer != vn.fq:
                out.add(peer)
    return out


def _strip(addr: Address) -> Address:
    return Address(virtual_network=addr.virtual_network) if addr.virtual_network else addr


def _implicit_entries(vn: VirtualNetwork, static: list[a.AclRule], options: Options,
                      fail_closed: bool) -> list[a.AclRule]:
    me = a.vn(vn.fq)
    out: list[a.AclRule] = []
    a.append(out, a.rule(me, me, a.PASS, rule_uuid=IMPLICIT_ALLOW_UUID))
    if vn.fabric_snat:
        a.append(out, a.rule(me, a.vn(IP_FABRIC_VN), a.PASS, rule_uuid=IMPLICIT_ALLOW_UUID,
                             direction="<>"))
        a.append(out, a.rule(me, a.vn("any"), a.DENY, rule_uuid=IMPLICIT_DENY_UUID,
                             direction="<>"))
    if options.logical_routers_enabled:
        for e in static:
            a.append(out, a.rule(_strip(e.src), _strip(e.dst), a.DENY,
                                 rule_uuid=e.rule_uuid, direction=e.direction))
        if vn.is_provider_network:
            a.append(out, a.rule(me, a.vn("any"), a.DENY, rule_uuid=IMPLICIT_DENY_UUID,
                                 direction="<>"))
        else:
            for provider in vn.provider_links:
                a.append(out, a.rule(me, a.vn(provider), a.DENY, rule_uuid=IMPLICIT_DENY_UUID,
                                     direction="<>"))
    if options.logical_routers_enabled and not fail_closed:
        a.append(out, a.rule(a.vn("any"), a.vn("any"), a.PASS, rule_uuid=IMPLICIT_ALLOW_UUID))
    else:
        a.append(out, a.rule(a.vn("any"), a.vn("any"), a.DENY, rule_uuid=IMPLICIT_DENY_UUID))
    return out
