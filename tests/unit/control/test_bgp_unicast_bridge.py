"""IPv4/IPv6 unicast between BGP neighbors through the master instance's inet.0 / inet6.0:
eBGP gets our AS prepended and next hop self, iBGP the received AS_PATH and next hop,
iBGP-learned routes are not reflected to iBGP neighbors, looped paths are not used, and
neighbors sharing a policy get the very same attribute tuple (one UPDATE group)."""

from __future__ import annotations

from dataclasses import dataclass, field

from filament.control.bgp_bridge import BgpBridge
from filament.control.bgp_session import BgpPeerConfig, Negotiated
from filament.control.rib import Rib
from filament.wire.bgp import IPV4_UNICAST, IPV4_VPN, IPV6_UNICAST, Update
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import LocalPref, Med, NextHop, Origin
from filament.wire.bgp.attr.mp import MpReach, MpUnreach
from filament.wire.bgp.nlri.ip import IpPrefix

LOCAL_AS = 64512
FAMS = (IPV4_UNICAST, IPV6_UNICAST, IPV4_VPN)


@dataclass
class RecordingSession:
    config: BgpPeerConfig
    negotiated: Negotiated
    local_next_hop: str = "198.18.0.1"
    established: bool = True
    closed_gracefully: bool = False
    out: dict = field(default_factory=dict)

    def advertise(self, family, nlri, attributes, next_hop=""):
        self.out[(family, nlri)] = (attributes, next_hop)

    def withdraw(self, family, nlri):
        self.out[(family, nlri)] = None

    def forget(self, family, nlri):
        self.out.pop((family, nlri), None)


class Node:
    def __init__(self):
        self.rib = Rib(asn=LOCAL_AS, router_id="198.18.0.1")
        self.bgp = BgpBridge(self)

    def now(self):
        return 1.0

    def flush(self):
        changes = self.rib.take_changes()
        if changes:
            self.bgp.export(changes)


def neighbor(node: Node, name: str, asn: int, n: int, families=FAMS) -> RecordingSession:
    s = RecordingSession(BgpPeerConfig(name, f"198.18.1.{n}", asn, LOCAL_AS, "198.18.0.1", families),
                         Negotiated(families=families, peer_router_id=f"198.18.1.{n}"))
    node.bgp.speaker.sessions[name] = s
    node.bgp.on_established(s)
    return s


def announce(node, sess, prefixes, *, path=(65001,), nh="198.18.9.1", med=0):
    attrs = (Origin(0), AsPath(((2, path),) if path else ()), NextHop(nh)) + ((Med(med),) if med else ())
    if sess.config.ibgp:
        attrs += (LocalPref(100),)
    node.bgp.on_update(sess, Update(attributes=attrs, nlri=tuple(IpPrefix(p) for p in prefixes)))


def attr(attrs, cls):
    return next((a for a in attrs if isinstance(a, cls)), None)


def test_ebgp_to_ebgp_prepends_our_as_and_sets_next_hop_self():
    node = Node()
    gen, mon, mon2 = neighbor(node, "gen", 65001, 1), neighbor(node, "mon", 65002, 2), neighbor(node, "mon2", 65002, 3)
    announce(node, gen, ["10.0.0.0/24", "10.0.1.0/24"], med=5)
    assert list(node.rib.tables["inet.0"].routes) == ["10.0.0.0/24", "10.0.1.0/24"]
    for s in (mon, mon2):
        attrs, nh = s.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))]
        assert nh == ""  # the session's own address
        assert attr(attrs, AsPath).segments == ((2, (LOCAL_AS, 65001)),)
        assert attr(attrs, Med).value == 5 and attr(attrs, LocalPref) is None
    assert not gen.out  # never back to the neighbor it came from
    # one attribute tuple for every route and neighbor of the same policy: one UPDATE group
    tuples = {id(s.out[(IPV4_UNICAST, IpPrefix(p))][0]) for s in (mon, mon2) for p in ("10.0.0.0/24", "10.0.1.0/24")}
    assert len(tuples) == 1
    node.bgp.on_update(gen, Update(withdrawn=(IpPrefix("10.0.0.0/24"),)))
    assert mon.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))] is None
    assert list(node.rib.tables["inet.0"].routes) == ["10.0.1.0/24"]


def test_ibgp_keeps_next_hop_and_as_path_and_split_horizon_holds():
    node = Node()
    ext, rr1, rr2 = neighbor(node, "ext", 65001, 1), neighbor(node, "rr1", LOCAL_AS, 2), neighbor(node, "rr2", LOCAL_AS, 3)
    announce(node, ext, ["10.0.0.0/24"])
    for s in (rr1, rr2):
        attrs, nh = s.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))]
        assert nh == "198.18.9.1"
        assert attr(attrs, AsPath).segments == ((2, (65001,)),) and attr(attrs, LocalPref).value == 100
    # learned over iBGP: to eBGP neighbors only
    announce(node, rr1, ["10.5.0.0/16"], path=(), nh="198.18.7.7")
    assert (IPV4_UNICAST, IpPrefix("10.5.0.0/16")) not in rr2.out
    attrs, nh = ext.out[(IPV4_UNICAST, IpPrefix("10.5.0.0/16"))]
    assert nh == "" and attr(attrs, AsPath).segments == ((2, (LOCAL_AS,)),)


def test_a_path_with_our_as_is_not_used():
    node = Node()
    a, b = neighbor(node, "a", 65001, 1), neighbor(node, "b", 65002, 2)
    announce(node, a, ["10.0.0.0/24"], path=(65001, LOCAL_AS, 65009))
    assert node.rib.tables["inet.0"].routes["10.0.0.0/24"].paths[0].flags == {"AsPathLooped"}
    assert (IPV4_UNICAST, IpPrefix("10.0.0.0/24")) not in b.out


def test_best_path_moves_between_neighbors_and_is_withdrawn_at_session_loss():
    node = Node()
    a, b, mon = neighbor(node, "a", 65001, 1), neighbor(node, "b", 65003, 2), neighbor(node, "mon", 65002, 3)
    announce(node, a, ["10.0.0.0/24"], path=(65001, 65010))
    announce(node, b, ["10.0.0.0/24"], path=(65003,))  # shorter AS path wins
    attrs, _ = mon.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))]
    assert attr(attrs, AsPath).segments == ((2, (LOCAL_AS, 65003)),)
    assert a.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))][0] is attrs  # a gets b's route
    assert b.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))] is None  # had a's route, now its own: withdrawn
    node.bgp.speaker.sessions.pop("b")
    node.bgp.on_closed(b, "gone")
    attrs, _ = mon.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))]
    assert attr(attrs, AsPath).segments == ((2, (LOCAL_AS, 65001, 65010)),)
    assert a.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))] is None  # its own route again: withdrawn


def test_ipv6_unicast_over_an_ipv4_session():
    node = Node()
    a, b = neighbor(node, "a", 65001, 1), neighbor(node, "b", 65002, 2)
    upd = Update(attributes=(Origin(0), AsPath(((2, (65001,)),)), MpReach(IPV6_UNICAST, "2001:db8::9", (IpPrefix("2001:db8:1::/48"),))))
    node.bgp.on_update(a, upd)
    assert list(node.rib.tables["inet6.0"].routes) == ["2001:db8:1::/48"]
    assert b.out[(IPV6_UNICAST, IpPrefix("2001:db8:1::/48"))][1] == "::ffff:198.18.0.1"
    node.bgp.on_update(a, Update(attributes=(MpUnreach(IPV6_UNICAST, (IpPrefix("2001:db8:1::/48"),)),)))
    assert b.out[(IPV6_UNICAST, IpPrefix("2001:db8:1::/48"))] is None


def test_unicast_routes_stay_out_of_vpn_tables_and_neighbors_without_the_family():
    node = Node()
    a = neighbor(node, "a", 65001, 1)
    vpn_only = neighbor(node, "v", 65002, 2, families=(IPV4_VPN,))
    announce(node, a, ["10.0.0.0/24"])
    assert not vpn_only.out and not node.rib.tables["bgp.l3vpn.0"].routes


def test_treat_as_withdraw_removes_the_route_downstream():
    node = Node()
    a, b = neighbor(node, "a", 65001, 1), neighbor(node, "b", 65002, 2)
    announce(node, a, ["10.0.0.0/24"])
    assert b.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))] is not None
    bad = Update(attributes=(Origin(0), AsPath(((2, (65001,)),)), NextHop("198.18.9.1")), nlri=(IpPrefix("10.0.0.0/24"),),
                 treat_as_withdraw="malformed MED")  # RFC 7606: what the decoder hands over
    node.bgp.on_update(a, bad)
    assert "10.0.0.0/24" not in node.rib.tables["inet.0"].routes
    assert b.out[(IPV4_UNICAST, IpPrefix("10.0.0.0/24"))] is None


def test_incremental_export_equals_a_fresh_dump():
    """What a neighbor holds after many changes == what a neighbor established afterwards
    gets in its initial dump (level-triggered export, shared per update group)."""
    import random

    rng = random.Random(7)
    node = Node()
    sources = [neighbor(node, f"s{i}", 65001 + i, i + 1) for i in range(3)]
    ibgp = neighbor(node, "i1", LOCAL_AS, 9)
    mon = neighbor(node, "mon", 65100, 10)
    prefixes = [f"10.{i}.0.0/16" for i in range(12)]
    for _ in range(300):
        s = rng.choice(sources + [ibgp])
        p = rng.choice(prefixes)
        if rng.random() < 0.7:
            path = tuple(rng.sample([65001, 65002, 65003, 65010, 65011], rng.randint(0 if s is ibgp else 1, 3)))
            if s is not ibgp and path and path[0] != s.config.peer_asn:
                path = (s.config.peer_asn,) + path
            announce(node, s, [p], path=path, nh=f"198.18.9.{rng.randint(1, 5)}", med=rng.choice([0, 5]))
        else:
            node.bgp.on_update(s, Update(withdrawn=(IpPrefix(p),)))
    late = neighbor(node, "late", 65100, 11)

    def held(sess):
        return {n: (tuple(a), nh) for n, v in sess.out.items() if v is not None for a, nh in [v]}

    assert held(mon) == held(late) and held(mon)
