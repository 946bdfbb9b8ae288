"""floating-ip and alias-ip: addresses from the pool's network."""

from __future__ import annotations

from filament.config.errors import BadRequest
from filament.config.rules import TypeRule, rule_for
from filament.config.rules._addresses import allocate_in, reserve_given, vn_subnets
from filament.config.rules.instance_ip import exhausted


class _PoolAddressRule(TypeRule):
    addr_field = ""
    family_field = ""
    pool_type = ""

    def on_create(self, ctx, obj) -> None:
        if obj.parent_type != self.pool_type:
            return
        pool = ctx.txn.get(obj.parent_uuid)
        vn = ctx.txn.get(pool.parent_uuid)
        candidates = vn_subnets(ctx.txn, vn)
        wanted = (pool.props.get("floating_ip_pool_subnets") or {}).get("subnet_uuid")
        if wanted:
            candidates = [c for c in candidates if c[1].get("subnet_uuid") in wanted]
        addr = obj.props.get(self.addr_field)
        if addr:
            owner, _ = reserve_given(ctx.txn, candidates, addr)
        else:
            got = allocate_in(ctx.txn, candidates, family=obj.props.get(self.family_field))
            if not got:
                raise exhausted(vn, candidates)
            owner, _, addr = got[0]
            obj.props[self.addr_field] = addr
        obj.hidden["ip_owner"] = owner
        obj.hidden["ip"] = addr
        if not obj.refs.get("project"):
            project = ctx.txn.lookup("project", obj.fq_name[:2])
            if project is not None:
                obj.refs["project"] = [[project.uuid, None]]

    def on_update(self, ctx, old, new, data) -> None:
        if new.props.get(self.addr_field) != old.props.get(self.addr_field):
            raise BadRequest(f"{self.addr_field} can not be changed")


@rule_for("floating-ip")
class FloatingIpRule(_PoolAddressRule):
    addr_field = "floating_ip_address"
    family_field = "floating_ip_address_family"
    pool_type = "floating-ip-pool"


@rule_for("alias-ip")
class AliasIpRule(_PoolAddressRule):
    addr_field = "alias_ip_address"
    family_field = "alias_ip_address_family"
    pool_type = "alias-ip-pool"
