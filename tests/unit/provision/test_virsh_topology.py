"""Topology parsing: `name:count`, file lookup, node and network files, wiring checks."""

from pathlib import Path

import pytest

from filament.provision.virsh.topology import (
    TopologyError, check_prefix, find_file, load_topology, parse_layout, parse_node,
    parse_node_counts, parse_overrides, shipped)

LAYOUT = """
networks:
  net1: {name: data, ip_address: 198.18.10.254, netmask: 255.255.255.0}
  net2:
    name: management
    forward: nat
    ip_address: 198.18.11.1
    netmask: 255.255.255.0
    dhcp: {range: {start: 198.18.11.10, end: 198.18.11.50}}
nodes:
  default:
    interfaces: [{network: data}, {network: management}]
    external_network: {network: management}
  special:
    interfaces: [{network: management, model: e1000}]
    external_network: {network: management}
"""

NODE = """
name: {name}
cpu: "2"
memory: "1024"
disks:
  disk1: {{size: 10G}}
  disk2: {{size: 5G, bus: scsi, cache: none}}
interfaces: null
groups: [a, b]
"""


@pytest.mark.parametrize("spec, expected", [
    ("undercloud:1", [("undercloud", 1)]),
    ("undercloud:1,controller:3,compute:2",
     [("undercloud", 1), ("controller", 3), ("compute", 2)]),
    (" compute : 0 ", [("compute", 0)]),
    ("./my/nodes/x.yml:2", [("./my/nodes/x.yml", 2)]),
])
def test_node_counts_parse(spec, expected):
    assert parse_node_counts(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("compute:two", "is not a number"),
    ("compute", "is not NAME:COUNT"),
    (":3", "is not NAME:COUNT"),
    ("compute:1.5", "is not a number"),
    ("compute:-1", ">= 0"),
    ("compute:1,compute:2", "twice"),
    ("", "empty"),
])
def test_node_counts_rejects(spec, message):
    with pytest.raises(TopologyError, match=message):
        parse_node_counts(spec)


def test_lookup_order_path_then_dirs_then_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "user" / "nodes"
    user.mkdir(parents=True)
    # shipped default
    assert find_file("nodes", "compute", [user]).name == "compute.yaml"
    # a user file of the same name wins over the shipped one
    (user / "compute.yml").write_text("name: compute\n")
    assert find_file("nodes", "compute", [user]) == (user / "compute.yml").resolve()
    # an explicit path wins over everything
    (tmp_path / "compute").write_text("name: compute\n")
    assert find_file("nodes", "compute", [user]) == (tmp_path / "compute").resolve()


def test_unknown_file_lists_where_it_looked(tmp_path):
    with pytest.raises(TopologyError, match=r"nodes file 'nope' not found \(tried nope, "):
        find_file("nodes", "nope", [tmp_path])


def test_shipped_defaults_all_parse():
    assert {"undercloud", "controller", "compute", "ceph"} <= set(shipped("nodes"))
    for net in shipped("network"):
        # tripleo.yml names its VMs `undercloud` too, so it cannot go in one command with it
        topo = load_topology([(n, 1) for n in shipped("nodes") if n != "tripleo"], net, [])
        assert topo.layout.networks
    three = load_topology([("controller", 3)], "3_nets", []).layout
    data, mgmt, ext = three.networks
    assert (data.name, data.forward, data.dhcp) == ("data", None, None)
    assert (mgmt.forward, mgmt.dhcp.start, mgmt.dhcp.end) == ("nat", "172.16.0.2", "172.16.0.100")
    assert (ext.forward, ext.ip_address) == ("nat", "10.0.0.1")


def test_node_wired_from_default_entry():
    layout = parse_layout(LAYOUT)
    node = parse_node(NODE.format(name="compute"), "compute", layout)
    assert [i.network for i in node.interfaces] == ["data", "management"]
    assert node.external_network == "management" and node.inventory_network == "management"
    assert (node.cpu, node.memory_mib, node.groups) == (2, 1024, ("a", "b"))
    assert [(d.name, d.size, d.bus, d.cache) for d in node.disks] == [
        ("disk1", "10G", None, "unsafe"), ("disk2", "5G", "scsi", "none")]


def test_node_wired_from_its_own_entry():
    node = parse_node(NODE.format(name="special"), "sp", parse_layout(LAYOUT))
    assert [(i.network, i.model) for i in node.interfaces] == [("management", "e1000")]


def test_node_with_own_interfaces_keeps_them():
    text = NODE.format(name="x").replace(
        "interfaces: null", "interfaces: [{network: management}]\n"
                            "external_network: {network: management}")
    node = parse_node(text, "x", parse_layout(LAYOUT))
    assert [i.network for i in node.interfaces] == ["management"]


def test_old_dict_style_interfaces():
    text = NODE.format(name="x").replace(
        "interfaces: null", "interfaces: {nic1: {network: data}}")
    node = parse_node(text, "x", parse_layout(LAYOUT))
    assert [i.network for i in node.interfaces] == ["data"]


@pytest.mark.parametrize("edit, message", [
    (("interfaces: null", "interfaces: [{network: storage}]"),
     "uses network 'storage', which the network file does not define"),
    (('cpu: "2"', 'cpu: two'), "cpu: 'two' is not a number"),
    (('memory: "1024"', 'memory: "0"'), "must be positive"),
    (("{size: 10G}", "{size: big}"), "is not a size"),
    (("name: x", "name: ''"), "'name' missing"),
    (("interfaces: null", "interfaces: [{network: data}]\nexternal_network: {network: management}"),
     "external_network 'management' of node 'x' is not one of its interfaces"),
])
def test_node_file_errors(edit, message):
    text = NODE.format(name="x").replace(*edit)
    with pytest.raises(TopologyError, match=message):
        parse_node(text, "x", parse_layout(LAYOUT))


def test_node_without_wiring_anywhere():
    layout = parse_layout(LAYOUT.split("nodes:")[0])
    with pytest.raises(TopologyError, match="no 'nodes.x' or 'nodes.default'"):
        parse_node(NODE.format(name="x"), "x", layout)


@pytest.mark.parametrize("edit, message", [
    (("forward: nat", "forward: weird"), "is not nat, route or bridge"),
    (("start: 198.18.11.10", "start: 198.18.99.10"), "outside 198.18.11.0/24"),
    (("ip_address: 198.18.11.1", "ip_address: nope"), "is not an IP address"),
    (("name: management", "name: data"), "defined twice: data"),
    (("networks:", "networkz:"), "needs a non-empty 'networks'"),
])
def test_network_file_errors(edit, message):
    with pytest.raises(TopologyError, match=message):
        parse_layout(LAYOUT.replace(*edit, 1))


def test_bridge_network_with_nic():
    text = LAYOUT.replace("nodes:", "  net3: {name: br1, forward: bridge, nic: eth1}\nnodes:")
    layout = parse_layout(text)
    br = layout.by_name("br1")
    assert (br.forward, br.nic, br.ip_address) == ("bridge", "eth1", None)
    with pytest.raises(TopologyError, match="'nic' only applies"):
        parse_layout(LAYOUT.replace("forward: nat", "forward: nat\n    nic: eth1"))


def test_prefix_must_keep_bridge_names_short():
    layout = parse_layout(LAYOUT)
    check_prefix("abcd", layout)  # abcd-management: 15 characters
    with pytest.raises(TopologyError, match="at most 15"):
        check_prefix("abcde", layout)
    with pytest.raises(TopologyError, match="not a valid name prefix"):
        check_prefix("a b", layout)


def test_overrides_reach_node_and_network(tmp_path):
    nodes = tmp_path / "nodes"
    network = tmp_path / "network"
    nodes.mkdir()
    network.mkdir()
    (network / "lab.yml").write_text(LAYOUT)
    (nodes / "worker.yml").write_text(NODE.format(name="wrk"))
    over = parse_overrides(["override.worker.memory=4096",
                            "override.networks.net2.ip_address=198.18.11.2"])
    topo = load_topology([("worker", 2)], "lab", [tmp_path], None, over)
    (node, count), = topo.nodes
    assert (node.key, node.name, node.memory_mib, count) == ("worker", "wrk", 4096, 2)
    assert topo.layout.by_name("management").ip_address == "198.18.11.2"
    with pytest.raises(TopologyError, match="expected override"):
        parse_overrides(["memory=1"])


def test_two_files_with_the_same_vm_name(tmp_path):
    (tmp_path / "nodes").mkdir()
    for f in ("a.yml", "b.yml"):
        (tmp_path / "nodes" / f).write_text(NODE.format(name="same"))
    with pytest.raises(TopologyError, match="both name their VMs 'same'"):
        load_topology([("a", 1), ("b", 1)], "3_nets", [tmp_path])
