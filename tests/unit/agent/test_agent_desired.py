"""Table-driven tests of the agent's pure desired-state calculation."""

from __future__ import annotations

import pytest

from filament.agent.desired import desired_state
from filament.agent.view import AclEntry, AgentView, Host, Network, PathNextHop, Port, RouteIn, Subnet
from filament.datapath.state import Fdb, Neighbour, NextHop, Route, Rule, Vif, Vxlan, table_for_vni, vtep_mac
from tests.unit.datapath.nft_text import mark_of, zone_of

H1 = Host(vtep="198.18.0.1", underlay_dev="u1", underlay_mtu=1600)
RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
BLUE = Network("d:p:blue:blue", 6, (Subnet("100.64.1.0/24", "100.64.1.1"),))
P1 = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", RED.vrf)
P3 = Port("p3", "tap3", "02:00:00:00:00:13", "100.64.1.11", BLUE.vrf)
T5, T6 = table_for_vni(5), table_for_vni(6)


def view(ports=(), nets=(RED, BLUE), routes=None):
    return AgentView(H1, {n.vrf: n for n in nets}, {p.uuid: p for p in ports}, routes or {})


def remote(prefix, *hops):
    return {prefix: RouteIn(prefix, tuple(PathNextHop(a, v) for a, v in hops))}


CASES = {
    "nothing": (view(), dict(vifs=set(), vxlans=set(), routes=set(), rules=set())),
    "one local port": (
        view([P1]),
        dict(
            vifs={Vif("tap1", "p1", 1550)},
            vxlans={Vxlan("flvx5", 5, "198.18.0.1", "u1", vtep_mac("198.18.0.1"), 1550)},
            routes={
                Route(T5, "100.64.1.11/32", nexthops=(NextHop("tap1"),)),
                Route(T5, "100.64.1.1/32", kind="local", nexthops=(NextHop("lo"),)),
                Route(T5, "0.0.0.0/0", kind="unreachable"),
            },
            rules={Rule.by_mark(T5)},  # one rule per instance: nft marks by interface
            neighbours={Neighbour("tap1", "100.64.1.11", "02:00:00:00:00:11")},
            fdbs=set(),
        ),
    ),
    "port of unknown network is not configured": (view([P1], nets=(BLUE,)), dict(vifs=set(), routes=set())),
    "remote route via vxlan onlink": (
        view([P1], routes={RED.vrf: remote("100.64.1.12/32", ("198.18.0.2", 5))}),
        dict(
            neighbours={
                Neighbour("tap1", "100.64.1.11", "02:00:00:00:00:11"),
                Neighbour("flvx5", "198.18.0.2", vtep_mac("198.18.0.2")),
            },
            fdbs={Fdb("flvx5", vtep_mac("198.18.0.2"), "198.18.0.2")},
        ),
    ),
    "own route echoed back is ignored": (
        view([P1], routes={RED.vrf: remote("100.64.1.11/32", ("198.18.0.1", 5))}),
        dict(fdbs=set()),
    ),
    "ecmp is one multipath route": (
        view([P1], routes={RED.vrf: remote("100.64.9.0/24", ("198.18.0.3", 5), ("198.18.0.2", 5))}),
        dict(
            routes_has=Route(
                T5, "100.64.9.0/24", nexthops=(NextHop("flvx5", "198.18.0.2"), NextHop("flvx5", "198.18.0.3"))
            )
        ),
    ),
    "leaked route of another VNI adds that VXLAN device, isolated table": (
        view([P1], routes={RED.vrf: remote("100.64.2.5/32", ("198.18.0.2", 6))}),
        dict(
            vxlan_names={"flvx5", "flvx6"},
            routes_has=Route(T6, "0.0.0.0/0", kind="unreachable"),
            rules_has=Rule.by_mark(T6),
        ),
    ),
    "overlapping subnets in two networks get separate tables": (
        view([P1, P3]),
        dict(
            routes_has=Route(T6, "100.64.1.11/32", nexthops=(NextHop("tap3"),)),
            rules_has=Rule.by_mark(T6),
        ),
    ),
    "duplicate IP in one VRF: first port by uuid wins": (
        view([P1, Port("p0", "tap0", "02:00:00:00:00:10", "100.64.1.11", RED.vrf)]),
        dict(vif_names={"tap0"}),
    ),
    "invalid IP is not configured": (view([Port("px", "tapx", "02:00:00:00:00:01", "bogus", RED.vrf)]), dict(vifs=set())),
}


@pytest.mark.parametrize("name", list(CASES))
def test_desired_state(name):
    v, expect = CASES[name]
    st = desired_state(v)
    for key, want in expect.items():
        if key.endswith("_has"):
            assert want in getattr(st, key[:-4]), f"{want} not in {getattr(st, key[:-4])}"
        elif key == "vxlan_names":
            assert {x.name for x in st.vxlans} == want
        elif key == "vif_names":
            assert {x.name for x in st.vifs} == want
        else:
            assert set(getattr(st, key)) == want


def test_deterministic_and_order_independent():
    a = view([P1, P3], routes={RED.vrf: remote("100.64.1.12/32", ("198.18.0.2", 5))})
    b = view([P3, P1], nets=(BLUE, RED), routes={RED.vrf: remote("100.64.1.12/32", ("198.18.0.2", 5))})
    assert desired_state(a) == desired_state(b)


def test_filter_marks_each_interface_with_its_instance_table():
    """IP packets and ARP requests entering from a vif or VXLAN device are marked with
    their instance's table (that mark selects the table: no ip rule per interface)."""
    st = desired_state(view([P1, P3]))
    for family in ("inet", "arp"):
        assert {i: mark_of(st.filter.text, i, family) for i in ("tap1", "tap3", "flvx5", "flvx6", "eth0")} == {
            "tap1": T5, "tap3": T6, "flvx5": T5, "flvx6": T6, "eth0": None}
    assert not any(r.iif for r in st.rules)
    assert desired_state(view()).filter.text == ""


def test_conntrack_only_for_filtered_ports_in_their_instance_zone():
    """Flows from or to a filtered port are tracked in its instance's zone (overlapping
    addresses stay apart); an unfiltered port's packets are not tracked at all (the
    original forwards a vif without the P flag without flows)."""
    red = Network(RED.vrf, 5, RED.subnets, acl=(AclEntry("any", "pass"),))
    st = desired_state(view([P1, P3], nets=(red, BLUE)))
    text = st.filter.text
    assert zone_of(text, T5, "100.64.1.99", iif="tap1") == zone_of(text, T5, "100.64.1.11", iif="flvx5") == 6
    assert zone_of(text, T6, "100.64.1.99", iif="tap3") is None  # blue has no policy
    assert zone_of(text, T6, "100.64.1.11", iif="flvx6") == 7  # same address as red's port: tracked, blue's zone
    assert zone_of(desired_state(view([P1, P3])).filter.text, T5, "100.64.1.99", iif="tap1") is None


def test_cross_network_flow_on_one_host_stays_in_one_zone():
    """Red and blue ports on one host, routes leaked both ways: both directions of a
    red <-> blue flow get the same conntrack zone; same-network flows keep their own."""
    policy = (AclEntry("any", "pass"),)  # connected networks have a policy: their ports are filtered
    red = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),), acl=policy)
    blue = Network("d:p:blue:blue", 6, (Subnet("100.64.2.0/24", "100.64.2.1"),), acl=policy)
    pr = Port("pr", "tapr", "02:00:00:00:00:21", "100.64.1.21", red.vrf)
    pb = Port("pb", "tapb", "02:00:00:00:00:22", "100.64.2.22", blue.vrf)
    routes = {red.vrf: remote("100.64.2.22/32", ("198.18.0.1", 6)), blue.vrf: remote("100.64.1.21/32", ("198.18.0.1", 5))}
    st = desired_state(view([pr, pb], nets=(red, blue), routes=routes))
    assert Route(T5, "100.64.2.22/32", nexthops=(NextHop("tapb"),)) in st.routes
    assert Route(T6, "100.64.1.21/32", nexthops=(NextHop("tapr"),)) in st.routes
    there, back = zone_of(st.filter.text, T5, "100.64.2.22", "tapr"), zone_of(st.filter.text, T6, "100.64.1.21", "tapb")
    assert there == back is not None
    assert zone_of(st.filter.text, T6, "100.64.2.99", "tapb") != zone_of(st.filter.text, T5, "100.64.1.99", "tapr")
