"""The unmodified `vnc_api` client against a real `filament api` process."""

from __future__ import annotations

import json

import pytest
from vnc_api import vnc_api as v
from vnc_api.utils import OP_POST
from vnc_api.exceptions import BadRequest, NoIdError, PermissionDenied, RefsExistError

pytestmark = pytest.mark.integration


def _subnets(prefix: str, plen: int, **kw) -> v.VnSubnetsType:
    return v.VnSubnetsType([v.IpamSubnetType(subnet=v.SubnetType(prefix, plen), **kw)])


def _vn(vnc, cleanup, project, ipam, name, prefix="10.1.0.0", plen=24, **kw):
    vn = v.VirtualNetwork(name, project)
    vn.add_network_ipam(ipam, _subnets(prefix, plen, **kw))
    cleanup.add("virtual-network", vnc.virtual_network_create(vn))
    return vnc.virtual_network_read(id=vn.uuid)


def _ipam(vnc, cleanup, project, name="ipam", **kw):
    ipam = v.NetworkIpam(name, project, **kw)
    cleanup.add("network-ipam", vnc.network_ipam_create(ipam))
    return vnc.network_ipam_read(id=ipam.uuid)


def _iip(vnc, cleanup, name, vn, vmi=None, address=None):
    iip = v.InstanceIp(name, instance_ip_address=address)
    iip.add_virtual_network(vn)
    if vmi is not None:
        iip.add_virtual_machine_interface(vmi)
    cleanup.add("instance-ip", vnc.instance_ip_create(iip))
    return vnc.instance_ip_read(id=iip.uuid)


def _vmi(vnc, cleanup, project, name, vn):
    vmi = v.VirtualMachineInterface(name, project)
    vmi.add_virtual_network(vn)
    cleanup.add("virtual-machine-interface", vnc.virtual_machine_interface_create(vmi))
    return vnc.virtual_machine_interface_read(id=vmi.uuid)


# --- CRUD ------------------------------------------------------------------------------

def test_project_crud_and_fq_name_lookups(vnc, uid):
    p = v.Project(f"crud-{uid}", v.Domain())
    pid = vnc.project_create(p)
    fq = ["default-domain", f"crud-{uid}"]
    assert vnc.fq_name_to_id("project", fq) == pid
    assert vnc.id_to_fq_name(pid) == fq
    got = vnc.project_read(fq_name=fq)
    assert got.uuid == pid and got.display_name == f"crud-{uid}"
    got.set_display_name("renamed")
    vnc.project_update(got)
    assert vnc.project_read(id=pid).display_name == "renamed"
    domain = vnc.domain_read(fq_name=["default-domain"])
    listed = vnc.projects_list(parent_id=domain.uuid)["projects"]
    assert pid in {x["uuid"] for x in listed}
    vnc.project_delete(id=pid)
    with pytest.raises(NoIdError):
        vnc.project_read(id=pid)
    with pytest.raises(NoIdError):
        vnc.fq_name_to_id("project", fq)


def test_network_ipam_and_virtual_network_crud(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}")
    assert vn.fq_name == project.fq_name + [f"vn-{uid}"]
    assert vn.get_virtual_network_network_id() >= 5
    (ref,) = vn.get_network_ipam_refs()
    assert ref["to"] == ipam.fq_name and ref["uuid"] == ipam.uuid
    sn = ref["attr"].ipam_subnets[0]
    assert sn.subnet.ip_prefix == "10.1.0.0" and sn.subnet_uuid
    # the default routing instance is a child of the VN
    ris = vnc.routing_instances_list(parent_id=vn.uuid)["routing-instances"]
    assert [r["fq_name"] for r in ris] == [vn.fq_name + [vn.name]]
    vn.set_display_name("blue")
    vn.set_flood_unknown_unicast(True)
    vnc.virtual_network_update(vn)
    back = vnc.virtual_network_read(id=vn.uuid)
    assert back.display_name == "blue" and back.get_flood_unknown_unicast() is True
    # IPAM lists the VN as a back-ref
    br = vnc.virtual_networks_list(back_ref_id=ipam.uuid)["virtual-networks"]
    assert [x["uuid"] for x in br] == [vn.uuid]
    vnc.virtual_network_delete(id=vn.uuid)
    with pytest.raises(NoIdError):
        vnc.virtual_network_read(id=vn.uuid)
    assert vnc.routing_instances_list(parent_id=vn.uuid)["routing-instances"] == []


def test_vmi_instance_ip_mac_and_ri_ref(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}")
    vmi = _vmi(vnc, cleanup, project, f"vmi-{uid}", vn)
    u = vmi.uuid
    mac = "02:" + ":".join([u[0:2], u[2:4], u[4:6], u[6:8], u[9:11]])
    assert vmi.get_virtual_machine_interface_mac_addresses().mac_address == [mac]
    ri_refs = vmi.get_routing_instance_refs()
    assert [r["to"] for r in ri_refs] == [vn.fq_name + [vn.name]]
    iip = _iip(vnc, cleanup, f"iip-{uid}", vn, vmi)
    assert iip.get_instance_ip_address() == "10.1.0.252"
    assert iip.get_subnet_uuid() == vn.get_network_ipam_refs()[0]["attr"].ipam_subnets[0].subnet_uuid
    iips = vnc.instance_ips_list(back_ref_id=u)["instance-ips"]
    assert [x["uuid"] for x in iips] == [iip.uuid]
    vmi.set_virtual_machine_interface_device_owner("compute:nova")
    vnc.virtual_machine_interface_update(vmi)
    assert vnc.virtual_machine_interface_read(id=u).get_virtual_machine_interface_device_owner() \
        == "compute:nova"
    vnc.instance_ip_delete(id=iip.uuid)
    vnc.virtual_machine_interface_delete(id=u)
    with pytest.raises(NoIdError):
        vnc.virtual_machine_interface_read(id=u)


def test_security_group_and_network_policy(vnc, project, cleanup, uid):
    rule = v.PolicyRuleType(
        direction=">", protocol="tcp", ethertype="IPv4",
        src_addresses=[v.AddressType(security_group="local")],
        dst_addresses=[v.AddressType(subnet=v.SubnetType("0.0.0.0", 0))],
        src_ports=[v.PortType(0, 65535)], dst_ports=[v.PortType(22, 22)])
    sg = v.SecurityGroup(f"sg-{uid}", project, security_group_entries=v.PolicyEntriesType([rule]))
    cleanup.add("security-group", vnc.security_group_create(sg))
    sg = vnc.security_group_read(id=sg.uuid)
    assert sg.get_security_group_id() > 8000001
    (r,) = sg.get_security_group_entries().policy_rule
    assert r.rule_uuid and r.dst_ports[0].start_port == 22

    np_rule = v.PolicyRuleType(
        direction="<>", protocol="any",
        src_addresses=[v.AddressType(virtual_network="any")],
        dst_addresses=[v.AddressType(virtual_network="any")],
        src_ports=[v.PortType(-1, -1)], dst_ports=[v.PortType(-1, -1)],
        action_list=v.ActionListType(simple_action="pass"))
    pol = v.NetworkPolicy(f"pol-{uid}", project, network_policy_entries=v.PolicyEntriesType([np_rule]))
    cleanup.add("network-policy", vnc.network_policy_create(pol))
    pol = vnc.network_policy_read(id=pol.uuid)
    assert pol.get_network_policy_entries().policy_rule[0].rule_uuid
    pol.set_network_policy_entries(v.PolicyEntriesType([]))
    vnc.network_policy_update(pol)
    assert vnc.network_policy_read(id=pol.uuid).get_network_policy_entries().policy_rule == []
    vnc.network_policy_delete(id=pol.uuid)
    vnc.security_group_delete(id=sg.uuid)
    with pytest.raises(NoIdError):
        vnc.security_group_read(id=sg.uuid)


def test_refs_add_del_and_set_list(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}")
    pols = []
    for i in range(2):
        p = v.NetworkPolicy(f"pol{i}-{uid}", project)
        cleanup.add("network-policy", vnc.network_policy_create(p))
        pols.append(vnc.network_policy_read(id=p.uuid))
    attr = v.VirtualNetworkPolicyType(sequence=v.SequenceType(0, 0))
    vn.add_network_policy(pols[0], attr)          # on a read object: POST /ref-update
    vnc.virtual_network_update(vn)
    got = vnc.virtual_network_read(id=vn.uuid)
    assert [r["uuid"] for r in got.get_network_policy_refs()] == [pols[0].uuid]
    assert got.get_network_policy_refs()[0]["attr"].sequence.major == 0
    bref = vnc.network_policy_read(id=pols[0].uuid, fields=["virtual_network_back_refs"])
    assert [r["uuid"] for r in bref.get_virtual_network_back_refs()] == [vn.uuid]
    got.del_network_policy(pols[0])
    vnc.virtual_network_update(got)
    assert not vnc.virtual_network_read(id=vn.uuid).get_network_policy_refs()
    got = vnc.virtual_network_read(id=vn.uuid)
    got.set_network_policy_list(pols, [attr, attr])   # PUT with the full list
    vnc.virtual_network_update(got)
    refs = vnc.virtual_network_read(id=vn.uuid).get_network_policy_refs()
    assert {r["uuid"] for r in refs} == {p.uuid for p in pols}
    # the explicit ref_update API
    vnc.ref_update("virtual-network", vn.uuid, "network-policy", pols[1].uuid, None, "DELETE")
    refs = vnc.virtual_network_read(id=vn.uuid).get_network_policy_refs()
    assert [r["uuid"] for r in refs] == [pols[0].uuid]


def test_floating_ip_pool_and_floating_ip(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"pub-{uid}", "192.0.2.0", 24)
    pool = v.FloatingIpPool(f"pool-{uid}", vn)
    cleanup.add("floating-ip-pool", vnc.floating_ip_pool_create(pool))
    pool = vnc.floating_ip_pool_read(id=pool.uuid)
    assert pool.fq_name == vn.fq_name + [f"pool-{uid}"]
    fip = v.FloatingIp(f"fip-{uid}", pool)
    fip.add_project(project)
    cleanup.add("floating-ip", vnc.floating_ip_create(fip))
    fip = vnc.floating_ip_read(id=fip.uuid)
    assert fip.get_floating_ip_address() == "192.0.2.252"
    assert [r["uuid"] for r in fip.get_project_refs()] == [project.uuid]
    kids = vnc.floating_ips_list(parent_id=pool.uuid)["floating-ips"]
    assert [k["uuid"] for k in kids] == [fip.uuid]
    with pytest.raises(RefsExistError):          # pool has a child
        vnc.floating_ip_pool_delete(id=pool.uuid)
    vnc.floating_ip_delete(id=fip.uuid)
    vnc.floating_ip_pool_delete(id=pool.uuid)


def test_tag_create_and_attach(vnc, project, cleanup, uid):
    tag = v.Tag(tag_type_name="application", tag_value=f"app-{uid}")
    cleanup.add("tag", vnc.tag_create(tag))
    tag = vnc.tag_read(id=tag.uuid)
    assert tag.fq_name == [f"application=app-{uid}"] and tag.name == f"application=app-{uid}"
    assert tag.get_tag_id().startswith("0x0001") and len(tag.get_tag_id()) == 10
    assert [r["to"] for r in tag.get_tag_type_refs()] == [["application"]]
    project.add_tag(tag)
    vnc.project_update(project)
    got = vnc.project_read(id=project.uuid)
    assert [r["uuid"] for r in got.get_tag_refs()] == [tag.uuid]
    got.set_tag_list([])
    vnc.project_update(got)
    assert not vnc.project_read(id=project.uuid).get_tag_refs()


# --- lists -----------------------------------------------------------------------------

def test_list_parameters(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vns = [_vn(vnc, cleanup, project, ipam, f"l{i}-{uid}", f"10.{i}.0.0", 16) for i in range(3)]
    vns[1].set_display_name(f"special-{uid}")
    vnc.virtual_network_update(vns[1])
    ids = {x.uuid for x in vns}
    plain = vnc.virtual_networks_list(parent_id=project.uuid)["virtual-networks"]
    assert {x["uuid"] for x in plain} == ids
    assert set(plain[0]) == {"uuid", "fq_name", "href"}
    assert vnc.virtual_networks_list(parent_id=project.uuid, count=True) == \
        {"virtual-networks": {"count": 3}}
    some = vnc.virtual_networks_list(obj_uuids=[vns[0].uuid, vns[2].uuid])["virtual-networks"]
    assert [x["uuid"] for x in some] == [vns[0].uuid, vns[2].uuid]
    detail = vnc.virtual_networks_list(parent_id=project.uuid, detail=True)
    assert {x.uuid for x in detail} == ids
    assert all(x.get_virtual_network_network_id() for x in detail)
    flt = vnc.virtual_networks_list(parent_id=project.uuid,
                                    filters={"display_name": f"special-{uid}"})
    assert [x["uuid"] for x in flt["virtual-networks"]] == [vns[1].uuid]
    fl = vnc.virtual_networks_list(obj_uuids=[vns[0].uuid],
                                   fields=["virtual_network_network_id", "display_name"])
    (e,) = fl["virtual-networks"]
    assert e["virtual_network_network_id"] == vns[0].get_virtual_network_network_id()
    assert e["display_name"] == vns[0].name
    with_ri = vnc.virtual_networks_list(obj_uuids=[vns[0].uuid], detail=True,
                                        fields=["routing_instances"])
    assert len(with_ri[0].get_routing_instances()) == 1
    assert vnc.virtual_networks_list(back_ref_id=ipam.uuid, count=True)[
        "virtual-networks"]["count"] == 3
    fqs = vnc.virtual_networks_list(fq_names=[vns[2].fq_name])["virtual-networks"]
    assert [x["uuid"] for x in fqs] == [vns[2].uuid]
    # > 25 uuids makes the client use POST /list-bulk-collection
    many = [vns[0].uuid] + [f"00000000-0000-4000-8000-{i:012d}" for i in range(30)]
    bulk = vnc.virtual_networks_list(obj_uuids=many)["virtual-networks"]
    assert [x["uuid"] for x in bulk] == [vns[0].uuid]


# --- IPAM facts ------------------------------------------------------------------------

def test_ipam_default_gateway_dns_and_descending_allocation(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}", "10.1.0.0", 24)
    sn = vn.get_network_ipam_refs()[0]["attr"].ipam_subnets[0]
    assert (sn.default_gateway, sn.dns_server_address) == ("10.1.0.254", "10.1.0.253")
    a = _iip(vnc, cleanup, f"a-{uid}", vn)
    b = _iip(vnc, cleanup, f"b-{uid}", vn)
    assert (a.get_instance_ip_address(), b.get_instance_ip_address()) == \
        ("10.1.0.252", "10.1.0.251")
    fixed = _iip(vnc, cleanup, f"c-{uid}", vn, address="10.1.0.10")
    assert fixed.get_instance_ip_address() == "10.1.0.10"
    dup = v.InstanceIp(f"d-{uid}", instance_ip_address="10.1.0.10")
    dup.add_virtual_network(vn)
    with pytest.raises(RefsExistError):
        vnc.instance_ip_create(dup)
    with pytest.raises(NoIdError):
        vnc.fq_name_to_id("instance-ip", [f"d-{uid}"])
    # a freed address is handed out again
    vnc.instance_ip_delete(id=a.uuid)
    assert _iip(vnc, cleanup, f"e-{uid}", vn).get_instance_ip_address() == "10.1.0.252"


def test_ipam_addr_from_start(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}", "10.2.0.0", 24, addr_from_start=True)
    sn = vn.get_network_ipam_refs()[0]["attr"].ipam_subnets[0]
    assert (sn.default_gateway, sn.dns_server_address) == ("10.2.0.1", "10.2.0.2")
    assert _iip(vnc, cleanup, f"a-{uid}", vn).get_instance_ip_address() == "10.2.0.3"
    assert _iip(vnc, cleanup, f"b-{uid}", vn).get_instance_ip_address() == "10.2.0.4"


def test_ipam_allocation_pool(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    pools = [v.AllocationPoolType("10.3.0.100", "10.3.0.102")]
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}", "10.3.0.0", 24, allocation_pools=pools)
    got = [_iip(vnc, cleanup, f"i{i}-{uid}", vn).get_instance_ip_address() for i in range(3)]
    assert got == ["10.3.0.102", "10.3.0.101", "10.3.0.100"]
    extra = v.InstanceIp(f"x-{uid}")
    extra.add_virtual_network(vn)
    with pytest.raises(BadRequest):               # pool exhausted
        vnc.instance_ip_create(extra)


def test_flat_subnet_ipam_with_l3_network(vnc, project, cleanup, uid):
    flat = _ipam(vnc, cleanup, project, f"flat-{uid}", ipam_subnet_method="flat-subnet",
                 ipam_subnets=v.IpamSubnets([v.IpamSubnetType(subnet=v.SubnetType("10.9.0.0", 24))]))
    sn = flat.get_ipam_subnets().subnets[0]
    assert (sn.default_gateway, sn.dns_server_address) == ("10.9.0.254", "10.9.0.253")
    vn = v.VirtualNetwork(f"l3-{uid}", project,
                          virtual_network_properties=v.VirtualNetworkType(forwarding_mode="l3"))
    vn.add_network_ipam(flat, v.VnSubnetsType([]))
    cleanup.add("virtual-network", vnc.virtual_network_create(vn))
    vn = vnc.virtual_network_read(id=vn.uuid)
    (s,) = vn.get_network_ipam_refs()[0]["attr"].ipam_subnets
    assert s.subnet_uuid and s.subnet is None
    assert _iip(vnc, cleanup, f"i-{uid}", vn).get_instance_ip_address() == "10.9.0.252"
    l2 = v.VirtualNetwork(f"l2-{uid}", project)
    l2.add_network_ipam(flat, v.VnSubnetsType([]))
    with pytest.raises(BadRequest):
        vnc.virtual_network_create(l2)


def test_first_user_ids_on_a_fresh_server(api_process):
    p = api_process()
    url = p.start()
    host, port = url.rsplit("//", 1)[1].split(":")
    api = v.VncApi(api_server_host=host, api_server_port=int(port), auth_type="noauth")
    proj = api.project_read(fq_name=["default-domain", "default-project"])
    vn = v.VirtualNetwork("first", proj)
    api.virtual_network_create(vn)
    assert api.virtual_network_read(id=vn.uuid).get_virtual_network_network_id() == 5
    sg = v.SecurityGroup("first", proj)
    api.security_group_create(sg)
    assert api.security_group_read(id=sg.uuid).get_security_group_id() == 8000002
    # a freed VN id is reused
    api.virtual_network_delete(id=vn.uuid)
    vn2 = v.VirtualNetwork("second", proj)
    api.virtual_network_create(vn2)
    assert api.virtual_network_read(id=vn2.uuid).get_virtual_network_network_id() == 5


# --- errors ----------------------------------------------------------------------------

def test_no_id_errors(vnc):
    missing = "00000000-0000-4000-8000-00000000dead"
    with pytest.raises(NoIdError):
        vnc.virtual_network_read(id=missing)
    with pytest.raises(NoIdError):
        vnc.virtual_network_read(fq_name=["default-domain", "nope", "nope"])
    with pytest.raises(NoIdError):
        vnc.id_to_fq_name(missing)
    with pytest.raises(NoIdError):
        vnc.virtual_network_delete(id=missing)


def test_refs_exist_errors(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    with pytest.raises(RefsExistError):
        vnc.network_ipam_create(v.NetworkIpam("ipam", project))
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}")
    with pytest.raises(RefsExistError):            # the VN refers to the IPAM
        vnc.network_ipam_delete(id=ipam.uuid)
    with pytest.raises(RefsExistError):            # the project has children
        vnc.project_delete(id=project.uuid)
    assert vnc.network_ipam_read(id=ipam.uuid).uuid == ipam.uuid
    assert vnc.virtual_network_read(id=vn.uuid).uuid == vn.uuid


def test_bad_request_errors(vnc, project, uid):
    bad_enum = v.VirtualNetwork(f"e-{uid}", project,
                                virtual_network_properties=v.VirtualNetworkType(forwarding_mode="l4"))
    with pytest.raises(BadRequest):
        vnc.virtual_network_create(bad_enum)
    ipam = vnc.network_ipam_read(fq_name=["default-domain", "default-project", "default-network-ipam"])
    bad_cidr = v.VirtualNetwork(f"c-{uid}", project)
    bad_cidr.add_network_ipam(ipam, _subnets("10.1.0.300", 24))
    with pytest.raises(BadRequest):
        vnc.virtual_network_create(bad_cidr)
    body = {"virtual-network": {"fq_name": project.fq_name + [f"u-{uid}"], "parent_type": "project",
                                "no_such_field": 1}}
    with pytest.raises(BadRequest):
        vnc._request_server(OP_POST, "/virtual-networks", data=json.dumps(body))
    for name in (f"e-{uid}", f"c-{uid}", f"u-{uid}"):
        with pytest.raises(NoIdError):
            vnc.fq_name_to_id("virtual-network", project.fq_name + [name])


def test_permission_denied_on_system_ids(vnc, project, cleanup, uid):
    vn = v.VirtualNetwork(f"pd-{uid}", project, virtual_network_network_id=77)
    with pytest.raises(PermissionDenied):
        vnc.virtual_network_create(vn)
    vn = v.VirtualNetwork(f"pd-{uid}", project)
    cleanup.add("virtual-network", vnc.virtual_network_create(vn))
    got = vnc.virtual_network_read(id=vn.uuid)
    got.set_virtual_network_network_id(77)
    with pytest.raises(PermissionDenied):
        vnc.virtual_network_update(got)
    sg = v.SecurityGroup(f"sg-{uid}", project, security_group_id=8100000)
    with pytest.raises(PermissionDenied):
        vnc.security_group_create(sg)


# --- prop collections, kv, perms, relax ------------------------------------------------

def test_annotations_prop_collection(vnc, project, cleanup, uid):
    vn = v.VirtualNetwork(f"ann-{uid}", project)
    vn.add_annotations(v.KeyValuePair("k1", "v1"))
    cleanup.add("virtual-network", vnc.virtual_network_create(vn))
    got = vnc.virtual_network_read(id=vn.uuid)
    assert [(kv.key, kv.value) for kv in got.get_annotations().key_value_pair] == [("k1", "v1")]
    vnc.prop_map_set_element(vn.uuid, "annotations", v.KeyValuePair("k2", "v2"))
    elems = vnc.prop_map_get(vn.uuid, "annotations")     # [[element, position], ...]
    assert sorted((e["key"], e["value"], pos) for e, pos in elems) == \
        [("k1", "v1", "k1"), ("k2", "v2", "k2")]
    vnc.prop_map_delete_element(vn.uuid, "annotations", "k1")
    assert [e["key"] for e, _ in vnc.prop_map_get(vn.uuid, "annotations")] == ["k2"]
    got = vnc.virtual_network_read(id=vn.uuid)
    got.set_annotations(v.KeyValuePairs([v.KeyValuePair("only", "x")]))
    vnc.virtual_network_update(got)
    assert [e["key"] for e, _ in vnc.prop_map_get(vn.uuid, "annotations")] == ["only"]
    # a list property
    vnc.prop_list_add_element(vn.uuid, "virtual_network_fat_flow_protocols",
                              v.ProtocolType(protocol="tcp", port=22), position="0")
    ((elem, pos),) = vnc.prop_list_get(vn.uuid, "virtual_network_fat_flow_protocols")
    assert (elem["protocol"], elem["port"], pos) == ("tcp", 22, "0")


def test_useragent_kv(vnc, uid):
    vnc.kv_store(f"key-{uid}", "value-1")
    assert vnc.kv_retrieve(f"key-{uid}") == "value-1"
    vnc.kv_store(f"key-{uid}", "value-2")
    assert vnc.kv_retrieve(f"key-{uid}") == "value-2"
    assert {"key": f"key-{uid}", "value": "value-2"} in vnc.kv_retrieve()
    vnc.kv_delete(f"key-{uid}")
    with pytest.raises(NoIdError):
        vnc.kv_retrieve(f"key-{uid}")


def test_chown_and_chmod(vnc, project, cleanup, uid):
    vn = v.VirtualNetwork(f"perm-{uid}", project)
    cleanup.add("virtual-network", vnc.virtual_network_create(vn))
    owner = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    vnc.chown(vn.uuid, owner)
    assert vnc.virtual_network_read(id=vn.uuid).get_perms2().owner == owner
    vnc.chmod(vn.uuid, owner_access=5, global_access=4,
              share=[("tenant-x", 7)])
    perms = vnc.virtual_network_read(id=vn.uuid).get_perms2()
    assert (perms.owner_access, perms.global_access) == (5, 4)
    assert [(s.tenant, s.tenant_access) for s in perms.share] == [("tenant-x", 7)]


def test_ref_relax_for_delete(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}")
    sg = v.SecurityGroup(f"sg-{uid}", project)
    cleanup.add("security-group", vnc.security_group_create(sg))
    vmi = v.VirtualMachineInterface(f"vmi-{uid}", project)
    vmi.add_virtual_network(vn)
    vmi.add_security_group(sg)
    cleanup.add("virtual-machine-interface", vnc.virtual_machine_interface_create(vmi))
    with pytest.raises(RefsExistError):
        vnc.security_group_delete(id=sg.uuid)
    vnc.ref_relax_for_delete(vmi.uuid, sg.uuid)
    vnc.security_group_delete(id=sg.uuid)
    with pytest.raises(NoIdError):
        vnc.security_group_read(id=sg.uuid)
    assert vnc.virtual_machine_interface_read(id=vmi.uuid).uuid == vmi.uuid


def test_vn_ip_helpers_and_lazy_child_fetch(vnc, project, cleanup, uid):
    ipam = _ipam(vnc, cleanup, project)
    vn = _vn(vnc, cleanup, project, ipam, f"vn-{uid}", "10.4.0.0", 24)
    sn_uuid = vn.get_network_ipam_refs()[0]["attr"].ipam_subnets[0].subnet_uuid
    assert vnc.virtual_network_ip_alloc(vn, count=2) == ["10.4.0.252", "10.4.0.251"]
    # reserved addresses are skipped by instance-ip allocation
    assert _iip(vnc, cleanup, f"a-{uid}", vn).get_instance_ip_address() == "10.4.0.250"
    counts = json.loads(vnc.virtual_network_subnet_ip_count(vn, [sn_uuid]))
    assert counts == {"ip_count_list": [3]}
    vnc.virtual_network_ip_free(vn, ["10.4.0.252"])
    assert _iip(vnc, cleanup, f"b-{uid}", vn).get_instance_ip_address() == "10.4.0.252"
    pool = v.FloatingIpPool(f"pool-{uid}", vn)
    cleanup.add("floating-ip-pool", vnc.floating_ip_pool_create(pool))
    got = vnc.virtual_network_read(id=vn.uuid)          # read without children ...
    assert [p["uuid"] for p in got.get_floating_ip_pools()] == [pool.uuid]   # ... fetched lazily
    ri = vnc.routing_instance_read(fq_name=vn.fq_name + [vn.name])
    assert ri.get_routing_instance_is_default() is True
    assert [r["uuid"] for r in ri.get_virtual_machine_interface_back_refs() or []] == []
