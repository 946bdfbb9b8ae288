"""Logical routers -> their own route target, shared by the networks they connect.

The router gets an auto route target (same pool as routing instances, owner
`logical-router:<fq>`) and a `logical_router -> route_target` ref to it. Its
networks are those of its router-interface ports; each of their primary routing
instances imports and exports the router's target and its
`configured_route_target_list` (see `virtual_network.route_target_refs`), so the
networks learn each other's routes. A `vxlan-routing` router puts nothing on its
member networks (the original moves its targets to an internal network the API
server creates; Filament does not build that network yet).
"""

from __future__ import annotations

from filament.compiler import route_target as rt
from filament.compiler.intent import View
from filament.compiler.model import Problem, Ref
from filament.compiler.virtual_network import RefSet, lr_owner


def router_target_refs(view: View, fq: str, allocations: dict[str, int]) -> RefSet | None:
    lr = view.logical_router(fq)
    if lr is None:
        return None
    system = view.system()
    problems = []
    view.note(("alloc", lr_owner(fq)))
    n = allocations.get(lr_owner(fq))
    refs = (Ref(rt.name(system.asn, n), None),) if n is not None else ()
    if n is None:
        problems.append(Problem("logical-router", fq, "route target pool exhausted"))
    for t in lr.configured_targets:
        why = rt.check_user_target(t, system.asn, system.four_byte)
        if why:
            problems.append(Problem("logical-router", fq,
                                    f"configured_route_target_list: {why}: ignored"))
    members = view.router_networks(fq)
    for port in lr.ports:
        view.note(("port", port))
        if port not in view.intent.objects["virtual-machine-interface"]:
            problems.append(Problem("logical-router", fq, f"port {port} not found"))
    for vn in sorted(members):
        if view.network(vn) is None:
            problems.append(Problem("logical-router", fq, f"network {vn} of a port not found"))
    return RefSet(refs, tuple(problems))
