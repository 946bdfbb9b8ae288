"""virtual-machine-interface: MAC address, link to the network's default RI, bindings."""

from __future__ import annotations

import re

from filament.config.errors import BadRequest
from filament.config.rules import TypeRule, rule_for

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
RI_LINK_ATTR = {"direction": "both", "vlan_tag": None, "src_mac": None, "dst_mac": None,
                "mpls_label": None, "service_chain_address": None,
                "ipv6_service_chain_address": None, "protocol": None}


def mac_from_uuid(uuid: str) -> str:
    h = uuid.replace("-", "")
    return "02:" + ":".join([h[0:2], h[2:4], h[4:6], h[6:8], h[8:10]])


def _default_ri(ctx, vn_uuid: str):
    for child in ctx.txn.children_of(vn_uuid):
        if child.type == "routing-instance" and child.props.get("routing_instance_is_default"):
            return child
    return None


def _check_macs(obj) -> None:
    macs = (obj.props.get("virtual_machine_interface_mac_addresses") or {}).get(
        "mac_address") or []
    for i, m in enumerate(macs):
        if not isinstance(m, str) or not _MAC_RE.match(m):
            raise BadRequest(f"virtual_machine_interface_mac_addresses.mac_address[{i}]: "
                             f"{m!r} is not a valid MAC address")
    if macs:
        obj.props["virtual_machine_interface_mac_addresses"]["mac_address"] = [
            m.replace("-", ":").lower() for m in macs]


def _check_props(obj) -> None:
    tag = (obj.props.get("virtual_machine_interface_properties") or {}).get(
        "sub_interface_vlan_tag")
    if tag is not None and not 0 <= tag <= 4094:
        raise BadRequest("virtual_machine_interface_properties.sub_interface_vlan_tag: "
                         f"{tag} is out of range [0, 4094]")


def _link_ri(ctx, obj) -> None:
    vns = obj.refs.get("virtual-network", [])
    links = [lk for lk in obj.refs.get("routing-instance", [])]
    if vns:
        ri = _default_ri(ctx, vns[0][0])
        if ri is not None and all(lk[0] != ri.uuid for lk in links):
            links.append([ri.uuid, dict(RI_LINK_ATTR)])
    if links:
        obj.refs["routing-instance"] = links


def _bindings(obj) -> None:
    b = obj.props.get("virtual_machine_interface_bindings")
    if not b:
        return
    pairs = b.get("key_value_pair") or []
    keys = {p.get("key") for p in pairs}
    if "vnic_type" not in keys:
        pairs.append({"key": "vnic_type", "value": "normal"})
    b["key_value_pair"] = [p for p in pairs if p.get("key") != "vif_type"] \
        if any(p.get("key") == "vnic_type" and p.get("value") == "normal" for p in pairs) \
        else pairs


@rule_for("virtual-machine-interface")
class VirtualMachineInterfaceRule(TypeRule):
    def check_create(self, ctx, rt, data, props, refs) -> None:
        if not refs.get("virtual-network"):
            raise BadRequest("virtual_network_refs: a virtual-machine-interface needs a "
                             "reference to its virtual network")

    def on_create(self, ctx, obj) -> None:
        _check_props(obj)
        macs = (obj.props.get("virtual_machine_interface_mac_addresses") or {}).get(
            "mac_address")
        if not macs:
            obj.props["virtual_machine_interface_mac_addresses"] = {
                "mac_address": [mac_from_uuid(obj.uuid)]}
        _check_macs(obj)
        _bindings(obj)
        _link_ri(ctx, obj)

    def on_update(self, ctx, old, new, data) -> None:
        _check_props(new)
        if "virtual_machine_interface_mac_addresses" in data:
            if not (new.props.get("virtual_machine_interface_mac_addresses") or {}).get(
                    "mac_address"):
                new.props["virtual_machine_interface_mac_addresses"] = \
                    old.props.get("virtual_machine_interface_mac_addresses")
            _check_macs(new)
        if "virtual_machine_interface_bindings" in data:
            _bindings(new)
        if "virtual_network_refs" in data:
            if not new.refs.get("virtual-network"):
                raise BadRequest("virtual_network_refs: a virtual-machine-interface needs a "
                                 "reference to its virtual network")
            _link_ri(ctx, new)
