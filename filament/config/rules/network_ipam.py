"""network-ipam: user-defined vs flat subnets."""

from __future__ import annotations

from filament.config import ipam
from filament.config.errors import BadRequest, Conflict
from filament.config.rules import TypeRule, rule_for


def _fill_flat(ctx, obj) -> None:
    subnets = (obj.props.get("ipam_subnets") or {}).get("subnets") or []
    if subnets and obj.props.get("ipam_subnet_method") != "flat-subnet":
        raise BadRequest("ipam_subnets: ipam-subnets are allowed only with flat-subnet")
    filled, nets = [], []
    for i, sn in enumerate(subnets):
        try:
            out = ipam.fill_subnet(sn, None)
        except ipam.IpamError as exc:
            cls = Conflict if exc.status == 409 else BadRequest
            raise cls(f"ipam_subnets.subnets[{i}]: {exc.message}") from None
        net = ipam.network_of(out)
        if net is not None:
            nets.append(net)
        filled.append(out)
    try:
        ipam.check_overlap(nets)
    except ipam.IpamError as exc:
        raise BadRequest(f"ipam_subnets: {exc.message}") from None
    if subnets:
        obj.props["ipam_subnets"] = dict(obj.props["ipam_subnets"], subnets=filled)


@rule_for("network-ipam")
class NetworkIpamRule(TypeRule):
    def on_create(self, ctx, obj) -> None:
        _fill_flat(ctx, obj)

    def on_update(self, ctx, old, new, data) -> None:
        if new.props.get("ipam_subnet_method") != old.props.get("ipam_subnet_method"):
            raise BadRequest("ipam_subnet_method cannot be changed")
        if "ipam_subnets" in data:
            _fill_flat(ctx, new)
