"""pack_routes: pre-encoded NLRI packed into UPDATEs under the size limit, decoding back to
exactly the routes and attributes given, byte-equal to the model encoder for one message."""

from __future__ import annotations

import ipaddress

import pytest

from filament.wire.bgp import EVPN, IPV4_UNICAST, IPV4_VPN, IPV6_UNICAST, Context, RouteDistinguisher, Update, decode_message
from filament.wire.bgp import encode_message
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import Med, NextHop, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.attr.mp import MpReach, MpUnreach
from filament.wire.bgp.attr.pmsi import INGRESS_REPLICATION, PmsiTunnel
from filament.wire.bgp.message import MAX_SIZE
from filament.wire.bgp.nlri import nlri_encoder
from filament.wire.bgp.nlri.evpn import ESI_ZERO, InclusiveMulticast, MacIpAdvertisement
from filament.wire.bgp.nlri.ip import IpPrefix
from filament.wire.bgp.nlri.vpn import VpnPrefix
from filament.wire.bgp.update import pack_routes

CTX = Context(as4=True)
ATTRS = (Origin(0), AsPath(((2, (65001, 64512)),)), Med(7),
         ExtCommunities((ExtCommunity.route_target("target:64512:1"), ExtCommunity.encapsulation("vxlan"))))
RD = RouteDistinguisher.parse("198.18.0.1:4")


def v4(n: int) -> list[IpPrefix]:
    return [IpPrefix(f"10.{i >> 8 & 255}.{i & 255}.0/24") for i in range(n)]


def vpn(n: int) -> list[VpnPrefix]:
    return [VpnPrefix(RD, p.prefix, (16 + i,)) for i, p in enumerate(v4(n))]


def evpn(n: int) -> list:
    return [MacIpAdvertisement(RD, ESI_ZERO, 5001, f"02:00:00:00:{i >> 8 & 255:02x}:{i & 255:02x}", f"10.1.{i >> 8 & 255}.{i & 255}", 5001)
            for i in range(n)]


CASES = {"ipv4": (IPV4_UNICAST, v4), "vpnv4": (IPV4_VPN, vpn), "evpn": (EVPN, evpn),
         "ipv6": (IPV6_UNICAST, lambda n: [IpPrefix(str(ipaddress.ip_network(f"2001:db8:{i:x}::/48"))) for i in range(n)])}


def unpack(messages: list[bytes]):
    routes, withdrawn, attrs = [], [], set()
    for m in messages:
        assert len(m) <= MAX_SIZE
        u = decode_message(m, CTX)
        assert not u.treat_as_withdraw
        routes += [(f, n, nh) for f, n, nh in u.announced()]
        withdrawn += u.withdrawals()
        attrs.add(tuple(a for a in u.attributes if not isinstance(a, (MpReach, MpUnreach, NextHop))))
    return routes, withdrawn, attrs


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("count", [1, 700, 3000])
def test_announce_and_withdraw_round_trip(case, count):
    fam, make = CASES[case]
    nlri = make(count)
    nh = "2001:db8::1" if fam == IPV6_UNICAST else "198.18.0.1"
    enc = nlri_encoder(fam)
    raw = [enc(n, CTX) for n in nlri]
    msgs = pack_routes(fam, ATTRS, nh, raw, CTX)
    routes, withdrawn, attrs = unpack(msgs)
    assert routes == [(fam, n, nh) for n in nlri] and not withdrawn
    assert attrs == {ATTRS}
    # packed tight: no message could have taken the next one's first route
    assert len(msgs) <= -(-sum(map(len, raw)) // (MAX_SIZE - 200)) + 1
    routes, withdrawn, _ = unpack(pack_routes(fam, None, "", raw, CTX))
    assert not routes and withdrawn == [(fam, n) for n in nlri]


def test_one_message_is_byte_equal_to_the_model_encoder():
    nlri = vpn(3)
    raw = [nlri_encoder(IPV4_VPN)(n, CTX) for n in nlri]
    pmsi = PmsiTunnel(INGRESS_REPLICATION, 5001, bytes([198, 18, 0, 1]))
    model = Update(attributes=tuple(sorted(ATTRS + (pmsi, MpReach(IPV4_VPN, "198.18.0.1", tuple(nlri))), key=lambda a: a.CODE)))
    assert pack_routes(IPV4_VPN, ATTRS + (pmsi,), "198.18.0.1", raw, CTX) == [encode_message(model, CTX)]
    v = v4(3)
    model = Update(attributes=tuple(sorted(ATTRS + (NextHop("198.18.0.1"),), key=lambda a: a.CODE)), nlri=tuple(v))
    assert pack_routes(IPV4_UNICAST, ATTRS, "198.18.0.1", [n.encode(CTX) for n in v], CTX) == [encode_message(model, CTX)]
    assert pack_routes(IPV4_UNICAST, None, "", [n.encode(CTX) for n in v], CTX) == [encode_message(Update(withdrawn=tuple(v)), CTX)]
    im = InclusiveMulticast(RD, 0, "198.18.0.1")
    assert pack_routes(EVPN, None, "", [nlri_encoder(EVPN)(im, CTX)], CTX) == [
        encode_message(Update(attributes=(MpUnreach(EVPN, (im,)),)), CTX)]
