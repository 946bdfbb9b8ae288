"""Security groups -> an ingress and an egress ACL (ST `SecurityGroupST`).

Each rule must have `local` on one side: source `local` -> egress ACL, destination
`local` -> ingress ACL. The `local` side matches without an SG constraint; the other
side's group becomes its numeric id (`any` -> "-1"), a CIDR stays a CIDR. Every entry
passes, carries the ethertype and has no direction. Both ACLs always exist, even
empty, so the agent denies what no rule allows. A rule the compiler cannot resolve
(no protocol, no `local` side, unknown group) is left out: it only ever allowed
traffic, so leaving it out fails closed.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

from filament.compiler import acl as a
from filament.compiler.intent import View
from filament.compiler.model import ANY_PORT, Address, Derived, PolicyRule, Problem, SecurityGroup


def compile_security_group(view: View, fq: str) -> tuple[tuple[Derived, ...], tuple[Problem, ...]] | None:
    sg = view.security_group(fq)
    if sg is None:
        return None
    problems: list[Problem] = []
    ingress: list[a.AclRule] = []
    egress: list[a.AclRule] = []
    for prule in sg.rules:
        _rule(view, sg, prule, ingress, egress, problems)
    parts = fq.split(":")
    acls = tuple(
        Derived("access-control-list", (*parts, name), "security-group",
                {"access_control_list_entries": a.acl_json(entries, None)})
        for name, entries in (("ingress-access-control-list", ingress),
                              ("egress-access-control-list", egress)))
    return acls, tuple(problems)


def _convert(view: View, sg: SecurityGroup, addr: Address, problems: list[Problem],
             ref: str) -> Address | None:
    group = addr.security_group
    if group is None:
        return addr
    if group == "local":
        return replace(addr, security_group=None)
    if group == sg.fq:
        sg_id = sg.sg_id
    elif group == "any":
        return replace(addr, security_group="-1")
    else:
        other = view.security_group(group)
        sg_id = other.sg_id if other else None
        if other is None:
            problems.append(Problem("security-group", sg.fq,
                                    f"rule {ref}: security group {group} not found: rule left out"))
            return None
    if sg_id is None:
        problems.append(Problem("security-group", sg.fq,
                                f"rule {ref}: security group {group} has no id yet: rule left out"))
        return None
    return replace(addr, security_group=str(sg_id))


def _rule(view: View, sg: SecurityGroup, prule: PolicyRule, ingress: list, egress: list,
          problems: list[Problem]) -> None:
    ref = prule.rule_uuid or "?"
    proto = a.protocol_number(prule.protocol, prule.ethertype, missing=None)
    if proto is None:
        problems.append(Problem("security-group", sg.fq,
                                f"rule {ref}: no or unknown protocol {prule.protocol!r}: left out"))
        return
    sports = prule.src_ports or (ANY_PORT,)
    dports = prule.dst_ports or (ANY_PORT,)
    for saddr, sp, daddr in product(prule.src_addresses, sports, prule.dst_addresses):
        if daddr.security_group == "local":
            target = ingress
        elif saddr.security_group == "local":
            target = egress
        else:
            problems.append(Problem("security-group", sg.fq,
                                    f"rule {ref}: neither side is 'local': left out"))
            continue
        src = _convert(view, sg, saddr, problems, ref)
        dst = _convert(view, sg, daddr, problems, ref)
        if src is None or dst is None:
            continue
        for dp in dports:
            target.append(a.rule(src, dst, a.PASS, protocol=proto, src_port=sp, dst_port=dp,
                                 rule_uuid=prule.rule_uuid, ethertype=prule.ethertype))
