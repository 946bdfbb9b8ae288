"""One Filament control node between a simulated XMPP agent and a real gobgpd 3.10:
the agent's route reaches gobgp as VPNv4 (RD, label, next hop, route target) and a
route added in gobgp with a matching target reaches the agent."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from filament.cli import ctr
from filament.control.node import ControlOptions
from filament.control.rib import InstanceConfig
from filament.control.service import ControlNodeService
from filament.control.sim_agent import SimAgent
from filament.wire.xmpp.model import NextHop, RouteEntry

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not shutil.which("gobgpd"), reason="gobgpd not installed")]

OURS, THEIRS, AGENT = "127.0.0.71", "127.0.0.72", "127.0.0.73"
RED = "default-domain:p:red:red"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def bgp_routers(gobgp_port: int) -> dict:
    """Our bgp-router (named as the control node) linked to gobgp's."""
    return {"bgp-router": {
        "u-ctl": {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", "ctl-bgp"],
                  "bgp_router_parameters": {"router_type": "control-node", "address": OURS, "identifier": OURS,
                                            "autonomous_system": 64512},
                  "bgp_router_refs": [{"uuid": "u-gobgp", "to": ["gobgp"], "attr": {"session": []}}]},
        "u-gobgp": {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", "gobgp"],
                    "bgp_router_parameters": {"router_type": "router", "address": THEIRS, "identifier": THEIRS,
                                              "autonomous_system": 64512, "port": gobgp_port, "hold_time": 30,
                                              "address_families": {"family": ["inet-vpn", "e-vpn", "route-target"]}}},
    }}


DEFAULT_FAMILIES = """
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "rtc"
"""


class GoBgp:
    """gobgpd as user nobody; it dials the control node's BGP port (its router id is
    higher, so under the mesh rule it is the one that connects)."""

    def __init__(self, tmp: Path, remote_port: int, *, neighbor_extra: str = "", port: int | None = None):
        """``neighbor_extra``: TOML for the neighbor after its timers, replacing the
        default afi-safi blocks (l3vpn-ipv4-unicast, l2vpn-evpn, rtc)."""
        self.port = port or free_port(THEIRS)
        self.api = free_port()
        self.tmp = tmp
        self.extra = neighbor_extra
        (tmp / "gobgpd.toml").write_text(f"""
[global.config]
  as = 64512
  router-id = "{THEIRS}"
  port = {self.port}
  local-address-list = ["{THEIRS}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{OURS}"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "{THEIRS}"
    remote-port = {remote_port}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 30
{neighbor_extra or DEFAULT_FAMILIES}
""")
        tmp.chmod(0o777)
        self.start()

    def start(self) -> None:
        tmp = self.tmp
        self.log = open(tmp / "gobgpd.log", "ab")
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "gobgpd", "-f", str(tmp / "gobgpd.toml"),
             "--api-hosts", f"127.0.0.1:{self.api}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def cli(self, *args: str) -> str:
        return subprocess.run(["gobgp", "-p", str(self.api), *args], check=True, capture_output=True, text=True, timeout=10).stdout

    def rib(self, family: str) -> list:
        out = self.cli("-j", "global", "rib", "-a", family)
        data = json.loads(out) if out.strip() else {}
        return [p for paths in data.values() for p in paths] if isinstance(data, dict) else []

    def kill(self) -> None:
        """SIGKILL: the session drops without a NOTIFICATION (a crash)."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


async def eventually(check, timeout: float = 20.0, what: str = "condition"):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def control():
    svc = ControlNodeService(None, host=OURS, xmpp_port=0, introspect_port=0, name="ctl-bgp",
                             options=ControlOptions(eor_quiet=0.0), bgp_port=free_port(OURS))
    await svc.start()
    svc.node.configure_instances({RED: InstanceConfig(RED, frozenset({"target:64512:1"}), frozenset({"target:64512:1"}),
                                                      "default-domain:p:red", 5)})
    yield svc
    await svc.stop()


@pytest.fixture
async def gobgp(control):
    with tempfile.TemporaryDirectory(prefix="fil-gobgp-") as d:
        g = GoBgp(Path(d), control.bgp_port)
        try:
            await control.apply_bgp_config(bgp_routers(g.port))
            await eventually(lambda: "BGP state = ESTABLISHED" in _neighbor(g), what="gobgp to establish")
            yield g
        finally:
            g.stop()


def _neighbor(g: GoBgp) -> str:
    try:
        return g.cli("neighbor", OURS)
    except subprocess.CalledProcessError:
        return ""


async def test_agent_route_reaches_gobgp_and_gobgp_route_reaches_agent(control, gobgp, capsys):
    sess = control.bgp.speaker.sessions[THEIRS]
    assert sess.established and sess.config.name == "gobgp"
    agent = await SimAgent.connect(OURS, control.xmpp_port, "compute-1", local_addr=AGENT)
    try:
        agent.subscribe(RED, 4)
        await asyncio.to_thread(gobgp.cli, "vrf", "add", "red", "rd", f"{THEIRS}:1", "rt", "both", "64512:1")  # RTC interest
        agent.publish(RED, RouteEntry(1, 1, address="10.1.0.3/32", local_pref=200,
                                      next_hops=(NextHop(AGENT, label=20, encap=("gre", "udp")),)))

        def ours_in_gobgp():
            return [p for p in gobgp.rib("vpnv4") if p["nlri"]["prefix"] == "10.1.0.3/32"]

        paths = await eventually(ours_in_gobgp, what="gobgp to learn the agent's route")
        nlri = paths[0]["nlri"]
        assert nlri["labels"] == [20] and nlri["rd"] == {"type": 1, "admin": AGENT, "assigned": 4}
        assert next(a for a in paths[0]["attrs"] if a["type"] == 14)["nexthop"] == AGENT
        ext = next(a for a in paths[0]["attrs"] if a["type"] == 16)
        assert {"type": 0, "subtype": 2, "value": "64512:1"} in ext["value"]  # route target
        assert {e.get("tunnel_type") for e in ext["value"] if e["subtype"] == 12} == {2, 13}  # encapsulation GRE, UDP

        # a gobgp route with another target stays out; one with ours reaches the agent
        for prefix, rt in (("10.8.0.0/24", "64512:99"), ("10.9.0.0/24", "64512:1")):
            await asyncio.to_thread(gobgp.cli, "global", "rib", "-a", "vpnv4", "add", prefix, "label", "300", "rd", "64512:9",
                                    "rt", rt, "nexthop", "198.18.9.1")
        await agent.wait_for(lambda a: "10.9.0.0/24" in a.table("inet", RED), timeout=20)
        got = agent.table("inet", RED)["10.9.0.0/24"]
        assert [(n.address, n.label) for n in got.next_hops] == [("198.18.9.1", 300)]
        assert "10.8.0.0/24" not in agent.table("inet", RED)

        # `filament ctr nei`: the BGP neighbor first, then the agent
        args = argparse.Namespace(host=OURS, port=control.introspect_port, max_width=50, search="", type="")
        capsys.readouterr()
        await asyncio.to_thread(ctr.cmd_nei, args)
        lines = capsys.readouterr().out.splitlines()
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if THEIRS in line or AGENT in line]
        assert rows[0][:7] == ["gobgp", THEIRS, "64512", "BGP", "internal", "Established", "in sync"], lines
        assert rows[1][:6] == ["compute-1", AGENT, "0", "XMPP", "internal", "Established"], lines

        # withdrawals both ways
        await asyncio.to_thread(gobgp.cli, "global", "rib", "-a", "vpnv4", "del", "10.9.0.0/24", "label", "300", "rd", "64512:9")
        await agent.wait_for(lambda a: "10.9.0.0/24" not in a.table("inet", RED), timeout=20)
        agent.publish(RED, RouteEntry(1, 1, address="10.1.0.3/32", next_hops=(NextHop(AGENT, label=20),)), add=False)
        await eventually(lambda: not ours_in_gobgp(), what="gobgp to drop the withdrawn route")
    finally:
        agent.close()
