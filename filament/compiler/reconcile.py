"""Converge the API to the desired derived state: diff, then create/update/delete.

`plan(desired, actual, keys)` is pure: it compares the desired entries (see
`core`) with the objects the API holds and returns the writes, in an order the API
accepts: route targets and ACLs are created before refs point at them, refs are
dropped before the objects they point at are deleted. Only objects whose
`id_perms.creator` is the compiler are ever deleted (orphans after a restart
included); on objects it does not own (routing instances, logical routers) the
compiler only rewrites the ref fields it manages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from filament.compiler.model import CREATOR, Derived, Ref, fq_str

log = logging.getLogger(__name__)

OWNED_TYPES = ("route-target", "access-control-list")
REF_TARGET_TYPE = {"route_target_refs": "route-target", "routing_instance_refs": "routing-instance"}
MANAGED_REFS = {"routing-instance": ("route_target_refs", "routing_instance_refs"),
                "logical-router": ("route_target_refs",)}


def normalize(value: Any) -> Any:
    """Drop null members so `{"import_export": null}` equals a server's `{}`/null."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def _attr(value: Any) -> Any:
    return normalize(value) or {}


class Actual:
    """The API's objects of the types the compiler writes, indexed by fq-name."""

    def __init__(self) -> None:
        self.by_fq: dict[str, dict[str, dict]] = {}

    @classmethod
    def from_cache(cls, objects_by_type: Mapping[str, Mapping[str, dict]]) -> Actual:
        actual = cls()
        for type_ in (*OWNED_TYPES, *MANAGED_REFS):
            for obj in objects_by_type.get(type_, {}).values():
                actual.put(type_, obj)
        return actual

    def put(self, type_: str, obj: dict) -> None:
        self.by_fq.setdefault(type_, {})[fq_str(obj.get("fq_name") or [])] = obj

    def delete(self, type_: str, fq: str) -> None:
        self.by_fq.get(type_, {}).pop(fq, None)

    def get(self, type_: str, fq: str) -> dict | None:
        return self.by_fq.get(type_, {}).get(fq)

    def owned_keys(self) -> list[tuple]:
        return [("obj", t, fq) for t in OWNED_TYPES for fq, o in self.by_fq.get(t, {}).items()
                if (o.get("id_perms") or {}).get("creator") == CREATOR]

    def managed_keys(self) -> list[tuple]:
        return [("refs", t, fq, f) for t, fields in MANAGED_REFS.items()
                for fq in self.by_fq.get(t, {}) for f in fields]


@dataclass
class Op:
    kind: str                   # create | update | delete
    type: str
    fq: str
    key: tuple
    uuid: str | None = None
    body: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind} {self.type} {self.fq}"


def _ref_json(actual: Actual, field_: str, ref: Ref) -> dict:
    target_type = REF_TARGET_TYPE.get(field_, "route-target")
    to = [ref.to] if target_type == "route-target" else ref.to.split(":")
    out = {"to": to, "attr": ref.attr}
    target = actual.get(target_type, ref.to)
    if target is not None:
        out["uuid"] = target.get("uuid")
    return out


def _refs_equal(current: Any, wanted: tuple[Ref, ...]) -> bool:
    have = sorted((fq_str(r.get("to") or []), repr(_attr(r.get("attr"))))
                  for r in current or [] if isinstance(r, dict))
    want = sorted((r.to, repr(_attr(r.attr))) for r in wanted)
    return have == want


def _props_equal(obj: dict, props: dict) -> bool:
    return all(normalize(obj.get(k)) == normalize(v) for k, v in props.items())


def plan(desired: Mapping[tuple, Any], actual: Actual, keys: Iterable[tuple] | None = None) -> list[Op]:
    """The writes that take `actual` to `desired`, for `keys` (default: everything)."""
    if keys is None:
        keys = set(desired) | set(actual.owned_keys())
    creates: list[Op] = []
    updates: list[Op] = []
    ref_updates: list[Op] = []
    deletes: list[Op] = []
    for key in sorted(set(keys), key=repr):
        want = desired.get(key)
        if key[0] == "obj":
            _, type_, fq = key
            have = actual.get(type_, fq)
            if want is None:
                if have is not None and (have.get("id_perms") or {}).get("creator") == CREATOR:
                    deletes.append(Op("delete", type_, fq, key, have.get("uuid")))
            elif have is None:
                creates.append(_create(want, key))
            elif (have.get("id_perms") or {}).get("creator") != CREATOR:
                log.debug("%s %s exists and is not ours: leaving it", type_, fq)
            elif not _props_equal(have, want.props):
                updates.append(Op("update", type_, fq, key, have.get("uuid"), dict(want.props)))
        elif key[0] == "refs" and want is not None:
            _, type_, fq, field_ = key
            have = actual.get(type_, fq)
            if have is not None and not _refs_equal(have.get(field_), want):
                body = {field_: [_ref_json(actual, field_, r) for r in want]}
                ref_updates.append(Op("update", type_, fq, key, have.get("uuid"), body))
    # route targets first on create, last on delete: refs must always resolve
    creates.sort(key=lambda op: op.type != "route-target")
    deletes.sort(key=lambda op: op.type == "route-target")
    return creates + updates + ref_updates + deletes


def _create(want: Derived, key: tuple) -> Op:
    body: dict[str, Any] = {"fq_name": list(want.fq_name), "id_perms": {"creator": CREATOR},
                            **want.props}
    if want.parent_type:
        body["parent_type"] = want.parent_type
    return Op("create", want.type, key[2], key, None, body)
