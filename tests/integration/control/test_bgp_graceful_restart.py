"""Graceful-restart helper against a real gobgpd with GR enabled: kill -9 it and its route
stays at the agent (stale in the control node); when it comes back and sends End-of-RIB
without the route, the route is swept. Killed again and not restarted, the route goes
when the restart time runs out."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from filament.control.sim_agent import SimAgent
from tests.integration.control.test_bgp_control_node import (  # noqa: F401  (fixtures)
    AGENT, OURS, RED, THEIRS, GoBgp, bgp_routers, control, eventually, _neighbor,
)

pytestmark = [pytest.mark.integration]

RESTART_TIME = 20  # long: gobgpd takes seconds to come back, and the sweep must be its EoR's
SHORT_RESTART_TIME = 3


def neighbor_with_gr(restart_time: int = RESTART_TIME) -> str:
    """gobgp wants the per-family GR switch inside each afi-safi block: rebuild the three."""
    fams = "".join(f"""
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{f}"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
""" for f in ("l3vpn-ipv4-unicast", "l2vpn-evpn", "rtc"))
    return f"""
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = {restart_time}
{fams}"""


async def test_gobgp_killed_route_kept_stale_then_swept(control):
    rib = control.node.rib
    with tempfile.TemporaryDirectory(prefix="fil-gobgp-gr-") as d:
        g = GoBgp(Path(d), control.bgp_port, neighbor_extra=neighbor_with_gr())
        agent = None
        try:
            await control.apply_bgp_config(bgp_routers(g.port))
            await eventually(lambda: "BGP state = ESTABLISHED" in _neighbor(g), what="gobgp to establish")
            sess = control.bgp.speaker.sessions[THEIRS]
            assert sess.negotiated.peer_gr is not None and sess.negotiated.peer_gr.restart_time == RESTART_TIME
            agent = await SimAgent.connect(OURS, control.xmpp_port, "compute-1", local_addr=AGENT)
            agent.subscribe(RED, 4)

            async def add_route():
                await asyncio.to_thread(g.cli, "global", "rib", "-a", "vpnv4", "add", "10.9.0.0/24", "label", "300", "rd", "64512:9",
                                        "rt", "64512:1", "nexthop", "198.18.9.1")
                await agent.wait_for(lambda a: "10.9.0.0/24" in a.table("inet", RED), timeout=20)

            def stale() -> bool:
                r = rib.tables[f"{RED}.inet.0"].routes.get("10.9.0.0/24")
                return bool(r and r.paths[0].stale)

            await add_route()
            loop = asyncio.get_running_loop()
            killed = loop.time()
            g.kill()
            await eventually(lambda: not sess.established, what="the session to drop")
            assert "gobgp" in control.bgp.restarting
            assert stale() and "10.9.0.0/24" in agent.table("inet", RED)  # kept while gobgp restarts

            g.start()  # same config and port; it comes back empty and sends End-of-RIB
            await eventually(lambda: sess.established, what="gobgp to come back")
            await agent.wait_for(lambda a: "10.9.0.0/24" not in a.table("inet", RED), timeout=RESTART_TIME)
            assert loop.time() - killed < RESTART_TIME  # swept by its End-of-RIB, not by the timer
            assert "gobgp" not in control.bgp.restarting

            # killed for good: the stale route lasts the (now short) restart time, no longer
            toml = g.tmp / "gobgpd.toml"
            toml.write_text(toml.read_text().replace(f"restart-time = {RESTART_TIME}", f"restart-time = {SHORT_RESTART_TIME}"))
            g.kill()
            g.start()
            await eventually(lambda: sess.established and sess.negotiated.peer_gr.restart_time == SHORT_RESTART_TIME,
                             what="gobgp to come back with the short restart time")
            await add_route()
            g.kill()
            await eventually(lambda: stale(), what="the route to turn stale")
            down = loop.time()
            await agent.wait_for(lambda a: "10.9.0.0/24" not in a.table("inet", RED), timeout=SHORT_RESTART_TIME + 5)
            assert loop.time() - down >= SHORT_RESTART_TIME - 1.5
        finally:
            if agent is not None:
                agent.close()
            g.stop()
