"""Objects to the original's JSON shapes (read, list, watch)."""

from __future__ import annotations

from typing import Any

from filament.config.graph import Graph, Obj
from filament.schema import Schema


class Renderer:
    def __init__(self, schema: Schema, graph: Graph):
        self.schema = schema
        self.graph = graph

    def summary(self, obj: Obj, base: str | None) -> dict[str, Any]:
        """What create answers: identity keys and hrefs."""
        out: dict[str, Any] = {"name": obj.name, "fq_name": obj.fq_name, "uuid": obj.uuid}
        if base is not None:
            out["href"] = f"{base}/{obj.type}/{obj.uuid}"
        if obj.parent_type:
            out["parent_type"] = obj.parent_type
            out["parent_uuid"] = obj.parent_uuid
            if base is not None:
                out["parent_href"] = f"{base}/{obj.parent_type}/{obj.parent_uuid}"
        return out

    def full(self, obj: Obj, base: str | None, *, fields: set[str] | None = None,
             back_refs: bool = True, children: bool = True, parent_href: bool = True,
             ref_hrefs: bool = True) -> dict[str, Any]:
        """A read: identity, properties, refs, back-refs, children (`fields` narrows)."""
        out: dict[str, Any] = {"uuid": obj.uuid, "name": obj.name, "fq_name": obj.fq_name}
        if obj.parent_type:
            out["parent_type"] = obj.parent_type
            out["parent_uuid"] = obj.parent_uuid
            if base is not None and parent_href:
                out["parent_href"] = f"{base}/{obj.parent_type}/{obj.parent_uuid}"
        if base is not None:
            out["href"] = f"{base}/{obj.type}/{obj.uuid}"
        for k, v in obj.props.items():
            if fields is None or k in fields or k in ("id_perms", "perms2"):
                out[k] = v
        rbase = base if ref_hrefs else None
        get = self.graph.objs.get
        for target_type, links in obj.refs.items():
            fname = target_type.replace("-", "_") + "_refs"
            if fields is not None and fname not in fields:
                continue
            rendered = []
            for link in links:
                t = get(link[0])
                if t is None:
                    continue
                item = {"to": t.fq_name, "attr": link[1], "uuid": t.uuid}
                if rbase is not None:
                    item["href"] = f"{rbase}/{t.type}/{t.uuid}"
                rendered.append(item)
            if rendered:
                out[fname] = rendered
        rt = self.schema.resources.get(obj.type)
        if back_refs and rt is not None:
            self._back_refs(obj, out, rbase, fields)
        if children and rt is not None:
            self._children(obj, out, rbase, fields)
        return out

    def _back_refs(self, obj: Obj, out: dict, base: str | None, fields: set[str] | None) -> None:
        referrers = self.graph.back_refs.get(obj.uuid)
        if not referrers:
            return
        get = self.graph.objs.get
        for ruuid in referrers:
            r = get(ruuid)
            if r is None:
                continue
            fname = r.type.replace("-", "_") + "_back_refs"
            if fields is not None and fname not in fields:
                continue
            for link in r.refs.get(obj.type, ()):
                if link[0] == obj.uuid:
                    item = {"to": r.fq_name, "attr": link[1], "uuid": r.uuid}
                    if base is not None:
                        item["href"] = f"{base}/{r.type}/{r.uuid}"
                    out.setdefault(fname, []).append(item)
                    break

    def _children(self, obj: Obj, out: dict, base: str | None, fields: set[str] | None) -> None:
        kids = self.graph.children.get(obj.uuid)
        if not kids:
            return
        get = self.graph.objs.get
        for cuuid in kids:
            c = get(cuuid)
            if c is None:
                continue
            fname = c.type.replace("-", "_") + "s"
            if fields is not None and fname not in fields:
                continue
            item = {"to": c.fq_name, "uuid": c.uuid}
            if base is not None:
                item["href"] = f"{base}/{c.type}/{c.uuid}"
            out.setdefault(fname, []).append(item)

    def watch_object(self, obj: Obj) -> dict[str, Any]:
        """The object as watchers see it: identity, props, refs; no hrefs."""
        return self.full(obj, None, back_refs=False, children=False)
