"""network-policy: rule checks and rule uuids."""

from __future__ import annotations

from filament.config.rules import TypeRule, rule_for
from filament.config.rules._policy_rules import check_rules


@rule_for("network-policy")
class NetworkPolicyRule(TypeRule):
    def on_create(self, ctx, obj) -> None:
        check_rules(ctx, "network_policy_entries", obj.props.get("network_policy_entries"),
                    security_group=False)

    def on_update(self, ctx, old, new, data) -> None:
        if "network_policy_entries" in data:
            check_rules(ctx, "network_policy_entries", new.props.get("network_policy_entries"),
                        security_group=False)
