"""The agent's reconcile loop on the model backend: a wake-up that changes nothing in the
desired datapath does not observe again; a change does; the periodic resync still does."""

from __future__ import annotations

import asyncio
import threading

from filament.agent.service import AgentOptions, AgentService
from filament.agent.view import AgentView, Host, Network, Port, Subnet
from filament.datapath.model import ModelDatapath
from filament.datapath.state import DatapathState

HOST = Host("198.18.0.1", "u1", 1600, "cn1")
RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
P1 = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", RED.vrf)
P2 = Port("p2", "tap2", "02:00:00:00:00:12", "100.64.1.12", RED.vrf)


class Counting(ModelDatapath):
    def __init__(self):
        super().__init__({"tap1", "tap2", "u1"})
        self.observed = 0
        self.event = threading.Event()

    def observe(self) -> DatapathState:
        self.observed += 1
        self.event.set()
        return super().observe()


class Viewed(AgentService):
    """The service with its view given by the test (no control node)."""

    ports: dict = {}

    def compute(self) -> AgentView:
        return AgentView(HOST, {RED.vrf: RED}, dict(self.ports), {})


async def test_only_changes_and_the_resync_observe(tmp_path):
    dp = Counting()
    svc = Viewed(AgentOptions("cn1", HOST.vtep, "u1", 1600, port_api=("127.0.0.1", 0), ports_dir=str(tmp_path),
                              resync_interval=0.5), lambda: dp)
    svc.ports = {"p1": P1}
    await svc.start()
    try:
        await svc.wait_applied()
        assert {v.name for v in dp.observe().vifs} == {"tap1"}
        n = dp.observed
        for _ in range(3):
            await svc.wait_applied()  # wakes the loop: same desired state, already converged
        assert dp.observed == n
        svc.ports = {"p1": P1, "p2": P2}
        await svc.wait_applied()
        assert dp.observed == n + 1  # one pass, no confirming observe
        assert {v.name for v in dp.observe().vifs} == {"tap1", "tap2"}
        dp.event.clear()
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, dp.event.wait, 5.0)  # the resync observes on its own
    finally:
        await svc.stop()
