"""An OpenAPI 3 document generated from the resource schema."""

from __future__ import annotations

from typing import Any

from filament.schema import Field, Schema

_SCALAR = {"string": {"type": "string"}, "integer": {"type": "integer"},
           "boolean": {"type": "boolean"}, "number": {"type": "number"}, "any": {},
           "datetime": {"type": "string"}}


def _field_schema(f: Field) -> dict[str, Any]:
    if f.complex:
        s: dict[str, Any] = {"$ref": f"#/components/schemas/{f.type}"}
    else:
        s = dict(_SCALAR.get(f.type, {}))
        if f.enum is not None:
            s["enum"] = list(f.enum)
        if f.min is not None:
            s["minimum"] = f.min
        if f.max is not None:
            s["maximum"] = f.max
        if f.format == "ip":
            s["format"] = "ip-address"
    if f.is_list:
        s = {"type": "array", "items": s}
    return s


_REF = {"type": "object", "properties": {
    "to": {"type": "array", "items": {"type": "string"}}, "uuid": {"type": "string"},
    "href": {"type": "string"}}}


_CACHE: dict[int, dict[str, Any]] = {}


def _document(schema: Schema) -> dict[str, Any]:
    comps: dict[str, Any] = {}
    for name, members in schema.complex_types.items():
        comps[name] = {"type": "object", "additionalProperties": False,
                       "properties": {m: _field_schema(f) for m, f in members.items()}}
    paths: dict[str, Any] = {}
    for rt in schema.resources.values():
        props: dict[str, Any] = {
            "uuid": {"type": "string"}, "fq_name": {"type": "array", "items": {"type": "string"}},
            "parent_type": {"type": "string", "enum": list(rt.parents) or ["config-root"]}}
        props.update({p: _field_schema(f) for p, f in rt.properties.items()})
        for ref in rt.refs.values():
            item = dict(_REF)
            if ref.attr:
                item = {"allOf": [_REF, {"type": "object", "properties": {
                    "attr": {"$ref": f"#/components/schemas/{ref.attr}"}}}]}
            props[ref.field_name] = {"type": "array", "items": item}
        comps[f"resource.{rt.name}"] = {"type": "object", "properties": props,
                                        "required": ["fq_name"]}
        envelope = {"type": "object", "properties": {
            rt.name: {"$ref": f"#/components/schemas/resource.{rt.name}"}}}
        body = {"content": {"application/json": {"schema": envelope}}}
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": envelope}}},
              "400": {"description": "invalid field (text body names it)"},
              "404": {"description": "not found"}, "409": {"description": "conflict"}}
        paths[f"/{rt.plural}"] = {
            "get": {"summary": f"List {rt.name}", "responses": {"200": {"description": "OK"}}},
            "post": {"summary": f"Create {rt.name}", "requestBody": body, "responses": ok}}
        uuid_param = [{"name": "uuid", "in": "path", "required": True,
                       "schema": {"type": "string"}}]
        paths[f"/{rt.name}/{{uuid}}"] = {
            "parameters": uuid_param,
            "get": {"summary": f"Read {rt.name}", "responses": ok},
            "put": {"summary": f"Update {rt.name}", "requestBody": body, "responses": ok},
            "delete": {"summary": f"Delete {rt.name}", "responses": {"200": {"description": "OK"}}}}
    return {"openapi": "3.0.3",
            "info": {"title": "Filament config API (VNC compatible)", "version": "1"},
            "paths": paths, "components": {"schemas": comps}}


def openapi_document(schema: Schema) -> dict[str, Any]:
    doc = _CACHE.get(id(schema))
    if doc is None:
        doc = _CACHE[id(schema)] = _document(schema)
    return doc
