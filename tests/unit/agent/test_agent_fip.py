"""Floating IPs, the pure part: config -> networks' floating IPs, which ones a host
programs, the NAT and routing state they become, and the routes the agent publishes."""

from __future__ import annotations

import pytest

from filament.agent.config import ConfigDB, networks
from filament.agent.desired import advertisement, bound_floating_ips, desired_state
from filament.agent.view import AgentView, FloatingIp, Host, Network, PathNextHop, Port, RouteIn, SecurityGroup, Subnet
from filament.agent.xmpp_client import inet_routes
from filament.datapath.state import Address, FipNat, Route, Rule, table_for_vni
from filament.wire.xmpp.model import ConfigLink, ConfigNode, ConfigUpdate, NextHop, RouteEntry

H = Host("198.18.0.1", "ul0", 1600)
RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
P1 = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", RED.vrf, security_groups=("d:p:web",))
P2 = Port("p2", "tap2", "02:00:00:00:00:12", "100.64.1.12", RED.vrf)
WEB = SecurityGroup("d:p:web", 8000001)


def pub(vni=9, name="pub", *fips):
    return Network(f"d:p:{name}:{name}", vni, (Subnet(f"100.64.{vni}.0/24", f"100.64.{vni}.1"),), floating_ips=fips)


def view(nets, ports=(P1, P2), routes=None):
    return AgentView(H, {n.vrf: n for n in nets}, {p.uuid: p for p in ports}, routes or {}, {WEB.name: WEB})


def uid(n):
    return {"uuid": {"uuid_mslong": str(n >> 64), "uuid_lslong": str(n & (2**64 - 1))}}


def test_config_gives_a_network_its_bound_floating_ips():
    vn, pool, vmi = "d:p:pub", "d:p:pub:pool", "d:p:vmi1"
    d = ConfigDB()
    d.apply(ConfigUpdate((
        ("update", ConfigNode("virtual-network", vn, {"virtual_network_network_id": "9"})),
        ("update", ConfigNode("floating-ip-pool", pool, {})),
        ("update", ConfigNode("floating-ip", f"{pool}:f1", {"floating_ip_address": "100.64.9.100"})),
        ("update", ConfigNode("floating-ip", f"{pool}:f2", {"floating_ip_address": "100.64.9.101",
                                                             "floating_ip_fixed_ip_address": "100.64.1.11"})),
        ("update", ConfigNode("floating-ip", f"{pool}:unbound", {"floating_ip_address": "100.64.9.102"})),
        ("update", ConfigNode("virtual-machine-interface", vmi, {"id_perms": uid(3)})),
        ("update", ConfigLink(("virtual-network", vn), ("floating-ip-pool", pool), "virtual-network-floating-ip-pool")),
        ("update", ConfigLink(("floating-ip-pool", pool), ("floating-ip", f"{pool}:f1"), "floating-ip-pool-floating-ip")),
        ("update", ConfigLink(("floating-ip-pool", pool), ("floating-ip", f"{pool}:f2"), "floating-ip-pool-floating-ip")),
        ("update", ConfigLink(("floating-ip-pool", pool), ("floating-ip", f"{pool}:unbound"),
                              "floating-ip-pool-floating-ip")),
        ("update", ConfigLink(("floating-ip", f"{pool}:f1"), ("virtual-machine-interface", vmi),
                              "floating-ip-virtual-machine-interface")),
        ("update", ConfigLink(("floating-ip", f"{pool}:f2"), ("virtual-machine-interface", vmi),
                              "floating-ip-virtual-machine-interface")),
    )))
    u = "00000000-0000-0000-0000-000000000003"
    assert networks(d)["d:p:pub:pub"].floating_ips == (FloatingIp("100.64.9.100", u), FloatingIp("100.64.9.101", u, "100.64.1.11"))
    d.apply(ConfigUpdate((("delete", ConfigLink(("floating-ip", f"{pool}:f1"), ("virtual-machine-interface", vmi),
                                                "floating-ip-virtual-machine-interface")),)))
    assert [f.ip for f in networks(d)["d:p:pub:pub"].floating_ips] == ["100.64.9.101"]


@pytest.mark.parametrize("fip,bound", [
    (FloatingIp("100.64.9.100", "p1"), True),
    (FloatingIp("100.64.9.100", "p1", "100.64.1.11"), True),
    (FloatingIp("100.64.9.100", "p1", "100.64.1.99"), False),  # not the port's IP
    (FloatingIp("100.64.9.100", "nope"), False),  # not a port on this host
    (FloatingIp("2001:db8::1", "p1"), False),  # IPv6: not yet
    (FloatingIp("bogus", "p1"), False),
])
def test_which_floating_ips_a_host_programs(fip, bound):
    assert bool(bound_floating_ips(view([RED, pub(9, "pub", fip)]))) == bound


def test_a_floating_ip_of_the_ports_own_network_or_claimed_twice_is_ignored():
    own = Network(RED.vrf, 5, RED.subnets, floating_ips=(FloatingIp("100.64.1.200", "p1"),))
    assert bound_floating_ips(view([own])) == []
    twice = pub(9, "pub", FloatingIp("100.64.9.100", "p2"), FloatingIp("100.64.9.100", "p1"))
    [(port, _, _)] = bound_floating_ips(view([RED, twice]))
    assert port.uuid == "p1"  # first port by uuid


def test_floating_ip_state():
    p9, p7 = pub(9, "pub", FloatingIp("100.64.9.100", "p1")), pub(7, "alt", FloatingIp("100.64.7.100", "p1"))
    routes = {p9.vrf: {"100.64.9.12/32": RouteIn("100.64.9.12/32", (PathNextHop("198.18.0.2", 9),))}}
    st = desired_state(view([RED, p9, p7], routes=routes))
    t5, t9, t7 = table_for_vni(5), table_for_vni(9), table_for_vni(7)
    assert set(st.filter.nats) == {FipNat("100.64.9.100", "100.64.1.11", "tap1", t9, t5, 6, False),
                                   FipNat("100.64.7.100", "100.64.1.11", "tap1", t7, t5, 6, True)}
    # the public instances get a table (routes from their VRF, no fall-through), no gateway
    assert {Rule.by_mark(t9), Rule.by_mark(t7)} <= st.rules
    assert Route(t9, "0.0.0.0/0", kind="unreachable") in st.routes
    assert any(r.table == t9 and r.prefix == "100.64.9.12/32" for r in st.routes)
    assert st.addresses == {Address("100.64.1.1")}
    text = st.filter.text
    assert "ip daddr 100.64.9.100/32 ct zone set 6 accept" in text  # FIP flows: the private zone
    assert "dnat ip to 100.64.1.11" in text and "snat ip to 100.64.9.100" in text
    assert sum("fib daddr . mark oif missing" in line for line in text.splitlines()) == 1  # one way out
    # no floating IP: no NAT, no public table
    bare = desired_state(view([RED, pub(9)]))
    assert not bare.filter.nats and "type nat" not in bare.filter.text and Rule.by_mark(t9) not in bare.rules


def test_advertisement():
    vrfs, routes = advertisement(view([RED, pub(9, "pub", FloatingIp("100.64.9.100", "p1"))]))
    assert vrfs == {RED.vrf, "d:p:pub:pub"}
    fip = routes[("d:p:pub:pub", "100.64.9.100/32")]
    assert fip.next_hops[0].address == "198.18.0.1" and fip.next_hops[0].vni == 9 and fip.next_hops[0].label == 9
    assert fip.next_hops[0].encap == ("vxlan",) and fip.virtual_network == "d:p:pub"
    assert fip.security_groups == (8000001,)
    assert routes[(RED.vrf, "100.64.1.11/32")].security_groups == (8000001,)
    assert routes[(RED.vrf, "100.64.1.12/32")].security_groups == ()
    assert routes[(RED.vrf, "100.64.1.12/32")].next_hops[0].vni == 5


def test_inet_routes_keep_security_groups_and_merge_ecmp():
    def entry(nh, sgs=()):
        return RouteEntry(1, 1, address="100.64.1.12/32", next_hops=(NextHop(nh, label=5, encap=("vxlan",)),),
                          security_groups=sgs)

    got = inet_routes({"1/1/d:p:red:red": {"a": entry("198.18.0.2", (8000002, 8000001)), "b": entry("198.18.0.3")},
                       "25/242/d:p:red:red": {"x": entry("198.18.0.9")}})
    r = got["d:p:red:red"]["100.64.1.12/32"]
    assert r.nexthops == (PathNextHop("198.18.0.2", 5), PathNextHop("198.18.0.3", 5))
    assert r.security_groups == (8000001, 8000002)
    assert list(got) == ["d:p:red:red"]


@pytest.mark.parametrize("nets,port,flags", [
    ((RED,), P2, "L3L2D"),  # no policy, no group, no FIP: no flow processing (seed 003's vif --list)
    ((RED,), P1, "PL3L2D"),  # security groups
    ((Network(RED.vrf, 5, RED.subnets, acl=()),), P2, "PL3L2D"),  # the network has a policy ACL
    ((RED, pub(9, "pub", FloatingIp("100.64.9.100", "p2"))), P2, "PL3L2D"),  # a floating IP
    ((RED, pub(9, "pub", FloatingIp("100.64.9.100", "p1"))), P2, "L3L2D"),  # someone else's
])
def test_vif_policy_flag(nets, port, flags):
    from filament.agent.desired import vif_flags

    assert vif_flags(view(nets), port) == flags
