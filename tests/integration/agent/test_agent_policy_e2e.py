"""A network policy between two networks, from the config API to packets (issue 5,
proof 3): red (100.64.1.0/24) and blue (100.64.2.0/24). The compiler connects their
routing instances when one policy naming both is attached to both; the control node
then leaks each network's routes into the other's instance by route target, and the
agents route across networks (leaked routes carry the other network's VNI). Before the
policy and after detaching it, the networks cannot reach each other.

w1 (red) on h1; w2 (blue) on h2: cross-network across hosts. w3 (blue) on h1: cross-
network on one host (leaked route whose next hop is this host). w3's security group
allows everything in and nothing out, so its replies pass only as part of a flow
conntrack already knows: cross-network flows on one host must stay in one zone."""

from __future__ import annotations

import asyncio
import os
import shutil
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


@pytest.fixture
def lab():
    lab = Lab("pole2e")
    try:
        yield lab
    finally:
        lab.close()


def _vn_body(name: str, third: int) -> dict:
    return {"fq_name": PROJ + [name], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": f"100.64.{third}.0", "ip_prefix_len": 24},
                 "default_gateway": f"100.64.{third}.1"}]}}]}


def _has_route(agent: AgentService, vrf: str, prefix: str) -> bool:
    net = agent.view.networks.get(vrf)
    return net is not None and any(r.prefix == prefix and r.kind == "unicast" and r.table == 0x10000 + net.vni
                                   for r in agent.desired.routes)


async def test_policy_connects_two_networks(api_server, lab, tmp_path):
    sfx = uuid.uuid4().hex[:8]
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.0.1", "198.18.0.2")
    w1 = lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1")
    w2 = lab.workload(h2, "tapw2", "w2", "100.64.2.12", "02:00:00:00:02:12", "100.64.2.1")
    w3 = lab.workload(h1, "tapw3", "w3", "100.64.2.13", "02:00:00:00:02:13", "100.64.2.1")
    api = ConfigClient(api_server)
    comp = CompilerService(api_server, name=f"comp-{sfx}")
    ctl = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                             options=ControlOptions())
    agents: list[AgentService] = []
    try:
        red = await api.create("virtual-network", _vn_body(f"red-{sfx}", 1))
        blue = await api.create("virtual-network", _vn_body(f"blue-{sfx}", 2))
        red_vrf = ":".join(red["fq_name"] + [red["fq_name"][-1]])
        blue_vrf = ":".join(blue["fq_name"] + [blue["fq_name"][-1]])
        pol = await api.create("network-policy", {
            "fq_name": PROJ + [f"red-blue-{sfx}"], "parent_type": "project",
            "network_policy_entries": {"policy_rule": [{
                "rule_uuid": str(uuid.uuid4()), "direction": "<>", "protocol": "any", "ethertype": "IPv4",
                "src_addresses": [{"virtual_network": ":".join(red["fq_name"])}],
                "dst_addresses": [{"virtual_network": ":".join(blue["fq_name"])}],
                "src_ports": [{"start_port": -1, "end_port": -1}], "dst_ports": [{"start_port": -1, "end_port": -1}],
                "action_list": {"simple_action": "pass"}}]}})
        sg = await api.create("security-group", {
            "fq_name": PROJ + [f"in-only-{sfx}"], "parent_type": "project",
            "security_group_entries": {"policy_rule": [{
                "rule_uuid": str(uuid.uuid4()), "direction": ">", "protocol": "any", "ethertype": "IPv4",
                "src_addresses": [{"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}}],
                "src_ports": [{"start_port": 0, "end_port": 65535}],
                "dst_addresses": [{"security_group": "local"}],
                "dst_ports": [{"start_port": 0, "end_port": 65535}]}]}})
        ports: dict[int, list[dict]] = {1: [], 2: []}
        vms: dict[int, list[dict]] = {1: [], 2: []}
        for host, vn, name, ifname, ip, mac in ((1, red, "w1", "tapw1", "100.64.1.11", "02:00:00:00:01:11"),
                                                (2, blue, "w2", "tapw2", "100.64.2.12", "02:00:00:00:02:12"),
                                                (1, blue, "w3", "tapw3", "100.64.2.13", "02:00:00:00:02:13")):
            vm, vmi = await make_port(api, sfx, vn, name, ip, mac)
            if name == "w3":
                await api.ref_update("virtual-machine-interface", vmi["uuid"], "security-group", sg["uuid"], "ADD")
            vms[host].append(vm)
            ports[host].append(port_body(vmi, vm, vn, ifname, ip, mac))
        for i in (1, 2):
            await add_vrouter(api, f"cn{i}-{sfx}", f"198.18.0.{i}", vms[i])
        await comp.start()
        await ctl.start()
        await until(lambda: ctl.node.config_connected)
        await start_agents(agents, (h1, h2), [("127.0.0.1", ctl.xmpp_port)] * 2, sfx, tmp_path, 40)
        for a, i in zip(agents, (1, 2)):
            await plug(a, *ports[i])
        a1, a2 = agents

        async def settled():
            for a in agents:
                await a.wait_applied()
                assert not a.last_pass.failed, a.last_pass.failed

        # no policy: same-network traffic only
        await until(lambda: _has_route(a1, blue_vrf, "100.64.2.12/32"), timeout=20)
        await until(lambda: any(acl.stage == "sg" and acl.rules for acl in a1.desired.filter.acls), timeout=20)
        await settled()
        assert await asyncio.to_thread(lab.ping, w2, "100.64.2.13")
        assert not await asyncio.to_thread(lab.ping, w3, "100.64.2.12", 1, 1)  # w3 sends nothing new
        assert not _has_route(a1, red_vrf, "100.64.2.12/32")
        assert not await asyncio.to_thread(lab.ping, w1, "100.64.2.12", 1, 1)
        assert not await asyncio.to_thread(lab.ping, w1, "100.64.2.13", 1, 1)

        # attach the policy to both networks: routes leak both ways, pings pass
        for vn in (red, blue):
            await api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"], "ADD",
                                 {"sequence": {"major": 0, "minor": 0}})

        def leaked():
            return (_has_route(a1, red_vrf, "100.64.2.12/32") and _has_route(a1, red_vrf, "100.64.2.13/32")
                    and _has_route(a1, blue_vrf, "100.64.1.11/32") and _has_route(a2, blue_vrf, "100.64.1.11/32"))

        await until(leaked, timeout=20)
        await until(lambda: all(a.view.networks[v].acl is not None for a, v in ((a1, red_vrf), (a2, blue_vrf))))
        await settled()
        assert await asyncio.to_thread(lab.ping, w1, "100.64.2.12")  # across hosts
        assert await asyncio.to_thread(lab.ping, w2, "100.64.1.11")
        assert await asyncio.to_thread(lab.ping, w1, "100.64.2.13")  # on one host (one zone: w3 replies)
        assert await asyncio.to_thread(lab.ping, w2, "100.64.2.13")  # same network still works

        # detach it from both: the routes are withdrawn, the networks are apart again
        for vn in (red, blue):
            await api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"], "DELETE")
        await until(lambda: not any(_has_route(a1, red_vrf, p) for p in ("100.64.2.12/32", "100.64.2.13/32"))
                    and not _has_route(a2, blue_vrf, "100.64.1.11/32"), timeout=20)
        await settled()
        assert not await asyncio.to_thread(lab.ping, w1, "100.64.2.12", 1, 1)
        assert not await asyncio.to_thread(lab.ping, w2, "100.64.1.11", 1, 1)
        assert not await asyncio.to_thread(lab.ping, w1, "100.64.2.13", 1, 1)
        assert await asyncio.to_thread(lab.ping, w2, "100.64.2.13")
    finally:
        for a in agents:
            await a.stop()
        await ctl.stop()
        await comp.stop()
        await api.close()
