"""virtual-network: network ids, VXLAN ids, route-target checks, subnets, default RI."""

from __future__ import annotations

import re
from typing import Any

from filament.config import ipam
from filament.config.errors import BadRequest, Conflict, Forbidden
from filament.config.graph import Index, Obj
from filament.config.idpool import IdPool
from filament.config.rules import TypeRule, rule_for
from filament.config.rules._addresses import usage

_RT_RE = re.compile(r"^target:(\d+|\d+\.\d+\.\d+\.\d+):(\d+)$")
RT_LISTS = ("route_target_list", "import_route_target_list", "export_route_target_list")


class NetworkIds(Index):
    """virtual_network_network_id and configured VXLAN ids share one pool (1..2^24-1)."""

    name = "vn_ids"

    def reset(self) -> None:
        self.pool = IdPool(1, (1 << 24) - 1)

    @staticmethod
    def _ids(obj: Obj) -> list[int]:
        if obj.type != "virtual-network":
            return []
        out = []
        nid = obj.props.get("virtual_network_network_id")
        if nid is not None:
            out.append(nid)
        vx = (obj.props.get("virtual_network_properties") or {}).get("vxlan_network_identifier")
        if vx is not None and vx != nid:
            out.append(vx)
        return out

    def add(self, obj: Obj) -> None:
        for n in self._ids(obj):
            self.pool.add(n)

    def remove(self, obj: Obj) -> None:
        for n in self._ids(obj):
            self.pool.remove(n)


def global_asn(ctx) -> int:
    gsc = ctx.txn.lookup("global-system-config", ["default-global-system-config"])
    return (gsc.props.get("autonomous_system") if gsc else None) or 64512


def check_route_targets(ctx, props: dict[str, Any]) -> None:
    asn = global_asn(ctx)
    for field in RT_LISTS:
        for rt in (props.get(field) or {}).get("route_target") or []:
            m = _RT_RE.match(rt or "")
            if not m:
                raise BadRequest(f"{field}: Route target must be of the format "
                                 f"'target:<asn>:<number>' or 'target:<ip>:<number>' ({rt!r})")
            if m.group(1) == str(asn) and 8000000 <= int(m.group(2)) <= 16777216:
                raise BadRequest(f"{field}: Configured route target must use ASN that is "
                                 f"different from global ASN or route target value must be "
                                 f"less than 8000000 and greater than 16777216 ({rt})")


def sync_shared(obj: Obj) -> None:
    perms2 = obj.props["perms2"]
    if obj.props.get("is_shared"):
        perms2["global_access"] = 7
    elif "is_shared" in obj.props and perms2.get("global_access") == 7:
        perms2["global_access"] = 0


def fill_subnets(ctx, vn: Obj, old: Obj | None = None) -> None:
    """Fill gateway/DNS/subnet_uuid on every user-defined subnet (a subnet re-sent on
    update keeps what it had); rewrite links to flat-subnet IPAMs; refuse overlaps."""
    previous = {_prefix_key(s): s for s in subnet_map(old).values()} if old else {}
    routed = vn.props.get("virtual_network_category") == "routed"
    nets = []
    for link in vn.refs.get("network-ipam", []):
        ipam_obj = ctx.txn.get(link[0])
        attr = link[1] or {}
        subnets = attr.get("ipam_subnets") or []
        flat = ipam_obj is not None and ipam_obj.props.get("ipam_subnet_method") == "flat-subnet"
        if flat:
            fwd = (vn.props.get("virtual_network_properties") or {}).get("forwarding_mode")
            if fwd != "l3":
                raise BadRequest("flat-subnet is allowed only with l3 network")
            if any((s.get("subnet") or {}).get("ip_prefix") for s in subnets):
                raise BadRequest("network_ipam_refs: a link to a flat-subnet IPAM may not "
                                 "carry a subnet prefix")
            keep = [s.get("subnet_uuid") for s in subnets if s.get("subnet_uuid")]
            link[1] = dict(attr, ipam_subnets=[{"subnet_uuid": keep[0] if keep
                                                else ctx.new_uuid()}])
            continue
        reserve = not routed and not (ipam_obj and ipam_obj.props.get("ipam_subnetting"))
        filled = []
        for i, sn in enumerate(subnets):
            try:
                prev = previous.get(_prefix_key(sn)) if sn.get("subnet") else None
                if prev is not None:
                    sn = dict(sn)
                    for key in ("subnet_uuid", "default_gateway", "dns_server_address"):
                        if sn.get(key) in (None, ""):
                            sn[key] = prev.get(key)
                out = ipam.fill_subnet(sn, ctx.new_uuid, reserve=reserve)
                net = ipam.network_of(out)
            except ipam.IpamError as exc:
                raise _ipam_error(exc, f"network_ipam_refs.attr.ipam_subnets[{i}]") from None
            if net is not None:
                nets.append(net)
            filled.append(out)
        if subnets:
            link[1] = dict(attr, ipam_subnets=filled)
    try:
        ipam.check_overlap(nets)
    except ipam.IpamError as exc:
        raise _ipam_error(exc, None) from None


def _prefix_key(sn: dict) -> tuple | None:
    try:
        net = ipam.network_of(sn)
    except ipam.IpamError:
        return None
    return (str(net.network_address), net.prefixlen) if net else None


def _ipam_error(exc: ipam.IpamError, where: str | None):
    msg = f"{where}: {exc.message}" if where else exc.message
    return Conflict(msg) if exc.status == 409 else BadRequest(msg)


def subnet_map(vn: Obj) -> dict[str, dict]:
    out = {}
    for _, attr in vn.refs.get("network-ipam", []):
        for sn in (attr or {}).get("ipam_subnets") or []:
            if sn.get("subnet_uuid") and (sn.get("subnet") or {}).get("ip_prefix") is not None:
                out[sn["subnet_uuid"]] = sn
    return out


@rule_for("virtual-network")
class VirtualNetworkRule(TypeRule):
    def indexes(self) -> list[Index]:
        return [NetworkIds()]

    def _pool(self, ctx) -> IdPool:
        return ctx.graph.named["vn_ids"].pool

    def check_create(self, ctx, rt, data, props, refs) -> None:
        if "virtual_network_network_id" in props:
            raise Forbidden("Cannot set the virtual network ID")
        if props.get("is_provider_network"):
            raise BadRequest("is_provider_network: only the ip-fabric network can be a "
                             "provider network")

    def _check_vxlan(self, ctx, obj: Obj, old: Obj | None) -> None:
        vx = (obj.props.get("virtual_network_properties") or {}).get("vxlan_network_identifier")
        old_vx = (old.props.get("virtual_network_properties") or {}).get(
            "vxlan_network_identifier") if old else None
        if vx is None or vx == old_vx:
            return
        taken = vx in self._pool(ctx).used or any(
            o.type == "virtual-network" and o.uuid != obj.uuid and vx in NetworkIds._ids(o)
            for o in ctx.txn.puts.values())
        if taken:
            raise BadRequest(f"Cannot set VXLAN_ID: {vx}, it has already been set")

    def on_create(self, ctx, obj: Obj) -> None:
        check_route_targets(ctx, obj.props)
        self._check_vxlan(ctx, obj, None)
        if obj.props.get("virtual_network_network_id") is None:
            taken = {o.props.get("virtual_network_network_id") for o in ctx.txn.puts.values()
                     if o.type == "virtual-network"}
            vx = (obj.props.get("virtual_network_properties") or {}).get(
                "vxlan_network_identifier")
            if vx is not None:
                taken.add(vx)
            nid = self._pool(ctx).lowest_free(taken - {None})
            if nid is None:
                raise Conflict("No virtual network id is free")
            obj.props["virtual_network_network_id"] = nid
        sync_shared(obj)
        fill_subnets(ctx, obj)
        ri_props = {"routing_instance_is_default": True,
                    "routing_instance_fabric_snat": bool(obj.props.get("fabric_snat", False))}
        ctx.create_child("routing-instance", obj, obj.name, ri_props)

    def on_update(self, ctx, old: Obj, new: Obj, data: dict[str, Any]) -> None:
        if new.props.get("virtual_network_network_id") != \
                old.props.get("virtual_network_network_id"):
            raise Forbidden("Cannot update the virtual network ID")
        if bool(new.props.get("is_provider_network")) != bool(
                old.props.get("is_provider_network")):
            raise BadRequest("is_provider_network cannot be changed")
        check_route_targets(ctx, new.props)
        self._check_vxlan(ctx, new, old)
        if "is_shared" in data:
            sync_shared(new)
        elif "perms2" in data:
            ga = new.props["perms2"].get("global_access")
            if ga == 7 and new.props.get("is_shared") is False:
                new.props["is_shared"] = True
        if "network_ipam_refs" in data:
            fill_subnets(ctx, new, old)
            self._check_subnet_changes(ctx, old, new)
        if "fabric_snat" in data:
            for child in ctx.txn.children_of(new.uuid):
                if child.type == "routing-instance" and \
                        child.props.get("routing_instance_is_default"):
                    ri = ctx.txn.edit(child.uuid)
                    ri.props["routing_instance_fabric_snat"] = bool(
                        new.props.get("fabric_snat", False))

    def _check_subnet_changes(self, ctx, old: Obj, new: Obj) -> None:
        before, after = subnet_map(old), subnet_map(new)
        ix = usage(ctx.txn)
        for suuid, sn in before.items():
            now = after.get(suuid)
            net = ipam.network_of(sn)
            if now is None:
                used = ix.used_set(old.uuid, net.version)
                lo, hi = int(net.network_address), int(net.broadcast_address)
                if any(lo <= a <= hi for a in used):
                    raise Conflict(f"Cannot delete subnet {net}: addresses in use")
            elif now.get("default_gateway") != sn.get("default_gateway"):
                raise BadRequest(f"default_gateway of subnet {net} cannot be changed")
