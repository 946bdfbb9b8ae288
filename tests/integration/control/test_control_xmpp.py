"""Several simulated agents on one control node: each receives exactly the routes it should."""

from __future__ import annotations

import asyncio
import logging

import pytest

from filament.control.node import ControlOptions
from filament.control.rib import InstanceConfig
from filament.control.service import ControlNodeService
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import NextHop, RouteEntry

RED = "default-domain:p:red:red"
BLUE = "default-domain:p:blue:blue"
GREEN = "default-domain:p:green:green"


def inet(prefix, nh, label=16, lp=200):
    return RouteEntry(1, 1, address=prefix, next_hops=(NextHop(nh, label=label, encap=("gre", "udp")),), local_pref=lp, sub_protocol="interface")


@pytest.fixture
async def control():
    opts = ControlOptions(eor_quiet=0.0, gr_time=30.0)
    svc = ControlNodeService(None, host="127.0.0.1", xmpp_port=0, introspect_port=0, bgp_port=0, name="ctl-test", options=opts)
    await svc.start()
    svc.node.configure_instances({
        RED: InstanceConfig(RED, frozenset({"target:64512:1"}), frozenset({"target:64512:1"}), "default-domain:p:red", 5),
        BLUE: InstanceConfig(BLUE, frozenset({"target:64512:2", "target:64512:1"}), frozenset({"target:64512:2"}), "default-domain:p:blue", 6),
        GREEN: InstanceConfig(GREEN, frozenset({"target:64512:3"}), frozenset({"target:64512:3"}), "default-domain:p:green", 7),
    })
    yield svc
    await svc.stop()


async def agent(svc, name, addr):
    return await SimAgent.connect("127.0.0.1", svc.xmpp_port, name, local_addr=addr)


async def test_agents_receive_exactly_their_routes(control):
    a1 = await agent(control, "compute-1", "127.0.0.11")
    a2 = await agent(control, "compute-2", "127.0.0.12")
    a3 = await agent(control, "compute-3", "127.0.0.13")
    a1.subscribe(RED)
    a2.subscribe(BLUE)
    a3.subscribe(GREEN)
    a1.publish(RED, inet("10.1.0.3/32", "127.0.0.11", label=20))
    a2.publish(BLUE, inet("10.2.0.3/32", "127.0.0.12", label=21))
    a3.publish(GREEN, inet("10.3.0.3/32", "127.0.0.13", label=22))
    # RED gets its own route back (no split horizon toward XMPP); BLUE imports RED's target
    await a1.wait_for(lambda a: set(a.table("inet", RED)) == {"10.1.0.3/32"})
    await a2.wait_for(lambda a: set(a.table("inet", BLUE)) == {"10.1.0.3/32", "10.2.0.3/32"})
    await a3.wait_for(lambda a: set(a.table("inet", GREEN)) == {"10.3.0.3/32"})
    leaked = a2.table("inet", BLUE)["10.1.0.3/32"]
    assert [(n.address, n.label, n.virtual_network) for n in leaked.next_hops] == [("127.0.0.11", 20, "default-domain:p:red")]
    assert leaked.local_pref == 200 and leaked.med == 100
    # withdraw reaches the importer as a retract
    a1.publish(RED, inet("10.1.0.3/32", "127.0.0.11", label=20), add=False)
    await a2.wait_for(lambda a: set(a.table("inet", BLUE)) == {"10.2.0.3/32"})
    await a1.wait_for(lambda a: a.table("inet", RED) == {})
    assert a3.table("inet", RED) == {} and set(a3.table("inet", GREEN)) == {"10.3.0.3/32"}
    await asyncio.wait_for(a1.eor.wait(), 5)
    for a in (a1, a2, a3):
        a.close()


async def test_ecmp_and_late_subscriber_gets_table_dump(control):
    a1 = await agent(control, "compute-1", "127.0.0.11")
    a2 = await agent(control, "compute-2", "127.0.0.12")
    a1.subscribe(RED)
    a2.subscribe(RED)
    a1.publish(RED, inet("10.1.0.100/32", "127.0.0.11", label=20))
    a2.publish(RED, inet("10.1.0.100/32", "127.0.0.12", label=30))
    a3 = await agent(control, "compute-3", "127.0.0.13")
    a3.subscribe(RED)
    await a3.wait_for(lambda a: len(a.table("inet", RED).get("10.1.0.100/32", RouteEntry(1, 1)).next_hops) == 2)
    for a in (a1, a2, a3):
        a.close()


async def test_bad_sessions_are_closed_and_others_survive(control, caplog):
    caplog.set_level(logging.WARNING, "filament.control")
    good = await agent(control, "good", "127.0.0.11")
    good.subscribe(RED)
    loop = asyncio.get_running_loop()

    async def raw(payload: bytes, name="bad"):
        r, w = await asyncio.open_connection("127.0.0.1", control.xmpp_port)
        w.write(payload)
        await w.drain()
        data = await asyncio.wait_for(r.read(), 5)  # until the control node closes it
        w.close()
        return data

    header = f'<stream:stream from="{{}}" to="network-control@contrailsystems.com" version="1.0" xml:lang="en" xmlns="" xmlns:stream="http://etherx.jabber.org/streams" >'
    assert b"</stream:stream>" in await raw(b"\x00\xffgarbage")
    assert b"</stream:stream>" in await raw(header.format("b1").encode() + b"<iq type='set'><pubsub><oops></iq>")
    assert b"</stream:stream>" in await raw(header.format("b2").encode() + b"<message><unknown/></message>")
    dup = (header.format("b3") + f'<iq type="set" from="b3" to="network-control@contrailsystems.com/bgp-peer"><pubsub xmlns="http://jabber.org/protocol/pubsub"><subscribe node="{RED}"><options><instance-id>1</instance-id></options></subscribe></pubsub></iq>').encode()
    assert b"</stream:stream>" in await raw(dup + dup[dup.index(b"<iq"):])
    from filament.wire.xmpp import stanza as xs

    unsub = header.format("b4").encode() + xs.encode_publish("b4", BLUE, inet("10.9.9.9/32", "127.0.0.1"))
    assert b"</stream:stream>" in await raw(unsub)
    # duplicate name while the first session is up is refused
    assert b"</stream:stream>" in await raw(header.format("good").encode())
    names = " ".join(r.getMessage() for r in caplog.records)
    for n in ("b1", "b2", "b3", "b4", "<unnamed"):
        assert n in names
    # the good session still works
    good.publish(RED, inet("10.1.0.7/32", "127.0.0.11"))
    await good.wait_for(lambda a: "10.1.0.7/32" in a.table("inet", RED))
    assert not good.closed.is_set()
    good.close()
    del loop


async def test_graceful_restart_keeps_paths_until_sweep(control):
    a1 = await agent(control, "compute-1", "127.0.0.11")
    a2 = await agent(control, "compute-2", "127.0.0.12")
    a1.subscribe(RED)
    a2.subscribe(RED)
    a1.publish(RED, inet("10.1.0.3/32", "127.0.0.11"))
    a1.publish(RED, inet("10.1.0.4/32", "127.0.0.11"))
    await a2.wait_for(lambda a: set(a.table("inet", RED)) == {"10.1.0.3/32", "10.1.0.4/32"})
    a1.close()
    await a1.closed.wait()
    await asyncio.sleep(0.05)
    assert "compute-1" in control.node.rib.membership  # kept (stale) for the GR time
    assert set(a2.table("inet", RED)) == {"10.1.0.3/32", "10.1.0.4/32"}
    b1 = await agent(control, "compute-1", "127.0.0.11")
    b1.subscribe(RED, 1)
    b1.publish(RED, inet("10.1.0.3/32", "127.0.0.11"))
    b1.end_of_rib()
    await a2.wait_for(lambda a: set(a.table("inet", RED)) == {"10.1.0.3/32"})
    b1.close()
    a2.close()
