"""A datapath-less simulated vRouter agent speaking the XMPP dialect (tests, benchmarks).

It subscribes to routing instances, publishes routes and keeps what the control
node sends it, per table node (`<afi>/<safi>/<ri>`), by item id.
"""

from __future__ import annotations

import asyncio
import time

from filament.wire.xmpp import stanza as xs
from filament.wire.xmpp.framing import KEEPALIVE, Framer, Stanza, StreamHeader, encode_header
from filament.wire.xmpp.model import CONTROL_JID, ConfigUpdate, EndOfRib, RouteEntry, RouteUpdate


class SimAgent(asyncio.Protocol):
    def __init__(self, name: str, *, decode: bool = True):
        self.name = name
        self.decode = decode
        self.transport = None
        self.framer = Framer(4 * 1024 * 1024)
        self.established = asyncio.Event()
        self.closed = asyncio.Event()
        self.eor = asyncio.Event()
        self.routes: dict[str, dict[str, RouteEntry]] = {}
        self.config: list[ConfigUpdate] = []
        self.received_at: dict[str, float] = {}  # item id -> monotonic time of last reach
        self.first_received_at: dict[str, float] = {}  # item id -> monotonic time of first reach
        self.changed = asyncio.Event()
        self.messages = 0
        self._iid = 0
        self._seq = 0
        self.subscriptions: dict[str, int] = {}

    @classmethod
    async def connect(cls, host: str, port: int, name: str, *, local_addr: str | None = None, decode: bool = True) -> "SimAgent":
        loop = asyncio.get_running_loop()
        agent = cls(name, decode=decode)
        kw = {"local_addr": (local_addr, 0)} if local_addr else {}
        await loop.create_connection(lambda: agent, host, port, **kw)
        await asyncio.wait_for(agent.established.wait(), 10)
        return agent

    def connection_made(self, transport):
        self.transport = transport
        transport.write(encode_header(StreamHeader(from_=self.name, to=CONTROL_JID), server=False))

    def connection_lost(self, exc):
        self.closed.set()

    def data_received(self, data: bytes):
        for ev in self.framer.feed(data):
            if isinstance(ev, StreamHeader):
                self.established.set()
                self.transport.write(KEEPALIVE)
            elif isinstance(ev, Stanza):
                self.messages += 1
                if not self.decode and b"EndOfRib" not in ev.data:
                    self.received_at[str(self.messages)] = time.monotonic()
                    self.changed.set()
                    continue
                msg = xs.decode_stanza(ev)
                if isinstance(msg, EndOfRib):
                    self.eor.set()
                elif isinstance(msg, RouteUpdate):
                    table = self.routes.setdefault(msg.node, {})
                    now = time.monotonic()
                    for ident, entry in msg.items:
                        table[ident] = entry
                        self.received_at[ident] = now
                        self.first_received_at.setdefault(ident, now)
                    for ident in msg.retracts:
                        table.pop(ident, None)
                    self.changed.set()
                elif isinstance(msg, ConfigUpdate):
                    self.config.append(msg)
                    self.changed.set()

    # ---- actions --------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.transport.write(data)

    def subscribe(self, instance: str, instance_id: int | None = None) -> int:
        if instance_id is None:
            self._iid += 1
            instance_id = self._iid
        self.subscriptions[instance] = instance_id
        self.send(xs.encode_subscribe(self.name, instance, instance_id))
        return instance_id

    def unsubscribe(self, instance: str) -> None:
        self.subscriptions.pop(instance, None)
        self.send(xs.encode_unsubscribe(self.name, instance))

    def subscribe_config(self) -> None:
        self.send(xs.encode_subscribe(self.name, f"virtual-router:default-global-system-config:{self.name}", config=True))

    def publish(self, instance: str, entry: RouteEntry, add: bool = True) -> None:
        self._seq += 1
        self.send(xs.encode_publish(self.name, instance, entry, add=add, seq=self._seq))

    def end_of_rib(self) -> None:
        self.send(xs.encode_agent_eor(self.name))

    def table(self, family: str, instance: str) -> dict[str, RouteEntry]:
        from filament.wire.xmpp.model import AFI_SAFI

        afi, safi = AFI_SAFI[family]
        return self.routes.get(f"{afi}/{safi}/{instance}", {})

    async def wait_for(self, predicate, timeout: float = 5.0) -> None:
        """Wait until ``predicate(self)`` holds (re-checked on every message)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            self.changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{self.name}: condition not met; routes={self.routes}")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
