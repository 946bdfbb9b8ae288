"""ConfigService: the config API's domain operations (create, read, update, delete).

Every write runs in one `Txn`: parse and validate the body, resolve parent and
refs, run the type's rules (ids, addresses, default children), then commit. An
`ApiError` anywhere before the commit leaves the store and graph untouched.
List queries and action endpoints live in `listing.py` and `actions.py`.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from filament.config import rules as rules_pkg
from filament.config.errors import BadRequest, Conflict, Forbidden, NotFound
from filament.config.graph import Graph, Obj, Txn
from filament.config.render import Renderer
from filament.config.store.base import Store
from filament.schema import ResourceType, Schema, load_schema
from filament.schema.validate import SchemaError, ValidatorFactory

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Keys a client may send back from a read; never stored from a body.
_IDENTITY_KEYS = frozenset({"uuid", "fq_name", "parent_type", "parent_uuid", "parent_href",
                            "href", "name"})
DEFAULT_ID_PERMS_PERMISSIONS = {"owner": "cloud-admin", "owner_access": 7,
                                "group": "cloud-admin-group", "group_access": 7,
                                "other_access": 7}


def utcnow_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


class Ctx:
    """What a type rule sees during one write."""

    def __init__(self, service: ConfigService, txn: Txn, headers: dict[str, str] | None = None):
        self.service = service
        self.txn = txn
        self.headers = headers or {}
        self.schema = service.schema
        self.graph = service.graph

    def new_uuid(self) -> str:
        return self.service.new_uuid()

    def now(self) -> str:
        return self.service.now()

    def create_child(self, type_: str, parent: Obj, name: str, props: dict | None = None,
                     refs: dict | None = None) -> Obj:
        """Create a system object (no validation, no rules of its own except ids)."""
        return self.service.make_object(self, type_, parent.fq_name + [name], parent,
                                        props or {}, refs or {})


class ConfigService:
    def __init__(self, store: Store, *, schema: Schema | None = None,
                 new_uuid: Callable[[], str] | None = None,
                 now: Callable[[], str] | None = None):
        self.schema = schema or load_schema()
        self.graph = Graph(store)
        self.validators = ValidatorFactory(self.schema)
        self.render = Renderer(self.schema, self.graph)
        self.new_uuid = new_uuid or (lambda: str(uuidlib.uuid4()))
        self.now = now or utcnow_iso
        self.rules = rules_pkg.load_rules()
        self._field_validators: dict[tuple[str, str], Callable] = {}
        self._attr_validators: dict[str, Callable] = {}

    def start(self) -> None:
        """Load the store, build indexes, create the default objects if missing."""
        self.graph.load()
        for rule in self.rules.values():
            for index in rule.indexes():
                self.graph.add_index(index)
        from filament.config.defaults import ensure_defaults
        ensure_defaults(self)

    # --- helpers ---------------------------------------------------------------------
    def resource(self, type_: str) -> ResourceType:
        rt = self.schema.resource(type_)
        if rt is None:
            raise NotFound(f"Resource type '{type_}' not found")
        return rt

    def get_typed(self, type_: str, uuid: str, missing: str = "Unknown id: {}") -> Obj:
        obj = self.graph.get(uuid)
        if obj is None:
            raise NotFound(missing.format(uuid))
        if obj.type != type_:
            raise NotFound(f"No {type_} object found for id {uuid}")
        return obj

    def validate_prop(self, rt: ResourceType, name: str, value: Any, op: str) -> Any:
        v = self._field_validators.get((rt.name, name))
        if v is None:
            f = rt.properties.get(name)
            if f is None:
                raise BadRequest(f"Bad property in {op}: unknown field '{name}' "
                                 f"for {rt.name}")
            v = self.validators.field(f)
            self._field_validators[(rt.name, name)] = v
        try:
            return v(value, name)
        except SchemaError as exc:
            raise BadRequest(f"Bad property in {op}: Error validating property {exc.path}: "
                             f"{exc.message}") from None

    def validate_attr(self, attr_type: str | None, value: Any, path: str, op: str) -> Any:
        if value is None or attr_type is None:
            return value
        v = self._attr_validators.get(attr_type)
        if v is None:
            v = self.validators.complex(attr_type)
            self._attr_validators[attr_type] = v
        try:
            return v(value, path)
        except SchemaError as exc:
            raise BadRequest(f"Bad reference in {op}: {exc.path}: {exc.message}") from None

    def commit(self, txn: Txn) -> int:
        return self.graph.commit(txn)

    # --- object construction -----------------------------------------------------------
    def make_object(self, ctx: Ctx, type_: str, fq_name: list[str], parent: Obj | None,
                    props: dict, refs: dict, uuid: str | None = None) -> Obj:
        """A new object with server-maintained fields, created in ctx.txn; runs the
        type's create rule (so default children get their ids too)."""
        uuid = uuid or self.new_uuid()
        now = self.now()
        props = dict(props)
        props["id_perms"] = self._id_perms(uuid, now, props.get("id_perms"))
        props["perms2"] = self._perms2(ctx, type_, uuid, parent, props.get("perms2"))
        obj = Obj(uuid, type_, list(fq_name), parent.type if parent else None,
                  parent.uuid if parent else None, props, refs)
        ctx.txn.create(obj)
        rule = self.rules.get(type_)
        if rule is not None:
            rule.on_create(ctx, obj)
        return obj

    def _id_perms(self, uuid: str, now: str, given: dict | None) -> dict:
        u = uuidlib.UUID(uuid).int
        perms = {"permissions": dict(DEFAULT_ID_PERMS_PERMISSIONS),
                 "uuid": {"uuid_mslong": u >> 64, "uuid_lslong": u & ((1 << 64) - 1)},
                 "enable": True, "created": now, "last_modified": now, "description": None,
                 "user_visible": True, "creator": None}
        for key in ("enable", "description", "user_visible", "creator"):
            if given and given.get(key) is not None:
                perms[key] = given[key]
        return perms

    def _perms2(self, ctx: Ctx, type_: str, uuid: str, parent: Obj | None,
                given: dict | None) -> dict:
        perms = {"owner": "cloud-admin", "owner_access": 7, "global_access": 0, "share": []}
        if given:
            for key in ("owner", "owner_access", "global_access", "share"):
                if given.get(key) is not None:
                    perms[key] = given[key]
            if given.get("owner"):
                return perms
        tenant = ctx.headers.get("x-project-id") or "cloud-admin"
        if type_ == "project":
            perms["owner"] = uuid.replace("-", "")
        elif parent is not None and parent.type == "project":
            perms["owner"] = parent.props.get("perms2", {}).get("owner", "cloud-admin")
        else:
            perms["owner"] = tenant
        return perms

    # --- create ----------------------------------------------------------------------
    def create(self, type_: str, body: Any, headers: dict[str, str] | None = None,
               ) -> tuple[Obj, int]:
        rt = self.resource(type_)
        data = self._envelope(rt, body, "POST")
        rule = self.rules.get(rt.name)
        if rule is not None:
            data = rule.rewrite_create(data)
        fq_name = data.get("fq_name")
        if not fq_name:
            raise BadRequest("Bad Request, no fq_name in POST body")
        if not isinstance(fq_name, list) or not all(isinstance(x, str) and x for x in fq_name):
            raise BadRequest("Bad Request, fq_name must be a list of non-empty strings")
        if ":" in fq_name[-1] and rt.name != "route-target":
            raise BadRequest("Bad Request, name has one of invalid chars {':'}")
        txn = Txn(self.graph)
        ctx = Ctx(self, txn, headers)
        props = self._parse_props(rt, data, "create")
        refs = self._parse_refs(rt, data, txn, "create")
        existing = self.graph.lookup(rt.name, fq_name)
        if existing is not None:
            raise Conflict(f"{fq_name!r} already exists with uuid: {existing.uuid}")
        parent = self._resolve_parent(rt, data, fq_name)
        uuid = data.get("uuid")
        if uuid is not None:
            if not isinstance(uuid, str) or not _UUID_RE.match(uuid.lower()):
                raise BadRequest(f"Invalid UUID format: {uuid}")
            uuid = uuid.lower()
            other = self.graph.get(uuid)
            if other is not None:
                raise Conflict(f"{uuid} already exists with fq_name: {other.fq_name!r}")
        if "display_name" not in props:
            props["display_name"] = fq_name[-1]
        if rule is not None:
            rule.check_create(ctx, rt, data, props, refs)
        obj = self.make_object(ctx, rt.name, fq_name, parent, props, refs, uuid)
        rev = self.commit(txn)
        return self.graph.objs[obj.uuid], rev

    def _envelope(self, rt: ResourceType, body: Any, method: str) -> dict:
        if not isinstance(body, dict):
            raise BadRequest(f"Bad Request, expected a JSON object with key '{rt.name}'")
        data = body.get(rt.name)
        if data is None and len(body) == 1 and rt.object_type in body:
            data = body[rt.object_type]
        if not isinstance(data, dict):
            raise BadRequest(f"Bad Request, no '{rt.name}' object in {method} body")
        return data

    def _parse_props(self, rt: ResourceType, data: dict, op: str) -> dict:
        props: dict[str, Any] = {}
        for key, value in data.items():
            if key in _IDENTITY_KEYS or key in rt.ref_fields:
                continue
            if key in ("id_perms", "perms2"):
                if value is not None:
                    if not isinstance(value, dict):
                        raise BadRequest(f"Bad property in {op}: {key} must be an object")
                    props[key] = self.validate_prop(rt, key, value, op) \
                        if key in rt.properties else value
                continue
            if key.endswith("_back_refs") or (key.endswith("s") and
                                              self._is_child_field(rt, key)):
                continue
            if value is None:
                continue
            props[key] = self.validate_prop(rt, key, value, op)
        return props

    def _is_child_field(self, rt: ResourceType, key: str) -> bool:
        return key in rt.children.values()

    def _parse_refs(self, rt: ResourceType, data: dict, txn: Txn, op: str,
                    only_present: bool = False) -> dict[str, list[list]]:
        refs: dict[str, list[list]] = {}
        for fname, target in rt.ref_fields.items():
            if fname not in data:
                continue
            links = data[fname]
            if links is None:
                links = []
            if not isinstance(links, list):
                raise BadRequest(f"Bad reference in {op}: {fname} must be a list")
            spec = rt.refs[target]
            out: list[list] = []
            seen: dict[str, int] = {}
            for i, link in enumerate(links):
                path = f"{fname}[{i}]"
                if not isinstance(link, dict):
                    raise BadRequest(f"Bad reference in {op}: {path} must be an object")
                t = self._resolve_ref(txn, target, link, path, op)
                attr = self.validate_attr(spec.attr, link.get("attr"), f"{path}.attr", op)
                if t.uuid in seen:
                    out[seen[t.uuid]][1] = attr
                else:
                    seen[t.uuid] = len(out)
                    out.append([t.uuid, attr])
            refs[target] = out
        return refs

    def _resolve_ref(self, txn: Txn, target: str, link: dict, path: str, op: str) -> Obj:
        ruuid, to = link.get("uuid"), link.get("to")
        if isinstance(to, dict):
            # vnc_api's set_<x>_list([obj, ...]) serialises the referred object as `to`
            ruuid, to = ruuid or to.get("uuid"), to.get("fq_name")
        if ruuid:
            t = txn.get(ruuid) if isinstance(ruuid, str) else None
            if t is not None and t.type == target:
                return t
            if not to:
                raise BadRequest(f"Unknown reference in resource {op}: {path} {target} "
                                 f"uuid {ruuid} not found")
        if to:
            if isinstance(to, str):
                to = to.split(":")
            t = txn.lookup(target, to) if isinstance(to, list) else None
            if t is None:
                raise BadRequest(f"Unknown reference in resource {op}: {path} {target} "
                                 f"{to!r} not found")
            return t
        raise BadRequest(f"Bad reference in {op}: {path} needs 'to' or 'uuid'")

    def _resolve_parent(self, rt: ResourceType, data: dict, fq_name: list[str]) -> Obj | None:
        ptype = data.get("parent_type")
        if ptype == "config-root":
            ptype = None
        allowed = [p for p in rt.parents if p != "config-root"]
        if ptype is None:
            if rt.top_level or ("config-root" in rt.parents and len(fq_name) == 1):
                if len(fq_name) != 1:
                    raise BadRequest(f"Invalid fq-name of an object with no parent: {fq_name!r}")
                return None
            if len(allowed) == 1:
                ptype = allowed[0]
            else:
                # Several possible parents: take the one that exists by name.
                found = [self.graph.lookup(p, fq_name[:-1]) for p in allowed]
                found = [f for f in found if f is not None]
                if len(found) == 1:
                    return found[0]
                raise BadRequest(f"Missing parent type: None. Allowed types: {allowed!r}")
        prt = self.schema.resource(ptype) if isinstance(ptype, str) else None
        if prt is None or prt.name not in allowed:
            raise BadRequest(f"Invalid parent type: {ptype}. Allowed types: {allowed!r}")
        if len(fq_name) < 2:
            raise BadRequest(f"Invalid fq-name for object with parent_type {prt.name}: "
                             f"{fq_name!r}")
        parent = self.graph.lookup(prt.name, fq_name[:-1])
        if parent is None:
            if prt.name == "domain":
                raise BadRequest(f"Parent {fq_name[:-1]!r} type domain does not exist")
            raise NotFound(f"Name{fq_name[:-1]!r} not found")
        return parent

    # --- read ------------------------------------------------------------------------
    def read(self, type_: str, uuid: str) -> Obj:
        rt = self.resource(type_)
        return self.get_typed(rt.name, uuid)

    # --- update ----------------------------------------------------------------------
    def update(self, type_: str, uuid: str, body: Any,
               headers: dict[str, str] | None = None) -> int | None:
        rt = self.resource(type_)
        old = self.get_typed(rt.name, uuid)
        if body is None or body == {}:
            return None
        data = self._envelope(rt, body, "PUT")
        if not data or set(data) <= {"uuid"}:
            return None
        txn = Txn(self.graph)
        ctx = Ctx(self, txn, headers)
        obj = txn.edit(uuid)
        for key, value in data.items():
            if key in _IDENTITY_KEYS or key in rt.ref_fields or key == "display_name" and \
                    value is None:
                continue
            if key == "id_perms":
                if isinstance(value, dict):
                    for k in ("enable", "description", "user_visible"):
                        if k in value and value[k] is not None:
                            obj.props["id_perms"][k] = value[k]
                continue
            if key == "perms2":
                if value is not None:
                    if not isinstance(value, dict) or not value.get("owner"):
                        raise BadRequest("owner in perms2 must be present")
                    obj.props["perms2"] = {**obj.props["perms2"], **value}
                continue
            if key.endswith("_back_refs") or self._is_child_field(rt, key):
                continue
            if value is None:
                obj.props.pop(key, None)
                obj.hidden.pop("pos:" + key, None)
                continue
            obj.props[key] = self.validate_prop(rt, key, value, "http_put")
            obj.hidden.pop("pos:" + key, None)
        new_refs = self._parse_refs(rt, data, txn, "update")
        for target, links in new_refs.items():
            if links:
                obj.refs[target] = links
            else:
                obj.refs.pop(target, None)
        rule = self.rules.get(rt.name)
        if rule is not None:
            rule.on_update(ctx, old, obj, data)
        obj.props["id_perms"]["last_modified"] = self.now()
        return self.commit(txn)

    def touch(self, obj: Obj) -> None:
        obj.props["id_perms"]["last_modified"] = self.now()

    # --- delete ----------------------------------------------------------------------
    def delete(self, type_: str, uuid: str, base: str = "",
               headers: dict[str, str] | None = None) -> int:
        rt = self.resource(type_)
        obj = self.get_typed(rt.name, uuid, "ID {} does not exist")
        txn = Txn(self.graph)
        ctx = Ctx(self, txn, headers)
        rule = self.rules.get(rt.name)
        if rule is not None:
            rule.check_delete(ctx, obj)
        blocking = [c for c in self.graph.children_of(uuid) if not self._auto_child(rt, c)]
        if blocking:
            hrefs = [f"{base}/{c.type}/{c.uuid}" for c in blocking]
            raise Conflict(f"Delete when children still present: {hrefs!r}")
        referrers = [r for r in self.graph.referrers_of(uuid) if self._blocks(r, obj)]
        if referrers:
            hrefs = [f"{base}/{r.type}/{r.uuid}" for r in referrers]
            raise Conflict(f"Delete when resource still referred: {hrefs!r}")
        self.delete_in(ctx, obj)
        return self.commit(txn)

    def _auto_child(self, rt: ResourceType, child: Obj) -> bool:
        return (child.type in rt.derived_children or child.name.startswith("default-")
                or child.name == "draft-policy-management")

    def _blocks(self, referrer: Obj, obj: Obj) -> bool:
        if obj.uuid in referrer.relaxed:
            return False
        rrt = self.schema.resources.get(referrer.type)
        spec = rrt.refs.get(obj.type) if rrt else None
        if spec is not None and spec.derived:
            return False
        rule = self.rules.get(obj.type)
        return rule is None or not rule.referrer_allowed(self, referrer, obj)

    def delete_in(self, ctx: Ctx, obj: Obj) -> None:
        """Delete `obj` in ctx.txn with its automatic children; unlink referrers whose
        link does not block (relaxed or derived)."""
        rule = self.rules.get(obj.type)
        if rule is not None:
            rule.on_delete(ctx, obj)
        for child in ctx.txn.children_of(obj.uuid):
            self.delete_in(ctx, child)
        for ref in ctx.txn.referrers_of(obj.uuid):
            edited = ctx.txn.edit(ref.uuid)
            links = [lk for lk in edited.refs.get(obj.type, []) if lk[0] != obj.uuid]
            if links:
                edited.refs[obj.type] = links
            else:
                edited.refs.pop(obj.type, None)
            if obj.uuid in edited.relaxed:
                edited.relaxed.remove(obj.uuid)
        if ctx.txn.get(obj.uuid) is not None:
            ctx.txn.delete(obj)
