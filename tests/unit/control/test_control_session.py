"""Session adapter with a fake transport and clock: timers, stuck peers, flow control."""

from __future__ import annotations

import pytest

from filament.control.node import ControlNode, ControlOptions
from filament.control.rib import InstanceConfig
from filament.control.xmpp_session import XmppSession
from filament.wire.xmpp import stanza as xs
from filament.wire.xmpp.framing import KEEPALIVE, StreamHeader, encode_header
from filament.wire.xmpp.model import CONTROL_JID, NextHop, RouteEntry

RED = "d:p:red:red"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class FakeTransport:
    def __init__(self, peer="192.0.2.7"):
        self.out = bytearray()
        self.closed = False
        self.peer = peer

    def get_extra_info(self, key):
        return (self.peer, 5555) if key == "peername" else None

    def set_write_buffer_limits(self, high, low):
        pass

    def write(self, data):
        self.out += data

    def close(self):
        self.closed = True

    abort = close


@pytest.fixture
def node():
    clock = Clock()
    n = ControlNode(ControlOptions(name="ctl", hold_time=9, open_timeout=15, stuck_timeout=5, eor_quiet=1, gr_enable=False), clock=clock, wallclock=clock)
    n.configure_instances({RED: InstanceConfig(RED, frozenset({"target:1:1"}), frozenset({"target:1:1"}))})
    return n


def connect(node, name="c1", peer="192.0.2.7"):
    s = XmppSession(node)
    t = FakeTransport(peer)
    s.connection_made(t)
    s.data_received(encode_header(StreamHeader(name, CONTROL_JID), server=False))
    return s, t


def test_open_timeout_closes_silent_connection(node):
    s = XmppSession(node)
    t = FakeTransport()
    s.connection_made(t)
    node.clock.t += 16
    node.tick()
    assert t.closed


def test_keepalive_and_hold_timer(node):
    s, t = connect(node)
    assert b'id="++123"' in t.out
    t.out.clear()
    node.clock.t += 3.5
    node.tick()
    assert KEEPALIVE in t.out and not t.closed
    s.data_received(KEEPALIVE)
    node.clock.t += 8
    node.tick()
    assert not t.closed
    node.clock.t += 10
    node.tick()
    assert t.closed


def test_stuck_peer_is_closed_and_output_waits_for_resume(node):
    s, t = connect(node)
    other, ot = connect(node, "c2", "192.0.2.8")
    s.data_received(xs.encode_subscribe("c1", RED, 1))
    s.pause_writing()
    t.out.clear()
    entry = RouteEntry(1, 1, address="10.0.0.1/32", next_hops=(NextHop("192.0.2.8", label=20, encap=("gre",)),))
    other.data_received(xs.encode_subscribe("c2", RED, 1) + xs.encode_publish("c2", RED, entry))
    assert b"10.0.0.1/32" not in t.out and s.pending  # queued as a key, not written
    s.resume_writing()
    assert b'<item id="10.0.0.1/32">' in t.out and not s.pending
    s.pause_writing()
    node.clock.t += 6
    s.data_received(KEEPALIVE)  # still talking, but not reading
    node.tick()
    assert t.closed and not ot.closed


def test_pending_coalesces_repeated_changes(node):
    s, t = connect(node)
    other, _ = connect(node, "c2", "192.0.2.8")
    s.data_received(xs.encode_subscribe("c1", RED, 1))
    other.data_received(xs.encode_subscribe("c2", RED, 1))
    s.pause_writing()
    for label in range(100):
        e = RouteEntry(1, 1, address="10.0.0.1/32", next_hops=(NextHop("192.0.2.8", label=label + 16, encap=("gre",)),))
        other.data_received(xs.encode_publish("c2", RED, e))
    assert sum(len(v) for v in s.pending.values()) == 1
    t.out.clear()
    s.resume_writing()
    assert t.out.count(b"<item ") == 1 and b"<label>115</label>" in t.out


def test_end_of_rib_sent_after_quiet_period(node):
    s, t = connect(node)
    s.data_received(xs.encode_subscribe("c1", RED, 1))
    node.clock.t += 1.5
    node.tick()
    assert b'<items node="0/0/EndOfRib"></items>' in t.out
