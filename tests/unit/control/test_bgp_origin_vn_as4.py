"""Origin-VN extended community (the original's 0x80/0x71) out and in, and 4-octet ASNs
with a 2-octet-only peer (RFC 6793: AS_TRANS in AS_PATH, the real path in AS4_PATH)."""

from __future__ import annotations

import pytest

from filament.control.bgp_bridge import export_path
from filament.control.bgp_routes import attributes_for, path_from_bgp
from filament.control.rib import Rib
from filament.control.xmpp_routes import advertise
from filament.wire.bgp import IPV4_VPN, Context, RouteDistinguisher, Update, decode_message, encode_message
from filament.wire.bgp.attr.as_path import (
    AS_SEQUENCE, AS_SET, AS_TRANS, As4Path, AsPath, for_four_octet_peer, for_two_octet_peer, from_two_octet_peer,
)
from filament.wire.bgp.attr.basic import LocalPref, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.attr.mp import MpReach
from filament.wire.bgp.nlri.vpn import VpnPrefix
from tests.unit.control.test_control_bgp_rib import BLUE, RED, RT1, RT2, agent_route, cfg


@pytest.fixture
def rib():
    r = Rib(asn=64512, router_id="10.0.0.1")
    r.configure({RED: cfg(RED, [RT1], [RT1]), BLUE: cfg(BLUE, [RT2], [RT2])}, 0.0)
    return r


def test_exported_route_carries_origin_vn_of_its_network(rib):
    key = agent_route(rib)
    p = export_path(rib, "bgp.l3vpn.0", key, peer="mx1", ibgp=True, ibgp_peers=set())
    assert rib.origin_vn_index(p) == 5
    ext = next(a for a in attributes_for(p, local_asn=64512, ibgp=True, vn_index=5) if isinstance(a, ExtCommunities))
    assert "originvn:64512:5" in {str(c) for c in ext.communities}
    assert ExtCommunity.parse("originvn:64512:5").encode().hex() == "8071fc0000000005"
    # a 4-byte local ASN uses the 0x82 variant
    ext4 = next(a for a in attributes_for(p, local_asn=4200000001, ibgp=True, vn_index=5) if isinstance(a, ExtCommunities))
    assert any(c.type == 0x82 and c.subtype == 0x71 for c in ext4.communities)


def learned(origin_vn):
    nlri = VpnPrefix(RouteDistinguisher.parse("64512:9"), "10.9.0.0/24", (300,))
    comms = (ExtCommunity.route_target(RT1),) + ((ExtCommunity.parse(origin_vn),) if origin_vn else ())
    return path_from_bgp("cn2", "198.18.0.9", IPV4_VPN, nlri, "198.18.1.1", (Origin(0), AsPath(()), LocalPref(100), ExtCommunities(comms)))


@pytest.mark.parametrize("community, vn", [
    ("originvn:64512:5", "default-domain:p:red"),  # the network with index 5 (cfg() gives every VN index 5)
    ("originvn:64512:77", "unresolved"),  # no such network here
    ("originvn:65000:5", "unresolved"),  # another AS's index means nothing to us
    ("", "unresolved"),
])
def test_learned_route_shows_its_origin_vn_to_agents(rib, community, vn):
    rib.configure({RED: cfg(RED, [RT1], [RT1])}, 0.0)
    table, key, path = learned(community)
    assert path.origin_vn == community.removeprefix("originvn:")
    rib.add_bgp_path(table, key, path, 1.0)
    _, entry = advertise(rib, rib.tables[f"{RED}.inet.0"], "10.9.0.0/24", "agent")
    assert entry.next_hops[0].virtual_network == vn


def test_learned_origin_vn_is_passed_on_unchanged(rib):
    table, key, path = learned("originvn:64512:77")
    rib.add_bgp_path(table, key, path, 1.0)
    p = export_path(rib, table, key, peer="mx1", ibgp=False, ibgp_peers={"cn2"})
    ext = next(a for a in attributes_for(p, local_asn=64512, ibgp=False, vn_index=rib.origin_vn_index(p)) if isinstance(a, ExtCommunities))
    assert [str(c) for c in ext.communities if str(c).startswith("originvn")] == ["originvn:64512:77"]


# ---- AS4 -------------------------------------------------------------------------------

WIDE = 4200000001


def roundtrip(attrs, *, as4: bool) -> tuple:
    """What a peer with/without the 4-octet capability reads back after our send path."""
    out = for_two_octet_peer(attrs) if not as4 else for_four_octet_peer(attrs)
    nlri = VpnPrefix(RouteDistinguisher.parse("64512:9"), "10.9.0.0/24", (300,))
    ctx = Context(as4=as4)
    msg = decode_message(encode_message(Update(attributes=out + (MpReach(IPV4_VPN, "198.18.1.1", (nlri,)),)), ctx), ctx)
    return msg.attributes


def test_two_octet_peer_gets_as_trans_and_as4_path():
    path = AsPath(((AS_SEQUENCE, (65001, WIDE, 65002)),))
    wire = roundtrip((Origin(0), path), as4=False)
    got = next(a for a in wire if isinstance(a, AsPath))
    assert got.segments == ((AS_SEQUENCE, (65001, AS_TRANS, 65002)),)
    assert next(a for a in wire if isinstance(a, As4Path)).segments == path.segments
    # and reading it back (as a 2-octet peer's UPDATE) restores the real path
    merged = from_two_octet_peer(wire)
    assert next(a for a in merged if isinstance(a, AsPath)) == path
    assert not any(isinstance(a, As4Path) for a in merged)


def test_two_octet_peer_without_wide_asns_gets_no_as4_path():
    wire = roundtrip((Origin(0), AsPath(((AS_SEQUENCE, (65001,)),))), as4=False)
    assert not any(isinstance(a, As4Path) for a in wire)


def test_four_octet_peer_never_gets_as4_path():
    attrs = (Origin(0), AsPath(((AS_SEQUENCE, (WIDE,)),)), As4Path(((AS_SEQUENCE, (1,)),)))
    wire = roundtrip(attrs, as4=True)
    assert next(a for a in wire if isinstance(a, AsPath)).segments == ((AS_SEQUENCE, (WIDE,)),)
    assert not any(isinstance(a, As4Path) for a in wire)


@pytest.mark.parametrize("as_path, as4_path, merged", [
    # 2-octet speakers prepended 65010 after the path left 4-octet land
    (((AS_SEQUENCE, (65010, AS_TRANS, 65002)),), ((AS_SEQUENCE, (WIDE, 65002)),), ((AS_SEQUENCE, (65010, WIDE, 65002)),)),
    # identical lengths: AS4_PATH replaces it
    (((AS_SEQUENCE, (AS_TRANS,)),), ((AS_SEQUENCE, (WIDE,)),), ((AS_SEQUENCE, (WIDE,)),)),
    # AS4_PATH longer than AS_PATH: ignored (RFC 6793 §4.2.3)
    (((AS_SEQUENCE, (AS_TRANS,)),), ((AS_SEQUENCE, (WIDE, 65002)),), ((AS_SEQUENCE, (AS_TRANS,)),)),
    # a set counts as one
    (((AS_SEQUENCE, (65010,)), (AS_SET, (AS_TRANS, 65003))), ((AS_SET, (WIDE, 65003)),),
     ((AS_SEQUENCE, (65010,)), (AS_SET, (WIDE, 65003)))),
])
def test_as4_path_merge(as_path, as4_path, merged):
    out = from_two_octet_peer((Origin(0), AsPath(as_path), As4Path(as4_path)))
    assert next(a for a in out if isinstance(a, AsPath)).segments == merged
