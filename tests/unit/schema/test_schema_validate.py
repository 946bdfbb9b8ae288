"""Validators compiled from the schema: table-driven."""

import pytest

from filament.schema import load_schema
from filament.schema.validate import SchemaError, ValidatorFactory

S = load_schema()
F = ValidatorFactory(S)


def prop(type_, name):
    return F.field(S.resources[type_].properties[name])


@pytest.mark.parametrize("type_, name, value, want", [
    ("virtual-network", "is_shared", True, True),
    ("virtual-network", "virtual_network_category", "routed", "routed"),
    ("virtual-network", "mac_aging_time", 300, 300),
    ("virtual-network", "mac_aging_time", "300", 300),
    ("virtual-network", "virtual_network_properties",
     {"forwarding_mode": "l3", "vxlan_network_identifier": 100, "rpf": None},
     {"forwarding_mode": "l3", "vxlan_network_identifier": 100, "rpf": None}),
    ("network-ipam", "ipam_subnets",
     {"subnets": [{"subnet": {"ip_prefix": "10.0.0.9", "ip_prefix_len": 8}}]},
     {"subnets": [{"subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 8}}]}),
    ("global-system-config", "autonomous_system", 4294967295, 4294967295),
])
def test_accepts(type_, name, value, want):
    assert prop(type_, name)(value, name) == want


@pytest.mark.parametrize("type_, name, value, path", [
    ("virtual-network", "is_shared", "yes", "is_shared"),
    ("virtual-network", "is_shared", 1, "is_shared"),
    ("virtual-network", "virtual_network_category", "blue", "virtual_network_category"),
    ("virtual-network", "mac_aging_time", 86401, "mac_aging_time"),
    ("virtual-network", "mac_aging_time", True, "mac_aging_time"),
    ("virtual-network", "virtual_network_properties", {"forwarding_mode": "l4"},
     "virtual_network_properties.forwarding_mode"),
    ("virtual-network", "virtual_network_properties", {"vxlan_network_identifier": 0},
     "virtual_network_properties.vxlan_network_identifier"),
    ("virtual-network", "virtual_network_properties", {"colour": "red"},
     "virtual_network_properties.colour"),
    ("virtual-network", "virtual_network_properties", "l3", "virtual_network_properties"),
    ("network-ipam", "ipam_subnets",
     {"subnets": [{"subnet": {"ip_prefix": "10.0.0.300", "ip_prefix_len": 8}}]},
     "ipam_subnets.subnets[0].subnet"),
    ("network-ipam", "ipam_subnets",
     {"subnets": [{"default_gateway": "not-an-ip"}]},
     "ipam_subnets.subnets[0].default_gateway"),
    ("global-system-config", "autonomous_system", 0, "autonomous_system"),
    ("virtual-network", "route_target_list", {"route_target": "target:1:1"},
     "route_target_list.route_target"),
])
def test_rejects_naming_the_path(type_, name, value, path):
    with pytest.raises(SchemaError) as exc:
        prop(type_, name)(value, name)
    assert exc.value.path == path


def test_derived_relations():
    vn = S.resources["virtual-network"]
    assert vn.children["routing-instance"] == "routing_instances"
    assert "routing-instance" in vn.derived_children
    assert vn.back_refs["virtual-machine-interface"] == "virtual_machine_interface_back_refs"
    assert vn.ref_fields["network_ipam_refs"] == "network-ipam"
    assert vn.refs["network-ipam"].attr == "VnSubnetsType"
    assert S.resource("virtual_network") is vn
