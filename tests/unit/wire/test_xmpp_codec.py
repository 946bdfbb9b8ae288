"""Golden tests (bytes <-> model) for the XMPP dialect codecs, and a malformed corpus."""

from __future__ import annotations

import pytest

from filament.wire.xmpp import stanza as xs
from filament.wire.xmpp.config import encode_config
from filament.wire.xmpp.framing import (
    KEEPALIVE,
    Framer,
    Keepalive,
    Stanza,
    StreamClosed,
    StreamHeader,
    XmppFrameError,
    encode_header,
)
from filament.wire.xmpp.items import item_id, publish_node
from filament.wire.xmpp.model import (
    CONTROL_JID,
    Collection,
    ConfigLink,
    ConfigNode,
    ConfigUpdate,
    EndOfRib,
    NextHop,
    Publish,
    RouteEntry,
    RouteUpdate,
    Subscribe,
    Unsubscribe,
    XmppDecodeError,
)

AGENT_HEADER = (
    b'<stream:stream from="compute-1" to="network-control@contrailsystems.com" version="1.0" '
    b'xml:lang="en" xmlns="" xmlns:stream="http://etherx.jabber.org/streams" >'
)
CN_HEADER = (
    b'<stream:stream from="ctl-1" to="compute-1" id="++123" version="1.0" xml:lang="en" '
    b'xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" >'
)
VRF = "default-domain:proj:net1:net1"
ENTRY = RouteEntry(
    1, 1, address="10.1.1.3/32",
    next_hops=(NextHop("172.31.41.236", mac="02:5e:aa:01:02:03", label=32, encap=("gre", "udp"), virtual_network="default-domain:proj:net1"),),
    local_pref=200, sequence=1, security_groups=(8000003,), sub_protocol="interface",
)


def test_stream_headers_golden():
    assert encode_header(StreamHeader("compute-1", CONTROL_JID), server=False) == AGENT_HEADER
    assert encode_header(StreamHeader("ctl-1", "compute-1", id="++123"), server=True) == CN_HEADER
    f = Framer()
    assert f.feed(CN_HEADER) == [StreamHeader("ctl-1", "compute-1", "++123", "jabber:client")]


def test_header_may_follow_the_exact_xml_declaration_and_arrive_in_pieces():
    f = Framer()
    data = b'<?xml version="1.0"?>\n' + AGENT_HEADER + KEEPALIVE
    out = []
    for i in range(len(data)):
        out += f.feed(data[i : i + 1])
    assert out[0] == StreamHeader("compute-1", CONTROL_JID)
    assert out[1:] and all(isinstance(e, Keepalive) for e in out[1:])


def test_keepalive_runs_between_stanzas():
    f = Framer()
    f.feed(AGENT_HEADER)
    eor = xs.encode_agent_eor("compute-1")
    out = f.feed(KEEPALIVE + b" \r\n" + KEEPALIVE + eor + KEEPALIVE + b"</stream:stream>")
    assert [type(e) for e in out] == [Keepalive, Stanza, Keepalive, StreamClosed]
    assert xs.decode_stanza(out[1]) == EndOfRib(sender="compute-1")


def test_subscribe_golden():
    raw = (
        b'<iq type="set" from="compute-1" to="network-control@contrailsystems.com/bgp-peer" id="subscribe7">'
        b'<pubsub xmlns="http://jabber.org/protocol/pubsub"><subscribe node="default-domain:proj:net1:net1">'
        b"<options><instance-id>3</instance-id></options></subscribe></pubsub></iq>"
    )
    assert xs.encode_subscribe("compute-1", VRF, 3, ident="subscribe7") == raw
    assert xs.decode_stanza(Stanza("iq", raw)) == Subscribe(VRF, 3, "bgp", "compute-1")
    cfg = xs.encode_subscribe("compute-1", "virtual-router:default-global-system-config:compute-1", config=True)
    assert xs.decode_stanza(Stanza("iq", cfg)) == Subscribe("virtual-router:default-global-system-config:compute-1", None, "config", "compute-1")
    un = xs.encode_unsubscribe("compute-1", VRF)
    assert xs.decode_stanza(Stanza("iq", un)) == Unsubscribe(VRF, "bgp", "compute-1")


def test_publish_collection_pair_golden():
    data = xs.encode_publish("compute-1", VRF, ENTRY, seq=12)
    f = Framer()
    f.feed(AGENT_HEADER)
    pub, coll = f.feed(data)
    assert pub.data.startswith(
        b'<iq type="set" from="compute-1" to="network-control@contrailsystems.com/bgp-peer" id="pubsub12">'
        b'<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="1/1/default-domain:proj:net1:net1/10.1.1.3/32"><item><entry>'
        b"<nlri><af>1</af><safi>1</safi><address>10.1.1.3/32</address></nlri><next-hops><next-hop><af>1</af>"
        b"<address>172.31.41.236</address><mac>02:5e:aa:01:02:03</mac><label>32</label><vni>0</vni>"
        b"<tunnel-encapsulation-list><tunnel-encapsulation>gre</tunnel-encapsulation><tunnel-encapsulation>udp</tunnel-encapsulation></tunnel-encapsulation-list>"
    )
    assert coll.data == (
        b'<iq type="set" from="compute-1" to="network-control@contrailsystems.com/bgp-peer" id="collection12">'
        b'<pubsub xmlns="http://jabber.org/protocol/pubsub"><collection node="default-domain:proj:net1:net1">'
        b'<associate node="1/1/default-domain:proj:net1:net1/10.1.1.3/32"></associate></collection></pubsub></iq>'
    )
    assert xs.decode_stanza(pub) == Publish("1/1/default-domain:proj:net1:net1/10.1.1.3/32", ENTRY, "compute-1")
    assert xs.decode_stanza(coll) == Collection(VRF, ("1/1/default-domain:proj:net1:net1/10.1.1.3/32",), (), "compute-1")
    _, wd = Framer().feed(AGENT_HEADER + xs.encode_publish("compute-1", VRF, ENTRY, add=False))[1:]
    assert xs.decode_stanza(wd).dissociate == ("1/1/default-domain:proj:net1:net1/10.1.1.3/32",)


def test_reference_agent_item_decodes():
    """The item as the reference documents a real agent sending it (indentation included)."""
    raw = b"""<iq type="set" from="compute-1" to="network-control@contrailsystems.com/bgp-peer" id="pubsub1">
<pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="1/1/n/10.47.255.251/32"><item>
  <entry>
    <nlri><af>1</af><safi>1</safi><address>10.47.255.251/32</address></nlri>
    <next-hops>
      <next-hop>
        <af>1</af><address>172.31.41.236</address><mac>02:5e:aa:01:02:03</mac>
        <label>32</label><vni>0</vni>
        <tunnel-encapsulation-list>
          <tunnel-encapsulation>gre</tunnel-encapsulation>
          <tunnel-encapsulation>udp</tunnel-encapsulation>
        </tunnel-encapsulation-list>
        <virtual-network>default-domain:proj:net1</virtual-network>
        <tag-list/><local-sequence-number>0</local-sequence-number>
      </next-hop>
    </next-hops>
    <version>1</version><virtual-network/>
    <mobility sticky="false" seqno="0"/><sequence-number>1</sequence-number>
    <security-group-list><security-group>8000003</security-group></security-group-list>
    <community-tag-list/>
    <local-preference>200</local-preference><med>0</med>
    <load-balance><load-balance-fields/><load-balance-decision>field-hash</load-balance-decision></load-balance>
    <sub-protocol>interface</sub-protocol>
  </entry>
</item></publish></pubsub></iq>"""
    e = xs.decode_stanza(Stanza("iq", raw)).entry
    assert e.address == "10.47.255.251/32" and e.local_pref == 200 and e.sequence == 1
    assert e.next_hops[0].encap == ("gre", "udp") and e.next_hops[0].label == 32
    assert e.security_groups == (8000003,) and e.sub_protocol == "interface"


def test_route_message_golden_and_roundtrip():
    msg = RouteUpdate(node=f"1/1/{VRF}", items=(("10.1.1.3/32", ENTRY),), to="compute-1")
    data = xs.encode_route_update(msg)
    assert data.startswith(
        b'\n<message from="network-control@contrailsystems.com" to="compute-1/bgp-peer">'
        b'<event xmlns="http://jabber.org/protocol/pubsub"><items node="1/1/default-domain:proj:net1:net1"><item id="10.1.1.3/32"><entry>'
    )
    f = Framer()
    f.feed(CN_HEADER)
    keepalive, st = f.feed(data)  # the leading newline counts as keepalive filler
    assert isinstance(keepalive, Keepalive)
    back = xs.decode_stanza(st)
    assert back.items == msg.items and back.node == msg.node
    retract = RouteUpdate(node=f"1/1/{VRF}", retracts=("10.1.1.3/32",), to="compute-1")
    assert b'<retract id="10.1.1.3/32"></retract>' in xs.encode_route_update(retract)
    with pytest.raises(ValueError):
        xs.encode_route_update(RouteUpdate(node="x", items=(("a", ENTRY),), retracts=("b",)))
    eor = xs.encode_cn_eor("compute-1")
    assert b'<items node="0/0/EndOfRib"></items>' in eor
    assert xs.decode_stanza(Stanza("message", eor.strip())) == EndOfRib("network-control@contrailsystems.com")


@pytest.mark.parametrize(
    "entry,ident,node",
    [
        (RouteEntry(25, 242, mac="0e:92:cc:bd:aa:08", address="10.47.255.251/32", next_hops=(NextHop("1.1.1.1", label=5),)),
         "0e:92:cc:bd:aa:08,10.47.255.251/32", "25/242/0e:92:cc:bd:aa:08,10.47.255.251/32"),
        (RouteEntry(25, 242, mac="ff:ff:ff:ff:ff:ff", address="0.0.0.0/32", ethernet_tag=7, next_hops=(NextHop("1.1.1.1", label=5),)),
         "7-ff:ff:ff:ff:ff:ff,0.0.0.0/32", "25/242/ff:ff:ff:ff:ff:ff,0.0.0.0/32"),
        (RouteEntry(2, 1, address="fd00::4/128", next_hops=(NextHop("1.1.1.1", label=5),)), "fd00::4/128", f"2/1/{VRF}/fd00::4/128"),
        (RouteEntry(1, 241, group="255.255.255.255", source="0.0.0.0", next_hops=(NextHop("1.1.1.1", label_block="10-20", encap=("gre",)),)),
         "1.1.1.1:1:255.255.255.255,0.0.0.0", f"1/241/{VRF}/255.255.255.255"),
    ],
)
def test_other_families_roundtrip(entry, ident, node):
    assert item_id(entry, rd="1.1.1.1:1") == ident
    assert publish_node(entry, VRF) == node
    f = Framer()
    f.feed(AGENT_HEADER)
    pub, _ = f.feed(xs.encode_publish("c", VRF, entry))
    assert xs.decode_stanza(pub).entry == entry


def test_config_iq_golden_and_roundtrip():
    upd = ConfigUpdate(
        ops=(
            ("update", ConfigNode("virtual-network", "default-domain:proj:net1", {"virtual_network_network_id": 5, "id_perms": {"enable": True}})),
            ("update", ConfigLink(("virtual-machine-interface", "default-domain:proj:vmi-a1"), ("virtual-network", "default-domain:proj:net1"), "virtual-machine-interface-virtual-network")),
            ("delete", ConfigNode("instance-ip", "2f4c9a10")),
        ),
        to="default-global-system-config:compute-1",
    )
    (iq,) = encode_config(upd)
    assert iq == (
        b'<iq type="set" from="network-control@contrailsystems.com" to="default-global-system-config:compute-1/config"><config><update>'
        b'<node type="virtual-network"><name>default-domain:proj:net1</name><virtual-network-network-id>5</virtual-network-network-id>'
        b"<id-perms><enable>true</enable></id-perms></node>"
        b'<link><node type="virtual-machine-interface"><name>default-domain:proj:vmi-a1</name></node>'
        b'<node type="virtual-network"><name>default-domain:proj:net1</name></node>'
        b'<metadata type="virtual-machine-interface-virtual-network"></metadata></link></update>'
        b'<delete><node type="instance-ip"><name>2f4c9a10</name></node></delete></config></iq>'
    )
    back = xs.decode_stanza(Stanza("iq", iq))
    assert back.to == "default-global-system-config:compute-1"
    assert back.ops[0][1].props == {"virtual_network_network_id": "5", "id_perms": {"enable": "true"}}
    assert back.ops[1:] == upd.ops[1:]


def test_config_is_split_into_iqs_of_about_16_objects():
    ops = tuple(("update", ConfigNode("tag", f"t{i}")) for i in range(40))
    iqs = encode_config(ConfigUpdate(ops, to="x"))
    assert len(iqs) == 3
    assert sum(len(xs.decode_stanza(Stanza("iq", i)).ops) for i in iqs) == 40


BAD_FRAMES = [
    b"GET / HTTP/1.1\r\n\r\n",
    b"\x00\x01\x02",
    b"<stream:streamx",
    b'<?xml version="1.0" encoding="utf-8"?><stream:stream',
    AGENT_HEADER + b"<presence/>",
    AGENT_HEADER + b"<iqx>",
    AGENT_HEADER + b"hello",
]


@pytest.mark.parametrize("data", BAD_FRAMES)
def test_malformed_frames_rejected(data):
    with pytest.raises(XmppFrameError):
        Framer().feed(data)


def test_oversize_stanza_rejected():
    f = Framer(max_stanza=1024)
    f.feed(AGENT_HEADER)
    with pytest.raises(XmppFrameError):
        f.feed(b"<iq>" + b"x" * 2000)


BAD_STANZAS = [
    b"<iq type='set'><pubsub><oops></iq>",
    b"<iq type='set'></iq>",
    b"<iq type='result'><pubsub><subscribe node='x'/></pubsub></iq>",
    b"<iq type='set'><pubsub><subscribe/></pubsub></iq>",
    b"<iq type='set'><pubsub><subscribe node='x'><options><instance-id>x</instance-id></options></subscribe></pubsub></iq>",
    b"<iq type='set'><pubsub><frobnicate node='x'/></pubsub></iq>",
    b"<message><unknown/></message>",
    b"<message><event><items node='1/1/x'><item id='a'></item></items></event></message>",
    b'<!DOCTYPE iq [<!ENTITY a "aaaa">]><iq>&a;</iq>',
    b"<iq>\xff\xfe</iq>",
    b"<iq type='set'><config><frob/></config></iq>",
]


@pytest.mark.parametrize("data", BAD_STANZAS)
def test_malformed_stanzas_rejected(data):
    with pytest.raises(XmppDecodeError):
        xs.decode_stanza(Stanza("iq", data))


def test_bad_item_is_rejected_item_not_stanza():
    raw = (
        b"<iq type='set' to='x/bgp-peer'><pubsub><publish node='1/1/v/10.0.0.1/32'><item><entry><nlri><af>1</af><safi>1</safi>"
        b"<address>10.0.0.1/32</address></nlri><next-hops><next-hop><af>1</af><address>1.1.1.1</address><label>abc</label>"
        b"</next-hop></next-hops></entry></item></publish></pubsub></iq>"
    )
    msg = xs.decode_stanza(Stanza("iq", raw))
    assert isinstance(msg, Publish) and isinstance(msg.entry, ValueError)
