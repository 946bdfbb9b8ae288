"""Generated libvirt XML against golden files (UPDATE_GOLDEN=1 rewrites them)."""

import os
from pathlib import Path

import pytest

from filament.provision.virsh.libvirt_xml import (domain_facts, domain_xml, dhcp_hosts,
                                                  network_shape, network_xml)
from filament.provision.virsh.plan import Settings, domain_spec
from filament.provision.virsh.topology import load_topology, parse_layout

GOLDEN = Path(__file__).parent / "golden"

BRIDGES = """
networks:
  net1: {name: br1, forward: bridge, nic: eth1}
  net2: {name: br-lan, forward: bridge}
  net3:
    name: ext6
    forward: route
    ip_address: 198.18.12.1
    netmask: 255.255.255.0
    mtu: 9000
    stp: yes
    domain: lab.test
    ipv6: {ip_address: "2001:db8::1", prefix: 64, dhcp: {range: {start: "2001:db8::10", end: "2001:db8::ff"}}}
nodes: {}
"""


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs (UPDATE_GOLDEN=1 to accept)"


def three_nets():
    return load_topology([("undercloud", 1), ("controller", 1), ("ceph", 1)], "3_nets", [])


@pytest.mark.parametrize("net", ["data", "management", "external"])
def test_default_networks(net):
    layout = three_nets().layout
    golden(f"network-{net}.xml", network_xml(layout.by_name(net), net))


@pytest.mark.parametrize("net", ["br1", "br-lan", "ext6"])
def test_bridge_route_and_ipv6_networks(net):
    layout = parse_layout(BRIDGES)
    golden(f"network-{net}.xml", network_xml(layout.by_name(net), f"p1-{net}"))


def test_prefixed_network_name_is_bridge_name():
    net = three_nets().layout.by_name("management")
    root = network_xml(net, "lab1-management")
    assert "<name>lab1-management</name>" in root
    assert '<bridge name="lab1-management" stp="off" />' in root


SETTINGS = Settings(workspace="/ws/one", disk_pool="/pool", image_url="http://img/base.qcow2",
                    images={"http://img/base.qcow2": "/pool/base.qcow2"})


@pytest.mark.parametrize("node_type, index, virt_type", [
    ("undercloud", 0, "kvm"), ("controller", 2, "kvm"), ("ceph", 0, "qemu")])
def test_domains(node_type, index, virt_type):
    topo = three_nets()
    node = next(n for n, _ in topo.nodes if n.key == node_type)
    spec = domain_spec(node, index, Settings(**{**SETTINGS.__dict__, "virt_type": virt_type,
                                                "prefix": "lab1"}))
    golden(f"domain-{node_type}-{index}-{virt_type}.xml", domain_xml(spec, SETTINGS.workspace))


def test_os_disk_is_overlay_on_base_image_other_disks_empty():
    topo = three_nets()
    ceph = next(n for n, _ in topo.nodes if n.key == "ceph")
    under = next(n for n, _ in topo.nodes if n.key == "undercloud")
    u = domain_spec(under, 0, SETTINGS)
    assert [(d.path, d.backing, d.size) for d in u.disks] == [
        ("/pool/undercloud-0-disk1.qcow2", "/pool/base.qcow2", "100G")]
    c = domain_spec(ceph, 1, SETTINGS)  # deploy_os: false → no image at all
    assert [d.backing for d in c.disks] == [None] * 6
    assert c.disks[5].path == "/pool/ceph-1-disk6.qcow2"


def test_facts_read_back_from_live_xml():
    live = """<domain type='kvm'><name>lab1-controller-2</name>
      <metadata><filament:node xmlns:filament="urn:x-filament:virsh:1" workspace="/ws/one"
        type="controller" index="2" fingerprint="abc"/></metadata>
      <devices>
        <disk type='file'><source file='/pool/lab1-controller-2-disk1.qcow2'/>
          <backingStore type='file'><source file='/pool/base.qcow2'/></backingStore></disk>
        <interface type='network'><mac address='52:54:00:aa:bb:cc'/>
          <source network='lab1-data' portid='x' bridge='lab1-data'/></interface>
        <interface type='bridge'><mac address='52:54:00:aa:bb:cd'/><source bridge='br0'/></interface>
      </devices></domain>"""
    f = domain_facts(live)
    assert (f.name, f.workspace, f.node_type, f.fingerprint) == (
        "lab1-controller-2", "/ws/one", "controller", "abc")
    assert f.nics == (("network", "lab1-data", "52:54:00:aa:bb:cc"),
                      ("bridge", "br0", "52:54:00:aa:bb:cd"))
    assert f.disks == ("/pool/lab1-controller-2-disk1.qcow2",)  # never the backing file
    assert domain_facts("<domain><name>x</name></domain>").workspace is None


def test_network_shape_ignores_what_libvirt_adds():
    net = three_nets().layout.by_name("management")
    ours = network_xml(net, "management")
    live = """<network><name>management</name><uuid>1-2</uuid><forward mode='nat'>
      <nat><port start='1024' end='65535'/></nat></forward>
      <bridge name='management' stp='off' delay='0'/><mac address='52:54:00:01:02:03'/>
      <ip address='172.16.0.1' netmask='255.255.255.0'><dhcp>
        <range start='172.16.0.2' end='172.16.0.100'/>
        <host mac='52:54:00:aa:bb:cc' name='undercloud-0' ip='172.16.0.23'/>
      </dhcp></ip></network>"""
    assert network_shape(live) == network_shape(ours)
    assert dhcp_hosts(live) == {"52:54:00:aa:bb:cc": ("undercloud-0", "172.16.0.23")}
    other = live.replace("172.16.0.100", "172.16.0.90")
    assert network_shape(other) != network_shape(ours)
