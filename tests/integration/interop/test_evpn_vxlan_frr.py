"""Seed 004's EVPN/VXLAN interop, for real: an FRR "leaf switch" (zebra + bgpd in a
namespace, Linux bridge br<VNI> with VXLAN port vx<VNI>: an L2VNI as the seed's
Cumulus switch has) peers with a Filament control node; a host plugged into the
switch's bridge pings a Filament workload of the same network (agent with the linux
datapath on a vRouter namespace) over VXLAN, and FRR's EVPN table shows the
workload's type-2 route.

Config goes through a real config API (virtual network, ports, bgp-routers); the
control node and the agent run in this process, the datapaths in namespaces.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import aiohttp
import pytest

from filament.agent.service import AgentOptions, AgentService
from filament.compiler.service import CompilerService
from filament.config.client import ConfigClient
from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService
from filament.datapath.linux import LinuxDatapath
from filament.datapath.state import table_for_vni, vtep_mac

from peers import Frr, Namespaces, bridge_host, free_port, have_frr, l2vni_switch, sh, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not have_frr() or not shutil.which("nft"), reason="needs root, FRR and nft"),
]
GSC = "default-global-system-config"
PROJ = ["default-domain", "default-project"]
IPAM = PROJ + ["default-network-ipam"]
FABRIC_RI = PROJ + ["ip-fabric", "__default__"]
ASN = 64512
_B = 4 * (os.getpid() % 60)
OURS, FRR_ADDR = f"198.19.201.{_B + 1}", f"198.19.201.{_B + 2}"
VROUTER, SWITCH_VTEP = "198.18.96.1", "198.18.96.2"
WL_IP, WL_MAC = "100.64.1.11", "02:00:00:00:01:11"
HOST_IP, HOST_MAC = "100.64.1.21", "02:00:00:00:21:21"


def frr_conf(filament_port: int, vni: int, target: str) -> str:
    return f"""frr defaults datacenter
router bgp {ASN}
 bgp router-id {FRR_ADDR}
 no bgp default ipv4-unicast
 neighbor {OURS} remote-as {ASN}
 neighbor {OURS} port {filament_port}
 neighbor {OURS} update-source {FRR_ADDR}
 neighbor {OURS} timers connect 1
 address-family l2vpn evpn
  neighbor {OURS} activate
  advertise-all-vni
  vni {vni}
   route-target import {target}
   route-target export {target}
  exit-vni
 exit-address-family
"""


def ping(ns: str, address: str) -> bool:
    return sh("ping", "-c", "3", "-i", "0.2", "-W", "1", address, ns=ns, check=False).returncode == 0


async def until(pred, timeout=15.0, what="condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def frr_has_workload(frr: Frr) -> bool:
    data = frr.json("show bgp l2vpn evpn route type macip")
    return any(isinstance(e, dict) and any(WL_IP in k for k in e) for e in data.values())


async def test_host_behind_frr_l2vni_pings_filament_workload(api_server, tmp_path):
    sfx = uuid.uuid4().hex[:8]
    nss = Namespaces("seed4")
    api = ConfigClient(api_server)
    ctl: ControlNodeService | None = None
    comp = CompilerService(api_server, name=f"comp-{os.getpid()}")
    agent: AgentService | None = None
    frr: Frr | None = None
    frr_dir = tempfile.TemporaryDirectory(prefix="fil-frr-seed4-")
    try:
        h1, sw = nss.add("h1"), nss.add("sw")
        nss.veth(h1, "ul0", sw, "ul0")
        sh("ip", "addr", "add", f"{VROUTER}/24", "dev", "ul0", ns=h1)
        sh("ip", "addr", "add", f"{SWITCH_VTEP}/24", "dev", "ul0", ns=sw)
        nss.link_to_root(sw, "ctl0", FRR_ADDR, OURS)
        w1 = nss.add("w1")
        sh("ip", "link", "add", "tapw1", "netns", h1, "type", "veth", "peer", "name", "eth0", "netns", w1)
        sh("ip", "link", "set", "eth0", "address", WL_MAC, "mtu", "1450", "up", ns=w1)
        sh("ip", "addr", "add", f"{WL_IP}/24", "dev", "eth0", ns=w1)
        sh("ip", "route", "add", "default", "via", "100.64.1.1", ns=w1)

        # config: the network, the workload's port, our bgp-router and FRR's
        vn = await api.create("virtual-network", {
            "fq_name": PROJ + [f"red-{sfx}"], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": "100.64.1.0", "ip_prefix_len": 24}, "default_gateway": "100.64.1.1"}]}}]})
        vm = await api.create("virtual-machine", {"fq_name": [f"w1-{sfx}"]})
        vmi = await api.create("virtual-machine-interface", {
            "fq_name": PROJ + [f"w1-{sfx}"], "parent_type": "project",
            "virtual_network_refs": [{"to": vn["fq_name"], "uuid": vn["uuid"]}],
            "virtual_machine_refs": [{"to": vm["fq_name"], "uuid": vm["uuid"]}],
            "virtual_machine_interface_mac_addresses": {"mac_address": [WL_MAC]}})
        await api.create("instance-ip", {
            "fq_name": [f"w1-{sfx}"], "instance_ip_address": WL_IP,
            "virtual_network_refs": [{"to": vn["fq_name"], "uuid": vn["uuid"]}],
            "virtual_machine_interface_refs": [{"to": vmi["fq_name"], "uuid": vmi["uuid"]}]})
        await api.create("virtual-router", {
            "fq_name": [GSC, f"cn1-{sfx}"], "parent_type": "global-system-config", "virtual_router_ip_address": VROUTER,
            "virtual_machine_refs": [{"to": vm["fq_name"], "uuid": vm["uuid"]}]})
        frr_router = await api.create("bgp-router", {
            "fq_name": FABRIC_RI + [f"frr-{sfx}"], "parent_type": "routing-instance",
            "bgp_router_parameters": {"router_type": "router", "address": FRR_ADDR, "identifier": FRR_ADDR,
                                      "autonomous_system": ASN, "hold_time": 30,
                                      "address_families": {"family": ["e-vpn"]}}})
        await api.create("bgp-router", {
            "fq_name": FABRIC_RI + [f"ctl-{sfx}"], "parent_type": "routing-instance",
            "bgp_router_parameters": {"router_type": "control-node", "address": OURS, "identifier": OURS,
                                      "autonomous_system": ASN},
            "bgp_router_refs": [{"to": frr_router["fq_name"], "uuid": frr_router["uuid"], "attr": {"session": []}}]})

        await comp.start()
        ctl = ControlNodeService(api_server, host=OURS, xmpp_port=0, introspect_port=0, bgp_port=free_port(OURS),
                                 name=f"ctl-{sfx}", options=ControlOptions())
        await ctl.start()
        vrf = ":".join(vn["fq_name"] + [vn["fq_name"][-1]])
        await until(lambda: vrf in ctl.node.rib.instances and ctl.node.rib.instances[vrf].config
                    and ctl.node.rib.instances[vrf].config.export_targets, what="the network's route target (compiler)")
        cfg = ctl.node.rib.instances[vrf].config
        vni, target = cfg.vxlan_id, sorted(cfg.export_targets)[0].removeprefix("target:")

        # the leaf switch: bridge + VXLAN for the network's VNI, a host on it, FRR
        l2vni_switch(sw, vni=vni, vtep=SWITCH_VTEP, underlay_dev="ul0", bridge_ip="100.64.1.254/24")
        host = bridge_host(nss, sw, "hb", "swp1", f"{HOST_IP}/24", HOST_MAC, vni)
        sh("ping", "-c", "1", "-W", "1", "100.64.1.254", ns=host)  # the SVI learns the host's IP: FRR sends MAC+IP
        frr = await asyncio.to_thread(Frr, Path(frr_dir.name), frr_conf(ctl.bgp_port, vni, target), ns=sw, zebra=True)
        await asyncio.to_thread(wait_until, lambda: frr.neighbor_state(OURS) == "Established", 20, "FRR to establish")

        # the vRouter with the workload's port
        opts = AgentOptions(f"cn1-{sfx}", VROUTER, "ul0", 1600, [(OURS, ctl.xmpp_port)], "127.0.0.31",
                            port_api=("127.0.0.1", 0), introspect=("127.0.0.1", 0), ports_dir=str(tmp_path / "ports"),
                            resync_interval=2.0)
        agent = AgentService(opts, lambda: LinuxDatapath(h1))
        await agent.start()
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"http://127.0.0.1:{agent.port_api_port}/port", json={
                "id": vmi["uuid"], "instance-id": vm["uuid"], "vn-id": vn["uuid"], "vm-project-id": "",
                "display-name": vm["fq_name"][-1], "ip-address": WL_IP, "ip6-address": "", "type": 0,
                "system-name": "tapw1", "mac-address": WL_MAC, "rx-vlan-id": -1, "tx-vlan-id": -1})
            assert r.status == 200, await r.text()
        await agent.wait_applied()

        # FRR's EVPN table shows the workload's type-2 route; the host's type 2 becomes a
        # /32 on flvx<VNI> on the vRouter; the host reaches the workload over VXLAN
        await asyncio.to_thread(wait_until, lambda: frr_has_workload(frr), 10, "FRR to learn the workload's type-2 route")
        table, dev = str(table_for_vni(vni)), f"flvx{vni}"
        await asyncio.to_thread(wait_until, lambda: f"dev {dev}" in sh("ip", "route", "show", "table", table,
                                                                        f"{HOST_IP}/32", ns=h1).stdout,
                                10, "the vRouter to route to the host behind FRR")
        await agent.wait_applied()
        assert await asyncio.to_thread(ping, host, WL_IP), "host behind FRR -> Filament workload"

        # what carried it: the workload's type 2 names the vRouter's VXLAN device MAC (routed
        # datapath), and our type 3 (ingress replication) makes the switch flood BUM to us
        prefixes = [k for entries in frr.evpn_routes().values() for k in entries]
        tags = (0, vni)  # vlan-based or vlan-aware (the network's choice): FRR imports either by RT
        assert any(f"[2]:[{t}]:[48]:[{vtep_mac(VROUTER)}]:[32]:[{WL_IP}]" in prefixes for t in tags), prefixes
        assert any(f"[3]:[{t}]:[32]:[{VROUTER}]" in prefixes for t in tags), prefixes
        assert f"00:00:00:00:00:00 dst {VROUTER}" in sh("bridge", "fdb", "show", "dev", f"vx{vni}", ns=sw).stdout
        # with the host's MAC as neighbour and the MAC -> the switch's VTEP in the fdb
        assert HOST_MAC in sh("ip", "neigh", "show", HOST_IP, "dev", dev, ns=h1).stdout
        assert f"{HOST_MAC} dst {SWITCH_VTEP}" in sh("bridge", "fdb", "show", "dev", dev, ns=h1).stdout
        assert await asyncio.to_thread(ping, w1, HOST_IP), "Filament workload -> host behind FRR"

        # without the switch's ARP suppression the host's ARP is flooded to our VTEP, and
        # flvx<VNI> answers by proxy with the MAC of the type-2 route
        sh("bridge", "link", "set", "dev", f"vx{vni}", "neigh_suppress", "off", ns=sw)
        sh("ip", "neigh", "flush", "dev", "eth0", ns=host)
        assert await asyncio.to_thread(ping, host, WL_IP), "ping after a flooded ARP"
        assert vtep_mac(VROUTER) in sh("ip", "neigh", "show", WL_IP, ns=host).stdout

        # withdrawals: the host leaves the switch -> its /32, neighbour and fdb go from the
        # vRouter; the port is deleted -> its type 2 (and our type 3) leave FRR
        sh("ip", "link", "del", "swp1", ns=sw)

        def host_gone() -> bool:
            return (HOST_IP not in sh("ip", "route", "show", "table", table, ns=h1).stdout
                    and HOST_MAC not in sh("bridge", "fdb", "show", "dev", dev, ns=h1).stdout
                    and HOST_IP not in sh("ip", "neigh", "show", "dev", dev, ns=h1).stdout)

        await asyncio.to_thread(wait_until, host_gone, 20, "the host's route, neighbour and fdb to leave the vRouter")
        async with aiohttp.ClientSession() as http:
            r = await http.delete(f"http://127.0.0.1:{agent.port_api_port}/port/{vmi['uuid']}")
            assert r.status == 200, await r.text()
        await asyncio.to_thread(wait_until, lambda: not any(
            WL_IP in k or k.startswith("[3]") and VROUTER in k for e in frr.evpn_routes().values() for k in e),
            20, "FRR to drop the workload's type 2 and our type 3")
    finally:
        if frr is not None:
            frr.stop()
        if agent is not None:
            await agent.stop()
        if ctl is not None:
            await ctl.stop()
        await comp.stop()
        await api.close()
        nss.close()
        frr_dir.cleanup()
