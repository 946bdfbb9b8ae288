"""Config delivery and routing-instance targets from a real config API."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from filament.config.client import ConfigClient
from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import ConfigLink, ConfigNode, NextHop, RouteEntry

GSC = "default-global-system-config"
PROJECT = ["default-domain", "default-project"]


def sent(agent: SimAgent) -> tuple[set, set]:
    """What the agent holds after applying every config iq in order."""
    nodes, links = set(), set()
    for upd in agent.config:
        for op, obj in upd.ops:
            target, key = (nodes, (obj.type, obj.name)) if isinstance(obj, ConfigNode) else (links, (obj.left, obj.right, obj.metadata))
            (target.add if op == "update" else target.discard)(key)
    return nodes, links


async def until(pred, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@pytest.fixture
async def api(api_server):
    c = ConfigClient(api_server)
    yield c
    await c.close()


async def test_vrouter_gets_its_config_subgraph_kept_current(api_server, api):
    sfx = uuid.uuid4().hex[:8]
    vr_name = f"compute-{sfx}"
    vn = await api.create("virtual-network", {"fq_name": PROJECT + [f"net-{sfx}"], "parent_type": "project"})
    other = await api.create("virtual-network", {"fq_name": PROJECT + [f"other-{sfx}"], "parent_type": "project"})
    vm = await api.create("virtual-machine", {"fq_name": [f"vm-{sfx}"]})
    vmi = await api.create("virtual-machine-interface", {
        "fq_name": PROJECT + [f"vmi-{sfx}"], "parent_type": "project",
        "virtual_network_refs": [{"to": PROJECT + [f"net-{sfx}"], "uuid": vn["uuid"]}],
        "virtual_machine_refs": [{"to": [f"vm-{sfx}"], "uuid": vm["uuid"]}],
    })
    await api.create("virtual-router", {
        "fq_name": [GSC, vr_name], "parent_type": "global-system-config", "virtual_router_ip_address": "127.0.0.21",
        "virtual_machine_refs": [{"to": [f"vm-{sfx}"], "uuid": vm["uuid"]}],
    })
    svc = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                             options=ControlOptions(eor_quiet=0.0))
    await svc.start()
    try:
        await until(lambda: svc.node.config_connected)
        agent = await SimAgent.connect("127.0.0.1", svc.xmpp_port, vr_name, local_addr="127.0.0.21")
        agent.subscribe_config()
        vmi_key = ("virtual-machine-interface", f"default-domain:default-project:vmi-{sfx}")
        vn_key = ("virtual-network", f"default-domain:default-project:net-{sfx}")
        await until(lambda: {vmi_key, vn_key, ("virtual-router", f"{GSC}:{vr_name}")} <= sent(agent)[0])
        nodes, links = sent(agent)
        assert ("virtual-network", f"default-domain:default-project:other-{sfx}") not in nodes
        assert (vmi_key, vn_key, "virtual-machine-interface-virtual-network") in links
        # nodes arrive before links that use them
        first_link = next(i for i, u in enumerate(agent.config) if any(isinstance(o, ConfigLink) for _, o in u.ops))
        assert any(isinstance(o, ConfigNode) for u in agent.config[: first_link + 1] for _, o in u.ops)
        # move the VMI to the other network: the old VN leaves the subgraph, the new one joins
        await api.update("virtual-machine-interface", vmi["uuid"], {
            "virtual_network_refs": [{"to": PROJECT + [f"other-{sfx}"], "uuid": other["uuid"]}]})
        other_key = ("virtual-network", f"default-domain:default-project:other-{sfx}")
        await until(lambda: other_key in sent(agent)[0] and vn_key not in sent(agent)[0])
        assert (vmi_key, vn_key, "virtual-machine-interface-virtual-network") not in sent(agent)[1]
        # introspect shows the client
        ifmap = svc.node.sent_config[vr_name]
        assert vmi_key in ifmap.nodes
        agent.close()
    finally:
        await svc.stop()


async def test_instance_targets_from_config_drive_leaking(api_server, api):
    sfx = uuid.uuid4().hex[:8]
    made = {}
    for color, n in (("red", 1), ("blue", 2)):
        vn = await api.create("virtual-network", {"fq_name": PROJECT + [f"{color}-{sfx}"], "parent_type": "project"})
        rt = await api.create("route-target", {"fq_name": [f"target:64512:{7_000_000 + int(sfx[:5], 16) * 4 + n}"]})
        made[color] = (vn, rt)
    red_rt, blue_rt = made["red"][1], made["blue"][1]
    ri = {}
    for color, imports in (("red", []), ("blue", [red_rt])):
        vn, own = made[color]
        refs = [{"to": own["fq_name"], "uuid": own["uuid"], "attr": {"import_export": None}}]  # import and export
        refs += [{"to": r["fq_name"], "uuid": r["uuid"], "attr": {"import_export": "import"}} for r in imports]
        fqn = vn["fq_name"] + [vn["fq_name"][-1]]
        try:
            ri_uuid = await api.fqname_to_id("routing-instance", fqn)  # the API makes the VN's default RI
        except Exception:  # noqa: BLE001
            ri_uuid = (await api.create("routing-instance", {"fq_name": fqn, "parent_type": "virtual-network"}))["uuid"]
        # stand in for the compiler: write the instance's targets
        await api.update("routing-instance", ri_uuid, {"route_target_refs": refs})
        ri[color] = {"uuid": ri_uuid, "fq_name": fqn}
    svc = ControlNodeService(api_server, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name=f"ctl-{sfx}",
                             options=ControlOptions(eor_quiet=0.0))
    await svc.start()
    try:
        red = ":".join(ri["red"]["fq_name"])
        blue = ":".join(ri["blue"]["fq_name"])
        await until(lambda: blue in svc.node.rib.instances and svc.node.rib.instances[blue].config is not None)
        a1 = await SimAgent.connect("127.0.0.1", svc.xmpp_port, f"c1-{sfx}", local_addr="127.0.0.31")
        a2 = await SimAgent.connect("127.0.0.1", svc.xmpp_port, f"c2-{sfx}", local_addr="127.0.0.32")
        a1.subscribe(red)
        a2.subscribe(blue)
        a1.publish(red, RouteEntry(1, 1, address="10.7.0.3/32", next_hops=(NextHop("127.0.0.31", label=17, encap=("gre",)),), local_pref=200))
        await a2.wait_for(lambda a: "10.7.0.3/32" in a.table("inet", blue))
        assert a2.table("inet", blue)["10.7.0.3/32"].next_hops[0].virtual_network == ":".join(made["red"][0]["fq_name"])
        # the blue instance stops importing red's target: the leaked route is retracted
        await api.update("routing-instance", ri["blue"]["uuid"], {"route_target_refs": [
            {"to": blue_rt["fq_name"], "uuid": blue_rt["uuid"], "attr": {"import_export": None}}]})
        await a2.wait_for(lambda a: "10.7.0.3/32" not in a.table("inet", blue))
        a1.close()
        a2.close()
    finally:
        await svc.stop()
