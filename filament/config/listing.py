"""Collection listing: GET /<type>s and POST /list-bulk-collection."""

from __future__ import annotations

import json
import re
from typing import Any

from filament.config.errors import BadRequest
from filament.config.graph import Obj
from filament.config.service import ConfigService

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _truthy(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return v is not None and "true" in str(v).lower()


def _ids(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        items = v
    else:
        items = str(v).split(",")
    return [i.strip().lower() for i in items if _UUID_RE.match(i.strip().lower())]


def parse_filters(text: str | None) -> dict[str, list[Any]]:
    """`k1=="v1",k1=="v2",k2==3` -> {k1: ["v1", "v2"], k2: [3]} (values JSON-decoded)."""
    out: dict[str, list[Any]] = {}
    if not text:
        return out
    for part in _split_filters(text):
        if "==" not in part:
            raise BadRequest(f"Invalid filter {part}")
        key, raw = part.split("==", 1)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if isinstance(value, (dict, list)):
            raise BadRequest(f"Invalid filter {part}")
        out.setdefault(key.strip(), []).append(value)
    return out


def _split_filters(text: str) -> list[str]:
    """Split on commas outside double quotes."""
    parts, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return [p for p in parts if p]


def list_objects(svc: ConfigService, type_: str, q: dict[str, Any], base: str
                 ) -> dict[str, Any]:
    rt = svc.resource(type_)
    g = svc.graph
    pool: dict[str, Obj] = g.by_type.get(rt.name, {})
    candidates: list[Obj] | None = None

    def narrow(objs: list[Obj]) -> None:
        nonlocal candidates
        if candidates is None:
            candidates = objs
        else:
            keep = {o.uuid for o in objs}
            candidates = [o for o in candidates if o.uuid in keep]

    if "obj_uuids" in q:
        narrow([o for o in (pool.get(u) for u in _ids(q["obj_uuids"])) if o is not None])
    if "fq_names" in q and q["fq_names"]:
        names = q["fq_names"] if isinstance(q["fq_names"], list) else str(q["fq_names"]).split(",")
        found = [g.lookup(rt.name, n.strip()) for n in names if n.strip()]
        narrow([o for o in found if o is not None])
    if "parent_id" in q:
        objs: list[Obj] = []
        for p in _ids(q["parent_id"]):
            objs += [c for c in g.children_of(p) if c.type == rt.name]
        narrow(objs)
    if q.get("parent_fq_name_str"):
        ptypes = [q["parent_type"]] if q.get("parent_type") else list(rt.parents)
        objs = []
        for pt in ptypes:
            parent = g.lookup(pt, str(q["parent_fq_name_str"]))
            if parent is not None:
                objs += [c for c in g.children_of(parent.uuid) if c.type == rt.name]
        narrow(objs)
    if "back_ref_id" in q:
        objs = []
        seen: set[str] = set()
        for target in _ids(q["back_ref_id"]):
            for r in g.referrers_of(target):
                if r.type == rt.name and r.uuid not in seen:
                    seen.add(r.uuid)
                    objs.append(r)
        narrow(objs)
    if candidates is None:
        candidates = sorted(pool.values(), key=lambda o: (o.fq_str, o.uuid))

    filters = parse_filters(q.get("filters"))
    if filters:
        if all(k not in rt.properties for k in filters):
            filters = {}
        candidates = [o for o in candidates if all(
            k in o.props and o.props[k] in vals for k, vals in filters.items())]

    key = rt.plural
    if _truthy(q.get("count")):
        return {key: {"count": len(candidates)}}

    marker = None
    limit = q.get("page_limit")
    if limit not in (None, "", "None"):
        try:
            n = int(limit)
        except (TypeError, ValueError):
            raise BadRequest(f"page_limit: {limit!r} is not a positive integer") from None
        if n <= 0:
            raise BadRequest(f"page_limit: {limit!r} is not a positive integer")
        start = q.get("page_marker")
        if start not in (None, "", "None"):
            idx = next((i for i, o in enumerate(candidates) if o.uuid == start), None)
            candidates = candidates[idx + 1:] if idx is not None else []
        marker = None
        if len(candidates) > n:
            candidates = candidates[:n]
            marker = candidates[-1].uuid
        elif candidates:
            marker = candidates[-1].uuid

    hrefs = "exclude_hrefs" not in q
    fields = q.get("fields")
    field_set = {f.strip() for f in (fields if isinstance(fields, list) else
                                     str(fields).split(",")) if f.strip()} if fields else set()
    href_base = base if hrefs else None
    if _truthy(q.get("detail")):
        items = []
        for o in candidates:
            body = svc.render.full(o, href_base, back_refs=bool(field_set), children=bool(
                field_set), parent_href=False, ref_hrefs=False)
            if field_set:
                body = _keep_relations(body, o, field_set, svc)
            items.append({rt.name: body})
    else:
        items = []
        for o in candidates:
            item: dict[str, Any] = {"uuid": o.uuid, "fq_name": o.fq_name}
            if hrefs:
                item["href"] = f"{base}/{o.type}/{o.uuid}"
            if field_set:
                full = svc.render.full(o, href_base, fields=field_set, parent_href=False)
                for f in field_set:
                    if f in full:
                        item[f] = full[f]
                if o.parent_type:
                    item["parent_type"] = o.parent_type
                    item["parent_uuid"] = o.parent_uuid
            items.append(item)
    out: dict[str, Any] = {key: items}
    if marker is not None or limit not in (None, "", "None"):
        out["marker"] = marker
    return out


def _keep_relations(body: dict, obj: Obj, fields: set[str], svc: ConfigService) -> dict:
    """detail=True with fields: all props and refs, but only the named back-refs/children."""
    rt = svc.schema.resources[obj.type]
    relation_fields = set(rt.children.values()) | set(rt.back_refs.values())
    return {k: v for k, v in body.items() if k not in relation_fields or k in fields}
