"""Virtual networks -> their routing instances' route targets and connections.

* Every routing instance (but ip-fabric's `__default__` and link-local) carries its
  own auto route target with no `import_export` (= import and export).
* A primary (default) instance also carries the network's `route_target_list` (both),
  `import_route_target_list` (import), `export_route_target_list` (export); a target
  in both import and export lists counts as both; and, for each logical router the
  network is attached to, the router's own and configured targets (both).
* Two primary instances are connected (`routing_instance_refs`, attr
  `{"destination_instance": null}`, which works both ways) when each network's
  policies pass traffic to the other. One ref per pair, held by the instance with
  the smaller fq-name, so the result does not depend on evaluation order.
"""

from __future__ import annotations

from dataclasses import dataclass

from filament.compiler import route_target as rt
from filament.compiler.intent import View
from filament.compiler.model import NO_RT_INSTANCES, Problem, Ref

CONNECTION_ATTR = {"destination_instance": None}


@dataclass(frozen=True)
class RefSet:
    """The full value of one ref field the compiler manages on an object it does not own."""
    refs: tuple[Ref, ...]
    problems: tuple[Problem, ...] = ()


def ri_owner(fq: str) -> str:
    return f"routing-instance:{fq}"


def lr_owner(fq: str) -> str:
    return f"logical-router:{fq}"


def expand_connections(view: View, fq: str) -> frozenset[str] | None:
    """ST `expand_connections`: "*" means every network of the project, and every
    network that lists this one."""
    result = view.output("vn-policy", fq)
    if result is None:
        return None
    raw = result.connections
    if "*" not in raw:
        return raw
    vn = view.network(fq)
    out = set(raw) - {"*"}
    if vn is not None:
        out |= set(view.project_networks(vn.parent))
    view.note(("listers", fq))
    out |= view.outputs.get(("listers", fq), set())
    out.discard(fq)
    return frozenset(out)


def connection_refs(view: View, ri_fq: str) -> RefSet | None:
    ri = view.routing_instance(ri_fq)
    if ri is None or not ri.is_default:
        return None
    mine = view.output("connections", ri.network) or frozenset()
    policy = view.output("vn-policy", ri.network)
    named = policy.connections if policy else frozenset()
    refs = []
    problems = []
    for peer in sorted(mine):
        theirs = view.output("connections", peer)
        if theirs is None:
            continue        # missing peer network: reported by the policy rules
        if ri.network not in theirs:
            if peer in named:       # "any" reaching a network without policy is normal
                problems.append(Problem("virtual-network", ri.network,
                                        f"partially connected to {peer}: its policies do not "
                                        f"pass traffic back"))
            continue
        peer_vn = view.network(peer)
        if peer_vn is None:
            continue
        peer_ri = view.routing_instance(peer_vn.primary_ri)
        if peer_ri is None or peer_ri.fq <= ri_fq:
            continue
        refs.append(Ref(peer_ri.fq, dict(CONNECTION_ATTR)))
    return RefSet(tuple(refs), tuple(problems))


def _merge(targets: dict[str, str | None], name: str, how: str | None) -> None:
    if name not in targets:
        targets[name] = how
    elif targets[name] != how:
        targets[name] = None        # import + export, or either + both = both


def route_target_refs(view: View, ri_fq: str, allocations: dict[str, int]) -> RefSet | None:
    ri = view.routing_instance(ri_fq)
    if ri is None or ri_fq in NO_RT_INSTANCES:
        return None
    system = view.system()
    problems: list[Problem] = []
    targets: dict[str, str | None] = {}
    view.note(("alloc", ri_owner(ri_fq)))
    n = allocations.get(ri_owner(ri_fq))
    if n is not None:
        targets[rt.name(system.asn, n)] = None
    else:
        problems.append(Problem("routing-instance", ri_fq, "route target pool exhausted"))
    vn = view.network(ri.network) if ri.is_default else None
    if vn is not None:
        def usable(lst: tuple[str, ...], field: str) -> set[str]:
            ok = set()
            for t in lst:
                why = rt.check_user_target(t, system.asn, system.four_byte)
                if why:
                    problems.append(Problem("virtual-network", vn.fq, f"{field}: {why}: ignored"))
                else:
                    ok.add(t)
            return ok
        both = usable(vn.route_targets, "route_target_list")
        imp = usable(vn.import_targets, "import_route_target_list")
        exp = usable(vn.export_targets, "export_route_target_list")
        both |= imp & exp
        for t in sorted(both):
            _merge(targets, t, None)
        for t in sorted(imp - both):
            _merge(targets, t, "import")
        for t in sorted(exp - both):
            _merge(targets, t, "export")
        for lr_fq in view.routers_on(vn.fq):
            lr = view.logical_router(lr_fq)
            if lr is None or lr.vxlan_routing:
                continue
            view.note(("alloc", lr_owner(lr_fq)))
            lr_n = allocations.get(lr_owner(lr_fq))
            if lr_n is not None:
                _merge(targets, rt.name(system.asn, lr_n), None)
            for t in lr.configured_targets:
                if rt.check_user_target(t, system.asn, system.four_byte) is None:
                    _merge(targets, t, None)
    refs = tuple(Ref(t, {"import_export": how}) for t, how in sorted(targets.items()))
    return RefSet(refs, tuple(problems))
