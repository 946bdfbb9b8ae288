"""The BGP speaker against scripted raw peers on loopback: bad input gets the right
NOTIFICATION and resets only that session; RFC 7606 errors withdraw instead."""

from __future__ import annotations

import asyncio
import socket

import pytest

from filament.control.bgp_session import ESTABLISHED, BgpPeerConfig
from filament.control.bgp_speaker import BgpSpeaker
from filament.wire.bgp import IPV4_UNICAST, IPV4_VPN, Keepalive, Notification, Open, Update, encode_message, split_messages
from filament.wire.bgp import capabilities as cap
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import NextHop, Origin
from filament.wire.bgp.nlri.ip import IpPrefix

pytestmark = pytest.mark.integration

US, PEER, OTHER, STRANGER = "127.0.0.71", "127.0.0.72", "127.0.0.73", "127.0.0.74"


class Recorder:
    def __init__(self):
        self.updates: list = []
        self.closed: list = []
        self.up: dict[str, asyncio.Event] = {}

    def event(self, addr):
        return self.up.setdefault(addr, asyncio.Event())

    def on_established(self, s):
        self.event(s.config.address).set()

    def on_update(self, s, u):
        self.updates.append(u)

    def on_route_refresh(self, s, f):
        pass

    def on_end_of_rib(self, s, f):
        pass

    def on_closed(self, s, reason):
        self.closed.append((s.config.address, reason))
        self.event(s.config.address).clear()


class RawPeer:
    def __init__(self, reader, writer):
        self.reader, self.writer, self.buf = reader, writer, bytearray()

    @classmethod
    async def connect(cls, port, addr, asn=64512, hold=90, extra_caps=()):
        r, w = await asyncio.open_connection(US, port, local_addr=(addr, 0))
        p = cls(r, w)
        p.send(encode_message(Open(asn, hold, addr, (cap.Multiprotocol(IPV4_UNICAST), cap.Multiprotocol(IPV4_VPN), cap.FourOctetAs(asn)) + tuple(extra_caps))))
        return p

    def send(self, raw: bytes):
        self.writer.write(raw)

    async def messages(self, until=Notification, timeout=10.0):
        """Messages until one of type ``until`` (or EOF); returns them all."""
        out = []
        async with asyncio.timeout(timeout):
            while True:
                for m in split_messages(self.buf):
                    from filament.wire.bgp import decode_message
                    out.append(decode_message(m))
                    if isinstance(out[-1], until):
                        return out
                data = await self.reader.read(65536)
                if not data:
                    return out
                self.buf += data

    async def establish(self):
        msgs = await self.messages(until=Keepalive)
        assert isinstance(msgs[0], Open)
        self.send(encode_message(Keepalive()))

    def close(self):
        self.writer.close()


def free_port():
    with socket.socket() as s:
        s.bind((US, 0))
        return s.getsockname()[1]


@pytest.fixture
async def speaker():
    rec = Recorder()
    sp = BgpSpeaker(rec)
    await sp.listen(US, 0)

    def peer(addr, **kw):
        return BgpPeerConfig(addr, addr, 64512, 64512, US, (IPV4_UNICAST, IPV4_VPN), passive=True, **kw)

    await sp.reconcile([peer(PEER, hold_time=3, max_prefixes=10), peer(OTHER)])
    other = await RawPeer.connect(sp.port, OTHER)
    await other.establish()
    await asyncio.wait_for(rec.event(OTHER).wait(), 5)
    yield sp, rec
    # The bystander session survived whatever the test did to PEER.
    assert sp.sessions[OTHER].state == ESTABLISHED
    other.close()
    await sp.close()


def _notification(msgs) -> tuple[int, int]:
    n = msgs[-1]
    assert isinstance(n, Notification), msgs
    return n.code, n.subcode


async def established_peer(sp, rec, **kw):
    p = await RawPeer.connect(sp.port, PEER, **kw)
    await p.establish()
    await asyncio.wait_for(rec.event(PEER).wait(), 5)
    return p


@pytest.mark.parametrize("name,raw,expected", [
    ("bad marker", b"\x00" * 16 + b"\x00\x13\x04", (1, 1)),
    ("bad length", b"\xff" * 16 + b"\x00\x05\x04", (1, 2)),
    ("bad type", b"\xff" * 16 + b"\x00\x13\x0b", (1, 3)),
    ("second OPEN", encode_message(Open(64512, 90, PEER)), (5, 3)),
    ("attribute overruns", b"\xff" * 16 + b"\x00\x1b\x02" + b"\x00\x00\x00\x04" + b"\x40\x01\x05\x00", (3, 5)),
    ("unknown well-known attribute", b"\xff" * 16 + b"\x00\x1b\x02" + b"\x00\x00\x00\x04" + b"\x40\xfe\x01\x00", (3, 2)),
])
async def test_bad_message_gets_notification_and_reset(speaker, name, raw, expected):
    sp, rec = speaker
    p = await established_peer(sp, rec)
    p.send(raw)
    assert _notification(await p.messages()) == expected
    assert await p.reader.read() == b""  # and the connection is closed
    assert rec.closed and rec.closed[-1][0] == PEER


async def test_wrong_as_in_open(speaker):
    sp, rec = speaker
    p = await RawPeer.connect(sp.port, PEER, asn=65001)
    assert _notification(await p.messages()) == (2, 2)


async def test_unknown_capability_is_ignored(speaker):
    sp, rec = speaker
    p = await established_peer(sp, rec, extra_caps=(cap.UnknownCapability(200, b"\x01\x02"),))
    assert sp.sessions[PEER].state == ESTABLISHED
    p.close()


async def test_unconfigured_peer_is_rejected(speaker):
    sp, rec = speaker
    p = await RawPeer.connect(sp.port, STRANGER)
    assert _notification(await p.messages()) == (6, 5)


async def test_treat_as_withdraw_keeps_session(speaker):
    sp, rec = speaker
    p = await established_peer(sp, rec)
    bad_origin = Update(attributes=(Origin(0), AsPath(()), NextHop("198.18.0.9")), nlri=(IpPrefix("100.64.9.0/24"),))
    raw = bytearray(encode_message(bad_origin))
    raw[raw.index(b"\x40\x01\x01\x00") + 3] = 9  # ORIGIN 9 is invalid
    p.send(bytes(raw) + encode_message(Keepalive()))
    await asyncio.wait_for(_until(lambda: rec.updates), 5)
    u = rec.updates[-1]
    assert u.treat_as_withdraw and [(f, str(n)) for f, n in u.withdrawals()] == [(IPV4_UNICAST, "100.64.9.0/24")]
    assert sp.sessions[PEER].state == ESTABLISHED
    p.close()


async def test_flooding_peer_hits_prefix_limit(speaker):
    sp, rec = speaker
    p = await established_peer(sp, rec)
    nlri = tuple(IpPrefix(f"100.64.{i}.0/24") for i in range(11))
    p.send(encode_message(Update(attributes=(Origin(0), AsPath(()), NextHop("198.18.0.9")), nlri=nlri)))
    assert _notification(await p.messages()) == (6, 1)


async def test_hold_timer_expiry(speaker):
    sp, rec = speaker
    p = await established_peer(sp, rec, hold=3)
    msgs = await p.messages(timeout=10)  # we stay silent: the speaker's 3 s hold timer fires
    assert _notification(msgs) == (4, 0)
    assert any(isinstance(m, Keepalive) for m in msgs)  # it kept us alive meanwhile


async def _until(cond):
    while not cond():
        await asyncio.sleep(0.02)


async def test_two_speakers_dialing_each_other_settle_on_one_session():
    """iBGP mesh between control nodes: both sides connect; the collision rule leaves one."""
    a_addr, b_addr = "127.0.0.81", "127.0.0.82"
    port = free_port()
    recs = [Recorder(), Recorder()]
    a, b = BgpSpeaker(recs[0]), BgpSpeaker(recs[1])
    await a.listen(a_addr, port)
    await b.listen(b_addr, port)
    try:
        def cfg(me, them):
            return BgpPeerConfig(them, them, 64512, 64512, me, (IPV4_VPN,), port=port, local_address=me, connect_retry=0.5, peer_router_id=them)

        await a.reconcile([cfg(a_addr, b_addr)])
        await b.reconcile([cfg(b_addr, a_addr)])
        await asyncio.wait_for(recs[0].event(b_addr).wait(), 10)
        await asyncio.wait_for(recs[1].event(a_addr).wait(), 10)
        await asyncio.sleep(1.0)  # two connect-retry periods: a duplicate connection would have flapped by now
        assert a.sessions[b_addr].state == ESTABLISHED and b.sessions[a_addr].state == ESTABLISHED
        assert not recs[0].closed and not recs[1].closed
    finally:
        await a.close()
        await b.close()
