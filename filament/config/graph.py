"""The in-memory object graph and the transactions that change it.

`Graph` holds every object plus indexes derived from them (fq_name, children,
back-references, and whatever `Index` plug-ins the type rules register, e.g. used
addresses). A `Txn` layers pending puts and deletes over the graph; nothing in
the graph changes until `Graph.commit` has written the transaction to the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from filament.config.store.base import Store, WriteSet


class Obj:
    """One config object. `props` holds every property (incl. id_perms/perms2);
    `refs` maps a target type to an ordered list of [target uuid, attr]."""

    __slots__ = ("uuid", "type", "fq_name", "parent_type", "parent_uuid", "props", "refs",
                 "relaxed", "crev", "mod_rev", "hidden")

    def __init__(self, uuid: str, type_: str, fq_name: list[str], parent_type: str | None,
                 parent_uuid: str | None, props: dict[str, Any] | None = None,
                 refs: dict[str, list[list]] | None = None, relaxed: list[str] | None = None,
                 crev: int = 0, mod_rev: int = 0, hidden: dict[str, Any] | None = None):
        self.uuid = uuid
        self.type = type_
        self.fq_name = fq_name
        self.parent_type = parent_type
        self.parent_uuid = parent_uuid
        self.props = props if props is not None else {}
        self.refs = refs if refs is not None else {}
        self.relaxed = relaxed if relaxed is not None else []
        self.hidden = hidden if hidden is not None else {}   # server-private state
        self.crev = crev
        self.mod_rev = mod_rev

    @property
    def name(self) -> str:
        return self.fq_name[-1]

    @property
    def fq_str(self) -> str:
        return ":".join(self.fq_name)

    def ref_uuids(self) -> Iterator[str]:
        for links in self.refs.values():
            for link in links:
                yield link[0]

    def encode(self) -> bytes:
        return orjson.dumps({
            "type": self.type, "fq_name": self.fq_name, "parent_type": self.parent_type,
            "parent_uuid": self.parent_uuid, "props": self.props, "refs": self.refs,
            "relaxed": self.relaxed, "crev": self.crev, "hidden": self.hidden,
        })

    @classmethod
    def decode(cls, uuid: str, mod_rev: int, body: bytes) -> Obj:
        d = orjson.loads(body)
        return cls(uuid, d["type"], d["fq_name"], d["parent_type"], d["parent_uuid"],
                   d["props"], d["refs"], d.get("relaxed") or [], d.get("crev", 0), mod_rev,
                   d.get("hidden") or {})

    def copy(self) -> Obj:
        """A deep copy, safe to edit inside a transaction."""
        return Obj.decode(self.uuid, self.mod_rev, self.encode())


class Index:
    """A derived index kept by the graph; subclasses override the hooks and set a
    unique `name` (rules find each other's indexes by it)."""

    name = ""

    def reset(self) -> None: ...

    def add(self, obj: Obj) -> None: ...

    def remove(self, obj: Obj) -> None: ...


class Graph:
    def __init__(self, store: Store):
        self.store = store
        self.objs: dict[str, Obj] = {}
        self.by_type: dict[str, dict[str, Obj]] = {}
        self.fq: dict[tuple[str, str], str] = {}
        self.children: dict[str, dict[str, None]] = {}
        self.back_refs: dict[str, dict[str, None]] = {}
        self.kv: dict[tuple[str, str], bytes] = {}
        self.indexes: list[Index] = []
        self.named: dict[str, Index] = {}
        self.revision = 0
        self.compacted = 0
        self.tombstones: list[tuple[int, str, str, list[str]]] = []
        self.listeners: list[Callable[[int, list[Obj], list[Obj]], None]] = []
        # Tombstones kept for watchers resuming with `since`; older ones force a relist.
        self.keep_tombstones = 100_000

    # --- loading and indexing ---------------------------------------------------------
    def load(self) -> None:
        snap = self.store.load()
        self.revision, self.compacted, self.kv = snap.revision, snap.compacted, snap.kv
        self.tombstones = [(t.rev, t.uuid, t.type, t.fq_name.split(":")) for t in snap.tombstones]
        for so in snap.objects:
            self._index(Obj.decode(so.uuid, so.mod_rev, so.body))

    def add_index(self, index: Index) -> None:
        if index.name in self.named:
            return
        self.named[index.name] = index
        self.indexes.append(index)
        index.reset()
        for obj in self.objs.values():
            index.add(obj)

    def _index(self, obj: Obj) -> None:
        self.objs[obj.uuid] = obj
        self.by_type.setdefault(obj.type, {})[obj.uuid] = obj
        self.fq[(obj.type, obj.fq_str)] = obj.uuid
        if obj.parent_uuid:
            self.children.setdefault(obj.parent_uuid, {})[obj.uuid] = None
        for target in obj.ref_uuids():
            self.back_refs.setdefault(target, {})[obj.uuid] = None
        for ix in self.indexes:
            ix.add(obj)

    def _unindex(self, obj: Obj) -> None:
        for ix in self.indexes:
            ix.remove(obj)
        del self.objs[obj.uuid]
        self.by_type[obj.type].pop(obj.uuid, None)
        self.fq.pop((obj.type, obj.fq_str), None)
        if obj.parent_uuid and obj.parent_uuid in self.children:
            kids = self.children[obj.parent_uuid]
            kids.pop(obj.uuid, None)
            if not kids:
                del self.children[obj.parent_uuid]
        for target in obj.ref_uuids():
            refs = self.back_refs.get(target)
            if refs is not None:
                refs.pop(obj.uuid, None)
                if not refs:
                    del self.back_refs[target]

    # --- reads ------------------------------------------------------------------------
    def get(self, uuid: str) -> Obj | None:
        return self.objs.get(uuid)

    def lookup(self, type_: str, fq_name: list[str] | str) -> Obj | None:
        key = fq_name if isinstance(fq_name, str) else ":".join(fq_name)
        uuid = self.fq.get((type_, key))
        return self.objs.get(uuid) if uuid else None

    def children_of(self, uuid: str) -> list[Obj]:
        return [self.objs[c] for c in self.children.get(uuid, ())]

    def referrers_of(self, uuid: str) -> list[Obj]:
        return [self.objs[r] for r in self.back_refs.get(uuid, ())]

    # --- writes -----------------------------------------------------------------------
    def commit(self, txn: Txn) -> int:
        """Write `txn` to the store, then apply it here; return the new revision."""
        ws = WriteSet()
        deleted = [self.objs[u] for u in txn.deletes if u in self.objs]
        for obj in deleted:
            ws.deletes.append((obj.uuid, obj.type, obj.fq_str))
        for obj in txn.puts.values():
            ws.puts.append((obj.uuid, obj.type, obj.encode()))
        for key, value in txn.kv.items():
            if value is None:
                ws.kv_deletes.append(key)
            else:
                ws.kv_puts.append((key[0], key[1], value))
        if not ws:
            return self.revision
        rev = self.store.commit(ws)
        self.revision = rev
        for obj in deleted:
            self._unindex(obj)
            self.tombstones.append((rev, obj.uuid, obj.type, obj.fq_name))
        written = list(txn.puts.values())
        for obj in written:
            old = self.objs.get(obj.uuid)
            if old is not None:
                self._unindex(old)
            obj.mod_rev = rev
            if not obj.crev:
                obj.crev = rev
            self._index(obj)
        for key, value in txn.kv.items():
            if value is None:
                self.kv.pop(key, None)
            else:
                self.kv[key] = value
        for listener in self.listeners:
            listener(rev, written, deleted)
        if deleted:
            self.compact(self.keep_tombstones)
        return rev

    def compact(self, keep: int) -> None:
        if len(self.tombstones) > keep * 2:
            self.compacted = self.store.compact(keep)
            self.tombstones = [t for t in self.tombstones if t[0] > self.compacted]


class Txn:
    """Pending changes layered over a graph. Edit objects via `edit()` (a copy)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.puts: dict[str, Obj] = {}
        self.deletes: dict[str, Obj] = {}
        self.kv: dict[tuple[str, str], bytes | None] = {}
        self._fq: dict[tuple[str, str], str | None] = {}
        self.created: set[str] = set()

    def get(self, uuid: str) -> Obj | None:
        if uuid in self.deletes:
            return None
        obj = self.puts.get(uuid)
        return obj if obj is not None else self.graph.objs.get(uuid)

    def lookup(self, type_: str, fq_name: list[str] | str) -> Obj | None:
        key = (type_, fq_name if isinstance(fq_name, str) else ":".join(fq_name))
        if key in self._fq:
            uuid = self._fq[key]
            return self.get(uuid) if uuid else None
        uuid = self.graph.fq.get(key)
        return self.get(uuid) if uuid else None

    def create(self, obj: Obj) -> Obj:
        self.puts[obj.uuid] = obj
        self.created.add(obj.uuid)
        self._fq[(obj.type, obj.fq_str)] = obj.uuid
        return obj

    def edit(self, uuid: str) -> Obj:
        obj = self.puts.get(uuid)
        if obj is None:
            obj = self.graph.objs[uuid].copy()
            self.puts[uuid] = obj
        return obj

    def delete(self, obj: Obj) -> None:
        self.puts.pop(obj.uuid, None)
        self._fq[(obj.type, obj.fq_str)] = None
        if obj.uuid in self.created:
            self.created.discard(obj.uuid)
        else:
            self.deletes[obj.uuid] = obj

    def children_of(self, uuid: str) -> list[Obj]:
        out = [o for o in (self.get(c) for c in self.graph.children.get(uuid, ())) if o]
        out += [o for o in self.puts.values()
                if o.uuid in self.created and o.parent_uuid == uuid]
        return out

    def referrers_of(self, uuid: str) -> list[Obj]:
        seen: dict[str, Obj] = {}
        for r in self.graph.back_refs.get(uuid, ()):
            obj = self.get(r)
            if obj is not None and uuid in set(obj.ref_uuids()):
                seen[r] = obj
        for obj in self.puts.values():
            if obj.uuid not in seen and uuid in set(obj.ref_uuids()):
                seen[obj.uuid] = obj
        return list(seen.values())

    def kv_get(self, ns: str, key: str) -> bytes | None:
        if (ns, key) in self.kv:
            return self.kv[(ns, key)]
        return self.graph.kv.get((ns, key))

    def kv_put(self, ns: str, key: str, value: bytes | None) -> None:
        self.kv[(ns, key)] = value
