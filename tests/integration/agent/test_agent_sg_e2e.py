"""A security group from the config API to the kernel: the compiler writes the group's
ACLs, the control node sends them with the port's config, the agent renders them.
w2's group allows only TCP 8080 in: ping is dropped (by the group's default deny, as
`filament flow` shows) while TCP 8080 passes."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid

import pytest

from filament.agent.service import AgentService
from filament.cli.flow import flows
from filament.compiler.service import CompilerService
from filament.config.client import ConfigClient
from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService

from netns import Lab
from test_agent_e2e import IPAM, PROJ, add_vrouter, make_port, plug, port_body, start_agents, until
from test_agent_security_groups import SERVER, tcp_ok

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("conntrack"),
                       reason="needs root, nft and conntrack"),
]


@pytest.fixture
def lab():
    lab = Lab("sge2e")
    try:
        yield lab
    finally:
        lab.close()


async def test_security_group_from_the_api(api_server, lab, tmp_path):
    sfx = uuid.uuid4().hex[:8]
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.0.1", "198.18.0.2")
    w1 = lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1")
    w2 = lab.workload(h2, "tapw2", "w2", "100.64.1.12", "02:00:00:00:01:12", "100.64.1.1")
    api = ConfigClient(api_server)
    comp = CompilerService(api_server, name=f"comp-{sfx}")
    ctl = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                             options=ControlOptions())
    agents: list[AgentService] = []
    server = None
    try:
        vn = await api.create("virtual-network", {
            "fq_name": PROJ + [f"red-{sfx}"], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": "100.64.1.0", "ip_prefix_len": 24}, "default_gateway": "100.64.1.1"}]}}]})
        rule_uuid = str(uuid.uuid4())
        sg = await api.create("security-group", {
            "fq_name": PROJ + [f"web-{sfx}"], "parent_type": "project",
            "security_group_entries": {"policy_rule": [{
                "rule_uuid": rule_uuid, "direction": ">", "protocol": "tcp", "ethertype": "IPv4",
                "src_addresses": [{"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}}],
                "src_ports": [{"start_port": 0, "end_port": 65535}],
                "dst_addresses": [{"security_group": "local"}],
                "dst_ports": [{"start_port": 8080, "end_port": 8080}]}]}})
        ports = []
        for i, (ifname, ip, mac) in enumerate((("tapw1", "100.64.1.11", "02:00:00:00:01:11"),
                                               ("tapw2", "100.64.1.12", "02:00:00:00:01:12")), 1):
            vm, vmi = await make_port(api, sfx, vn, f"w{i}", ip, mac)
            if i == 2:
                await api.ref_update("virtual-machine-interface", vmi["uuid"], "security-group", sg["uuid"], "ADD")
            await add_vrouter(api, f"cn{i}-{sfx}", f"198.18.0.{i}", [vm])
            ports.append(port_body(vmi, vm, vn, ifname, ip, mac))
        await comp.start()
        await ctl.start()
        await until(lambda: ctl.node.config_connected)
        await start_agents(agents, (h1, h2), [("127.0.0.1", ctl.xmpp_port)] * 2, sfx, tmp_path, 30)
        for a, body in zip(agents, ports):
            await plug(a, body)

        def sg_ready():
            acls = agents[1].desired.filter.acls
            return any(a.stage == "sg" and a.direction == "ingress" and any(r.uuid == rule_uuid for r in a.rules)
                       for a in acls)

        await until(sg_ready, timeout=20)
        await until(lambda: any(r.prefix == "100.64.1.12/32" for r in agents[0].desired.routes), timeout=20)
        for a in agents:
            await a.wait_applied()
            assert not a.last_pass.failed, a.last_pass.failed
        server = await asyncio.to_thread(subprocess.Popen, ["ip", "netns", "exec", w2, "python3", "-c", SERVER, "8080"],
                                         stdout=subprocess.PIPE, text=True)
        assert (await asyncio.to_thread(server.stdout.readline)).strip() == "ready"
        assert await asyncio.to_thread(tcp_ok, w1, "100.64.1.12", 8080)
        assert not await asyncio.to_thread(lab.ping, w1, "100.64.1.12", 1, 1)
        assert await asyncio.to_thread(lab.ping, w1, "100.64.1.1")  # the gateway is not filtered

        rows = await asyncio.to_thread(flows, h2)
        assert any(f["action"] == "drop" and f["proto"] == "icmp" and f["rule"] == "default-deny sg ingress tapw2"
                   for f in rows), rows
        assert any(f["action"] == "pass" and f["proto"] == "tcp" and f["rule"] == rule_uuid for f in rows), rows
    finally:
        if server is not None:
            server.kill()
            server.wait()
        for a in agents:
            await a.stop()
        await ctl.stop()
        await comp.stop()
        await api.close()
