"""Graceful-restart helper (RFC 4724 §4.2) in the bridge: a GR-capable neighbor's paths
stay (stale) across a graceful session loss; End-of-RIB sweeps what it did not resend;
the restart time bounds the wait; a NOTIFICATION or a peer without GR removes at once."""

from __future__ import annotations

import asyncio

import pytest

from filament.control.bgp_bridge import BgpBridge
from filament.control.rib import Rib
from filament.wire.bgp import IPV4_VPN, RTC, RouteDistinguisher, Update
from filament.wire.bgp import capabilities as caps
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import LocalPref, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.attr.mp import MpReach
from filament.wire.bgp.nlri.vpn import VpnPrefix
from tests.unit.control.test_bgp_rtc_filter import session
from tests.unit.control.test_control_bgp_rib import RED, RT1, FakeNode, cfg


def vpn(prefix):
    nlri = VpnPrefix(RouteDistinguisher.parse("64512:9"), prefix, (300,))
    return Update(attributes=(Origin(0), AsPath(()), LocalPref(100), ExtCommunities((ExtCommunity.route_target(RT1),)),
                              MpReach(IPV4_VPN, "198.18.1.1", (nlri,))))


def setup(restart_time=30, families=(IPV4_VPN,)):
    rib = Rib(asn=64512, router_id="10.0.0.1")
    rib.configure({RED: cfg(RED, [RT1], [RT1])}, 0.0)
    node = FakeNode(rib)
    bridge = node.bgp = BgpBridge(node)
    mx = bridge.speaker.sessions["mx"] = session("mx", families=(IPV4_VPN, RTC), asn=65001)
    mx.negotiated.peer_gr = caps.GracefulRestart(restart_time, families=tuple((f, True) for f in families)) if restart_time else None
    mx.closed_gracefully = True
    bridge.on_established(mx)
    for p in ("10.9.0.0/24", "10.9.1.0/24"):
        bridge.on_update(mx, vpn(p))
    return rib, bridge, mx


def red_routes(rib):
    return {k: r.paths[0].stale for k, r in rib.tables[f"{RED}.inet.0"].routes.items()}


async def test_stale_kept_then_swept_at_end_of_rib():
    rib, bridge, mx = setup()
    bridge.on_closed(mx, "peer closed the connection")
    assert red_routes(rib) == {"10.9.0.0/24": True, "10.9.1.0/24": True}
    assert "mx" in bridge.restarting
    bridge.on_established(mx)
    bridge.on_update(mx, vpn("10.9.0.0/24"))  # resent: fresh again
    assert red_routes(rib) == {"10.9.0.0/24": False, "10.9.1.0/24": True}
    bridge.on_end_of_rib(mx, IPV4_VPN)
    assert red_routes(rib) == {"10.9.0.0/24": False}
    assert "mx" not in bridge.restarting


async def test_restart_time_expiry_removes_stale_paths():
    rib, bridge, mx = setup(restart_time=1)
    bridge.on_closed(mx, "connection lost")
    assert set(red_routes(rib)) == {"10.9.0.0/24", "10.9.1.0/24"}
    deadline = asyncio.get_running_loop().time() + 5
    while red_routes(rib) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert red_routes(rib) == {} and "mx" not in bridge.restarting


@pytest.mark.parametrize("restart_time, graceful, families", [
    (0, True, (IPV4_VPN,)),  # the peer did not advertise GR
    (30, False, (IPV4_VPN,)),  # a NOTIFICATION ended it
    (30, True, ()),  # GR without this family
])
async def test_no_helper_removes_at_once(restart_time, graceful, families):
    rib, bridge, mx = setup(restart_time, families)
    mx.closed_gracefully = graceful
    bridge.on_closed(mx, "x")
    assert red_routes(rib) == {} and "mx" not in bridge.restarting


async def test_return_without_gr_drops_stale_paths():
    rib, bridge, mx = setup()
    bridge.on_closed(mx, "connection lost")
    mx.negotiated.peer_gr = None  # comes back without the capability
    bridge.on_established(mx)
    assert red_routes(rib) == {} and "mx" not in bridge.restarting
