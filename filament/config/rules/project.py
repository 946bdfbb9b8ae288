"""project: its default application-policy-set."""

from __future__ import annotations

from filament.config.rules import TypeRule, rule_for


@rule_for("project")
class ProjectRule(TypeRule):
    def on_create(self, ctx, obj) -> None:
        if ctx.schema.resources.get("application-policy-set") is None:
            return
        aps = ctx.create_child("application-policy-set", obj, "default-application-policy-set",
                               {"all_applications": True})
        obj.refs.setdefault("application-policy-set", []).append([aps.uuid, None])
