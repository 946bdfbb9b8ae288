"""The VNC resource schema, loaded from data (`vnc.yaml`, format in docs/design/schema.md).

`load_schema()` returns a `Schema` whose `ResourceType`s carry parents, properties,
references and the derived children/back-references; `filament.schema.validate`
compiles a validator per field from it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SCHEMA_FILE = Path(__file__).with_name("vnc.yaml")
SCALARS = frozenset({"string", "integer", "boolean", "number", "any", "datetime"})
# Properties every type has; the server maintains id_perms/perms2 itself.
COMMON_PROPS = ("id_perms", "perms2", "annotations", "display_name")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    is_list: bool = False
    enum: tuple | None = None
    min: int | None = None
    max: int | None = None
    format: str | None = None
    required: bool = False
    system: bool = False
    collection: str | None = None      # "list" | "map" for element-wise properties
    key: str | None = None             # map key member

    @property
    def complex(self) -> bool:
        return self.type not in SCALARS


@dataclass(frozen=True, slots=True)
class RefSpec:
    target: str                        # resource type referred to
    attr: str | None                   # complex type of the link attribute
    derived: bool = False

    @property
    def field_name(self) -> str:
        return self.target.replace("-", "_") + "_refs"


@dataclass(slots=True)
class ResourceType:
    name: str
    parents: tuple[str, ...]
    properties: dict[str, Field]
    refs: dict[str, RefSpec]
    derived_children: frozenset[str] = frozenset()
    children: dict[str, str] = field(default_factory=dict)     # child type -> field name
    back_refs: dict[str, str] = field(default_factory=dict)    # referrer type -> field name
    ref_fields: dict[str, str] = field(default_factory=dict)   # "x_refs" -> target type

    @property
    def object_type(self) -> str:
        return self.name.replace("-", "_")

    @property
    def plural(self) -> str:
        return self.name + "s"

    @property
    def top_level(self) -> bool:
        return not self.parents or self.parents == ("config-root",)

    @property
    def child_field(self) -> str:
        return self.object_type + "s"

    @property
    def back_ref_field(self) -> str:
        return self.object_type + "_back_refs"


@dataclass(slots=True)
class Schema:
    resources: dict[str, ResourceType]
    complex_types: dict[str, dict[str, Field]]
    by_object_type: dict[str, str] = field(default_factory=dict)

    def resource(self, name: str) -> ResourceType | None:
        """Look a type up by its hyphenated or underscored name."""
        rt = self.resources.get(name)
        if rt is None:
            alt = self.by_object_type.get(name)
            rt = self.resources.get(alt) if alt else None
        return rt


def _field(name: str, spec: dict[str, Any]) -> Field:
    enum = spec.get("enum")
    return Field(
        name=name,
        type=spec.get("type", "any"),
        is_list=bool(spec.get("list", False)),
        enum=tuple(enum) if enum is not None else None,
        min=spec.get("min"),
        max=spec.get("max"),
        format=spec.get("format"),
        required=bool(spec.get("required", False)),
        system=bool(spec.get("system", False)),
        collection=spec.get("collection"),
        key=spec.get("key"),
    )


def parse_schema(doc: dict[str, Any]) -> Schema:
    complex_types = {
        tname: {m: _field(m, spec or {}) for m, spec in (members or {}).items()}
        for tname, members in (doc.get("complex_types") or {}).items()
    }
    resources: dict[str, ResourceType] = {}
    for rname, spec in (doc.get("resources") or {}).items():
        spec = spec or {}
        props = {p: _field(p, ps or {}) for p, ps in (spec.get("properties") or {}).items()}
        refs = {}
        for target, rs in (spec.get("references") or {}).items():
            rs = rs or {}
            refs[target] = RefSpec(target=target, attr=rs.get("attr"),
                                   derived=bool(rs.get("derived", False)))
        parents = tuple(p for p in (spec.get("parents") or []) if p != "config-root") or ()
        if spec.get("parents") and "config-root" in spec["parents"] and parents:
            parents = parents + ("config-root",)
        resources[rname] = ResourceType(
            name=rname,
            parents=parents,
            properties=props,
            refs=refs,
            derived_children=frozenset(spec.get("derived_children") or ()),
        )
    for rt in resources.values():
        rt.ref_fields = {r.field_name: r.target for r in rt.refs.values()}
        for parent in rt.parents:
            if parent in resources:
                resources[parent].children[rt.name] = rt.child_field
        for target in rt.refs:
            if target in resources:
                resources[target].back_refs[rt.name] = rt.back_ref_field
    schema = Schema(resources=resources, complex_types=complex_types)
    schema.by_object_type = {rt.object_type: rt.name for rt in resources.values()}
    return schema


@functools.cache
def load_schema(path: str | None = None) -> Schema:
    """Load and index the schema file (cached)."""
    with open(path or SCHEMA_FILE, "rb") as f:
        doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return parse_schema(doc)
