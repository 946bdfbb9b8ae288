"""routing-instance: a network's default instance belongs to the API server."""

from __future__ import annotations

from filament.config.errors import Conflict
from filament.config.rules import TypeRule, rule_for


def _system(obj) -> str:
    return f"Cannot modify system resource Routing Instance {obj.fq_str}({obj.uuid})"


@rule_for("routing-instance")
class RoutingInstanceRule(TypeRule):
    def check_create(self, ctx, rt, data, props, refs) -> None:
        if props.get("routing_instance_is_default"):
            raise Conflict("Cannot create a default routing instance: the API server "
                           "creates it with its virtual network")

    def on_update(self, ctx, old, new, data) -> None:
        if bool(new.props.get("routing_instance_is_default")) != bool(
                old.props.get("routing_instance_is_default")):
            raise Conflict(_system(old))

    def check_delete(self, ctx, obj) -> None:
        if obj.props.get("routing_instance_is_default"):
            raise Conflict(_system(obj))
