"""global-system-config: a singleton."""

from __future__ import annotations

from filament.config.errors import BadRequest
from filament.config.rules import TypeRule, rule_for


@rule_for("global-system-config")
class GlobalSystemConfigRule(TypeRule):
    def check_create(self, ctx, rt, data, props, refs) -> None:
        if ctx.graph.by_type.get("global-system-config"):
            raise BadRequest("global-system-config: there can be only one "
                             "(default-global-system-config)")
