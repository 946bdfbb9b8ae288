"""`filament virsh` against a real libvirtd + QEMU (TCG): provision, extend, converge,
bad input, roll back, kill, cleanup."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from filament.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.root]

# Subnets from 198.18.0.0/15 (benchmarking range), unique bridge names per run.
LAYOUT = """
networks:
  net1:
    name: data
    ip_address: 198.18.{o}1.254
    netmask: 255.255.255.0
  net2:
    name: management
    forward: nat
    ip_address: 198.18.{o}2.1
    netmask: 255.255.255.0
    dhcp: {{range: {{start: 198.18.{o}2.10, end: 198.18.{o}2.50}}}}
  net3:
    name: external
    forward: nat
    ip_address: 198.18.{o}3.1
    netmask: 255.255.255.0
    dhcp: {{range: {{start: 198.18.{o}3.10, end: 198.18.{o}3.50}}}}
nodes:
  default:
    interfaces: [{{network: data}}, {{network: management}}, {{network: external}}]
    external_network: {{network: management}}
"""

NODE = """
name: {name}
cpu: "1"
memory: "128"
deploy_os: true
disks:
  disk1: {{size: 64M}}
interfaces: null
groups: [{name}, openstack_nodes]
{extra}
"""


class Lab:
    """One workspace with its own topology files, prefix and subnets."""

    def __init__(self, root: Path, pool: Path, image: Path, octet: int):
        self.ws = root / "ws"
        self.prefix = "f" + uuid.uuid4().hex[:3]
        self.pool = pool
        self.image = image
        (self.ws / "topology" / "nodes").mkdir(parents=True)
        (self.ws / "topology" / "network").mkdir(parents=True)
        (self.ws / "topology" / "network" / "lab.yml").write_text(LAYOUT.format(o=octet))
        self.node_file("tiny")
        self.checksum = "sha256:" + hashlib.sha256(image.read_bytes()).hexdigest()

    def node_file(self, name: str, extra: str = "") -> None:
        (self.ws / "topology" / "nodes" / f"{name}.yml").write_text(
            NODE.format(name=name, extra=extra))

    def run(self, capsys, *args: str) -> tuple[int, str, str]:
        argv = ["virsh", "--workspace", str(self.ws), "--prefix", self.prefix,
                "--topology-network", "lab", "--disk-pool", str(self.pool),
                "--virt-type", "qemu", "--image-url", self.image.as_uri(),
                "--image-checksum", self.checksum, "--lease-timeout", "150",
                "--host-address", "hv.test", *args]
        rc = main(argv)
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return rc, out, err

    def n(self, name: str) -> str:
        return f"{self.prefix}-{name}"


def domains(conn) -> dict[str, object]:
    return {d.name(): d for d in conn.listAllDomains(0)}


def networks(conn) -> dict[str, object]:
    return {n.name(): n for n in conn.listAllNetworks(0)}


def nic_networks(dom) -> list[str]:
    root = ET.fromstring(dom.XMLDesc(0))
    return [s.get("network") for s in root.findall("devices/interface/source")]


def static_hosts(net) -> dict[str, str]:
    root = ET.fromstring(net.XMLDesc(0))
    return {h.get("name"): h.get("ip") for h in root.findall("ip/dhcp/host")}


def inventory_hosts(lab: Lab) -> dict[str, str]:
    out = {}
    for line in (lab.ws / "hosts").read_text().splitlines():
        if line.startswith("["):
            break  # the group sections follow the host lines
        if line.startswith(lab.prefix):
            fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
            out[line.split()[0]] = fields["ansible_host"]
    return out


def test_lab_lifecycle(libvirtd, tiny_image, disk_pool, tmp_path, capsys):
    conn = libvirtd
    lab = Lab(tmp_path, disk_pool, tiny_image, octet=4)
    t0, t1, t2 = lab.n("tiny-0"), lab.n("tiny-1"), lab.n("tiny-2")
    data, mgmt, ext = lab.n("data"), lab.n("management"), lab.n("external")

    # The dry run shows the XML and defines nothing.
    rc, out, _ = lab.run(capsys, "--topology-nodes", "tiny:2", "--dry-run")
    assert rc == 0
    assert f"<name>{t1}</name>" in out and f'<bridge name="{data}" stp="off" />' in out
    assert lab.prefix not in "".join(domains(conn)) + "".join(networks(conn))

    # Provision two nodes on the three-network layout.
    rc, out, err = lab.run(capsys, "--topology-nodes", "tiny:2")
    assert rc == 0, err
    doms = domains(conn)
    assert {t0, t1} <= set(doms) and all(doms[d].isActive() for d in (t0, t1))
    for d in (t0, t1):
        assert nic_networks(doms[d]) == [data, mgmt, ext]
    nets = networks(conn)
    assert all(nets[n].isActive() for n in (data, mgmt, ext))
    data_xml = ET.fromstring(nets[data].XMLDesc(0))
    assert data_xml.find("forward") is None and data_xml.find("ip/dhcp") is None
    assert ET.fromstring(nets[mgmt].XMLDesc(0)).find("forward").get("mode") == "nat"
    # Each node got a real DHCP lease on management, pinned as a static host,
    # and written to the inventory with the proxy through the hypervisor.
    addrs = inventory_hosts(lab)
    assert set(addrs) == {t0, t1}
    assert all(ip.startswith("198.18.42.") for ip in addrs.values())
    assert static_hosts(nets[mgmt]) == addrs
    assert "root@hv.test" in (lab.ws / "hosts").read_text()
    disk0 = disk_pool / f"{t0}-disk1.qcow2"
    assert disk0.exists()
    ids = {d: doms[d].ID() for d in (t0, t1)}

    # Extend by one: the next index, the first two untouched.
    rc, out, err = lab.run(capsys, "--topology-nodes", "tiny:1", "--topology-extend")
    assert rc == 0, err
    assert f"created: {t2}" in out
    doms = domains(conn)
    assert doms[t2].isActive() and nic_networks(doms[t2]) == [data, mgmt, ext]
    assert {d: doms[d].ID() for d in (t0, t1)} == ids
    assert set(inventory_hosts(lab)) == {t0, t1, t2}

    # The same topology again changes nothing: no domain restarted or redefined.
    uuids = {d: doms[d].UUIDString() for d in (t0, t1, t2)}
    rc, out, err = lab.run(capsys, "--topology-nodes", "tiny:3")
    assert rc == 0, err
    assert "created: nothing" in out
    doms = domains(conn)
    assert {d: doms[d].UUIDString() for d in (t0, t1, t2)} == uuids
    assert {d: doms[d].ID() for d in (t0, t1)} == ids

    # Asking for two again converges: the third node, its disk and its lease go.
    rc, out, err = lab.run(capsys, "--topology-nodes", "tiny:2")
    assert rc == 0, err
    assert f"removed: {t2}" in out
    assert t2 not in domains(conn)
    assert not (disk_pool / f"{t2}-disk1.qcow2").exists()
    assert set(static_hosts(networks(conn)[mgmt])) == {t0, t1}

    # --kill removes this workspace's nodes and networks, nothing else.
    conn.networkDefineXML(f"<network><name>{lab.n('other')}</name>"
                          f"<bridge name='{lab.n('oth')}'/></network>")
    rc, out, err = lab.run(capsys, "--kill")
    assert rc == 0, err
    assert not {t0, t1} & set(domains(conn))
    assert set(networks(conn)) == {"default", lab.n("other")}
    assert not disk0.exists()
    assert set(inventory_hosts(lab)) == set()
    assert json.loads((lab.ws / "state.json").read_text()) == {"networks": [], "domains": {}}

    # --cleanup removes every domain and network but `default`, ours or not.
    conn.defineXML(f"<domain type='qemu'><name>{lab.n('stray')}</name>"
                   "<memory unit='MiB'>32</memory><os><type>hvm</type></os></domain>")
    rc, out, err = lab.run(capsys, "--cleanup")
    assert rc == 0, err
    assert domains(conn) == {}
    assert set(networks(conn)) == {"default"}


def _snapshot(conn, pool: Path):
    return sorted(domains(conn)), sorted(networks(conn)), sorted(os.listdir(pool))


@pytest.mark.parametrize("args, message", [
    (["--topology-nodes", "nosuchnode:1"], "nodes file 'nosuchnode' not found"),
    (["--topology-nodes", "tiny:many"], "count 'many' is not a number"),
    (["--topology-nodes", "tiny:1", "--topology-network", "nosuchnet"],
     "network file 'nosuchnet' not found"),
    (["--topology-nodes", "orphan:1"], "uses network 'storage', which the network file "
                                       "does not define"),
    (["--topology-nodes", "tiny:1", "--image-url", "http://127.0.0.1:9/none.qcow2"],
     "image http://127.0.0.1:9/none.qcow2 is not reachable"),
    (["--topology-nodes", "tiny:1", "--image-url", "file:///nonexistent/none.qcow2"],
     "is not a readable file"),
    (["--topology-nodes", "tiny:1", "--libvirt-uri", "qemu+unix:///system?socket=/nonexistent"],
     r"libvirt is not reachable at qemu\+unix:///system"),
    (["--topology-nodes", "tiny:2", "-e", "override.tiny.memory=500000000"],
     r"free memory is \d+ MiB, the new domains need 1000000000 MiB"),
])
def test_bad_input_is_refused_before_anything_is_created(
        libvirtd, tiny_image, disk_pool, tmp_path, capsys, args, message):
    lab = Lab(tmp_path, disk_pool, tiny_image, octet=5)
    lab.node_file("orphan", "interfaces: [{network: storage}]")
    before = _snapshot(libvirtd, disk_pool)
    rc, _out, err = lab.run(capsys, *args)
    assert rc == 1
    assert err.startswith("filament: error: ")
    assert re.search(message, err), err
    assert _snapshot(libvirtd, disk_pool) == before


def test_failure_half_way_leaves_nothing_behind(libvirtd, tiny_image, disk_pool, tmp_path,
                                                capsys):
    """The second node type cannot be defined (bad machine type) after the networks and
    the first domain exist: the run undoes all of it."""
    lab = Lab(tmp_path, disk_pool, tiny_image, octet=6)
    lab.node_file("broken", "machine_type: no-such-machine")
    before = _snapshot(libvirtd, disk_pool)
    rc, out, err = lab.run(capsys, "--topology-nodes", "tiny:1,broken:1")
    assert rc == 1
    assert "defining domain" in err and "nothing this run created was kept" in err
    rolled = next(line for line in out.splitlines() if line.startswith("rolled back: "))
    assert f"domain {lab.n('tiny-0')}" in rolled and f"network {lab.n('data')}" in rolled
    after = _snapshot(libvirtd, disk_pool)
    assert after[:2] == before[:2]
    assert after[2] == sorted(set(before[2]) | {"tiny.qcow2"})  # only the cached base image
    assert json.loads((lab.ws / "state.json").read_text()) == {"networks": [], "domains": {}}
