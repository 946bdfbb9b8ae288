"""Checks on the resource schema data file filament/schema/vnc.yaml (not its loader)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "filament" / "schema" / "vnc.yaml"

PRIMITIVES = {"string", "integer", "boolean", "number", "any", "datetime"}
FIELD_KEYS = {"type", "list", "enum", "min", "max", "format", "required", "system",
              "create_only", "exclusive", "default", "collection", "key"}
COMMON_PROPERTIES = {"id_perms", "perms2", "annotations", "display_name"}

# Section 16 of the VNC API reference: the priority types, with the properties
# and references it names for each (common properties and the tag ref omitted).
PRIORITY = {
    "global-system-config": (
        ["autonomous_system", "config_version", "enable_4byte_as", "ibgp_auto_mesh",
         "bgp_always_compare_med", "alarm_enable", "bgpaas_parameters",
         "graceful_restart_parameters", "ip_fabric_subnets", "mac_aging_time",
         "mac_limit_control", "mac_move_control", "igmp_enable",
         "enable_security_policy_draft", "plugin_tuning", "rd_cluster_seed",
         "data_center_interconnect_asn_namespace",
         "data_center_interconnect_loopback_namespace", "supported_device_families",
         "supported_fabric_annotations", "supported_vendor_hardwares",
         "user_defined_log_statistics"],
        ["bgp-router"]),
    "global-vrouter-config": (
        ["encapsulation_priorities", "vxlan_network_identifier_mode", "forwarding_mode",
         "linklocal_services", "flow_export_rate", "flow_aging_timeout_list",
         "ecmp_hashing_include_fields", "enable_security_logging", "encryption_mode",
         "encryption_tunnel_endpoints", "port_translation_pools"],
        []),
    "global-qos-config": (["control_traffic_dscp"], []),
    "domain": (["domain_limits"], []),
    "project": (
        ["quota", "vxlan_routing", "alarm_enable", "enable_security_policy_draft"],
        ["application-policy-set", "floating-ip-pool", "alias-ip-pool", "namespace"]),
    "namespace": (["namespace_cidr"], []),
    "virtual-network": (
        ["virtual_network_properties", "virtual_network_network_id", "route_target_list",
         "import_route_target_list", "export_route_target_list", "router_external",
         "is_shared", "external_ipam", "flood_unknown_unicast",
         "multi_policy_service_chains_enabled", "address_allocation_mode",
         "virtual_network_category", "is_provider_network", "provider_properties",
         "port_security_enabled", "fabric_snat", "virtual_network_fat_flow_protocols",
         "ecmp_hashing_include_fields", "mac_learning_enabled", "mac_limit_control",
         "mac_move_control", "mac_aging_time", "pbb_evpn_enable", "pbb_etree_enable",
         "layer2_control_word", "igmp_enable", "virtual_network_routed_properties"],
        ["network-ipam", "network-policy", "route-table", "virtual-network", "qos-config",
         "security-logging-object", "routing-policy", "multicast-policy", "bgpvpn",
         "intent-map"]),
    "network-ipam": (
        ["network_ipam_mgmt", "ipam_subnet_method", "ipam_subnets", "ipam_subnetting"],
        ["virtual-DNS"]),
    "routing-instance": (
        ["routing_instance_is_default", "routing_instance_has_pnf",
         "routing_instance_fabric_snat", "service_chain_information",
         "ipv6_service_chain_information", "evpn_service_chain_information",
         "evpn_ipv6_service_chain_information", "static_route_entries",
         "default_ce_protocol"],
        ["route-target", "routing-instance"]),
    "route-target": ([], []),
    "virtual-machine": (["server_type"], ["service-instance"]),
    "virtual-machine-interface": (
        ["virtual_machine_interface_mac_addresses", "virtual_machine_interface_properties",
         "virtual_machine_interface_bindings",
         "virtual_machine_interface_allowed_address_pairs",
         "virtual_machine_interface_device_owner", "virtual_machine_interface_host_routes",
         "virtual_machine_interface_dhcp_option_list",
         "virtual_machine_interface_disable_policy", "port_security_enabled",
         "virtual_machine_interface_fat_flow_protocols", "vrf_assign_table",
         "ecmp_hashing_include_fields", "vlan_tag_based_bridge_domain", "igmp_enable"],
        ["virtual-network", "routing-instance", "security-group", "virtual-machine",
         "virtual-machine-interface", "interface-route-table", "qos-config",
         "service-health-check", "port-tuple", "physical-interface", "bridge-domain",
         "bgp-router", "security-logging-object", "service-endpoint", "port-profile"]),
    "instance-ip": (
        ["instance_ip_address", "instance_ip_family", "subnet_uuid", "instance_ip_mode",
         "instance_ip_secondary", "instance_ip_local_ip", "instance_ip_subnet",
         "secondary_ip_tracking_ip", "instance_ip_subscriber_tag", "service_instance_ip",
         "service_health_check_ip"],
        ["virtual-network", "virtual-machine-interface", "network-ipam", "virtual-router",
         "physical-router", "logical-interface", "flow-node"]),
    "floating-ip-pool": (["floating_ip_pool_subnets"], []),
    "floating-ip": (
        ["floating_ip_address", "floating_ip_address_family",
         "floating_ip_fixed_ip_address", "floating_ip_is_virtual_ip",
         "floating_ip_traffic_direction", "floating_ip_port_mappings",
         "floating_ip_port_mappings_enable"],
        ["virtual-machine-interface", "project"]),
    "alias-ip-pool": ([], []),
    "alias-ip": (["alias_ip_address", "alias_ip_address_family"],
                 ["virtual-machine-interface", "project"]),
    "security-group": (
        ["security_group_entries", "security_group_id", "configured_security_group_id"],
        []),
    "access-control-list": (["access_control_list_entries", "access_control_list_hash"],
                            []),
    "network-policy": (["network_policy_entries"], []),
    "logical-router": (
        ["logical_router_gateway_external", "logical_router_type",
         "vxlan_network_identifier", "configured_route_target_list",
         "logical_router_dhcp_relay_server"],
        ["virtual-machine-interface", "virtual-network", "route-target", "route-table",
         "service-instance", "physical-router", "bgpvpn"]),
    "route-table": (["routes"], []),
    "interface-route-table": (["interface_route_table_routes"], ["service-instance"]),
    "virtual-router": (
        ["virtual_router_ip_address", "virtual_router_type", "virtual_router_dpdk_enabled"],
        ["virtual-machine", "network-ipam", "sub-cluster"]),
    "bgp-router": (["bgp_router_parameters"],
                   ["bgp-router", "control-node-zone", "sub-cluster"]),
    "bgp-as-a-service": (
        ["autonomous_system", "bgpaas_ip_address", "bgpaas_session_attributes",
         "bgpaas_shared", "bgpaas_ipv4_mapped_ipv6_nexthop",
         "bgpaas_suppress_route_advertisement"],
        ["virtual-machine-interface", "service-health-check", "bgp-router",
         "control-node-zone"]),
    "physical-router": (
        ["physical_router_management_ip", "physical_router_dataplane_ip",
         "physical_router_loopback_ip", "physical_router_vendor_name",
         "physical_router_product_name", "physical_router_device_family",
         "physical_router_role", "physical_router_vnc_managed",
         "physical_router_user_credentials", "physical_router_snmp_credentials",
         "physical_router_managed_state", "physical_router_hostname",
         "physical_router_os_version", "physical_router_serial_number",
         "routing_bridging_roles", "physical_router_autonomous_system"],
        ["virtual-network", "bgp-router", "virtual-router", "fabric", "node-profile",
         "device-functional-group", "overlay-role", "physical-role", "telemetry-profile",
         "intent-map", "device-image", "device-chassis"]),
    "physical-interface": (
        ["physical_interface_type", "physical_interface_mac_addresses",
         "physical_interface_port_id", "ethernet_segment_identifier"],
        ["physical-interface", "port"]),
    "logical-interface": (["logical_interface_vlan_tag", "logical_interface_type"],
                          ["virtual-machine-interface"]),
    "service-template": (["service_template_properties", "service_config_managed"],
                         ["service-appliance-set"]),
    "service-instance": (
        ["service_instance_properties", "service_instance_bindings",
         "service_instance_bgp_enabled"],
        ["service-template", "instance-ip"]),
    "port-tuple": ([], ["logical-router", "virtual-network"]),
    "service-health-check": (["service_health_check_properties"], ["service-instance"]),
    "virtual-DNS": (["virtual_DNS_data"], []),
    "virtual-DNS-record": (["virtual_DNS_record_data"], []),
    "tag": (["tag_type_name", "tag_value", "tag_id", "tag_predefined"], ["tag-type"]),
    "tag-type": (["tag_type_id"], []),
    "policy-management": ([], []),
    "application-policy-set": (["all_applications", "draft_mode_state"],
                               ["firewall-policy", "global-vrouter-config"]),
    "firewall-policy": (["draft_mode_state"], ["firewall-rule", "security-logging-object"]),
    "firewall-rule": (
        ["action_list", "direction", "endpoint_1", "endpoint_2", "service", "match_tags",
         "match_tag_types", "draft_mode_state"],
        ["address-group", "service-group", "virtual-network", "security-logging-object"]),
    "address-group": (["address_group_prefix", "draft_mode_state"], []),
    "service-group": (["service_group_firewall_service_list", "draft_mode_state"], []),
    "qos-config": (
        ["qos_config_type", "default_forwarding_class_id", "dscp_entries",
         "vlan_priority_entries", "mpls_exp_entries"],
        ["global-system-config"]),
    "loadbalancer": (["loadbalancer_properties", "loadbalancer_provider"],
                     ["virtual-machine-interface", "service-instance",
                      "service-appliance-set"]),
    "loadbalancer-listener": (["loadbalancer_listener_properties"], ["loadbalancer"]),
    "loadbalancer-pool": (
        ["loadbalancer_pool_properties", "loadbalancer_pool_provider",
         "loadbalancer_pool_custom_attributes"],
        ["loadbalancer-listener", "loadbalancer-healthmonitor",
         "virtual-machine-interface", "service-instance", "service-appliance-set"]),
    "loadbalancer-member": (["loadbalancer_member_properties"], []),
    "loadbalancer-healthmonitor": (["loadbalancer_healthmonitor_properties"], []),
    "virtual-ip": (["virtual_ip_properties"],
                   ["loadbalancer-pool", "virtual-machine-interface"]),
}

# Link attribute types section 16 names.
REF_ATTRS = [
    ("project", "namespace", "SubnetType"),
    ("virtual-network", "network-ipam", "VnSubnetsType"),
    ("virtual-network", "network-policy", "VirtualNetworkPolicyType"),
    ("virtual-network", "routing-policy", "RoutingPolicyType"),
    ("routing-instance", "route-target", "InstanceTargetType"),
    ("routing-instance", "routing-instance", "ConnectionType"),
    ("virtual-machine-interface", "routing-instance", "PolicyBasedForwardingRuleType"),
    ("virtual-machine-interface", "bridge-domain", "BridgeDomainMembershipType"),
    ("logical-router", "virtual-network", "LogicalRouterVirtualNetworkType"),
    ("interface-route-table", "service-instance", "ServiceInterfaceTag"),
    ("virtual-router", "network-ipam", "VirtualRouterNetworkIpamType"),
    ("bgp-router", "bgp-router", "BgpPeeringAttributes"),
    ("service-instance", "instance-ip", "ServiceInterfaceTag"),
    ("service-health-check", "service-instance", "ServiceInterfaceTag"),
    ("application-policy-set", "firewall-policy", "FirewallSequence"),
    ("firewall-policy", "firewall-rule", "FirewallSequence"),
    ("firewall-policy", "security-logging-object", "SloRateType"),
    ("firewall-rule", "security-logging-object", "SloRateType"),
]


@pytest.fixture(scope="module")
def schema():
    with SCHEMA_FILE.open() as f:
        return yaml.load(f, Loader=yaml.CSafeLoader)


@pytest.fixture(scope="module")
def resources(schema):
    return schema["resources"]


@pytest.fixture(scope="module")
def complex_types(schema):
    return schema["complex_types"]


def _fields(schema):
    """(where, name, field) for every property and complex-type member."""
    for rtype, entry in schema["resources"].items():
        for name, field in entry["properties"].items():
            yield f"{rtype}.{name}", name, field
    for tname, members in schema["complex_types"].items():
        for name, field in members.items():
            yield f"{tname}.{name}", name, field


def test_all_121_resource_types_are_present(schema, resources):
    assert schema["version"] == 1
    assert len(resources) == 121
    assert list(resources) == sorted(resources)
    for rtype in ["config-root", "virtual-network", "virtual-DNS-record", "tag-type",
                  "structured-syslog-sla-profile", "e2-service-provider", "feature-flag"]:
        assert rtype in resources


def test_parents_children_and_ref_targets_are_known_types(resources):
    for rtype, entry in resources.items():
        assert set(entry) <= {"parents", "derived_children", "properties", "references"}
        for parent in entry["parents"]:
            assert parent in resources, (rtype, parent)
        for target, ref in entry["references"].items():
            assert target in resources, (rtype, target)
            assert set(ref) <= {"attr", "derived"}, (rtype, target)
        for child in entry.get("derived_children", []):
            assert rtype in resources[child]["parents"], (rtype, child)


def test_top_level_types(resources):
    assert resources["config-root"]["parents"] == []
    for rtype in ["global-system-config", "domain", "instance-ip", "virtual-machine",
                  "route-target", "tag-type"]:
        assert resources[rtype]["parents"] == ["config-root"]
    assert resources["tag"]["parents"] == ["config-root", "project"]


def test_every_complex_type_used_is_defined(schema, complex_types):
    used = set()
    for entry in schema["resources"].values():
        used.update(f["type"] for f in entry["properties"].values())
        used.update(r["attr"] for r in entry["references"].values() if "attr" in r)
    for members in complex_types.values():
        used.update(f["type"] for f in members.values())
    missing = {t for t in used - PRIMITIVES if t not in complex_types}
    assert not missing


def test_fields_are_well_formed(schema):
    for where, _, field in _fields(schema):
        assert set(field) <= FIELD_KEYS, where
        assert "type" in field, where
        if "enum" in field:
            assert field["enum"] and field["type"] in ("string", "integer"), where
        if "min" in field or "max" in field:
            assert field["type"] == "integer", where
            assert isinstance(field["min"], int) and isinstance(field["max"], int), where
            assert field["min"] <= field["max"], where
        if "format" in field:
            assert field["format"] in ("ip", "mac", "uuid"), where
            assert field["type"] == "string", where
        for flag in ("list", "required", "system", "create_only", "exclusive"):
            assert field.get(flag, True) is True, (where, flag)
        if "default" in field and field["type"] == "boolean":
            assert isinstance(field["default"], bool), where
        if "default" in field and field["type"] == "integer":
            assert type(field["default"]) is int, where
        if "default" in field and "enum" in field:
            assert field["default"] in field["enum"], where
        if "default" in field and "min" in field:
            assert field["min"] <= field["default"] <= field["max"], where


def test_every_type_has_the_common_properties_and_tag_ref(resources):
    for rtype, entry in resources.items():
        assert COMMON_PROPERTIES <= set(entry["properties"]), rtype
        assert "tag" in entry["references"], rtype
        props = entry["properties"]
        assert props["id_perms"] == {"type": "IdPermsType", "system": True}, rtype
        assert props["perms2"] == {"type": "PermType2", "system": True}, rtype
        assert props["annotations"] == {
            "type": "KeyValuePairs", "collection": "map", "key": "key"}, rtype
        assert props["display_name"] == {"type": "string"}, rtype


@pytest.mark.parametrize("rtype", sorted(PRIORITY))
def test_priority_type_has_the_documented_fields(resources, rtype):
    props, refs = PRIORITY[rtype]
    entry = resources[rtype]
    assert set(props) <= set(entry["properties"])
    assert set(refs) <= set(entry["references"])


@pytest.mark.parametrize("rtype,target,attr", REF_ATTRS)
def test_reference_attribute_types(resources, rtype, target, attr):
    assert resources[rtype]["references"][target]["attr"] == attr


def test_virtual_network(resources, complex_types):
    vn = resources["virtual-network"]
    assert vn["parents"] == ["project"]
    assert vn["derived_children"] == ["access-control-list", "routing-instance"]
    props = vn["properties"]
    assert props["virtual_network_properties"] == {"type": "VirtualNetworkType"}
    assert props["virtual_network_network_id"]["system"] is True
    assert props["virtual_network_category"]["enum"] == [
        "infra", "tenant", "internal", "routed"]
    assert props["virtual_network_category"]["default"] == "tenant"
    assert props["mac_aging_time"] == {
        "type": "integer", "min": 0, "max": 86400, "default": 300}
    assert props["is_shared"] == {"type": "boolean"}
    assert props["route_target_list"]["type"] == "RouteTargetList"
    assert complex_types["RouteTargetList"]["route_target"] == {"type": "string", "list": True}
    vnt = complex_types["VirtualNetworkType"]
    assert vnt["forwarding_mode"]["enum"] == ["l2_l3", "l2", "l3"]
    assert vnt["rpf"]["enum"] == ["enable", "disable"]
    assert (vnt["vxlan_network_identifier"]["min"],
            vnt["vxlan_network_identifier"]["max"]) == (1, 16777215)
    provider = complex_types[props["provider_properties"]["type"]]
    assert (provider["segmentation_id"]["min"], provider["segmentation_id"]["max"]) == (0, 4094)
    refs = vn["references"]
    assert refs["route-table"] == {}
    assert refs["qos-config"] == {}
    vn_subnets = complex_types["VnSubnetsType"]
    assert vn_subnets["ipam_subnets"] == {"type": "IpamSubnetType", "list": True}
    assert complex_types["VirtualNetworkPolicyType"]["sequence"]["type"] == "SequenceType"
    assert set(complex_types["SequenceType"]) == {"major", "minor"}


def test_forwarding_mode_enum_on_global_vrouter_config(resources):
    props = resources["global-vrouter-config"]["properties"]
    assert props["forwarding_mode"]["enum"] == ["l2_l3", "l2", "l3"]
    assert props["encryption_mode"]["enum"] == ["none", "all"]
    assert props["encryption_mode"]["default"] == "none"
    assert props["vxlan_network_identifier_mode"]["enum"] == ["configured", "automatic"]


def test_network_ipam(resources, complex_types):
    props = resources["network-ipam"]["properties"]
    assert props["ipam_subnets"] == {
        "type": "IpamSubnets", "create_only": True, "collection": "list"}
    assert props["ipam_subnet_method"]["enum"] == [
        "user-defined-subnet", "flat-subnet", "auto-subnet"]
    ipam = complex_types[props["network_ipam_mgmt"]["type"]]
    assert ipam["ipam_method"]["enum"] == ["dhcp", "fixed"]
    assert ipam["ipam_dns_method"]["enum"] == [
        "none", "default-dns-server", "tenant-dns-server", "virtual-dns-server"]
    subnet = complex_types["IpamSubnetType"]
    assert subnet["subnet"]["type"] == "SubnetType"
    assert subnet["default_gateway"] == {"type": "string", "format": "ip"}
    assert subnet["dns_nameservers"] == {"type": "string", "list": True}
    assert subnet["allocation_pools"] == {"type": "AllocationPoolType", "list": True}
    assert subnet["enable_dhcp"]["default"] is True
    assert subnet["alloc_unit"]["default"] == 1
    assert subnet["created"]["type"] == "datetime"
    assert set(complex_types["AllocationPoolType"]) >= {"start", "end", "vrouter_specific_pool"}
    assert set(complex_types["SubnetType"]) == {"ip_prefix", "ip_prefix_len"}


def test_instance_ip(resources):
    ip = resources["instance-ip"]
    props = ip["properties"]
    assert props["instance_ip_address"]["format"] == "ip"
    assert props["instance_ip_address"]["create_only"] is True
    assert props["instance_ip_family"]["enum"] == ["v4", "v6"]
    assert props["instance_ip_mode"]["enum"] == ["active-active", "active-standby"]
    assert props["instance_ip_subnet"]["type"] == "SubnetType"
    assert props["service_instance_ip"]["system"] is True
    assert ip["references"]["virtual-network"] == {}


def test_virtual_machine_interface(resources, complex_types):
    vmi = resources["virtual-machine-interface"]
    assert set(vmi["parents"]) == {"project", "virtual-machine", "virtual-router"}
    props = vmi["properties"]
    assert props["virtual_machine_interface_bindings"] == {
        "type": "KeyValuePairs", "collection": "map", "key": "key"}
    assert props["virtual_machine_interface_fat_flow_protocols"]["collection"] == "list"
    assert props["vrf_assign_table"]["system"] is True
    assert props["port_security_enabled"]["default"] is True
    macs = complex_types[props["virtual_machine_interface_mac_addresses"]["type"]]
    assert macs["mac_address"] == {"type": "string", "list": True}
    pairs = complex_types[props["virtual_machine_interface_allowed_address_pairs"]["type"]]
    pair = complex_types[pairs["allowed_address_pair"]["type"]]
    assert pair["address_mode"]["enum"] == ["active-active", "active-standby"]
    assert pair["ip"]["type"] == "SubnetType"


def test_security_group_and_policy_rules(resources, complex_types):
    sg = resources["security-group"]
    assert sg["derived_children"] == ["access-control-list"]
    props = sg["properties"]
    assert props["security_group_entries"]["type"] == "PolicyEntriesType"
    assert props["security_group_id"]["system"] is True
    assert props["configured_security_group_id"] == {
        "type": "integer", "min": 0, "max": 7999999, "default": 0}
    rule = complex_types["PolicyRuleType"]
    assert rule["direction"]["enum"] == [">", "<>"]
    assert rule["src_ports"] == {"type": "PortType", "list": True, "required": True}
    assert rule["ethertype"]["enum"] == ["IPv4", "IPv6"]
    port = complex_types["PortType"]
    assert (port["start_port"]["min"], port["start_port"]["max"]) == (-1, 65535)
    assert (port["end_port"]["min"], port["end_port"]["max"]) == (-1, 65535)
    address = complex_types["AddressType"]
    assert address["security_group"] == {"type": "string", "exclusive": True}
    actions = complex_types["ActionListType"]
    assert actions["simple_action"]["enum"] == ["deny", "pass"]


def test_routing_instance(resources):
    ri = resources["routing-instance"]
    assert ri["parents"] == ["virtual-network"]
    assert ri["properties"]["routing_instance_is_default"]["system"] is True
    assert ri["references"]["route-target"] == {"attr": "InstanceTargetType"}


def test_instance_target_type(complex_types):
    assert complex_types["InstanceTargetType"] == {
        "import_export": {"type": "string", "enum": ["import", "export"]}}


def test_tag(resources):
    props = resources["tag"]["properties"]
    assert props["tag_type_name"] == {"type": "string", "required": True, "create_only": True}
    assert props["tag_value"] == {"type": "string", "required": True, "create_only": True}
    assert props["tag_id"]["system"] is True
    assert resources["tag-type"]["properties"]["tag_type_id"]["system"] is True


def test_global_system_config(resources, complex_types):
    props = resources["global-system-config"]["properties"]
    assert props["autonomous_system"] == {
        "type": "integer", "min": 1, "max": 4294967295, "required": True}
    assert props["rd_cluster_seed"]["min"] == 1 and props["rd_cluster_seed"]["max"] == 65535
    assert props["ibgp_auto_mesh"]["default"] is True
    assert props["user_defined_log_statistics"]["collection"] == "map"
    assert props["user_defined_log_statistics"]["key"] == "name"
    assert props["config_version"]["system"] is True
    bgpaas = complex_types[props["bgpaas_parameters"]["type"]]
    assert (bgpaas["port_start"]["min"], bgpaas["port_start"]["max"]) == (-1, 65535)


def test_collections(resources, complex_types):
    collections = 0
    for rtype, entry in resources.items():
        for name, field in entry["properties"].items():
            if "collection" not in field:
                continue
            collections += 1
            wrapper = complex_types[field["type"]]
            assert len(wrapper) == 1, (rtype, name)
            (element,) = wrapper.values()
            assert element.get("list") is True, (rtype, name)
            if field["collection"] == "map":
                assert field["key"] in complex_types[element["type"]], (rtype, name)
            else:
                assert field["collection"] == "list" and "key" not in field, (rtype, name)
    assert collections > 121
    vn = resources["virtual-network"]["properties"]
    assert vn["virtual_network_fat_flow_protocols"]["collection"] == "list"
    qos = resources["qos-config"]["properties"]
    assert qos["dscp_entries"] == {
        "type": "QosIdForwardingClassPairs", "collection": "map", "key": "key"}
    assert resources["service-instance"]["properties"]["service_instance_bindings"][
        "collection"] == "map"
    assert resources["address-group"]["properties"]["address_group_prefix"][
        "collection"] == "list"


def test_ip_formats(schema, complex_types):
    with_format = {where for where, _, f in _fields(schema) if f.get("format") == "ip"}
    assert "LoadbalancerMemberType.address" in with_format
    assert "virtual-router.virtual_router_ip_address" in with_format
    assert complex_types["IpAddressesType"]["ip_address"] == {
        "type": "string", "list": True, "format": "ip"}
    # Prefixes are not addresses.
    assert "format" not in complex_types["SubnetType"]["ip_prefix"]


def test_derived_links(resources):
    assert resources["service-instance"]["derived_children"] == ["port-tuple"]
    assert resources["virtual-machine"]["references"]["service-instance"] == {"derived": True}
    assert resources["interface-route-table"]["references"]["service-instance"] == {
        "attr": "ServiceInterfaceTag", "derived": True}
    derived = {r for r, e in resources.items() if "derived_children" in e}
    assert derived == {"virtual-network", "security-group", "service-instance"}


def test_service_template_accepts_project_parent(resources):
    assert set(resources["service-template"]["parents"]) == {"domain", "project"}


def test_file_is_what_the_generator_writes():
    pytest.importorskip("vnc_api.gen.resource_common")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_schema.py"), "--check"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
