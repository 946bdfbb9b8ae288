"""In-memory datapath: the desired state held as sets, for unit tests and simulations.

It enforces the same preconditions the kernel does (a route's device must exist, no
duplicate add), and can be told to refuse operations, to test error handling."""

from __future__ import annotations

import errno as _errno
from dataclasses import replace

from filament.datapath.base import DatapathError
from filament.datapath.state import KINDS, DatapathState, Filter, Op


class ModelDatapath:
    def __init__(self, existing_links: set[str] | None = None):
        # links the orchestrator created (vifs must exist before they can be configured)
        self.links: set[str] = set(existing_links or ())
        self.objects: dict[str, set] = {k: set() for k in KINDS}
        self.filter = Filter()
        self.refuse: dict[object, int] = {}  # obj -> errno to fail with
        self.applied: list[Op] = []

    def observe(self) -> DatapathState:
        return DatapathState(**{k: frozenset(v) for k, v in self.objects.items()}, filter=self.filter)

    def _devices(self) -> set[str]:
        return {v.name for v in self.objects["vxlans"]} | self.links | {"lo"}

    def apply(self, op: Op) -> None:
        if op.obj in self.refuse:
            code = self.refuse[op.obj]
            raise DatapathError(op, _errno.errorcode.get(code, str(code)), code)
        if op.kind == "filter":
            self.filter = op.obj if op.action == "add" else Filter()
            self.applied.append(op)
            return
        objs = self.objects[op.kind]
        if op.action == "add":
            if op.kind == "vifs" and op.obj.name not in self.links:
                raise DatapathError(op, "no such device", _errno.ENODEV)
            dev = getattr(op.obj, "dev", None)
            if dev is not None and dev not in self._devices():
                raise DatapathError(op, "no such device", _errno.ENODEV)
            for nh in getattr(op.obj, "nexthops", ()):
                if nh.dev not in self._devices():
                    raise DatapathError(op, f"no such device {nh.dev}", _errno.ENODEV)
            if op.kind == "routes":  # replace semantics by (table, prefix)
                objs -= {r for r in objs if (r.table, r.prefix) == (op.obj.table, op.obj.prefix)}
            elif op.obj in objs:
                raise DatapathError(op, "exists", _errno.EEXIST)
            objs.add(op.obj)
        else:
            if op.obj not in objs:
                raise DatapathError(op, "not found", _errno.ENOENT)
            objs.discard(op.obj)
            if op.kind in ("vxlans",):  # the kernel drops what hangs off a deleted device
                self._drop_dev(op.obj.name)
        self.applied.append(op)

    def _drop_dev(self, name: str) -> None:
        for kind in ("neighbours", "fdbs"):
            self.objects[kind] = {o for o in self.objects[kind] if o.dev != name}
        routes = set()
        for r in self.objects["routes"]:
            nhs = tuple(nh for nh in r.nexthops if nh.dev != name)
            if r.nexthops and not nhs:
                continue
            routes.add(replace(r, nexthops=nhs) if nhs != r.nexthops else r)
        self.objects["routes"] = routes

    def remove_link(self, name: str) -> None:
        """The orchestrator deleted a vif (the kernel drops what hung off it)."""
        self.links.discard(name)
        self.objects["vifs"] = {v for v in self.objects["vifs"] if v.name != name}
        self._drop_dev(name)

    def close(self) -> None:
        pass
