"""security-group: security_group_id (8000000 + index) and rule checks."""

from __future__ import annotations

from filament.config.errors import Conflict, Forbidden
from filament.config.graph import Index, Obj
from filament.config.idpool import IdPool
from filament.config.rules import TypeRule, rule_for
from filament.config.rules._policy_rules import check_rules

SG_ID_BASE = 8000000


class SecurityGroupIds(Index):
    name = "sg_ids"

    def reset(self) -> None:
        self.pool = IdPool(1, (1 << 31) - SG_ID_BASE)

    @staticmethod
    def _index(obj: Obj) -> int | None:
        if obj.type != "security-group" or obj.props.get("configured_security_group_id"):
            return None
        sid = obj.props.get("security_group_id")
        return sid - SG_ID_BASE if isinstance(sid, int) and sid > SG_ID_BASE else None

    def add(self, obj: Obj) -> None:
        n = self._index(obj)
        if n is not None:
            self.pool.add(n)

    def remove(self, obj: Obj) -> None:
        n = self._index(obj)
        if n is not None:
            self.pool.remove(n)


@rule_for("security-group")
class SecurityGroupRule(TypeRule):
    def indexes(self) -> list[Index]:
        return [SecurityGroupIds()]

    def check_create(self, ctx, rt, data, props, refs) -> None:
        if "security_group_id" in props:
            raise Forbidden("Cannot set the security group ID")

    def on_create(self, ctx, obj) -> None:
        check_rules(ctx, "security_group_entries", obj.props.get("security_group_entries"),
                    security_group=True)
        configured = obj.props.get("configured_security_group_id")
        if configured:
            obj.props["security_group_id"] = configured
            return
        if obj.props.get("security_group_id") is not None:
            return
        taken = {o.props.get("security_group_id", 0) - SG_ID_BASE
                 for o in ctx.txn.puts.values()
                 if o.type == "security-group" and o.props.get("security_group_id")}
        n = ctx.graph.named["sg_ids"].pool.lowest_free(taken)
        if n is None:
            raise Conflict("No security group id is free")
        obj.props["security_group_id"] = SG_ID_BASE + n

    def on_update(self, ctx, old, new, data) -> None:
        if "security_group_id" in data and \
                new.props.get("security_group_id") != old.props.get("security_group_id"):
            raise Forbidden("Cannot set the security group ID")
        if "security_group_entries" in data:
            check_rules(ctx, "security_group_entries", new.props.get("security_group_entries"),
                        security_group=True)
        if "configured_security_group_id" in data:
            configured = new.props.get("configured_security_group_id")
            if configured:
                new.props["security_group_id"] = configured
            elif old.props.get("configured_security_group_id"):
                new.props.pop("security_group_id", None)
                self.on_create(ctx, new)
