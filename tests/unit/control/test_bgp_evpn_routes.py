"""EVPN toward BGP neighbors: an agent's broadcast route becomes its VTEP's type-3 route
(PMSI ingress replication, VNI), MAC/IP routes go out as type 2; the ethernet tag is the
VNI (vlan-aware, the default) or 0 (vlan-based), chosen per network."""

from __future__ import annotations

import pytest

from filament.control import config_view
from filament.control.bgp_bridge import BgpBridge
from filament.control.rib import InstanceConfig, Rib
from filament.control.xmpp_routes import path_from_item
from filament.wire.bgp import EVPN, RTC, RouteDistinguisher
from filament.wire.bgp.attr.ext_communities import ExtCommunities
from filament.wire.bgp.attr.pmsi import INGRESS_REPLICATION, PmsiTunnel
from filament.wire.bgp.nlri.evpn import ESI_ZERO, InclusiveMulticast, MacIpAdvertisement
from filament.wire.xmpp.model import BROADCAST_MAC, NextHop, RouteEntry
from tests.unit.control.test_control_bgp_rib import RED, RT1, FakeNode
from tests.unit.control.test_bgp_rtc_filter import announce, membership, session

VTEP, VNI, MAC, IP = "198.18.5.1", 5001, "02:00:00:00:00:31", "10.1.0.31"


def red(vlan_based=False):
    return {RED: InstanceConfig(RED, frozenset({RT1}), frozenset({RT1}), "default-domain:p:red", 5, VNI,
                                evpn_vlan_based=vlan_based)}


@pytest.fixture
def setup():
    rib = Rib(asn=64512, router_id="10.0.0.1")
    rib.configure(red(), 0.0)
    node = FakeNode(rib)
    bridge = node.bgp = BgpBridge(node)
    gw = bridge.speaker.sessions["gw"] = session("gw", families=(EVPN, RTC))
    bridge.on_update(gw, announce(*membership(RT1)))
    rib.subscribe("a1", RED, 4, 0.0)
    for mac, address in ((BROADCAST_MAC, "0.0.0.0/32"), (MAC, f"{IP}/32")):
        entry = RouteEntry(25, 242, mac=mac, address=address, next_hops=(NextHop(VTEP, label=VNI, encap=("vxlan",)),))
        fam, key, path = path_from_item(entry, peer="a1", peer_address=VTEP, instance_id=4)
        rib.add_path(RED, fam, key, path, 0.0)
    node.flush()
    return rib, node, gw


def sent(gw, cls):
    return {n: v for (f, n), v in gw.out.items() if f == EVPN and isinstance(n, cls)}


def test_vlan_aware_type3_and_type2(setup):
    _rib, _node, gw = setup
    t3 = sent(gw, InclusiveMulticast)
    assert list(t3) == [InclusiveMulticast(RouteDistinguisher.parse(f"{VTEP}:4"), VNI, VTEP)]
    assert str(next(iter(t3))) == f"3-{VTEP}:4-{VNI}-{VTEP}"  # the original's type-3 form
    attrs, nh = t3[next(iter(t3))]
    assert nh == VTEP
    pmsi = next(a for a in attrs if isinstance(a, PmsiTunnel))
    assert (pmsi.tunnel_type, pmsi.label, pmsi.tunnel_id) == (INGRESS_REPLICATION, VNI, bytes([198, 18, 5, 1]))
    ext = {str(c) for a in attrs if isinstance(a, ExtCommunities) for c in a.communities}
    assert {"target:64512:1", "encapsulation:vxlan", "originvn:64512:5"} <= ext

    t2 = sent(gw, MacIpAdvertisement)
    assert list(t2) == [MacIpAdvertisement(RouteDistinguisher.parse(f"{VTEP}:4"), ESI_ZERO, VNI, MAC, IP, VNI)]
    assert not any(isinstance(a, PmsiTunnel) for a in t2[next(iter(t2))][0])


def test_vlan_based_uses_tag_zero_and_a_flavor_change_replaces_the_routes(setup):
    rib, node, gw = setup
    rib.configure(red(vlan_based=True), 1.0)
    node.flush()
    live = {n for n, v in sent(gw, (InclusiveMulticast, MacIpAdvertisement)).items() if v is not None}
    gone = {n for n, v in sent(gw, (InclusiveMulticast, MacIpAdvertisement)).items() if v is None}
    assert {(type(n).__name__, n.ethernet_tag) for n in live} == {("InclusiveMulticast", 0), ("MacIpAdvertisement", 0)}
    assert {(type(n).__name__, n.ethernet_tag) for n in gone} == {("InclusiveMulticast", VNI), ("MacIpAdvertisement", VNI)}


def test_broadcast_route_withdrawn_withdraws_type3(setup):
    rib, node, gw = setup
    rib.remove_path("a1", RED, "evpn", f"2-{VTEP}:4-0-{BROADCAST_MAC},0.0.0.0", 2.0)
    node.flush()
    assert list(sent(gw, InclusiveMulticast).values()) == [None]


@pytest.mark.parametrize("annotations, flavor", [
    (None, "vlan-aware"),
    ({"key_value_pair": [{"key": "evpn-flavor", "value": "vlan-based"}]}, "vlan-based"),
    ({"key_value_pair": [{"key": "evpn-flavor", "value": "vlan-aware"}]}, "vlan-aware"),
    ({"key_value_pair": [{"key": "evpn-flavor", "value": "bogus"}]}, "vlan-aware"),
])
def test_flavor_from_virtual_network_annotation(annotations, flavor):
    vn = {"fq_name": ["default-domain", "p", "red"], "virtual_network_network_id": 5,
          "virtual_network_properties": {"vxlan_network_identifier": VNI}}
    if annotations:
        vn["annotations"] = annotations
    ri = {"fq_name": ["default-domain", "p", "red", "red"], "parent_type": "virtual-network", "parent_uuid": "vn"}
    cfgs = config_view.instance_configs({"virtual-network": {"vn": vn}, "routing-instance": {"ri": ri}})
    assert cfgs[RED].evpn_vlan_based == (flavor == "vlan-based")
    assert cfgs[RED].evpn_ethernet_tag == (0 if flavor == "vlan-based" else VNI)
