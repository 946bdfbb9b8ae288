"""Security-group members on other hosts (issue 5): group `db` allows in only what
comes from group `app`. w3 (in db) is on h2; w1 (in app) and w2 (in no group) are on
h1. h2 has no local member of app: it learns w1's membership from the security-group
ids on w1's route (agent -> control node -> agent). w1's ping passes, w2's is dropped
by db's default deny; when w1 leaves app, its pings are dropped too."""

from __future__ import annotations

import asyncio
import os
import shutil
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

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("conntrack"),
                       reason="needs root, nft and conntrack"),
]


@pytest.fixture
def lab():
    lab = Lab("rsge2e")
    try:
        yield lab
    finally:
        lab.close()


def _rule(direction_in: bool, remote: dict) -> dict:
    local = {"security_group": "local"}
    return {"rule_uuid": str(uuid.uuid4()), "direction": ">", "protocol": "any", "ethertype": "IPv4",
            "src_addresses": [remote if direction_in else local], "dst_addresses": [local if direction_in else remote],
            "src_ports": [{"start_port": 0, "end_port": 65535}], "dst_ports": [{"start_port": 0, "end_port": 65535}]}


async def test_remote_group_member_allowed_non_member_dropped(api_server, lab, tmp_path):
    sfx = uuid.uuid4().hex[:8]
    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, "198.18.0.1", "198.18.0.2")
    w1 = lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1")
    w2 = lab.workload(h1, "tapw2", "w2", "100.64.1.12", "02:00:00:00:01:12", "100.64.1.1")
    lab.workload(h2, "tapw3", "w3", "100.64.1.13", "02:00:00:00:01:13", "100.64.1.1")
    api = ConfigClient(api_server)
    comp = CompilerService(api_server, name=f"comp-{sfx}")
    ctl = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                             options=ControlOptions())
    agents: list[AgentService] = []
    try:
        vn = await api.create("virtual-network", {
            "fq_name": PROJ + [f"red-{sfx}"], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": "100.64.1.0", "ip_prefix_len": 24}, "default_gateway": "100.64.1.1"}]}}]})
        app = await api.create("security-group", {
            "fq_name": PROJ + [f"app-{sfx}"], "parent_type": "project",
            "security_group_entries": {"policy_rule": [
                _rule(False, {"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}})]}})
        db_in = _rule(True, {"security_group": ":".join(app["fq_name"])})
        db = await api.create("security-group", {"fq_name": PROJ + [f"db-{sfx}"], "parent_type": "project",
                                                 "security_group_entries": {"policy_rule": [db_in]}})
        bodies: dict[int, list[dict]] = {1: [], 2: []}
        vms: dict[int, list[dict]] = {1: [], 2: []}
        vmi1 = None
        for host, name, ifname, ip, mac, sg in ((1, "w1", "tapw1", "100.64.1.11", "02:00:00:00:01:11", app),
                                                (1, "w2", "tapw2", "100.64.1.12", "02:00:00:00:01:12", None),
                                                (2, "w3", "tapw3", "100.64.1.13", "02:00:00:00:01:13", db)):
            vm, vmi = await make_port(api, sfx, vn, name, ip, mac)
            vmi1 = vmi1 or vmi
            if sg is not None:
                await api.ref_update("virtual-machine-interface", vmi["uuid"], "security-group", sg["uuid"], "ADD")
            vms[host].append(vm)
            bodies[host].append(port_body(vmi, vm, vn, ifname, ip, mac))
        for i in (1, 2):
            await add_vrouter(api, f"cn{i}-{sfx}", f"198.18.0.{i}", vms[i])
        await comp.start()
        await ctl.start()
        await until(lambda: ctl.node.config_connected)
        await start_agents(agents, (h1, h2), [("127.0.0.1", ctl.xmpp_port)] * 2, sfx, tmp_path, 60)
        for a, i in zip(agents, (1, 2)):
            await plug(a, *bodies[i])
        a1, a2 = agents

        def db_admits(prefix: str) -> bool:
            return any(acl.vif == "tapw3" and acl.stage == "sg" and acl.direction == "ingress"
                       and any(r.uuid == db_in["rule_uuid"] and prefix in r.remote for r in acl.rules)
                       for acl in a2.desired.filter.acls)

        async def settled():
            for a in agents:
                await a.wait_applied()
                assert not a.last_pass.failed, a.last_pass.failed

        await until(lambda: db_admits("100.64.1.11/32") and any(r.prefix == "100.64.1.13/32" for r in a1.desired.routes),
                    timeout=20)
        await settled()
        assert not db_admits("100.64.1.12/32")
        assert await asyncio.to_thread(lab.ping, w1, "100.64.1.13")  # member on another host
        assert not await asyncio.to_thread(lab.ping, w2, "100.64.1.13", 1, 1)  # non-member
        rows = await asyncio.to_thread(flows, h2)
        assert any(f["action"] == "pass" and f["src"] == "100.64.1.11" and f["rule"] == db_in["rule_uuid"]
                   for f in rows), rows
        assert any(f["action"] == "drop" and f["src"] == "100.64.1.12" and f["rule"] == "default-deny sg ingress tapw3"
                   for f in rows), rows

        # w1 leaves the group: its route loses the id, h2 stops admitting it
        await api.ref_update("virtual-machine-interface", vmi1["uuid"], "security-group", app["uuid"], "DELETE")
        await until(lambda: not db_admits("100.64.1.11/32"), timeout=20)
        await settled()
        assert not await asyncio.to_thread(lab.ping, w1, "100.64.1.13", 1, 1)
    finally:
        for a in agents:
            await a.stop()
        await ctl.stop()
        await comp.stop()
        await api.close()
