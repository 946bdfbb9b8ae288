"""Route-target constraint (RFC 4684) toward BGP neighbors: what an RTC neighbor is
sent follows the membership it advertised; neighbors without RTC get everything."""

from __future__ import annotations

from filament.control.bgp_bridge import DEFAULT_RT, BgpBridge, rt_interest_allows
from filament.control.bgp_session import BgpPeerConfig, Negotiated
from filament.control.rib import Rib
from filament.wire.bgp import IPV4_VPN, RTC, RouteDistinguisher, Update
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunity
from filament.wire.bgp.attr.mp import MpReach, MpUnreach
from filament.wire.bgp.nlri.rtc import RtMembership
from filament.wire.bgp.nlri.vpn import VpnPrefix
from tests.unit.control.test_control_bgp_rib import RED, RT1, RT2, BLUE, FakeNode, FakeSession, agent_route, cfg

import pytest


def session(name, families=(IPV4_VPN, RTC), asn=64512):
    return FakeSession(BgpPeerConfig(name, f"198.18.0.{len(name)}", asn, 64512, "10.0.0.1", families),
                       Negotiated(families=families, peer_router_id="198.18.0.9"))


def membership(*targets):
    return tuple(RtMembership(64512, ExtCommunity.route_target(t)) if t != DEFAULT_RT else RtMembership() for t in targets)


def announce(*nlris):
    return Update(attributes=(Origin(0), AsPath(()), MpReach(RTC, "198.18.0.9", nlris)))


def withdraw(*nlris):
    return Update(attributes=(MpUnreach(RTC, nlris),))


@pytest.fixture
def setup():
    rib = Rib(asn=64512, router_id="10.0.0.1")
    rib.configure({RED: cfg(RED, [RT1], [RT1]), BLUE: cfg(BLUE, [RT2], [RT2])}, 0.0)
    node = FakeNode(rib)
    bridge = node.bgp = BgpBridge(node)
    return rib, node, bridge


def red_vpn():
    return (IPV4_VPN, VpnPrefix(RouteDistinguisher.parse("192.0.2.1:4"), "10.1.0.3/32", (20,)))


@pytest.mark.parametrize("interest, targets, allowed", [
    (set(), (RT1,), False),
    ({RT1}, (RT1,), True),
    ({RT2}, (RT1,), False),
    ({RT2}, (RT1, RT2), True),
    ({DEFAULT_RT}, (RT1,), True),
    ({DEFAULT_RT}, (), True),
])
def test_interest_rule(interest, targets, allowed):
    assert rt_interest_allows(interest, targets) == allowed


def test_rtc_neighbor_gets_only_routes_it_asked_for(setup):
    rib, node, bridge = setup
    rtc = bridge.speaker.sessions["gw"] = session("gw")
    plain = bridge.speaker.sessions["mx"] = session("mx", families=(IPV4_VPN,), asn=65001)
    agent_route(rib)
    node.flush()
    assert red_vpn() not in rtc.out  # no membership yet: nothing
    assert red_vpn() in plain.out  # no RTC negotiated: everything
    # our own membership (the agent's RED import target) goes out as RTC
    assert (RTC, RtMembership(64512, ExtCommunity.route_target(RT1))) in rtc.out

    bridge.on_update(rtc, announce(*membership(RT2)))
    assert red_vpn() not in rtc.out
    bridge.on_update(rtc, announce(*membership(RT1)))
    assert rtc.out[red_vpn()][1] == "192.0.2.1"
    assert bridge.interest("gw") == {RT1, RT2}
    bridge.on_update(rtc, withdraw(*membership(RT1)))
    assert rtc.out[red_vpn()] is None  # interest gone: withdrawn
    bridge.on_update(rtc, announce(*membership(DEFAULT_RT)))
    assert rtc.out[red_vpn()] is not None  # the default membership asks for everything


def test_neighbor_membership_is_kept_in_rtarget_table_and_passed_on(setup):
    rib, node, bridge = setup
    gw = bridge.speaker.sessions["gw"] = session("gw", asn=65001)
    cn2 = bridge.speaker.sessions["cn2"] = session("cn2")
    bridge.on_update(gw, announce(*membership(RT2)))
    key = f"64512:{RT2}"
    assert [p.peer for p in rib.tables["bgp.rtarget.0"].routes[key].paths] == ["gw"]
    # eBGP-learned membership is passed to the iBGP neighbor, never back to its sender
    assert (RTC, membership(RT2)[0]) in cn2.out and (RTC, membership(RT2)[0]) not in gw.out
    bridge.on_closed(gw, "test")
    assert key not in rib.tables["bgp.rtarget.0"].routes and cn2.out[(RTC, membership(RT2)[0])] is None
    assert bridge.interest("gw") == frozenset()
