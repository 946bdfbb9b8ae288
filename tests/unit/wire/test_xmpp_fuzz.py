"""Hypothesis fuzzing of the XMPP framer and stanza decoder."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from filament.wire.xmpp import stanza as xs
from filament.wire.xmpp.framing import KEEPALIVE, Framer, Stanza, StreamHeader, XmppFrameError, encode_header
from filament.wire.xmpp.items import decode_entry, encode_entry
from filament.wire.xmpp.model import CONTROL_JID, NextHop, RouteEntry, XmppDecodeError
from filament.wire.xmpp.xml import parse

HEADER = encode_header(StreamHeader("fuzz", CONTROL_JID), server=False)
FRAGMENTS = [
    b"<iq", b"</iq>", b"<message", b"</message>", b">", b"<", b"/>", b"<pubsub>", b"</pubsub>", b"<subscribe node='x'>",
    b"</subscribe>", b"<publish node='1/1/v/1.2.3.4/32'>", b"<item>", b"<entry>", b"<nlri>", b"<af>1</af>", b"<safi>1</safi>",
    b"<collection node='v'>", b"<associate node='1/1/v/1.2.3.4/32'/>", b"<event>", b"<items node='1/1/v'>", b"<retract id='x'/>",
    KEEPALIVE, b" ", b"\n", b"\xc8", b"\x80", b"&amp;", b"&bogus;", b"<![CDATA[", b"]]>", b"<!--", b"-->", b"\x00", b"\xff",
    b"</stream:stream>", b"'", b'"', b"type='set'",
]

ok_errors = (XmppFrameError, XmppDecodeError)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=8)), max_size=40), st.integers(1, 64))
def test_framer_and_decoder_only_raise_their_errors(parts, chunk):
    data = HEADER + b"".join(parts)
    f = Framer(max_stanza=4096)
    try:
        for i in range(0, len(data), chunk):
            for ev in f.feed(data[i : i + chunk]):
                if isinstance(ev, Stanza):
                    try:
                        xs.decode_stanza(ev)
                    except XmppDecodeError:
                        pass
    except XmppFrameError:
        pass
    assert f.buffered <= 4096


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_decoder_on_random_bytes(data):
    try:
        xs.decode_stanza(Stanza("iq", b"<iq type='set'>" + data + b"</iq>"))
    except XmppDecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 16))
def test_framing_is_independent_of_chunking(tail, chunk):
    data = HEADER + xs.encode_agent_eor("a") + KEEPALIVE + tail
    whole, pieces = Framer(), Framer()
    try:
        a = whole.feed(data)
    except XmppFrameError:
        a = None
    b = []
    try:
        for i in range(0, len(data), chunk):
            b += pieces.feed(data[i : i + chunk])
    except XmppFrameError:
        b = None
    if a is not None and b is not None:
        strip = lambda evs: [e for e in evs if type(e).__name__ != "Keepalive"]  # noqa: E731
        assert strip(a) == strip(b)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**20 - 1), st.lists(st.sampled_from(["gre", "udp", "vxlan", "native"]), max_size=3, unique=True),
    st.integers(0, 2**32 - 1), text, st.lists(st.integers(0, 2**32 - 1), max_size=3), text,
)
def test_inet_entry_roundtrip(label, encap, lp, vn, sgs, comm):
    e = RouteEntry(1, 1, address="10.0.0.1/32", next_hops=(NextHop("192.0.2.1", label=label, encap=tuple(encap), virtual_network=vn),),
                   local_pref=lp, security_groups=tuple(sgs), communities=(comm,) if comm else (), virtual_network=vn)
    assert decode_entry(parse(encode_entry(e).encode())) == e
