"""EVPN from a Filament control node to a real gobgpd: an agent's MAC/IP route arrives as
type 2 and its broadcast route as its VTEP's type 3 (PMSI ingress replication), with the
agent's RD, the network's route target, VXLAN encapsulation and VNI, and the ethernet tag
of the network's flavor (vlan-aware: the VNI; vlan-based: 0)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from filament.control.rib import InstanceConfig
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import BROADCAST_MAC, NextHop, RouteEntry
from tests.integration.control.test_bgp_control_node import (  # noqa: F401  (fixtures)
    AGENT, OURS, RED, THEIRS, GoBgp, bgp_routers, control, eventually, _neighbor,
)

pytestmark = [pytest.mark.integration]

VNI, MAC, IP = 5001, "02:00:00:00:00:31", "10.1.0.31"


def red(vlan_based: bool) -> dict:
    return {RED: InstanceConfig(RED, frozenset({"target:64512:1"}), frozenset({"target:64512:1"}), "default-domain:p:red", 5,
                                VNI, evpn_vlan_based=vlan_based)}


def summary(paths: list) -> dict:
    """route type -> (rd, tag, vni/label, targets, encapsulations, pmsi) as gobgp decoded it."""
    out = {}
    for p in paths:
        n = p["nlri"]
        ext = next((a["value"] for a in p["attrs"] if a["type"] == 16), [])
        targets = sorted(e["value"] for e in ext if e.get("subtype") == 2)
        encaps = sorted(e.get("tunnel_type") for e in ext if e.get("subtype") == 12)
        pmsi = next(({k: a.get(k) for k in ("tunnel-type", "label", "tunnel-id")} for a in p["attrs"] if a["type"] == 22), None)
        rd = f"{n['value']['rd']['admin']}:{n['value']['rd']['assigned']}"
        label = n["value"].get("labels", [None])[0] if n["type"] == 2 else None
        out[n["type"]] = (rd, n["value"]["etag"], label, targets, encaps, pmsi)
    return out


@pytest.mark.parametrize("vlan_based", [False, True], ids=["vlan-aware", "vlan-based"])
async def test_gobgp_sees_type2_and_type3(control, vlan_based):
    control.node.configure_instances(red(vlan_based))
    with tempfile.TemporaryDirectory(prefix="fil-gobgp-evpn-") as d:
        g = GoBgp(Path(d), control.bgp_port)
        agent = None
        try:
            await control.apply_bgp_config(bgp_routers(g.port))
            await eventually(lambda: "BGP state = ESTABLISHED" in _neighbor(g), what="gobgp to establish")
            await asyncio.to_thread(g.cli, "vrf", "add", "red", "rd", f"{THEIRS}:1", "rt", "both", "64512:1")
            agent = await SimAgent.connect(OURS, control.xmpp_port, "compute-1", local_addr=AGENT)
            agent.subscribe(RED, 4)
            for mac, address in ((BROADCAST_MAC, "0.0.0.0/32"), (MAC, f"{IP}/32")):
                agent.publish(RED, RouteEntry(25, 242, mac=mac, address=address,
                                              next_hops=(NextHop(AGENT, label=VNI, encap=("vxlan",)),)))

            got = await eventually(lambda: (lambda s: s if {2, 3} <= s.keys() else None)(summary(g.rib("evpn"))),
                                   what="gobgp to learn the type-2 and type-3 routes")
            tag = 0 if vlan_based else VNI
            assert got[2] == (f"{AGENT}:4", tag, VNI, ["64512:1"], [8], None)
            assert got[3][:5] == (f"{AGENT}:4", tag, None, ["64512:1"], [8])
            assert got[3][5] == {"tunnel-type": 6, "label": VNI, "tunnel-id": AGENT}

            # the agent's broadcast route goes: so does its VTEP's type-3 route
            agent.publish(RED, RouteEntry(25, 242, mac=BROADCAST_MAC, address="0.0.0.0/32",
                                          next_hops=(NextHop(AGENT, label=VNI, encap=("vxlan",)),)), add=False)
            await eventually(lambda: set(summary(g.rib("evpn"))) == {2}, what="gobgp to drop the type-3 route")
        finally:
            if agent is not None:
                agent.close()
            g.stop()
