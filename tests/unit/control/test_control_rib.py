"""Pure table tests: import/export, best path, ECMP, RT filtering, GR stale/sweep."""

from __future__ import annotations

import random

import pytest

from filament.control.path import Path, best_path, derived_med, ecmp_paths
from filament.control.rib import InstanceConfig, Rib, SubscriptionError
from filament.control.table import RTARGET_TABLE
from filament.control.xmpp_routes import advertise, path_from_item
from filament.wire.xmpp.model import ItemError, NextHop, RouteEntry

RED = "default-domain:p:red:red"
BLUE = "default-domain:p:blue:blue"
GREEN = "default-domain:p:green:green"


def cfg(name, imp=(), exp=(), vn="", conn=()):
    return InstanceConfig(name, frozenset(imp), frozenset(exp), vn or name.rsplit(":", 1)[0], 5, 0, frozenset(conn))


def inet(prefix, nh, label=16, lp=200, encap=("gre", "udp")):
    return RouteEntry(1, 1, address=prefix, next_hops=(NextHop(nh, label=label, encap=encap),), local_pref=lp)


def publish(rib, agent, addr, instance, entry, iid=1, now=0.0):
    fam, key, path = path_from_item(entry, peer=agent, peer_address=addr, instance_id=iid)
    rib.add_path(instance, fam, key, path, now)
    return fam, key


@pytest.fixture
def rib():
    r = Rib(asn=64512, router_id="10.0.0.1")
    r.configure(
        {
            RED: cfg(RED, ["target:64512:1"], ["target:64512:1"]),
            BLUE: cfg(BLUE, ["target:64512:2", "target:64512:1"], ["target:64512:2"]),
            GREEN: cfg(GREEN, ["target:64512:3"], ["target:64512:3"]),
        },
        0.0,
    )
    return r


def keys(rib, table):
    return sorted(rib.tables[table].routes)


def test_export_to_vpn_table_with_rd_and_import_by_target(rib):
    rib.subscribe("a1", RED, 1, 0)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"), iid=4)
    assert keys(rib, f"{RED}.inet.0") == ["10.1.0.3/32"]
    assert keys(rib, "bgp.l3vpn.0") == ["192.0.2.1:4:10.1.0.3/32"]
    # BLUE imports target:1 -> secondary; GREEN does not
    assert keys(rib, f"{BLUE}.inet.0") == ["10.1.0.3/32"]
    sec = rib.tables[f"{BLUE}.inet.0"].routes["10.1.0.3/32"].paths[0]
    assert sec.primary_table == f"{RED}.inet.0" and sec.route_targets == ("target:64512:1",)
    assert keys(rib, f"{GREEN}.inet.0") == []
    s = rib.tables[f"{BLUE}.inet.0"].summary()
    assert (s["primary_paths"], s["secondary_paths"]) == (0, 1)


def test_withdraw_removes_secondaries(rib):
    rib.subscribe("a1", RED, 1, 0)
    fam, key = publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"))
    rib.remove_path("a1", RED, fam, key, 1)
    assert rib.snapshot() == {RTARGET_TABLE: rib.snapshot()[RTARGET_TABLE]}


def test_connection_imports_each_others_exports(rib):
    rib.configure(
        {
            RED: cfg(RED, ["target:64512:1"], ["target:64512:1"]),
            BLUE: cfg(BLUE, ["target:64512:2"], ["target:64512:2"]),
            GREEN: cfg(GREEN, ["target:64512:3"], ["target:64512:3"], conn=[RED]),
        },
        1.0,
    )
    rib.subscribe("a1", RED, 1, 0)
    rib.subscribe("a2", GREEN, 1, 0)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"))
    publish(rib, "a2", "192.0.2.2", GREEN, inet("10.3.0.3/32", "192.0.2.2"))
    assert keys(rib, f"{GREEN}.inet.0") == ["10.1.0.3/32", "10.3.0.3/32"]
    assert keys(rib, f"{RED}.inet.0") == ["10.1.0.3/32", "10.3.0.3/32"]
    assert keys(rib, f"{BLUE}.inet.0") == []


def test_config_change_releaks_existing_routes(rib):
    rib.subscribe("a1", RED, 1, 0)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"))
    rib.configure({RED: cfg(RED, ["target:64512:1"], ["target:64512:1"]), GREEN: cfg(GREEN, ["target:64512:1"], ["target:64512:3"])}, 2.0)
    assert keys(rib, f"{GREEN}.inet.0") == ["10.1.0.3/32"]
    assert f"{BLUE}.inet.0" not in rib.tables  # unconfigured, unused: gone
    rib.configure({RED: cfg(RED, ["target:64512:1"], ["target:64512:9"]), GREEN: cfg(GREEN, ["target:64512:1"], ["target:64512:3"])}, 3.0)
    assert keys(rib, f"{GREEN}.inet.0") == []
    assert keys(rib, "bgp.l3vpn.0") == ["192.0.2.1:1:10.1.0.3/32"]


def test_best_path_order_and_ecmp():
    a = Path(peer="a", next_hop="192.0.2.1", local_pref=200, router_id=3)
    b = Path(peer="b", next_hop="192.0.2.2", local_pref=200, router_id=2)
    c = Path(peer="c", next_hop="192.0.2.3", local_pref=100, router_id=1)
    d = Path(peer="d", next_hop="192.0.2.4", local_pref=300, flags=frozenset({"NoTunnelEncap"}))
    assert best_path([a, b, c, d]) is b  # infeasible d loses, lower router id wins the tie
    assert [p.peer for p in ecmp_paths([a, b, c, d])] == ["b", "a"]
    assert best_path([d]) is None
    hi_seq = Path(peer="e", local_pref=200, sequence=5)
    assert best_path([a, hi_seq]) is hi_seq  # mobility sequence before router id
    local = Path(peer="", protocol="Local", local_pref=200)
    assert best_path([a, local]) is local  # same ECMP rank: Local beats XMPP


@pytest.mark.parametrize("lp,med,want", [(100, 0, 200), (200, 0, 100), (0, 0, 0), (300, 0, 2**32 - 301), (200, 7, 7)])
def test_derived_med(lp, med, want):
    assert derived_med(lp, med) == want


def test_ecmp_next_hops_advertised(rib):
    rib.subscribe("a1", RED, 1, 0)
    rib.subscribe("a2", RED, 1, 0)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.100/32", "192.0.2.1", label=20))
    publish(rib, "a2", "192.0.2.2", RED, inet("10.1.0.100/32", "192.0.2.2", label=30))
    ident, entry = advertise(rib, rib.tables[f"{RED}.inet.0"], "10.1.0.100/32", "a3")
    assert ident == "10.1.0.100/32"
    assert [(n.address, n.label) for n in entry.next_hops] == [("192.0.2.1", 20), ("192.0.2.2", 30)]
    assert entry.next_hops[0].virtual_network == "default-domain:p:red"
    # a lower local-pref path drops out of the ECMP set
    publish(rib, "a2", "192.0.2.2", RED, inet("10.1.0.100/32", "192.0.2.2", label=30, lp=100))
    _, entry = advertise(rib, rib.tables[f"{RED}.inet.0"], "10.1.0.100/32", "a3")
    assert [n.address for n in entry.next_hops] == ["192.0.2.1"]


def test_rt_constraint_interest(rib):
    rib.subscribe("a1", RED, 1, 0)
    rib.subscribe("a2", BLUE, 1, 0)
    assert keys(rib, RTARGET_TABLE) == ["64512:target:64512:1", "64512:target:64512:2"]
    assert rib.interested_peers(["target:64512:1"]) == {"a1", "a2"}
    assert rib.interested_peers(["target:64512:2"]) == {"a2"}
    assert rib.interested_peers(["target:64512:3"]) == set()
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"))
    vpn = rib.tables["bgp.l3vpn.0"].routes["192.0.2.1:1:10.1.0.3/32"].paths[0]
    assert rib.vpn_export_allowed("a2", vpn) and rib.vpn_export_allowed("a1", vpn)
    rib.unsubscribe("a1", RED, 1)
    assert keys(rib, RTARGET_TABLE) == ["64512:target:64512:1", "64512:target:64512:2"]  # a2 still imports :1
    rib.unsubscribe("a2", BLUE, 1)
    assert keys(rib, RTARGET_TABLE) == []


def test_membership_rules(rib):
    rib.subscribe("a1", RED, 1, 0)
    with pytest.raises(SubscriptionError):
        rib.subscribe("a1", RED, 1, 0)
    with pytest.raises(SubscriptionError):
        rib.unsubscribe("a1", BLUE, 0)
    with pytest.raises(SubscriptionError):
        publish(rib, "a1", "192.0.2.1", BLUE, inet("10.2.0.3/32", "192.0.2.1"))


def test_unsubscribe_withdraws_the_peers_routes(rib):
    rib.subscribe("a1", RED, 1, 0)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"))
    rib.unsubscribe("a1", RED, 1)
    assert keys(rib, "bgp.l3vpn.0") == [] and keys(rib, f"{BLUE}.inet.0") == []


def test_graceful_restart_stale_then_sweep(rib):
    rib.subscribe("a1", RED, 1, 0)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"))
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.4/32", "192.0.2.1"))
    assert rib.mark_stale("a1", 1) == 2
    p = rib.tables[f"{BLUE}.inet.0"].routes["10.1.0.3/32"].paths[0]
    assert p.stale and rib.tables[f"{RED}.inet.0"].summary()["stale_paths"] == 2
    # the agent comes back, re-subscribes (allowed while stale), refreshes one route
    rib.subscribe("a1", RED, 1, 2)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"), now=2)
    assert rib.sweep_stale("a1", 3) == 1
    assert keys(rib, f"{BLUE}.inet.0") == ["10.1.0.3/32"]
    assert not rib.tables[f"{BLUE}.inet.0"].routes["10.1.0.3/32"].paths[0].stale


def test_graceful_restart_timeout_removes_everything(rib):
    rib.subscribe("a1", RED, 1, 0)
    publish(rib, "a1", "192.0.2.1", RED, inet("10.1.0.3/32", "192.0.2.1"))
    rib.mark_stale("a1", 1)
    rib.sweep_stale("a1", 100)
    assert rib.snapshot() == {} and rib.membership == {}


def test_item_validation():
    with pytest.raises(ItemError):
        path_from_item(RouteEntry(1, 1, address="10.0.0.1/32"), peer="a", peer_address="192.0.2.1", instance_id=1)
    with pytest.raises(ItemError):
        path_from_item(inet("10.0.0.1/32", "0.0.0.0"), peer="a", peer_address="192.0.2.1", instance_id=1)
    with pytest.raises(ItemError):
        path_from_item(inet("10.0.0.1/32", "192.0.2.1", label=0), peer="a", peer_address="192.0.2.1", instance_id=1)
    with pytest.raises(ItemError):
        path_from_item(inet("not-a-prefix", "192.0.2.1"), peer="a", peer_address="192.0.2.1", instance_id=1)
    _, _, p = path_from_item(inet("10.0.0.1/32", "192.0.2.1", encap=("bogus",)), peer="a", peer_address="192.0.2.1", instance_id=1)
    assert not p.feasible and "NoTunnelEncap" in p.flags


def test_evpn_keys_and_broadcast_olist(rib):
    rib.subscribe("a1", RED, 1, 0)
    rib.subscribe("a2", RED, 1, 0)
    mac = RouteEntry(25, 242, mac="0e:92:cc:bd:aa:08", address="10.1.0.3/32", next_hops=(NextHop("192.0.2.1", label=5, encap=("vxlan",)),))
    fam, key = publish(rib, "a1", "192.0.2.1", RED, mac)
    assert key == "2-0:0-0-0e:92:cc:bd:aa:08,10.1.0.3"
    assert keys(rib, "bgp.evpn.0") == ["2-192.0.2.1:1-0-0e:92:cc:bd:aa:08,10.1.0.3"]
    bum = lambda nh: RouteEntry(25, 242, mac="ff:ff:ff:ff:ff:ff", address="0.0.0.0/32", next_hops=(NextHop(nh, label=9, encap=("vxlan",)),))  # noqa: E731
    _, k1 = publish(rib, "a1", "192.0.2.1", RED, bum("192.0.2.1"))
    _, k2 = publish(rib, "a2", "192.0.2.2", RED, bum("192.0.2.2"))
    t = rib.tables[f"{RED}.evpn.0"]
    assert advertise(rib, t, k1, "a2") is None  # someone else's flood route
    ident, e = advertise(rib, t, k1, "a1")
    assert ident == "ff:ff:ff:ff:ff:ff,0.0.0.0/32"
    assert [n.address for n in e.olist] == ["192.0.2.2"]
    assert advertise(rib, t, key, "a2")[0] == "0e:92:cc:bd:aa:08,10.1.0.3/32"


def test_ermvpn_native_route(rib):
    rib.subscribe("a1", RED, 3, 0)
    e = RouteEntry(1, 241, group="255.255.255.255", source="0.0.0.0", next_hops=(NextHop("192.0.2.1", label_block="1000-1999", encap=("gre", "udp")),))
    fam, key = publish(rib, "a1", "192.0.2.1", RED, e, iid=3)
    assert key == "0-192.0.2.1:3-0.0.0.0,255.255.255.255,0.0.0.0"
    ident, out = advertise(rib, rib.tables[f"{RED}.ermvpn.0"], key, "a1")
    assert ident == "192.0.2.1:3:255.255.255.255,0.0.0.0" and out.source_label == 1000


def _rebuild(rib: Rib, configs) -> Rib:
    fresh = Rib(asn=rib.asn, router_id=rib.router_id)
    fresh.configure(configs, 0)
    for peer, subs in sorted(rib.membership.items()):
        for inst, m in sorted(subs.items()):
            fresh.subscribe(peer, inst, m.instance_id, 0)
    for peer in sorted(rib._peer_primaries):
        for tname, key in rib.peer_paths(peer):
            p = rib.tables[tname].routes[key].get((peer, ""))
            t = rib.tables[tname]
            fresh.add_path(t.instance, t.family, key, p, 0)
    return fresh


def test_incremental_equals_recompute():
    rng = random.Random(7)
    names = [f"d:p:vn{i}:vn{i}" for i in range(5)]

    def random_configs():
        return {
            n: cfg(n, rng.sample([f"target:1:{k}" for k in range(4)], 2), rng.sample([f"target:1:{k}" for k in range(4)], 1),
                   conn=rng.sample(names, rng.randint(0, 1)))
            for n in names
        }

    rib = Rib(asn=1)
    configs = random_configs()
    rib.configure(configs, 0)
    agents = [f"a{i}" for i in range(6)]
    for step in range(400):
        a = rng.choice(agents)
        inst = rng.choice(names)
        addr = f"192.0.2.{agents.index(a) + 1}"
        op = rng.random()
        try:
            if op < 0.15:
                rib.subscribe(a, inst, rng.randint(1, 3), step)
            elif op < 0.2:
                rib.unsubscribe(a, inst, step)
            elif op < 0.6:
                publish(rib, a, addr, inst, inet(f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 4)}/32", addr, lp=rng.choice([100, 200])), now=step)
            elif op < 0.8:
                rib.remove_path(a, inst, "inet", f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 4)}/32", step)
            elif op < 0.85:
                configs = random_configs()
                rib.configure(configs, step)
            elif op < 0.9:
                rib.mark_stale(a, step)
            elif op < 0.93:
                rib.sweep_stale(a, step)
            else:
                rib.remove_peer(a, step)
        except SubscriptionError:
            pass
        if step % 50 == 49:
            assert rib.snapshot() == _rebuild(rib, configs).snapshot()
    assert rib.snapshot() == _rebuild(rib, configs).snapshot()
