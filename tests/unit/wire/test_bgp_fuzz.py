"""Hypothesis fuzzing: the BGP decoder raises nothing but BgpError, and models round-trip."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from filament.wire.bgp import BgpError, Context, Update, decode_message, encode_message, split_messages
from filament.wire.bgp.attr.as_path import AS_SEQUENCE, AsPath
from filament.wire.bgp.attr.basic import LocalPref, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.attr.mp import MpReach
from filament.wire.bgp.common import EVPN, IPV4_VPN, RouteDistinguisher
from filament.wire.bgp.nlri.evpn import ESI_ZERO, InclusiveMulticast, IpPrefixRoute, MacIpAdvertisement
from filament.wire.bgp.nlri.vpn import VpnPrefix

GOLDEN = [bytes.fromhex(p.read_text().strip()) for p in sorted((Path(__file__).parent / "bgp_corpus" / "golden").glob("*.hex"))]


def _decode_or_bgp_error(raw: bytes, ctx: Context) -> None:
    try:
        msg = decode_message(raw, ctx)
    except BgpError:
        return
    if isinstance(msg, Update):  # the views must not fail either
        msg.announced()
        msg.withdrawals()


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(GOLDEN), st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=6), st.booleans())
def test_mutated_goldens_only_raise_bgp_error(base, flips, as4):
    raw = bytearray(base)
    for pos, val in flips:
        raw[pos % len(raw)] = val
    if flips and flips[0][1] & 1:  # keep the header consistent half the time, to reach the body decoders
        struct.pack_into("!H", raw, 16, len(raw))
    _decode_or_bgp_error(bytes(raw), Context(as4=as4))


@settings(max_examples=600, deadline=None)
@given(st.integers(1, 5), st.binary(max_size=300), st.booleans())
def test_random_bodies_only_raise_bgp_error(mtype, body, as4):
    raw = b"\xff" * 16 + struct.pack("!HB", 19 + len(body), mtype) + body
    _decode_or_bgp_error(raw, Context(as4=as4))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=120))
def test_attribute_and_nlri_soup_only_raises_bgp_error(attrs, nlri):
    body = b"\x00\x00" + struct.pack("!H", len(attrs)) + attrs + nlri
    _decode_or_bgp_error(b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 2) + body, Context())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_split_messages_only_raises_bgp_error(data):
    buf = bytearray(data)
    try:
        split_messages(buf)
    except BgpError:
        pass


rds = st.builds(RouteDistinguisher, st.just(0), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF))
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
vpn = st.builds(lambda rd, ip, plen, lab: VpnPrefix(rd, _net(ip, plen), (lab,)), rds, ipv4, st.integers(0, 32), st.integers(16, 0xFFFFF))
evpn = st.one_of(
    st.builds(lambda rd, tag, mac, ip, lab: MacIpAdvertisement(rd, ESI_ZERO, tag, mac, ip, lab), rds, st.integers(0, 2**32 - 1), macs,
              st.one_of(st.just(""), ipv4), st.integers(0, 2**24 - 1)),
    st.builds(lambda rd, tag, ip: InclusiveMulticast(rd, tag, ip), rds, st.integers(0, 2**32 - 1), ipv4),
    st.builds(lambda rd, ip, plen, lab: IpPrefixRoute(rd, ESI_ZERO, 0, _net(ip, plen), "", lab), rds, ipv4, st.integers(0, 32), st.integers(0, 2**24 - 1)),
)


def _net(ip: str, plen: int) -> str:
    import ipaddress

    return str(ipaddress.ip_network(f"{ip}/{plen}", strict=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(vpn, min_size=1, max_size=5), st.lists(st.integers(1, 2**32 - 1), max_size=5), ipv4)
def test_vpn_updates_round_trip(prefixes, asns, nh):
    attrs = (Origin(0), AsPath(((AS_SEQUENCE, tuple(asns)),) if asns else ()), LocalPref(100), MpReach(IPV4_VPN, nh, tuple(prefixes)),
             ExtCommunities((ExtCommunity.route_target("target:64512:1"), ExtCommunity.encapsulation("vxlan"))))
    u = Update(attributes=attrs)
    assert decode_message(encode_message(u)) == u


@settings(max_examples=200, deadline=None)
@given(st.lists(evpn, min_size=1, max_size=5), ipv4)
def test_evpn_updates_round_trip(routes, nh):
    u = Update(attributes=(Origin(0), AsPath(()), MpReach(EVPN, nh, tuple(routes))))
    assert decode_message(encode_message(u)) == u
