"""Two Filament control nodes in an iBGP full mesh, an agent (linux datapath) on each
(issue 6 proof): the bgp-routers of both control nodes come from the config API, the
mesh comes up by itself, agent 1 talks only to control node A and agent 2 only to B,
and their workloads ping each other across the two compute-host namespaces: each
agent's route crosses the mesh as VPNv4 with the RT the compiler gave the network.
Stopping control node B withdraws w2's route at agent 1 once B's paths are gone."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid

import pytest

from filament.agent.service import AgentService
from filament.compiler.service import CompilerService
from filament.config.client import ConfigClient
from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService

from netns import Lab
from test_agent_e2e import IPAM, PROJ, add_vrouter, make_port, plug, port_body, start_agents, until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]
FABRIC = ["default-domain", "default-project", "ip-fabric", "__default__"]
CN = ("127.0.0.91", "127.0.0.92")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
def lab():
    lab = Lab("mesh")
    try:
        yield lab
    finally:
        lab.close()


async def test_workloads_on_agents_of_two_meshed_control_nodes_ping(api_process, lab, tmp_path):
    api_url = api_process().start()  # its own store: no other test's bgp-routers join this mesh
    sfx = uuid.uuid4().hex[:8]
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.6.1", "198.18.6.2")
    w1 = lab.workload(h1, "tapm1", "w1", "100.65.1.11", "02:00:00:00:06:11", "100.65.1.1")
    lab.workload(h2, "tapm2", "w2", "100.65.1.12", "02:00:00:00:06:12", "100.65.1.1")

    api = ConfigClient(api_url)
    comp = CompilerService(api_url, name=f"comp-{sfx}")
    names = {addr: f"cn{i}-{sfx}" for i, addr in enumerate(CN, 1)}
    bgp_ports = {addr: free_port(addr) for addr in CN}
    ctls: dict[str, ControlNodeService] = {}
    agents: list[AgentService] = []
    try:
        for addr in CN:
            await api.create("bgp-router", {
                "fq_name": FABRIC + [names[addr]], "parent_type": "routing-instance",
                "bgp_router_parameters": {"router_type": "control-node", "vendor": "contrail", "address": addr,
                                          "identifier": addr, "autonomous_system": 64512,
                                          "port": bgp_ports[addr], "hold_time": 30,
                                          "address_families": {"family": ["inet-vpn", "e-vpn", "route-target"]}}})
        vn = await api.create("virtual-network", {
            "fq_name": PROJ + [f"mesh-{sfx}"], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": "100.65.1.0", "ip_prefix_len": 24}, "default_gateway": "100.65.1.1"}]}}]})
        ports = []
        for i, (ifname, ip, mac) in enumerate((("tapm1", "100.65.1.11", "02:00:00:00:06:11"),
                                                ("tapm2", "100.65.1.12", "02:00:00:00:06:12")), 1):
            vm, vmi = await make_port(api, sfx, vn, f"m{i}", ip, mac)
            await add_vrouter(api, f"mh{i}-{sfx}", f"198.18.6.{i}", [vm])
            ports.append(port_body(vmi, vm, vn, ifname, ip, mac))
        await comp.start()
        for addr in CN:
            ctl = ControlNodeService(api_url, host=addr, xmpp_port=0, introspect_port=0, name=names[addr],
                                     options=ControlOptions(), bgp_port=bgp_ports[addr])
            await ctl.start()
            ctls[addr] = ctl
        await until(lambda: all(c.node.config_connected for c in ctls.values()))
        a_to_b = lambda: ctls[CN[0]].bgp.speaker.sessions.get(CN[1])  # noqa: E731
        await until(lambda: a_to_b() is not None and a_to_b().established, timeout=20)

        await start_agents(agents, (h1, h2), [(addr, ctls[addr].xmpp_port) for addr in CN], sfx, tmp_path, 92,
                           names="mh", underlay="198.18.6", introspect=False)
        for a, body in zip(agents, ports):
            await plug(a, body)

        # each agent learns the other's /32 through its own control node and the mesh
        def learned(a: AgentService, prefix: str, vtep: str) -> bool:
            return any(r.prefix == prefix and any(h.via == vtep for h in r.nexthops) for r in a.desired.routes)

        await until(lambda: learned(agents[0], "100.65.1.12/32", "198.18.6.2")
                    and learned(agents[1], "100.65.1.11/32", "198.18.6.1"), timeout=20)
        for a in agents:
            await a.wait_applied()
            assert not a.last_pass.failed, a.last_pass.failed
        assert await asyncio.to_thread(lab.ping, w1, "100.65.1.12", 3)
        assert await asyncio.to_thread(lab.ping, lab.namespaces[-1], "100.65.1.11", 3)

        # control node B goes away for good: A drops B's paths, agent 1 stops routing to w2
        await ctls.pop(CN[1]).stop()
        await until(lambda: not learned(agents[0], "100.65.1.12/32", "198.18.6.2"), timeout=40)
    finally:
        for a in agents:
            await a.stop()
        for c in ctls.values():
            await c.stop()
        await comp.stop()
        await api.close()
