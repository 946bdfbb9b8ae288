"""Control-node paths ↔ BGP routes (pure; lives here until tests/unit/control exists)."""

from __future__ import annotations

import pytest

from filament.control.bgp_routes import attributes_for, nlri_for, path_from_bgp
from filament.control.path import Path
from filament.wire.bgp import EVPN, IPV4_VPN, RTC, decode_message, encode_message
from filament.wire.bgp.attr.ext_communities import ExtCommunities
from filament.wire.bgp.attr.mp import MpReach
from filament.wire.bgp.update import Update


@pytest.mark.parametrize("table,key,path", [
    ("bgp.l3vpn.0", "198.18.0.1:1:100.64.1.3/32",
     Path("agent-1", next_hop="198.18.0.1", label=37, encap=("gre", "udp"), local_pref=200, route_targets=("target:64512:8000001",),
          security_groups=(8000003,), source_rd="198.18.0.1:1")),
    ("bgp.evpn.0", "2-198.18.0.1:1-0-02:00:00:00:00:03,100.64.1.3",
     Path("agent-1", next_hop="198.18.0.1", label=5001, encap=("vxlan",), local_pref=200, route_targets=("target:64512:8000001",),
          sequence=2, source_rd="198.18.0.1:1")),
    ("bgp.evpn.0", "5-198.18.0.1:1-0-100.64.2.0/24",
     Path("agent-1", next_hop="198.18.0.1", label=40, encap=("mpls-o-gre",), route_targets=("target:64512:5",),
          router_mac="02:00:00:00:00:09", source_rd="198.18.0.1:1")),
])
def test_vpn_path_round_trips_through_bgp_wire(table, key, path):
    nlri = nlri_for(table, key, path)
    assert str(nlri) == key
    fam = IPV4_VPN if table == "bgp.l3vpn.0" else EVPN
    u = Update(attributes=attributes_for(path, local_asn=64512, ibgp=True, evpn=fam == EVPN) + (MpReach(fam, path.next_hop, (nlri,)),))
    back = decode_message(encode_message(u))
    ((f, n, nh),) = back.announced()
    t, k, p = path_from_bgp("mx1", "198.18.1.1", f, n, nh, back.attributes)
    assert (t, k) == (table, key)
    assert p.protocol == "BGP" and p.peer == "mx1" and p.next_hop == path.next_hop and p.label == path.label
    assert p.encap == path.encap and p.route_targets == path.route_targets and p.local_pref == path.local_pref
    assert p.security_groups == path.security_groups and p.sequence == path.sequence and p.router_mac == path.router_mac


def test_vxlan_evpn_label_is_the_raw_vni_and_mpls_is_shifted():
    p = Path("a", label=5001, encap=("vxlan",))
    assert nlri_for("bgp.evpn.0", "2-1.2.3.4:1-0-02:00:00:00:00:01,0.0.0.0", p).label == 5001
    p = Path("a", label=5001, encap=("mpls-o-gre",))
    assert nlri_for("bgp.evpn.0", "2-1.2.3.4:1-0-02:00:00:00:00:01,0.0.0.0", p).label == 5001 << 4 | 1


def test_rtarget_key_and_ebgp_attributes():
    n = nlri_for("bgp.rtarget.0", "64512:target:64512:8000001", Path("a"))
    assert str(n) == "64512:target:64512:8000001"
    attrs = attributes_for(Path("a", route_targets=("target:64512:1",)), local_asn=64512, ibgp=False)
    assert [type(a).__name__ for a in attrs] == ["Origin", "AsPath", "ExtCommunities"]
    assert attrs[1].asns() == (64512,)
    assert [str(c) for c in next(a for a in attrs if isinstance(a, ExtCommunities)).communities] == ["target:64512:1"]
    assert RTC
