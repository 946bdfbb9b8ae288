"""Agents with the linux datapath, a real control node and a real config API: ports
created through the API and plugged through the port API ping across two compute-host
namespaces. (Control node and agents run in this process; the datapath in the netns.)"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid

import aiohttp
import pytest

from filament.agent.service import AgentOptions, AgentService
from filament.config.client import ConfigClient
from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService

from netns import Lab, sh

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]
GSC = "default-global-system-config"
PROJ = ["default-domain", "default-project"]
IPAM = PROJ + ["default-network-ipam"]


@pytest.fixture
def lab():
    lab = Lab("e2e")
    try:
        yield lab
    finally:
        lab.close()


async def until(pred, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, "condition not met"
        await asyncio.sleep(0.05)


async def make_port(api, sfx, vn, name, ip, mac):
    vm = await api.create("virtual-machine", {"fq_name": [f"{name}-{sfx}"]})
    vmi = await api.create("virtual-machine-interface", {
        "fq_name": PROJ + [f"{name}-{sfx}"], "parent_type": "project",
        "virtual_network_refs": [{"to": vn["fq_name"], "uuid": vn["uuid"]}],
        "virtual_machine_refs": [{"to": vm["fq_name"], "uuid": vm["uuid"]}],
        "virtual_machine_interface_mac_addresses": {"mac_address": [mac]},
    })
    await api.create("instance-ip", {
        "fq_name": [f"{name}-{sfx}"], "instance_ip_address": ip,
        "virtual_network_refs": [{"to": vn["fq_name"], "uuid": vn["uuid"]}],
        "virtual_machine_interface_refs": [{"to": vmi["fq_name"], "uuid": vmi["uuid"]}],
    })
    return vm, vmi


def port_body(vmi, vm, vn, ifname, ip, mac):
    return {"id": vmi["uuid"], "instance-id": vm["uuid"], "vn-id": vn["uuid"], "vm-project-id": "",
            "display-name": vm["fq_name"][-1], "ip-address": ip, "ip6-address": "", "type": 0,
            "system-name": ifname, "mac-address": mac, "rx-vlan-id": -1, "tx-vlan-id": -1}


async def add_vrouter(api, name: str, vtep: str, vms) -> None:
    """The virtual-router of a compute host, linked to the VMs it hosts."""
    await api.create("virtual-router", {
        "fq_name": [GSC, name], "parent_type": "global-system-config", "virtual_router_ip_address": vtep,
        "virtual_machine_refs": [{"to": vm["fq_name"], "uuid": vm["uuid"]} for vm in vms]})


async def start_agents(agents: list, hosts, controls, sfx: str, tmp_path, source_base: int, *,
                       names: str = "cn", underlay: str = "198.18.0", introspect: bool = True) -> list:
    """One agent (linux datapath) per compute-host namespace, appended to ``agents`` as it
    starts (so the caller's cleanup stops every one): host i is ``<names><i>-<sfx>``
    with VTEP ``<underlay>.<i>``, talks XMPP to ``controls[i-1]`` from 127.0.0.<base+i>."""
    from filament.datapath.linux import LinuxDatapath

    for i, (ns, control) in enumerate(zip(hosts, controls), 1):
        opts = AgentOptions(f"{names}{i}-{sfx}", f"{underlay}.{i}", "ul0", 1600, [control],
                            f"127.0.0.{source_base + i}", port_api=("127.0.0.1", 0),
                            introspect=("127.0.0.1", 0) if introspect else None,
                            ports_dir=str(tmp_path / f"ports{i}"), resync_interval=2.0)
        a = AgentService(opts, lambda ns=ns: LinuxDatapath(ns))
        await a.start()
        agents.append(a)
    return agents


async def plug(agent, *bodies) -> None:
    """POST each port body to the agent's port API (200 expected)."""
    async with aiohttp.ClientSession() as http:
        for body in bodies:
            r = await http.post(f"http://127.0.0.1:{agent.port_api_port}/port", json=body)
            assert r.status == 200, await r.text()


async def test_ports_from_the_api_ping_across_hosts(api_server, lab, tmp_path):
    from filament.datapath.linux import LinuxDatapath

    sfx = uuid.uuid4().hex[:8]
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.0.1", "198.18.0.2")
    w1 = lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1")
    w2 = lab.workload(h2, "tapw2", "w2", "100.64.1.12", "02:00:00:00:01:12", "100.64.1.1")

    api = ConfigClient(api_server)
    ctl = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                             options=ControlOptions())
    agents: list[AgentService] = []
    try:
        vn = await api.create("virtual-network", {
            "fq_name": PROJ + [f"red-{sfx}"], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": "100.64.1.0", "ip_prefix_len": 24}, "default_gateway": "100.64.1.1"}]}}]})
        ports = []
        for i, (ns, ifname, ip, mac) in enumerate(((h1, "tapw1", "100.64.1.11", "02:00:00:00:01:11"),
                                                   (h2, "tapw2", "100.64.1.12", "02:00:00:00:01:12")), 1):
            vm, vmi = await make_port(api, sfx, vn, f"w{i}", ip, mac)
            await add_vrouter(api, f"cn{i}-{sfx}", f"198.18.0.{i}", [vm])
            ports.append(port_body(vmi, vm, vn, ifname, ip, mac))
        await ctl.start()
        await until(lambda: ctl.node.config_connected)
        await start_agents(agents, (h1, h2), [("127.0.0.1", ctl.xmpp_port)] * 2, sfx, tmp_path, 20)
        for a, body in zip(agents, ports):
            await plug(a, body)
        async with aiohttp.ClientSession() as http:
            bad = dict(ports[0], **{"mac-address": "00:00:00:00:00:00"})
            r = await http.post(f"http://127.0.0.1:{agents[0].port_api_port}/port", json=bad)
            assert r.status == 500 and "mac-address" in (await r.json())["error"]
            clash = dict(ports[1], id=str(uuid.uuid4()), **{"system-name": "tapw1"})
            r = await http.post(f"http://127.0.0.1:{agents[0].port_api_port}/port", json=clash)
            assert r.status == 500 and "tapw1" in (await r.json())["error"]
        # each agent learns the other's route and programs it
        await until(lambda: all(any(r.prefix.startswith("100.64.1.1") and r.nexthops and r.nexthops[0].via
                                    for r in a.desired.routes) for a in agents))
        for a in agents:
            await a.wait_applied()
            assert not a.last_pass.failed, a.last_pass.failed
        assert await asyncio.to_thread(lab.ping, w1, "100.64.1.12")
        assert await asyncio.to_thread(lab.ping, w2, "100.64.1.11")
        assert await asyncio.to_thread(lab.ping, w1, "100.64.1.1")
        # operator view: `filament vif --list` over the agent's introspect
        from filament.cli.vif import format_vifs

        async with aiohttp.ClientSession() as http:
            as_json = {"Accept": "application/json"}  # XML (Sandesh) otherwise
            itf = await (await http.get(f"http://127.0.0.1:{agents[0].introspect_port}/Snh_ItfReq", headers=as_json)).json()
            rts = await (await http.get(f"http://127.0.0.1:{agents[0].introspect_port}/Snh_Inet4UcRouteReq",
                                        params={"vrf": ":".join(vn["fq_name"] + [vn["fq_name"][-1]])},
                                        headers=as_json)).json()
        text = format_vifs(itf["interfaces"])
        assert "OS: tapw1" in text and "Type:Virtual HWaddr:00:00:5e:00:01:00 IPaddr:6440010b" in text
        assert "Flags:L3L2D MTU:1550" in text and "RX packets:" in text
        hops = [h for r in rts["routes"] if r["prefix"] == "100.64.1.12/32" for h in r["next_hops"]]
        assert len(hops) == 1 and hops[0]["via"] == "198.18.0.2" and hops[0]["dev"].startswith("flvx"), rts
        # `filament vr intf | vrf | route -v` over the same introspect
        from filament.cli.vr import _get, format_intf, format_routes, format_vrfs

        agent, vrf = f"127.0.0.1:{agents[0].introspect_port}", ":".join(vn["fq_name"] + [vn["fq_name"][-1]])
        intf = format_intf((await asyncio.to_thread(_get, agent, "Snh_ItfReq"))["interfaces"])
        assert "tapw1" in intf and "100.64.1.11" in intf and "Active" in intf
        assert vrf in format_vrfs((await asyncio.to_thread(_get, agent, "Snh_VrfListReq"))["vrfs"])
        rt = format_routes(vrf, (await asyncio.to_thread(_get, agent, f"Snh_Inet4UcRouteReq?vrf={vrf}"))["routes"])
        assert "100.64.1.12/32" in rt and "via 198.18.0.2 dev flvx" in rt

        # restart agent 1 (ports replayed from disk) and the control node during a ping: no loss
        pinger = asyncio.create_task(asyncio.to_thread(
            sh, "ping", "-c", "40", "-i", "0.05", "-W", "1", "100.64.1.12", ns=w1, check=False))
        await asyncio.sleep(0.3)
        await agents[0].stop()
        again = AgentService(agents[0].opts, lambda: LinuxDatapath(h1))
        agents[0] = again
        await again.start()
        assert set(again.records) == {ports[0]["id"]}
        port = ctl.xmpp_port
        await ctl.stop()
        ctl = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=port, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                                 options=ControlOptions())
        await ctl.start()
        await until(lambda: all(s.eor.is_set() for a in agents for s in a.sessions))
        out = await pinger
        assert " 0% packet loss" in out.stdout, out.stdout
        for a in agents:
            await a.wait_applied()
        assert await asyncio.to_thread(lab.ping, w1, "100.64.1.12")
        # deleting the port withdraws it: the peer stops reaching it
        async with aiohttp.ClientSession() as http:
            r = await http.delete(f"http://127.0.0.1:{agents[1].port_api_port}/port/{ports[1]['id']}")
            assert r.status == 200
        await until(lambda: not any(r.prefix == "100.64.1.12/32" for r in agents[0].desired.routes))
        await agents[0].wait_applied()
        assert not await asyncio.to_thread(lab.ping, w1, "100.64.1.12", 1, 1)
    finally:
        for a in agents:
            await a.stop()
        await ctl.stop()
        await api.close()
