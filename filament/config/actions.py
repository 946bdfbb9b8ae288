"""Action endpoints of the VNC API (everything that is not plain CRUD or listing)."""

from __future__ import annotations

from typing import Any

import orjson

from filament.config import ipam
from filament.config.errors import BadRequest, Conflict, NotFound
from filament.config.graph import Txn
from filament.config.rules._addresses import allocate_in, usage, vn_subnets
from filament.config.service import ConfigService, Ctx


def _body(body: Any) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("Bad Request, expected a JSON object body")
    return body


def _type(svc: ConfigService, name: Any, field: str) -> str:
    if not isinstance(name, str) or not name:
        raise BadRequest(f"Bad Request, {field} missing")
    return svc.resource(name).name


def fqname_to_id(svc: ConfigService, body: Any) -> dict:
    b = _body(body)
    type_ = _type(svc, b.get("type"), "type")
    fq = b.get("fq_name")
    if not isinstance(fq, list):
        raise BadRequest("Bad Request, fq_name must be a list")
    obj = svc.graph.lookup(type_, fq)
    if obj is None:
        raise NotFound(f"Name {fq!r} not found")
    return {"uuid": obj.uuid}


def id_to_fqname(svc: ConfigService, body: Any) -> dict:
    b = _body(body)
    uuid = b.get("uuid")
    obj = svc.graph.get(uuid) if isinstance(uuid, str) else None
    if obj is None:
        raise NotFound(f"UUID {uuid} not found")
    return {"fq_name": obj.fq_name, "type": obj.type}


def ref_update(svc: ConfigService, body: Any, headers: dict) -> tuple[dict, int]:
    b = _body(body)
    type_ = _type(svc, b.get("type"), "type")
    rt = svc.resource(type_)
    uuid = b.get("uuid")
    ref_type_raw = b.get("ref-type")
    if isinstance(ref_type_raw, str) and ref_type_raw.endswith("_refs"):
        ref_type_raw = ref_type_raw[:-5]
    ref_type = _type(svc, ref_type_raw, "ref-type")
    op = str(b.get("operation") or "").upper()
    if op not in ("ADD", "DELETE"):
        raise BadRequest(f"Bad Request, operation must be ADD or DELETE, not "
                         f"{b.get('operation')!r}")
    if ref_type not in rt.refs:
        raise BadRequest(f"Bad Request, {type_} has no reference to {ref_type}")
    obj = svc.graph.get(uuid) if isinstance(uuid, str) else None
    if obj is None or obj.type != type_:
        raise NotFound(f"Object {uuid} of type {type_} not found")
    ref_uuid, ref_fq = b.get("ref-uuid"), b.get("ref-fq-name")
    if not ref_uuid and not ref_fq:
        raise BadRequest("Bad Request, ref-uuid or ref-fq-name must be given")
    if not ref_uuid:
        target = svc.graph.lookup(ref_type, ref_fq) if isinstance(ref_fq, list) else None
        if target is None:
            raise NotFound(f"Name {ref_fq!r} not found")
        ref_uuid = target.uuid
    txn = Txn(svc.graph)
    ctx = Ctx(svc, txn, headers)
    edited = txn.edit(obj.uuid)
    links = edited.refs.get(ref_type, [])
    if op == "ADD":
        target = svc.graph.get(ref_uuid)
        if target is None or target.type != ref_type:
            raise NotFound(f"{ref_type} {ref_uuid} not found")
        attr = svc.validate_attr(rt.refs[ref_type].attr, b.get("attr"),
                                 f"{ref_type.replace('-', '_')}_refs.attr", "ref-update")
        for link in links:
            if link[0] == ref_uuid:
                link[1] = attr
                break
        else:
            links.append([ref_uuid, attr])
        edited.refs[ref_type] = links
        if b.get("relax_ref_for_delete") and ref_uuid not in edited.relaxed:
            edited.relaxed.append(ref_uuid)
    else:
        links = [lk for lk in links if lk[0] != ref_uuid]
        if links:
            edited.refs[ref_type] = links
        else:
            edited.refs.pop(ref_type, None)
        if ref_uuid in edited.relaxed:
            edited.relaxed.remove(ref_uuid)
    rule = svc.rules.get(type_)
    if rule is not None:
        rule.on_update(ctx, obj, edited, {f"{ref_type.replace('-', '_')}_refs": True})
    svc.touch(edited)
    return {"uuid": obj.uuid}, svc.commit(txn)


def ref_relax_for_delete(svc: ConfigService, body: Any) -> tuple[dict, int]:
    b = _body(body)
    uuid, ref_uuid = b.get("uuid"), b.get("ref-uuid")
    if not uuid or not ref_uuid:
        raise BadRequest("Bad Request, uuid and ref-uuid must be given")
    obj = svc.graph.get(uuid)
    if obj is None:
        raise NotFound(f"uuid {uuid} not found")
    if ref_uuid not in set(obj.ref_uuids()):
        raise BadRequest(f"Bad Request, {uuid} has no reference to {ref_uuid}")
    txn = Txn(svc.graph)
    edited = txn.edit(uuid)
    if ref_uuid not in edited.relaxed:
        edited.relaxed.append(ref_uuid)
    return {"uuid": uuid}, svc.commit(txn)


# --- property collections -----------------------------------------------------------------

def _collection(svc: ConfigService, obj, field: str):
    rt = svc.schema.resources[obj.type]
    f = rt.properties.get(field)
    if f is None or f.collection not in ("list", "map"):
        raise BadRequest(f'{field} neither "ListProperty" nor "MapProperty"')
    members = svc.schema.complex_types.get(f.type) or {}
    wrapper = next((m for m, spec in members.items() if spec.is_list), None) or field
    return f, wrapper


def _positions(obj, field: str, n: int) -> list[str]:
    pos = obj.hidden.get("pos:" + field)
    if pos is None or len(pos) != n:
        pos = [str(i) for i in range(n)]
    return pos


def prop_collection_get(svc: ConfigService, q: dict) -> dict:
    uuid, fields = q.get("uuid"), q.get("fields")
    if not uuid or not fields:
        raise BadRequest("Bad Request, uuid and fields must be given")
    obj = svc.graph.get(uuid)
    if obj is None:
        raise NotFound(f"Object Not Found: {uuid}")
    want_pos = q.get("position")
    out: dict[str, Any] = {}
    for field in str(fields).split(","):
        f, wrapper = _collection(svc, obj, field)
        items = (obj.props.get(field) or {}).get(wrapper) or []
        if f.collection == "map":
            pairs = sorted(([e, e.get(f.key)] for e in items), key=lambda p: str(p[1]))
        else:
            pairs = [[e, p] for e, p in zip(items, _positions(obj, field, len(items)))]
        if want_pos is not None:
            pairs = [p for p in pairs if str(p[1]) == str(want_pos)]
        out[field] = pairs
    return out


def prop_collection_update(svc: ConfigService, body: Any) -> int:
    b = _body(body)
    uuid, updates = b.get("uuid"), b.get("updates")
    if not uuid or not isinstance(updates, list):
        raise BadRequest("Bad Request, uuid and updates must be given")
    obj = svc.graph.get(uuid)
    if obj is None:
        raise NotFound(f"Object Not Found: {uuid}")
    rt = svc.schema.resources[obj.type]
    txn = Txn(svc.graph)
    edited = txn.edit(uuid)
    for i, up in enumerate(updates):
        if not isinstance(up, dict):
            raise BadRequest(f"updates[{i}]: must be an object")
        field, op = up.get("field"), up.get("operation")
        f, wrapper = _collection(svc, edited, field)
        members = svc.schema.complex_types.get(f.type, {})
        elem_validator = svc.validators.field(members[wrapper]) if wrapper in members else None
        items = list((edited.props.get(field) or {}).get(wrapper) or [])
        value, position = up.get("value"), up.get("position")
        if f.collection == "list":
            pos = _positions(edited, field, len(items))
            if op == "add":
                items.append(_elem(elem_validator, [value], field, i)[0])
                pos.append(str(position) if position is not None else svc.new_uuid())
            elif op in ("modify", "delete"):
                if position is None or str(position) not in pos:
                    raise BadRequest(f"updates[{i}]: no element at position {position!r} "
                                     f"in {field}")
                k = pos.index(str(position))
                if op == "modify":
                    items[k] = _elem(elem_validator, [value], field, i)[0]
                else:
                    del items[k]
                    del pos[k]
            else:
                raise BadRequest(f"updates[{i}]: operation {op!r} is not add, modify or "
                                 f"delete for list property {field}")
            edited.hidden["pos:" + field] = pos
        else:
            if op == "set":
                v = _elem(elem_validator, [value], field, i)[0]
                key = (v or {}).get(f.key)
                if key is None:
                    raise BadRequest(f"updates[{i}]: value needs its key '{f.key}'")
                items = [e for e in items if e.get(f.key) != key] + [v]
            elif op == "delete":
                if position is None:
                    raise BadRequest(f"updates[{i}]: delete needs a position (the key)")
                items = [e for e in items if str(e.get(f.key)) != str(position)]
            else:
                raise BadRequest(f"updates[{i}]: operation {op!r} is not set or delete for "
                                 f"map property {field}")
        if items:
            edited.props[field] = {wrapper: items}
        else:
            edited.props.pop(field, None)
            edited.hidden.pop("pos:" + field, None)
    del rt
    svc.touch(edited)
    return svc.commit(txn)


def _elem(validator, values: list, field: str, i: int) -> list:
    if validator is None:
        return values
    try:
        return validator(values, field)
    except Exception as exc:  # SchemaError
        raise BadRequest(f"updates[{i}]: {exc}") from None


# --- useragent-kv ------------------------------------------------------------------------

def useragent_kv(svc: ConfigService, body: Any) -> tuple[dict | None, int | None]:
    b = _body(body)
    op = b.get("operation")
    if "operation" not in b or "key" not in b:
        raise BadRequest("Bad Request, operation and key must be given")
    key = b.get("key")
    kv = svc.graph.kv
    if op == "STORE":
        if not isinstance(key, str):
            raise BadRequest("Bad Request, key must be a string for STORE")
        txn = Txn(svc.graph)
        txn.kv_put("useragent", key, orjson.dumps(b.get("value")))
        return None, svc.commit(txn)
    if op == "RETRIEVE":
        if key is None:
            return {"value": [{"key": k, "value": orjson.loads(v)}
                              for (ns, k), v in sorted(kv.items()) if ns == "useragent"]}, None
        if isinstance(key, list):
            return {"value": [orjson.loads(kv[("useragent", k)]) for k in key
                              if ("useragent", k) in kv]}, None
        if ("useragent", key) not in kv:
            raise NotFound(f"Unknown User-Agent key {key}")
        return {"value": orjson.loads(kv[("useragent", key)])}, None
    if op == "DELETE":
        txn = Txn(svc.graph)
        txn.kv_put("useragent", str(key), None)
        return None, svc.commit(txn)
    raise NotFound(f"Invalid Operation {op}")


# --- perms -------------------------------------------------------------------------------

def chown(svc: ConfigService, body: Any) -> tuple[dict, int]:
    b = _body(body)
    obj = svc.graph.get(b.get("uuid") or "")
    if obj is None:
        raise NotFound(f"UUID {b.get('uuid')} not found")
    owner = b.get("owner")
    if not isinstance(owner, str) or not owner:
        raise BadRequest("Bad Request, owner must be given")
    txn = Txn(svc.graph)
    e = txn.edit(obj.uuid)
    e.props["perms2"]["owner"] = owner.replace("-", "")
    svc.touch(e)
    return {}, svc.commit(txn)


def chmod(svc: ConfigService, body: Any) -> tuple[dict, int]:
    b = _body(body)
    obj = svc.graph.get(b.get("uuid") or "")
    if obj is None:
        raise NotFound(f"UUID {b.get('uuid')} not found")
    txn = Txn(svc.graph)
    e = txn.edit(obj.uuid)
    p = e.props["perms2"]
    if b.get("owner"):
        p["owner"] = str(b["owner"]).replace("-", "")
    for key in ("owner_access", "global_access"):
        if b.get(key) is not None:
            v = b[key]
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 7:
                raise BadRequest(f"{key}: {v!r} must be an integer 0..7")
            p[key] = v
    if b.get("share") is not None:
        share = b["share"]
        if not isinstance(share, list) or not all(
                isinstance(s, dict) and "tenant" in s and "tenant_access" in s for s in share):
            raise BadRequest("share: must be a list of {tenant, tenant_access}")
        p["share"] = share
    svc.touch(e)
    return {}, svc.commit(txn)


# --- virtual-network IP helpers -------------------------------------------------------------

def _vn(svc: ConfigService, uuid: str):
    vn = svc.graph.get(uuid)
    if vn is None or vn.type != "virtual-network":
        raise NotFound(f"Virtual Network {uuid} not found!")
    return vn


def ip_alloc(svc: ConfigService, uuid: str, body: Any) -> tuple[dict, int]:
    b = _body(body) if body is not None else {}
    vn = _vn(svc, uuid)
    count = b.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise BadRequest(f"count: {count!r} must be a positive integer")
    txn = Txn(svc.graph)
    candidates = [c for c in vn_subnets(txn, vn) if c[0] == vn.uuid]
    got = allocate_in(txn, candidates, family=b.get("family"), subnet_uuid=b.get("subnet"),
                      count=count)
    if not got:
        raise Conflict(f"Virtual-Network({vn.fq_name!r}) has no {count} free addresses")
    e = txn.edit(vn.uuid)
    e.hidden["reserved_ips"] = list(e.hidden.get("reserved_ips", [])) + [a for _, _, a in got]
    return {"ip_addr": [a for _, _, a in got]}, svc.commit(txn)


def ip_free(svc: ConfigService, uuid: str, body: Any) -> int:
    b = _body(body)
    vn = _vn(svc, uuid)
    addrs = b.get("ip_addr")
    if not isinstance(addrs, list):
        raise BadRequest("ip_addr: must be a list of addresses")
    txn = Txn(svc.graph)
    e = txn.edit(vn.uuid)
    drop = set(addrs)
    e.hidden["reserved_ips"] = [a for a in e.hidden.get("reserved_ips", []) if a not in drop]
    return svc.commit(txn)


def subnet_ip_count(svc: ConfigService, uuid: str, body: Any) -> dict:
    b = _body(body)
    vn = _vn(svc, uuid)
    wanted = b.get("subnet_list")
    if not isinstance(wanted, list):
        raise BadRequest("subnet_list: must be a list of subnet uuids")
    subnets = {sn.get("subnet_uuid"): sn for _, sn in vn_subnets(Txn(svc.graph), vn)}
    ix = usage(Txn(svc.graph))
    counts = []
    for s in wanted:
        sn = subnets.get(s)
        if sn is None:
            counts.append(0)
            continue
        net = ipam.network_of(sn)
        counts.append(ipam.subnet_count(sn, set(ix.used_set(vn.uuid, net.version))))
    return {"ip_count_list": counts}


# --- set-tag -----------------------------------------------------------------------------

MULTI_VALUE_TAG_TYPES = frozenset({"label", "neutron_fwaas", "neutron_tag"})


def set_tag(svc: ConfigService, body: Any) -> tuple[dict, int]:
    """Attach/detach tags by type: {"obj_type", "obj_uuid", "<tag type>": spec|null}."""
    b = _body(body)
    obj_type = _type(svc, b.get("obj_type"), "obj_type")
    obj = svc.graph.get(b.get("obj_uuid") or "")
    if obj is None or obj.type != obj_type:
        raise NotFound(f"{obj_type} {b.get('obj_uuid')} not found")
    txn = Txn(svc.graph)
    edited = txn.edit(obj.uuid)
    links = list(edited.refs.get("tag", []))
    project_fq = obj.fq_name[:2] if obj.type not in ("project", "domain") else obj.fq_name
    for ttype, spec in b.items():
        if ttype in ("obj_type", "obj_uuid"):
            continue
        ttype = ttype.lower()
        current = [lk for lk in links if (t := svc.graph.get(lk[0])) is not None
                   and t.props.get("tag_type_name") == ttype]
        if spec is None:
            links = [lk for lk in links if lk not in current]
            continue
        if not isinstance(spec, dict):
            raise BadRequest(f"{ttype}: must be an object or null")
        is_global = bool(spec.get("is_global"))

        def find(value: str) -> str:
            name = f"{ttype}={value}"
            fq = [name] if is_global else project_fq + [name]
            tag = svc.graph.lookup("tag", fq)
            if tag is None:
                raise NotFound(f"Tag with FQName {fq!r} not found")
            return tag.uuid
        add = ([spec["value"]] if spec.get("value") is not None else []) + \
            list(spec.get("add_values") or [])
        drop = {find(v) for v in spec.get("delete_values") or []}
        add_uuids = [find(v) for v in add]
        if ttype not in MULTI_VALUE_TAG_TYPES:
            if len(add_uuids) > 1:
                raise BadRequest(f"{ttype}: only one value can be set for this tag type")
            if add_uuids:
                drop |= {lk[0] for lk in current}
        links = [lk for lk in links if lk[0] not in drop or lk[0] in add_uuids]
        for u in add_uuids:
            if all(lk[0] != u for lk in links):
                links.append([u, None])
    if links:
        edited.refs["tag"] = links
    else:
        edited.refs.pop("tag", None)
    svc.touch(edited)
    return {}, svc.commit(txn)
