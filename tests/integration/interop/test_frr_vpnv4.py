"""FRR 8.4 bgpd <-> a Filament control node, VPNv4 both ways: a (simulated) agent's
route shows up in FRR's ``show bgp ipv4 vpn`` with its RD, label, next hop and route
target; FRR VPNv4 routes reach the agent when their target is imported (and only
then); withdrawals travel both ways."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from filament.control.node import ControlOptions
from filament.control.rib import InstanceConfig
from filament.control.service import ControlNodeService
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import NextHop, RouteEntry

from peers import Frr, free_port, have_frr, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not have_frr(), reason="FRR not installed")]

OURS, FRR_ADDR, AGENT = "127.0.0.91", "127.0.0.92", "127.0.0.93"
VROUTER = "198.18.93.1"  # the agent's next hop (FRR drops 127/8 next hops as martian)
RED = "default-domain:p:red:red"
ASN = 64512


def bgp_routers(name: str) -> dict:
    """Our bgp-router linked to FRR's. FRR's identifier is higher, so FRR dials us."""
    return {"bgp-router": {
        "u-ctl": {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", name],
                  "bgp_router_parameters": {"router_type": "control-node", "address": OURS, "identifier": OURS,
                                            "autonomous_system": ASN},
                  "bgp_router_refs": [{"uuid": "u-frr", "to": ["frr"], "attr": {"session": []}}]},
        "u-frr": {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", "frr"],
                  "bgp_router_parameters": {"router_type": "router", "address": FRR_ADDR, "identifier": FRR_ADDR,
                                            "autonomous_system": ASN, "hold_time": 30,
                                            "address_families": {"family": ["inet-vpn"]}}},
    }}


def frr_conf(filament_port: int) -> str:
    # Route maps come first: a `network ... route-map` read before its map exists is dropped.
    return f"""frr defaults traditional
route-map RT-RED permit 10
 set extcommunity rt {ASN}:1
 set ipv4 vpn next-hop 198.18.92.1
route-map RT-OTHER permit 10
 set extcommunity rt {ASN}:99
 set ipv4 vpn next-hop 198.18.92.1
router bgp {ASN}
 bgp router-id {FRR_ADDR}
 no bgp default ipv4-unicast
 neighbor {OURS} remote-as {ASN}
 neighbor {OURS} port {filament_port}
 neighbor {OURS} update-source {FRR_ADDR}
 neighbor {OURS} timers connect 1
 address-family ipv4 vpn
  neighbor {OURS} activate
 exit-address-family
"""


@pytest.fixture
async def control():
    svc = ControlNodeService(None, host=OURS, xmpp_port=0, introspect_port=0, name="ctl-frr",
                             options=ControlOptions(eor_quiet=0.0), bgp_port=free_port(OURS))
    await svc.start()
    svc.node.configure_instances({RED: InstanceConfig(RED, frozenset({f"target:{ASN}:1"}), frozenset({f"target:{ASN}:1"}),
                                                      "default-domain:p:red", 5)})
    try:
        yield svc
    finally:
        await svc.stop()


@pytest.fixture
async def frr(control):
    with tempfile.TemporaryDirectory(prefix="fil-frr-") as d:
        f = await asyncio.to_thread(Frr, Path(d), frr_conf(control.bgp_port), listen=FRR_ADDR)
        try:
            await control.apply_bgp_config(bgp_routers("ctl-frr"))
            await asyncio.to_thread(wait_until, lambda: f.neighbor_state(OURS) == "Established", 20, "FRR to establish")
            yield f
        except BaseException:
            print(f.log_text()[-4000:])
            raise
        finally:
            f.stop()


def frr_path(frr: Frr, rd: str, prefix: str) -> dict | None:
    """FRR's detailed view of one VPNv4 route (None if it does not have it)."""
    data = frr.json(f"show bgp ipv4 vpn rd {rd} {prefix}")
    paths = (data.get(rd) or {}).get("paths") or []
    return paths[0] if paths else None


async def test_vpnv4_both_ways_with_withdrawals(control, frr):
    sess = control.bgp.speaker.sessions[FRR_ADDR]
    assert sess.established and sess.config.name == "frr"
    agent = await SimAgent.connect(OURS, control.xmpp_port, "compute-1", local_addr=AGENT)
    try:
        agent.subscribe(RED, 4)
        agent.publish(RED, RouteEntry(1, 1, address="10.1.0.3/32", local_pref=200,
                                      next_hops=(NextHop(VROUTER, label=20, encap=("gre", "udp")),)))

        # Filament -> FRR: RD <vrouter>:<instance id>, label, next hop, route target, encapsulations
        rd = f"{VROUTER}:4"
        path = await asyncio.to_thread(wait_until, lambda: frr_path(frr, rd, "10.1.0.3/32"), 20, "FRR to learn the agent's route")
        assert path["valid"], path
        assert path["remoteLabel"] == 20, path
        assert [n["ip"] for n in path["nexthops"]] == [VROUTER], path
        ext = path["extendedCommunity"]["string"].split()
        assert {f"RT:{ASN}:1", "ET:2", "ET:13"} <= set(ext) and sum(e.startswith("RT:") for e in ext) == 1, path
        assert path["locPrf"] == 200 and path["peer"]["peerId"] == OURS, path
        assert list(frr.vpn_routes()) == [rd]

        # FRR -> Filament: only the route whose target the red instance imports
        await asyncio.to_thread(frr.configure, f"router bgp {ASN}", "address-family ipv4 vpn",
                                "network 10.8.0.0/24 rd 64512:8 label 301 route-map RT-OTHER",
                                "network 10.9.0.0/24 rd 64512:9 label 300 route-map RT-RED")
        await agent.wait_for(lambda a: "10.9.0.0/24" in a.table("inet", RED), timeout=20)
        got = agent.table("inet", RED)["10.9.0.0/24"]
        assert [(n.address, n.label) for n in got.next_hops] == [("198.18.92.1", 300)]
        assert "10.8.0.0/24" not in agent.table("inet", RED)
        l3vpn = control.node.rib.tables["bgp.l3vpn.0"].routes
        assert {"64512:8:10.8.0.0/24", "64512:9:10.9.0.0/24"} <= set(l3vpn)  # both learned, one imported

        # withdrawals: FRR's route leaves the agent, the agent's leaves FRR
        await asyncio.to_thread(frr.configure, f"router bgp {ASN}", "address-family ipv4 vpn",
                                "no network 10.9.0.0/24 rd 64512:9 label 300")
        await agent.wait_for(lambda a: "10.9.0.0/24" not in a.table("inet", RED), timeout=20)
        agent.publish(RED, RouteEntry(1, 1, address="10.1.0.3/32", next_hops=(NextHop(VROUTER, label=20),)), add=False)
        await asyncio.to_thread(wait_until, lambda: frr_path(frr, rd, "10.1.0.3/32") is None, 20, "FRR to drop the route")
        assert "64512:9:10.9.0.0/24" not in control.node.rib.tables["bgp.l3vpn.0"].routes
    finally:
        agent.close()


async def test_frr_session_loss_removes_its_routes(control, frr):
    """FRR going away (bgpd stopped) takes its routes out of the agent's view."""
    agent = await SimAgent.connect(OURS, control.xmpp_port, "compute-2", local_addr=AGENT)
    try:
        agent.subscribe(RED, 4)
        await asyncio.to_thread(frr.configure, f"router bgp {ASN}", "address-family ipv4 vpn",
                                "network 10.9.1.0/24 rd 64512:9 label 310 route-map RT-RED")
        await agent.wait_for(lambda a: "10.9.1.0/24" in a.table("inet", RED), timeout=20)
        await asyncio.to_thread(frr.stop)
        await agent.wait_for(lambda a: "10.9.1.0/24" not in a.table("inet", RED), timeout=20)
        assert not control.bgp.speaker.sessions[FRR_ADDR].established
    finally:
        agent.close()
