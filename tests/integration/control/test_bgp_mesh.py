"""Two Filament control nodes in an iBGP full mesh (their bgp-routers are control nodes,
so they peer without any explicit link), each with a simulated agent: each agent learns
the other's route, with the publishing vRouter as next hop and the origin VN resolved;
a withdrawal crosses the mesh too."""

from __future__ import annotations

import os
import socket

import pytest

from filament.control.node import ControlOptions
from filament.control.rib import InstanceConfig
from filament.control.service import ControlNodeService
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import NextHop, RouteEntry
from tests.integration.control.test_bgp_control_node import eventually

pytestmark = [pytest.mark.integration]

CN_A, CN_B = "127.0.0.81", "127.0.0.82"
AGENT_A, AGENT_B = "127.0.0.83", "127.0.0.84"
RED = "default-domain:p:red:red"
RT = "target:64512:1"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def routers(ports: dict[str, int], names: dict[str, str]) -> dict:
    return {"bgp-router": {
        f"u-{addr}": {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", names[addr]],
                      "bgp_router_parameters": {"router_type": "control-node", "vendor": "contrail", "address": addr,
                                                "identifier": addr, "autonomous_system": 64512, "port": ports[addr],
                                                "hold_time": 30}}
        for addr in (CN_A, CN_B)
    }}


async def test_agents_on_two_meshed_control_nodes_learn_each_other():
    tag = os.getpid()
    names = {CN_A: f"cn-a-{tag}", CN_B: f"cn-b-{tag}"}
    ports = {a: free_port(a) for a in (CN_A, CN_B)}
    nodes = {}
    agents = []
    try:
        for addr in (CN_A, CN_B):
            svc = ControlNodeService(None, host=addr, xmpp_port=0, introspect_port=0, name=names[addr],
                                     options=ControlOptions(eor_quiet=0.0), bgp_port=ports[addr])
            await svc.start()
            svc.node.configure_instances({RED: InstanceConfig(RED, frozenset({RT}), frozenset({RT}), "default-domain:p:red", 5, 5001)})
            nodes[addr] = svc
        for svc in nodes.values():
            await svc.apply_bgp_config(routers(ports, names))
        a_to_b = nodes[CN_A].bgp.speaker.sessions[CN_B]
        b_to_a = nodes[CN_B].bgp.speaker.sessions[CN_A]
        assert a_to_b.config.ibgp and a_to_b.config.name == names[CN_B]
        await eventually(lambda: a_to_b.established and b_to_a.established, what="the mesh session")

        for addr, agent_addr, name in ((CN_A, AGENT_A, "compute-a"), (CN_B, AGENT_B, "compute-b")):
            agent = await SimAgent.connect(addr, nodes[addr].xmpp_port, f"{name}-{tag}", local_addr=agent_addr)
            agents.append(agent)
            agent.subscribe(RED, 3)
        agent_a, agent_b = agents
        agent_a.publish(RED, RouteEntry(1, 1, address="10.1.0.10/32", next_hops=(NextHop(AGENT_A, label=5001, encap=("vxlan",)),)))
        agent_b.publish(RED, RouteEntry(1, 1, address="10.1.0.20/32", next_hops=(NextHop(AGENT_B, label=5001, encap=("vxlan",)),)))

        await agent_a.wait_for(lambda a: "10.1.0.20/32" in a.table("inet", RED), timeout=15)
        await agent_b.wait_for(lambda a: "10.1.0.10/32" in a.table("inet", RED), timeout=15)
        got_a = agent_a.table("inet", RED)["10.1.0.20/32"].next_hops[0]
        got_b = agent_b.table("inet", RED)["10.1.0.10/32"].next_hops[0]
        assert (got_a.address, got_a.label, got_a.encap) == (AGENT_B, 5001, ("vxlan",))
        assert (got_b.address, got_b.label, got_b.encap) == (AGENT_A, 5001, ("vxlan",))
        assert got_a.virtual_network == got_b.virtual_network == "default-domain:p:red"  # from the origin-VN community
        # the learned path is BGP from the other control node, in the VPN table under the agent's RD
        path = nodes[CN_A].node.rib.tables["bgp.l3vpn.0"].routes[f"{AGENT_B}:3:10.1.0.20/32"].paths[0]
        assert (path.protocol, path.peer) == ("BGP", names[CN_B])

        agent_b.publish(RED, RouteEntry(1, 1, address="10.1.0.20/32", next_hops=(NextHop(AGENT_B, label=5001),)), add=False)
        await agent_a.wait_for(lambda a: "10.1.0.20/32" not in a.table("inet", RED), timeout=15)
    finally:
        for agent in agents:
            agent.close()
        for svc in nodes.values():
            await svc.stop()
