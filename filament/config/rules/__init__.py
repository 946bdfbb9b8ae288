"""Per-type rules of the config API: one module per resource type (STYLE: a type's
rules live in that type's module). Each module registers a `TypeRule` subclass
with `@rule_for("<type>")`."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filament.config.graph import Index, Obj
    from filament.config.service import ConfigService, Ctx
    from filament.schema import ResourceType

_REGISTRY: dict[str, type[TypeRule]] = {}


def rule_for(type_name: str):
    def deco(cls: type[TypeRule]) -> type[TypeRule]:
        cls.type_name = type_name
        _REGISTRY[type_name] = cls
        return cls
    return deco


class TypeRule:
    """Hooks a type can override; each runs inside the write's transaction."""

    type_name = ""

    def indexes(self) -> list[Index]:
        """Derived indexes this type keeps in the graph (e.g. used ids)."""
        return []

    def rewrite_create(self, data: dict) -> dict:
        """Adjust a client's create body before anything else (e.g. forced names)."""
        return data

    def check_create(self, ctx: Ctx, rt: ResourceType, data: dict, props: dict,
                     refs: dict) -> None:
        """Refuse a client create before the object exists (client-only checks)."""

    def on_create(self, ctx: Ctx, obj: Obj) -> None:
        """Fill server fields, allocate, create default children (client and system creates)."""

    def on_update(self, ctx: Ctx, old: Obj, new: Obj, data: dict[str, Any]) -> None:
        """Check and complete an update (`new` is the edited copy)."""

    def check_delete(self, ctx: Ctx, obj: Obj) -> None:
        """Refuse a client delete."""

    def on_delete(self, ctx: Ctx, obj: Obj) -> None:
        """Clean up what the object owns (beyond its derived children)."""

    def referrer_allowed(self, service: ConfigService, referrer: Obj, obj: Obj) -> bool:
        """True if `referrer`'s link to `obj` does not block deleting `obj`."""
        return False


def load_rules() -> dict[str, TypeRule]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return {name: cls() for name, cls in _REGISTRY.items()}
