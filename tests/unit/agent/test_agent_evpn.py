"""EVPN on the agent (seed 004's L2VNI interop), pure parts: which MAC/IP routes it reads
from the control node's ``25/242/<vrf>`` tables, what it programs for them (``/32 dev
flvx<VNI>``, neighbour, fdb), and the EVPN items it publishes (MAC/IP with the VXLAN
device MAC, one broadcast item per VRF)."""

from __future__ import annotations

import pytest

from filament.agent.desired import advertisement, desired_state
from filament.agent.reconcile import converge, reconcile
from filament.agent.view import AgentView, Host, MacIpRoute, Network, PathNextHop, Port, RouteIn, Subnet
from filament.agent.xmpp_client import mac_ip_routes
from filament.datapath.model import ModelDatapath
from filament.datapath.state import Fdb, Neighbour, NextHop, Route, Rule, Vxlan, table_for_vni, vtep_mac
from filament.wire.xmpp.model import BROADCAST_MAC
from filament.wire.xmpp.model import NextHop as XNextHop
from filament.wire.xmpp.model import RouteEntry

H1 = Host(vtep="198.18.0.1", underlay_dev="u1", underlay_mtu=1600)
SWITCH = "198.18.0.9"
RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
BLUE = Network("d:p:blue:blue", 6, (Subnet("100.64.2.0/24", "100.64.2.1"),))
P1 = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", RED.vrf)
T5, T6 = table_for_vni(5), table_for_vni(6)
HOST_MAC = "02:00:00:00:21:21"


def mac_ip(ip, mac=HOST_MAC, vtep=SWITCH, vni=5):
    return MacIpRoute(ip, mac, PathNextHop(vtep, vni))


def view(ports=(P1,), evpn=None, routes=None, nets=(RED, BLUE)):
    return AgentView(H1, {n.vrf: n for n in nets}, {p.uuid: p for p in ports}, routes or {}, {},
                     {vrf: {r.ip: r for r in rs} for vrf, rs in (evpn or {}).items()})


def enet(mac, address, nh=SWITCH, label=5, encap=("vxlan",), seq=0):
    return RouteEntry(25, 242, mac=mac, address=address, sequence=seq,
                      next_hops=(XNextHop(nh, label=label, encap=encap),))


# ---- reading the control node's EVPN tables -----------------------------------------


def test_mac_ip_routes_reads_type2_with_an_ipv4_address_over_vxlan():
    tables = {
        "25/242/d:p:red:red": {
            "a": enet(HOST_MAC, "100.64.1.21/32"),
            "5-b": enet("02:00:00:00:21:22", "100.64.1.22/32"),  # vlan-aware id, same meaning
            "mac-only": enet("02:00:00:00:21:23", "0.0.0.0/32"),
            "bum": enet(BROADCAST_MAC, "0.0.0.0/32"),
            "v6": enet("02:00:00:00:21:24", "fd00::1/128"),
            "gre": enet("02:00:00:00:21:25", "100.64.1.25/32", encap=("gre",)),
            "no-vni": enet("02:00:00:00:21:26", "100.64.1.26/32", label=0),
            "junk": enet("02:00:00:00:21:27", "not-an-ip"),
        },
        "1/1/d:p:red:red": {"x": RouteEntry(1, 1, address="100.64.1.99/32",
                                            next_hops=(XNextHop(SWITCH, label=5, encap=("vxlan",)),))},
    }
    assert mac_ip_routes(tables) == {"d:p:red:red": {
        "100.64.1.21": mac_ip("100.64.1.21"),
        "100.64.1.22": mac_ip("100.64.1.22", "02:00:00:00:21:22"),
    }}


def test_mac_ip_routes_one_mac_per_address_highest_sequence_then_lowest_mac():
    moved = {"25/242/red": {"old": enet("02:00:00:00:00:0b", "100.64.1.21/32", seq=1),
                            "new": enet("02:00:00:00:00:0c", "100.64.1.21/32", nh="198.18.0.8", seq=2)}}
    assert mac_ip_routes(moved)["red"]["100.64.1.21"] == mac_ip("100.64.1.21", "02:00:00:00:00:0c", "198.18.0.8")
    tie = {"25/242/red": {"x": enet("02:00:00:00:00:0c", "100.64.1.21/32"),
                          "y": enet("02:00:00:00:00:0b", "100.64.1.21/32")}}
    assert mac_ip_routes(tie)["red"]["100.64.1.21"].mac == "02:00:00:00:00:0b"


# ---- programming them ------------------------------------------------------------


def test_a_switch_host_becomes_a_route_neighbour_and_fdb_on_the_vxlan_device():
    st = desired_state(view(evpn={RED.vrf: [mac_ip("100.64.1.21")]}))
    assert Route(T5, "100.64.1.21/32", nexthops=(NextHop("flvx5"),)) in st.routes
    assert Neighbour("flvx5", "100.64.1.21", HOST_MAC) in st.neighbours
    assert Fdb("flvx5", HOST_MAC, SWITCH) in st.fdbs
    assert Vxlan("flvx5", 5, H1.vtep, "u1", vtep_mac(H1.vtep), 1550) in st.vxlans


@pytest.mark.parametrize("case,evpn,routes", [
    ("our own route echoed back", [mac_ip("100.64.1.30", vtep_mac(H1.vtep), H1.vtep)], None),
    ("a local port's address", [mac_ip("100.64.1.11")], None),
    ("the gateway", [mac_ip("100.64.1.1")], None),
    ("an inet route wins", [mac_ip("100.64.1.12")],
     {RED.vrf: {"100.64.1.12/32": RouteIn("100.64.1.12/32", (PathNextHop("198.18.0.2", 5),))}}),
    ("a VTEP's address (its neighbour is the VTEP MAC)", [mac_ip("198.18.0.2")],
     {RED.vrf: {"100.64.1.12/32": RouteIn("100.64.1.12/32", (PathNextHop("198.18.0.2", 5),))}}),
])
def test_mac_ip_routes_that_program_nothing(case, evpn, routes):
    base = desired_state(view(routes=routes))
    assert desired_state(view(evpn={RED.vrf: evpn}, routes=routes)) == base, case


def test_no_table_for_a_vrf_without_local_ports():
    assert desired_state(view(evpn={BLUE.vrf: [mac_ip("100.64.2.21", vni=6)]})) == desired_state(view())


def test_a_mac_goes_to_one_vtep_only():
    st = desired_state(view(evpn={RED.vrf: [mac_ip("100.64.1.21"), mac_ip("100.64.1.22", vtep="198.18.0.8")]}))
    assert [f for f in st.fdbs if f.mac == HOST_MAC] == [Fdb("flvx5", HOST_MAC, SWITCH)]
    assert {r.prefix for r in st.routes if r.table == T5} >= {"100.64.1.21/32"}
    assert "100.64.1.22/32" not in {r.prefix for r in st.routes}


def test_another_vni_gets_its_device_and_isolated_table():
    st = desired_state(view(evpn={RED.vrf: [mac_ip("100.64.1.21", vni=6)]}))
    assert Route(T5, "100.64.1.21/32", nexthops=(NextHop("flvx6"),)) in st.routes
    assert {v.name for v in st.vxlans} == {"flvx5", "flvx6"}
    assert Rule.by_mark(T6) in st.rules and Route(T6, "0.0.0.0/0", kind="unreachable") in st.routes


def test_model_backend_converges_and_sweeps_mac_ip_routes():
    dp = ModelDatapath({"tap1", "u1"})
    want = desired_state(view(evpn={RED.vrf: [mac_ip("100.64.1.21"), mac_ip("100.64.1.22", "02:00:00:00:21:22")]}))
    assert not converge(dp, want).failed and dp.observe() == want
    gone = desired_state(view())
    assert not converge(dp, gone).failed and dp.observe() == gone
    assert reconcile(dp, gone).converged


# ---- publishing ------------------------------------------------------------------


def test_advertisement_publishes_mac_ip_with_the_vxlan_mac_and_one_broadcast_item_per_vrf():
    p2 = Port("p2", "tap2", "02:00:00:00:00:12", "100.64.1.12", RED.vrf)
    vrfs, items = advertisement(view([P1, p2]))
    assert vrfs == {RED.vrf}
    mine = vtep_mac(H1.vtep)
    evpn = {k: e for k, e in items.items() if e.afi == 25}
    assert set(evpn) == {(RED.vrf, f"{mine},100.64.1.11/32"), (RED.vrf, f"{mine},100.64.1.12/32"),
                         (RED.vrf, f"{BROADCAST_MAC},0.0.0.0/32")}
    e = evpn[(RED.vrf, f"{mine},100.64.1.11/32")]
    assert (e.safi, e.mac, e.address, e.ethernet_tag) == (242, mine, "100.64.1.11/32", 0)
    (nh,) = e.next_hops
    assert (nh.address, nh.label, nh.encap, nh.mac) == (H1.vtep, 5, ("vxlan",), "")
    bum = evpn[(RED.vrf, f"{BROADCAST_MAC},0.0.0.0/32")]
    assert [(n.address, n.label) for n in bum.next_hops] == [(H1.vtep, 5)]
    # the inet /32s are still there, keyed by prefix
    assert {k for k, e in items.items() if e.afi == 1} == {(RED.vrf, "100.64.1.11/32"), (RED.vrf, "100.64.1.12/32")}


def test_no_port_no_evpn_items():
    assert advertisement(view(ports=())) == (frozenset(), {})
