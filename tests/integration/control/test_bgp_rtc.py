"""Route-target constraint (RFC 4684) against a real gobgpd: gobgp learns only the VPN
routes whose target it imports (its VRFs' import targets, sent to us as RT membership)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from filament.control.rib import InstanceConfig
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import NextHop, RouteEntry
from tests.integration.control.test_bgp_control_node import (  # noqa: F401  (fixtures)
    AGENT, OURS, RED, THEIRS, GoBgp, bgp_routers, control, eventually, _neighbor,
)

pytestmark = [pytest.mark.integration]

BLUE = "default-domain:p:blue:blue"


async def test_gobgp_learns_only_routes_it_is_interested_in(control):
    control.node.configure_instances({
        RED: InstanceConfig(RED, frozenset({"target:64512:1"}), frozenset({"target:64512:1"}), "default-domain:p:red", 5),
        BLUE: InstanceConfig(BLUE, frozenset({"target:64512:2"}), frozenset({"target:64512:2"}), "default-domain:p:blue", 6),
    })
    with tempfile.TemporaryDirectory(prefix="fil-gobgp-rtc-") as d:
        g = GoBgp(Path(d), control.bgp_port)
        agent = None
        try:
            await control.apply_bgp_config(bgp_routers(g.port))
            await eventually(lambda: "BGP state = ESTABLISHED" in _neighbor(g), what="gobgp to establish")
            agent = await SimAgent.connect(OURS, control.xmpp_port, "compute-1", local_addr=AGENT)
            agent.subscribe(RED, 4)
            agent.subscribe(BLUE, 5)
            agent.publish(RED, RouteEntry(1, 1, address="10.1.0.3/32", next_hops=(NextHop(AGENT, label=20),)))
            agent.publish(BLUE, RouteEntry(1, 1, address="10.2.0.3/32", next_hops=(NextHop(AGENT, label=21),)))
            await agent.wait_for(lambda a: "10.2.0.3/32" in a.table("inet", BLUE) and "10.1.0.3/32" in a.table("inet", RED))

            def prefixes():
                return sorted(p["nlri"]["prefix"] for p in g.rib("vpnv4"))

            # our membership (both instances' import targets) reached gobgp
            await eventually(lambda: len(g.rib("rtc")) >= 2, what="gobgp to learn our RT membership")
            rtc = " ".join(str(p["nlri"]) for p in g.rib("rtc"))
            assert "64512:1" in rtc and "64512:2" in rtc, rtc
            # gobgp has no VRF yet: no interest, no VPN routes (the control node has both)
            assert set(control.node.rib.tables["bgp.l3vpn.0"].routes) == {f"{AGENT}:4:10.1.0.3/32", f"{AGENT}:5:10.2.0.3/32"}
            assert [k for t, k in control.bgp.advertised("gobgp") if t == "bgp.l3vpn.0"] == []
            assert prefixes() == []

            # a VRF importing target 64512:1: gobgp asks for it and gets the RED route only
            await asyncio.to_thread(g.cli, "vrf", "add", "red", "rd", f"{THEIRS}:1", "rt", "both", "64512:1")
            await eventually(lambda: prefixes() == ["10.1.0.3/32"], what="gobgp to learn the RED route")
            await eventually(lambda: "target:64512:1" in control.bgp.interest("gobgp"), what="the control node to see gobgp's interest")
            assert prefixes() == ["10.1.0.3/32"]

            # the VRF goes away: its membership is withdrawn and so is the RED route
            await asyncio.to_thread(g.cli, "vrf", "del", "red")
            await eventually(lambda: prefixes() == [], what="gobgp to lose the RED route")
        finally:
            if agent is not None:
                agent.close()
            g.stop()
