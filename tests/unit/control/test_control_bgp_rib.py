"""Pure table tests for BGP as a peer kind: import by route target, export with RD,
label/VNI, next hop and communities, iBGP split horizon."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from filament.control.bgp_bridge import BgpBridge, export_path
from filament.control.bgp_routes import attributes_for, path_from_bgp
from filament.control.bgp_session import BgpPeerConfig, Negotiated
from filament.control.rib import InstanceConfig, Rib
from filament.control.xmpp_routes import advertise, path_from_item
from filament.wire.bgp import EVPN, IPV4_VPN, RTC, RouteDistinguisher, Update
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import LocalPref, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.attr.mp import MpReach, MpUnreach
from filament.wire.bgp.nlri.evpn import ESI_ZERO, MacIpAdvertisement
from filament.wire.bgp.nlri.rtc import RtMembership
from filament.wire.bgp.nlri.vpn import VpnPrefix
from filament.wire.xmpp.model import NextHop, RouteEntry

RED = "default-domain:p:red:red"
BLUE = "default-domain:p:blue:blue"
RT1, RT2 = "target:64512:1", "target:64512:2"


def cfg(name, imp=(), exp=()):
    return InstanceConfig(name, frozenset(imp), frozenset(exp), name.rsplit(":", 1)[0], 5, 0)


@pytest.fixture
def rib():
    r = Rib(asn=64512, router_id="10.0.0.1")
    r.configure({RED: cfg(RED, [RT1], [RT1]), BLUE: cfg(BLUE, [RT2], [RT2])}, 0.0)
    return r


def vpn_route(prefix, rd="64512:9", label=300, rts=(RT1,), nh="198.18.1.1", peer="mx1", router_id="198.18.0.9"):
    nlri = VpnPrefix(RouteDistinguisher.parse(rd), prefix, (label,))
    attrs = (Origin(0), AsPath(()), LocalPref(100),
             ExtCommunities(tuple(ExtCommunity.route_target(t) for t in rts) + (ExtCommunity.encapsulation("mpls-o-gre"),)))
    return path_from_bgp(peer, router_id, IPV4_VPN, nlri, nh, attrs)


def test_bgp_route_is_imported_by_route_target(rib):
    table, key, path = vpn_route("10.9.0.0/24")
    assert (table, key) == ("bgp.l3vpn.0", "64512:9:10.9.0.0/24")
    rib.add_bgp_path(table, key, path, 1.0)
    assert list(rib.tables[f"{RED}.inet.0"].routes) == ["10.9.0.0/24"]
    assert rib.tables[f"{BLUE}.inet.0"].routes == {}
    sec = rib.tables[f"{RED}.inet.0"].routes["10.9.0.0/24"].paths[0]
    assert (sec.protocol, sec.peer, sec.primary_table, sec.next_hop, sec.label) == ("BGP", "mx1", "bgp.l3vpn.0", "198.18.1.1", 300)
    # what a subscribed agent receives
    ident, entry = advertise(rib, rib.tables[f"{RED}.inet.0"], "10.9.0.0/24", "agent")
    assert ident == "10.9.0.0/24" and [(n.address, n.label, n.encap) for n in entry.next_hops] == [("198.18.1.1", 300, ("mpls-o-gre",))]
    assert rib.remove_bgp_path("mx1", table, key, 2.0)
    assert rib.tables[f"{RED}.inet.0"].routes == {}


def test_bgp_route_follows_import_target_changes(rib):
    rib.add_bgp_path(*vpn_route("10.9.0.0/24", rts=(RT2,)), 1.0)
    assert list(rib.tables[f"{BLUE}.inet.0"].routes) == ["10.9.0.0/24"]
    rib.configure({RED: cfg(RED, [RT1, RT2], [RT1]), BLUE: cfg(BLUE, [], [RT2])}, 2.0)
    assert list(rib.tables[f"{RED}.inet.0"].routes) == ["10.9.0.0/24"]
    assert rib.tables[f"{BLUE}.inet.0"].routes == {}


def test_bgp_evpn_route_imported_without_rd(rib):
    nlri = MacIpAdvertisement(RouteDistinguisher.parse("198.18.1.1:3"), ESI_ZERO, 0, "02:00:00:00:00:09", "10.1.0.9", 5001)
    attrs = (Origin(0), AsPath(()), LocalPref(100),
             ExtCommunities((ExtCommunity.route_target(RT1), ExtCommunity.encapsulation("vxlan"))))
    table, key, path = path_from_bgp("mx1", "198.18.0.9", EVPN, nlri, "198.18.1.1", attrs)
    rib.add_bgp_path(table, key, path, 1.0)
    assert list(rib.tables[f"{RED}.evpn.0"].routes) == ["2-0:0-0-02:00:00:00:00:09,10.1.0.9"]
    assert rib.tables[f"{RED}.evpn.0"].routes["2-0:0-0-02:00:00:00:00:09,10.1.0.9"].paths[0].label == 5001


def test_remove_peer_drops_its_bgp_paths(rib):
    rib.add_bgp_path(*vpn_route("10.9.0.0/24"), 1.0)
    rib.add_bgp_path(*vpn_route("10.9.1.0/24"), 1.0)
    rib.remove_peer("mx1", 2.0)
    assert rib.tables["bgp.l3vpn.0"].routes == {} and rib.tables[f"{RED}.inet.0"].routes == {}


def agent_route(rib, prefix="10.1.0.3/32", nh="192.0.2.1", label=20):
    rib.subscribe("a1", RED, 4, 0.0)
    entry = RouteEntry(1, 1, address=prefix, next_hops=(NextHop(nh, label=label, encap=("gre", "udp")),), local_pref=200)
    fam, key, path = path_from_item(entry, peer="a1", peer_address=nh, instance_id=4)
    rib.add_path(RED, fam, key, path, 0.0)
    return f"{nh}:4:{prefix}"


def test_agent_route_exported_with_rd_label_next_hop_and_targets(rib):
    key = agent_route(rib)
    p = export_path(rib, "bgp.l3vpn.0", key, peer="mx1", ibgp=True, ibgp_peers={"mx1"})
    assert (p.next_hop, p.label, p.route_targets, p.encap) == ("192.0.2.1", 20, (RT1,), ("gre", "udp"))
    ext = next(a for a in attributes_for(p, local_asn=64512, ibgp=True) if isinstance(a, ExtCommunities))
    assert {str(c) for c in ext.communities} == {"target:64512:1", "encapsulation:gre", "encapsulation:udp"}


@pytest.mark.parametrize(
    "learned_from, to, ibgp_peers, exported",
    [
        ("cn2", "cn3", {"cn2", "cn3"}, False),  # iBGP -> iBGP: split horizon
        ("cn2", "cn2", {"cn2"}, False),  # never back to the sender
        ("mx1", "cn2", {"cn2"}, True),  # eBGP-learned -> iBGP
        ("cn2", "mx1", {"cn2"}, True),  # iBGP-learned -> eBGP
    ],
)
def test_split_horizon(rib, learned_from, to, ibgp_peers, exported):
    table, key, path = vpn_route("10.9.0.0/24", peer=learned_from)
    rib.add_bgp_path(table, key, path, 1.0)
    p = export_path(rib, table, key, peer=to, ibgp=to in ibgp_peers, ibgp_peers=ibgp_peers)
    assert (p is not None) == exported


def test_incremental_equals_recompute_with_bgp_paths():
    rng = random.Random(6)
    targets = [f"target:64512:{i}" for i in range(1, 4)]
    names = [f"default-domain:p:n{i}:n{i}" for i in range(3)]

    def configs():
        return {n: cfg(n, rng.sample(targets, rng.randint(0, 2)), rng.sample(targets, 1)) for n in names}

    rib = Rib(asn=64512)
    rib.configure(configs(), 0.0)
    live: dict[tuple[str, str, str], object] = {}
    for step in range(300):
        op = rng.random()
        if op < 0.2:
            rib.configure(configs(), step)
        elif op < 0.7:
            t, k, p = vpn_route(f"10.{rng.randint(0, 5)}.0.0/24", peer=rng.choice(["mx1", "mx2"]), rts=tuple(rng.sample(targets, 1)))
            rib.add_bgp_path(t, k, p, step)
            live[(p.peer, t, k)] = p
        elif live:
            peer, t, k = rng.choice(sorted(live))
            rib.remove_bgp_path(peer, t, k, step)
            del live[(peer, t, k)]
    fresh = Rib(asn=64512)
    fresh.configure({n: i.config for n, i in rib.instances.items() if i.config}, 0.0)
    for (peer, t, k), p in sorted(live.items()):
        fresh.add_bgp_path(t, k, p, 0.0)
    assert fresh.snapshot() == rib.snapshot()


# ---- the bridge against a recording session ------------------------------------------


@dataclass
class FakeSession:
    config: BgpPeerConfig
    negotiated: Negotiated
    established: bool = True
    closed_gracefully: bool = False
    out: dict = field(default_factory=dict)

    def advertise(self, family, nlri, attributes, next_hop=""):
        self.out[(family, nlri)] = (attributes, next_hop)

    def withdraw(self, family, nlri):
        self.out[(family, nlri)] = None

    def forget(self, family, nlri):
        self.out.pop((family, nlri), None)


class FakeNode:
    def __init__(self, rib):
        self.rib = rib
        self.bgp = None

    def now(self):
        return 1.0

    def flush(self):
        changes = self.rib.take_changes()
        if changes and self.bgp is not None:
            self.bgp.export(changes)


def peer(name, asn=64512):
    return FakeSession(BgpPeerConfig(name, f"198.18.0.{len(name)}", asn, 64512, "10.0.0.1", (IPV4_VPN, EVPN, RTC)),
                       Negotiated(families=(IPV4_VPN, EVPN, RTC), peer_router_id="198.18.0.9"))


def test_bridge_imports_exports_and_withdraws(rib):
    node = FakeNode(rib)
    bridge = node.bgp = BgpBridge(node)
    mx = bridge.speaker.sessions["mx"] = peer("mx", asn=65001)
    cn2 = bridge.speaker.sessions["cn2"] = peer("cn2")
    for s in (mx, cn2):  # both negotiated RTC: they ask for everything (default membership)
        bridge.on_update(s, Update(attributes=(Origin(0), AsPath(()), MpReach(RTC, "198.18.0.9", (RtMembership(),)))))
    key = agent_route(rib)
    node.flush()
    vpn = VpnPrefix(RouteDistinguisher.parse("192.0.2.1:4"), "10.1.0.3/32", (20,))
    for s in (mx, cn2):
        attrs, nh = s.out[(IPV4_VPN, vpn)]
        assert nh == "192.0.2.1"
        assert (RTC, RtMembership(64512, ExtCommunity.route_target(RT1))) in s.out
    assert any(isinstance(a, AsPath) and a.path_length() == 1 for a in mx.out[(IPV4_VPN, vpn)][0])
    # a route from cn2 (iBGP) is imported and sent to the eBGP neighbor only
    learned = VpnPrefix(RouteDistinguisher.parse("64512:9"), "10.9.0.0/24", (300,))
    attrs = (Origin(0), AsPath(()), LocalPref(100), ExtCommunities((ExtCommunity.route_target(RT1),)),
             MpReach(IPV4_VPN, "198.18.1.1", (learned,)))
    bridge.on_update(cn2, Update(attributes=attrs))
    assert "10.9.0.0/24" in rib.tables[f"{RED}.inet.0"].routes
    assert mx.out[(IPV4_VPN, learned)][1] == "198.18.1.1"
    assert (IPV4_VPN, learned) not in cn2.out
    bridge.on_update(cn2, Update(attributes=(MpUnreach(IPV4_VPN, (learned,)),)))
    assert rib.tables[f"{RED}.inet.0"].routes.keys() == {"10.1.0.3/32"} and mx.out[(IPV4_VPN, learned)] is None
    rib.remove_path("a1", RED, "inet", "10.1.0.3/32", 2.0)
    node.flush()
    assert mx.out[(IPV4_VPN, vpn)] is None and key not in rib.tables["bgp.l3vpn.0"].routes
