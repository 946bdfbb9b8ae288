"""The compiler's pure core: intent in, desired derived state out.

`compile(objects)` computes the desired state from scratch. `Engine` computes the
same thing incrementally: every rule result ("unit") records the intent keys it
read (see `intent.View`), and an event re-runs only the units whose keys it
changed, in dependency order. Incremental is an optimisation of `compile`, never a
second truth: tests check they agree after every step.

The desired state is a flat mapping:
  ("obj", type, fq)          -> Derived   objects the compiler owns (route targets, ACLs)
  ("refs", type, fq, field)  -> (Ref, ...)  a ref field it manages on an object it does
                                            not own (routing instance, logical router)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from filament.compiler import route_target as rt
from filament.compiler.intent import Intent, Key, View
from filament.compiler.logical_router import router_target_refs
from filament.compiler.model import NO_RT_INSTANCES, OWNER_KEY, Derived, Problem
from filament.compiler.network_policy import Options, compile_network
from filament.compiler.security_group import compile_security_group
from filament.compiler.virtual_network import (
    RefSet, connection_refs, expand_connections, lr_owner, ri_owner, route_target_refs,
)

DKey = tuple

# Unit kinds in dependency order: a unit only reads outputs of kinds before it.
KINDS = ("vn-policy", "sg", "lr-targets", "connections", "ri-connections", "ri-targets")
ROOTS = {"vn": ("vn-policy", "connections"), "sg": ("sg",), "lr": ("lr-targets",),
         "ri": ("ri-connections", "ri-targets")}
REF_FIELDS = {"lr-targets": ("logical-router", "route_target_refs"),
              "ri-connections": ("routing-instance", "routing_instance_refs"),
              "ri-targets": ("routing-instance", "route_target_refs")}


@dataclass
class Compiled:
    desired: dict[DKey, Any]
    allocations: dict[str, int]
    problems: list[Problem]


class Engine:
    def __init__(self, allocations: Mapping[str, int] | None = None,
                 options: Options | None = None):
        self.options = options or Options()
        self.intent = Intent()
        self.outputs: dict[Key, Any] = {}
        self._deps: dict[Key, set[Key]] = {}
        self._dependents: dict[Key, set[Key]] = defaultdict(set)
        self._range = rt.auto_range(self.intent.system.asn, self.intent.system.four_byte)
        self.allocator = rt.Allocator(*self._range, allocations)
        self._sweep_owners = True
        self._alloc_numbers: set[int] = set()    # numbers (de)allocated, pending refresh
        self._foreign: set[str] = set()
        self.desired: dict[DKey, Any] = {}
        self.problems: dict[Key, tuple[Problem, ...]] = {}
        self._rt_count: Counter[str] = Counter()
        self.touched: set[DKey] = set()     # desired keys changed since take_touched()
        self._compute: dict[str, Callable[[View, str], Any]] = {
            "vn-policy": lambda v, k: compile_network(v, k, self.options),
            "sg": compile_security_group,
            "lr-targets": lambda v, k: router_target_refs(v, k, self.allocator.by_owner),
            "connections": expand_connections,
            "ri-connections": connection_refs,
            "ri-targets": lambda v, k: route_target_refs(v, k, self.allocator.by_owner),
        }

    # --- public -------------------------------------------------------------------
    def apply(self, events: Iterable[dict]) -> None:
        """Take a batch of raw watch events (put/delete) and update the desired state."""
        changed: set[Key] = set()
        for ev in events:
            changed |= self.intent.apply(ev)
        changed |= self._allocate(changed)
        self._propagate(changed)

    def take_touched(self) -> set[DKey]:
        touched, self.touched = self.touched, set()
        return touched

    def problem_list(self) -> list[Problem]:
        return sorted({p for ps in self.problems.values() for p in ps},
                      key=lambda p: (p.type, p.fq, p.message))

    def result(self) -> Compiled:
        return Compiled(dict(self.desired), dict(self.allocator.by_owner), self.problem_list())

    # --- allocation ---------------------------------------------------------------
    def _owners_now(self, keys: Iterable[Key]) -> tuple[set[str], set[str]]:
        live, dead = set(), set()
        objs = self.intent.objects
        for k in keys:
            if k[0] == "ri" and k[1] not in NO_RT_INSTANCES:
                (live if k[1] in objs["routing-instance"] else dead).add(ri_owner(k[1]))
            elif k[0] == "lr":
                (live if k[1] in objs["logical-router"] else dead).add(lr_owner(k[1]))
        return live, dead

    def _allocate(self, changed: set[Key]) -> set[Key]:
        out: set[Key] = set()
        system = self.intent.system
        new_range = rt.auto_range(system.asn, system.four_byte)
        if new_range != self._range:
            old = dict(self.allocator.by_owner)
            self._alloc_numbers |= set(old.values())
            self._range = new_range
            self.allocator = rt.Allocator(*new_range)
            self._sweep_owners = True
            out |= {("alloc", o) for o in old}
        if ("targets",) in changed or ("gsc",) in changed or self._sweep_owners:
            for owner in self._refresh_reserved():
                # someone else's route-target object took this number: never share it
                self._alloc_numbers.add(self.allocator.by_owner[owner])
                self.allocator.free(owner)
                out.add(("alloc", owner))
        if self._sweep_owners:
            self._sweep_owners = False
            keys = [("ri", fq) for fq in self.intent.objects["routing-instance"]]
            keys += [("lr", fq) for fq in self.intent.objects["logical-router"]]
            live, _ = self._owners_now(keys)
            dead = set(self.allocator.by_owner) - live
        else:
            live, dead = self._owners_now(changed)
            live |= {k[1] for k in out}
            live = {o for o in live if self._owner_exists(o)}
        for owner in sorted(dead):
            if owner in self.allocator.by_owner:
                self._alloc_numbers.add(self.allocator.by_owner[owner])
                self.allocator.free(owner)
                out.add(("alloc", owner))
        for owner in sorted(live - set(self.allocator.by_owner)):
            n = self.allocator.allocate(owner)
            if n is not None:
                self._alloc_numbers.add(n)
            out.add(("alloc", owner))
        return out

    def _owner_exists(self, owner: str) -> bool:
        kind, _, fq = owner.partition(":")
        return fq in self.intent.objects[kind]

    def _refresh_reserved(self) -> list[str]:
        """Update the numbers held by foreign route targets; owners that clash."""
        system = self.intent.system
        lo, hi = self._range
        numbers = set()
        for name in self.intent.foreign_targets:
            parsed = rt.parse(name)
            if parsed and parsed[0] == str(system.asn) and lo <= parsed[1] <= hi:
                numbers.add(parsed[1])
        self.allocator.reserve(numbers)
        return sorted(self.allocator.by_number[n] for n in numbers if n in self.allocator.by_number)

    # --- propagation --------------------------------------------------------------
    def _propagate(self, changed: set[Key]) -> None:
        buckets: dict[str, set[str]] = {k: set() for k in KINDS}
        self._dirty(changed, buckets)
        for k in changed:
            for kind in ROOTS.get(k[0], ()):
                buckets[kind].add(k[1])
        rt_names: set[str] = set()
        if ("gsc",) in changed or ("targets",) in changed:
            rt_names |= set(self._rt_count) | self._foreign | self.intent.foreign_targets
        asn = self.intent.system.asn
        rt_names |= {rt.name(asn, n) for n in self._alloc_numbers}
        self._alloc_numbers = set()
        for i, kind in enumerate(KINDS):
            for key in sorted(buckets[kind]):
                unit = (kind, key)
                view = View(self.intent, self.outputs)
                new = self._compute[kind](view, key)
                self._set_deps(unit, view.deps)
                old = self.outputs.get(unit)
                if new == old:
                    continue
                if new is None:
                    del self.outputs[unit]
                else:
                    self.outputs[unit] = new
                out_changed = {("out", kind, key)}
                if kind == "vn-policy":
                    out_changed |= self._update_listers(key, old, new)
                rt_names |= self._apply_output(kind, key, old, new)
                for later in self._dirty(out_changed, buckets):
                    assert KINDS.index(later[0]) > i, (unit, later)
        self._foreign = set(self.intent.foreign_targets)
        for name in rt_names:
            self._refresh_target(name)

    def _dirty(self, keys: Iterable[Key], buckets: dict[str, set[str]]) -> list[Key]:
        units = []
        for k in keys:
            for unit in self._dependents.get(k, ()):
                buckets[unit[0]].add(unit[1])
                units.append(unit)
        return units

    def _set_deps(self, unit: Key, deps: set[Key]) -> None:
        old = self._deps.get(unit, set())
        for d in old - deps:
            s = self._dependents.get(d)
            if s is not None:
                s.discard(unit)
                if not s:
                    del self._dependents[d]
        for d in deps - old:
            self._dependents[d].add(unit)
        self._deps[unit] = deps

    def _update_listers(self, fq: str, old: Any, new: Any) -> set[Key]:
        before = old.connections if old else frozenset()
        after = new.connections if new else frozenset()
        out = set()
        for peer in before - after:
            s = self.outputs.get(("listers", peer))
            if s is not None:
                s.discard(fq)
            out.add(("listers", peer))
        for peer in after - before:
            self.outputs.setdefault(("listers", peer), set()).add(fq)
            out.add(("listers", peer))
        return out

    # --- desired state ------------------------------------------------------------
    def _set(self, dkey: DKey, value: Any) -> None:
        if value is None:
            if self.desired.pop(dkey, None) is not None:
                self.touched.add(dkey)
        elif self.desired.get(dkey) != value:
            self.desired[dkey] = value
            self.touched.add(dkey)

    def _apply_output(self, kind: str, key: str, old: Any, new: Any) -> set[str]:
        """Fold one unit's changed output into the desired state; returns RT names
        whose reference count changed."""
        unit = (kind, key)
        problems: tuple[Problem, ...] = ()
        rt_names: set[str] = set()
        if kind in ("vn-policy", "sg"):
            old_acls = (old.acls if kind == "vn-policy" else old[0]) if old else ()
            new_acls = (new.acls if kind == "vn-policy" else new[0]) if new else ()
            new_keys = {("obj", d.type, ":".join(d.fq_name)) for d in new_acls}
            for d in old_acls:
                dkey = ("obj", d.type, ":".join(d.fq_name))
                if dkey not in new_keys:
                    self._set(dkey, None)
            for d in new_acls:
                self._set(("obj", d.type, ":".join(d.fq_name)), d)
            if new:
                problems = new.problems if kind == "vn-policy" else new[1]
        elif kind in REF_FIELDS:
            type_, field = REF_FIELDS[kind]
            self._set(("refs", type_, key, field), new.refs if new else None)
            if field == "route_target_refs":
                for r in old.refs if old else ():
                    self._rt_count[r.to] -= 1
                    if self._rt_count[r.to] <= 0:
                        del self._rt_count[r.to]
                        rt_names.add(r.to)
                for r in new.refs if new else ():
                    self._rt_count[r.to] += 1
                    if self._rt_count[r.to] == 1:
                        rt_names.add(r.to)
            problems = new.problems if new else ()
        if problems:
            self.problems[unit] = problems
        else:
            self.problems.pop(unit, None)
        return rt_names

    def _refresh_target(self, name: str) -> None:
        dkey = ("obj", "route-target", name)
        if self._rt_count.get(name, 0) <= 0 or name in self.intent.foreign_targets:
            self._set(dkey, None)
            return
        props: dict[str, Any] = {}
        owner = self._owner_of(name)
        if owner is not None:
            props["annotations"] = {"key_value_pair": [{"key": OWNER_KEY, "value": owner}]}
        self._set(dkey, Derived("route-target", (name,), None, props))

    def _owner_of(self, name: str) -> str | None:
        parsed = rt.parse(name)
        if parsed is None or parsed[0] != str(self.intent.system.asn):
            return None
        return self.allocator.by_number.get(parsed[1])


def compile(objects: Iterable[tuple[str, dict]], allocations: Mapping[str, int] | None = None,
            options: Options | None = None) -> Compiled:
    """Full recompute: the desired state for these intent objects (type, raw JSON)."""
    engine = Engine(allocations, options)
    engine.apply({"op": "put", "type": t, "object": o} for t, o in objects)
    return engine.result()
