"""Config subgraph -> networks/VMIs, port API validation, port store, port binding."""

from __future__ import annotations

import json

import pytest

from filament.agent.config import ConfigDB, networks, vmis
from filament.agent.ports import PortError, PortStore, local_ports, parse_port
from filament.agent.xmpp_client import inet_routes as routes_from
from filament.wire.xmpp.model import ConfigLink, ConfigNode, ConfigUpdate, NextHop, RouteEntry

VN = ("virtual-network", "default-domain:p:red")
VMI = ("virtual-machine-interface", "default-domain:p:vmi1")
IIP = ("instance-ip", "iip1")
VM = ("virtual-machine", "vm1")
ATTR = ("virtual-network-network-ipam", "attr(default-domain:p:red,ipam)")
U_VMI = "00000000-0000-0001-0000-000000000002"


def uid(n):
    return {"uuid": {"uuid_mslong": str(n >> 64), "uuid_lslong": str(n & (2**64 - 1))}}


def db(subnets):
    d = ConfigDB()
    d.apply(ConfigUpdate((
        ("update", ConfigNode(*VN, {"virtual_network_network_id": "7", "id_perms": uid(5)})),
        ("update", ConfigNode(*VMI, {"id_perms": uid((1 << 64) | 2),
                                     "virtual_machine_interface_mac_addresses": {"mac_address": "02:00:00:00:00:01"}})),
        ("update", ConfigNode(*IIP, {"instance_ip_address": "100.64.1.5"})),
        ("update", ConfigNode(*VM, {"id_perms": uid(9)})),
        ("update", ConfigNode(*ATTR, {"value": {"ipam_subnets": subnets}})),
        ("update", ConfigLink(VMI, VN, "virtual-machine-interface-virtual-network")),
        ("update", ConfigLink(IIP, VMI, "instance-ip-virtual-machine-interface")),
        ("update", ConfigLink(VM, VMI, "virtual-machine-virtual-machine-interface")),
        ("update", ConfigLink(VN, ATTR, "virtual-network-network-ipam")),
    )))
    return d


ONE = {"subnet": {"ip_prefix": "100.64.1.0", "ip_prefix_len": "24"}, "default_gateway": "100.64.1.1"}
TWO = [ONE, {"subnet": {"ip_prefix": "100.64.2.0", "ip_prefix_len": "24"}, "default_gateway": "100.64.2.1"}]


@pytest.mark.parametrize("subnets,expect", [(ONE, 1), (TWO, 2), ("", 0)])
def test_networks_read_single_or_repeated_subnets(subnets, expect):
    nets = networks(db(subnets))
    red = nets["default-domain:p:red:red"]
    assert red.vni == 7 and len(red.subnets) == expect
    assert red.uuid == "00000000-0000-0000-0000-000000000005"


def test_vmi_joins_network_ip_mac_vm():
    v = vmis(db(ONE))[U_VMI]
    assert (v.vrf, v.ips, v.macs, v.vm_name) == ("default-domain:p:red:red", ("100.64.1.5",), ("02:00:00:00:00:01",), "vm1")


def test_delete_link_unbinds():
    d = db(ONE)
    d.apply(ConfigUpdate((("delete", ConfigLink(VMI, VN, "virtual-machine-interface-virtual-network")),)))
    assert vmis(d)[U_VMI].vrf == ""


GOOD = {"id": U_VMI, "instance-id": "00000000-0000-0000-0000-000000000009", "vn-id": "00000000-0000-0000-0000-000000000005",
        "vm-project-id": "", "display-name": "vm1", "ip-address": "0.0.0.0", "ip6-address": "", "type": 0,
        "system-name": "tap1", "mac-address": "02:00:00:00:00:01", "rx-vlan-id": -1, "tx-vlan-id": -1}


@pytest.mark.parametrize("change,message", [
    ({"id": "NOT-A-UUID"}, "uuid"),
    ({"mac-address": "00:00:00:00:00:00"}, "mac-address"),
    ({"mac-address": "02:00:00:00:01"}, "mac-address"),
    ({"ip-address": "100.64.1.300"}, "ip-address"),
    ({"type": "0"}, "type"),
    ({"vn-id": "red"}, "vn-id"),
    ({"system-name": "a/b"}, "system-name"),
    ({"system-name": None}, "system-name"),
])
def test_bad_port_bodies_are_refused_with_the_field_named(change, message):
    with pytest.raises(PortError, match=message):
        parse_port(dict(GOOD, **change))


def test_store_roundtrip_never_overwrites(tmp_path):
    store = PortStore(tmp_path)
    rec = parse_port(GOOD)
    store.save(rec)
    store.save(parse_port(dict(GOOD, **{"system-name": "tap9"})))
    (tmp_path / "junk").write_text("x")
    (tmp_path / "00000000-0000-0000-0000-0000000000ff").write_text("{bad json")
    assert store.load() == {rec.uuid: rec}
    store.delete(rec.uuid)
    assert store.load() == {}


def test_port_binding_takes_ip_from_config_when_record_has_none():
    d = db(ONE)
    rec = parse_port(GOOD)
    ports = local_ports({rec.uuid: rec}, vmis(d), networks(d))
    assert ports[rec.uuid].ip == "100.64.1.5" and ports[rec.uuid].vrf == "default-domain:p:red:red"
    assert local_ports({rec.uuid: rec}, {}, {}) == {}  # unknown VN: not configured


def test_routes_from_xmpp_tables_vxlan_only_and_merged():
    e1 = RouteEntry(1, 1, address="100.64.1.9/32", next_hops=(NextHop("198.18.0.2", label=7, encap=("vxlan",)),))
    e2 = RouteEntry(1, 1, address="100.64.1.9/32", next_hops=(NextHop("198.18.0.3", vni=7, encap=("gre", "vxlan")),))
    gre = RouteEntry(1, 1, address="100.64.1.8/32", next_hops=(NextHop("198.18.0.4", label=17, encap=("gre",)),))
    out = routes_from({"1/1/red": {"a": e1, "b": e2, "c": gre}, "25/242/red": {"x": e1}})
    assert [(h.address, h.vni) for h in out["red"]["100.64.1.9/32"].nexthops] == [("198.18.0.2", 7), ("198.18.0.3", 7)]
    assert "100.64.1.8/32" not in out["red"]
