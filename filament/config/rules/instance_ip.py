"""instance-ip: address allocation from the network's subnets (or a flat IPAM)."""

from __future__ import annotations

from filament.config.errors import BadRequest
from filament.config.graph import Index
from filament.config.rules import TypeRule, rule_for
from filament.config.rules._addresses import (NO_ALLOC_NETWORKS, IpUsage, allocate_in,
                                              reserve_given, vn_subnets)


def exhausted(vn, candidates) -> BadRequest:
    nets = [f"{(sn.get('subnet') or {}).get('ip_prefix')}/"
            f"{(sn.get('subnet') or {}).get('ip_prefix_len')}" for _, sn in candidates]
    return BadRequest(f"Virtual-Network({vn.fq_name!r}) has exhausted subnet({nets!r})")


@rule_for("instance-ip")
class InstanceIpRule(TypeRule):
    def indexes(self) -> list[Index]:
        return [IpUsage()]

    def check_create(self, ctx, rt, data, props, refs) -> None:
        if refs.get("virtual-router") and (refs.get("virtual-network") or
                                           refs.get("network-ipam")):
            raise BadRequest("instance-ip: virtual_router_refs cannot be combined with "
                             "virtual_network_refs or network_ipam_refs")
        if not (refs.get("virtual-network") or refs.get("network-ipam") or
                refs.get("virtual-router")):
            raise BadRequest("instance-ip: needs virtual_network_refs (or network_ipam_refs)")

    def on_create(self, ctx, obj) -> None:
        addr = obj.props.get("instance_ip_address")
        vn_links = obj.refs.get("virtual-network", [])
        if vn_links:
            vn = ctx.txn.get(vn_links[0][0])
            if tuple(vn.fq_name) in NO_ALLOC_NETWORKS:
                return
            candidates = vn_subnets(ctx.txn, vn)
        elif obj.refs.get("network-ipam"):
            if addr:
                raise BadRequest("instance_ip_address: cannot be requested with "
                                 "network_ipam_refs")
            ipam_obj = ctx.txn.get(obj.refs["network-ipam"][0][0])
            vn = ipam_obj
            candidates = [(ipam_obj.uuid, sn) for sn in
                          (ipam_obj.props.get("ipam_subnets") or {}).get("subnets") or []]
        else:
            return
        if addr:
            has_vm = any(
                (v := ctx.txn.get(lk[0])) is not None and v.refs.get("virtual-machine")
                for lk in obj.refs.get("virtual-machine-interface", []))
            owner, sn = reserve_given(ctx.txn, candidates, addr, allow_gateway=not has_vm)
        else:
            got = allocate_in(ctx.txn, candidates, family=obj.props.get("instance_ip_family"),
                              subnet_uuid=obj.props.get("subnet_uuid"))
            if not got:
                if obj.props.get("subnet_uuid"):
                    raise BadRequest(f"subnet_uuid: subnet {obj.props['subnet_uuid']} not "
                                     f"found or exhausted in {vn.fq_name!r}")
                raise exhausted(vn, candidates)
            owner, sn, addr = got[0]
            obj.props["instance_ip_address"] = addr
        if vn_links:
            obj.props["subnet_uuid"] = sn.get("subnet_uuid")
        obj.hidden["ip_owner"] = owner
        obj.hidden["ip"] = addr

    def on_update(self, ctx, old, new, data) -> None:
        if new.props.get("instance_ip_address") != old.props.get("instance_ip_address"):
            raise BadRequest("Instance IP Address can not be changed")
