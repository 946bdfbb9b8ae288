"""IPv4 unicast reflected by a Filament control node between real gobgpd 3.10 speakers:
eBGP gen (AS 65001) -> Filament (AS 64512) -> eBGP mon (AS 65002) and iBGP peer (AS 64512).
eBGP gets our AS prepended and next hop self, iBGP the received AS_PATH and next hop;
an iBGP-learned route reaches the eBGP neighbors; withdrawals follow.

Sessions run between 198.19/16 addresses on a veth of our own (named with the pid):
gobgpd treats a loopback next hop (ours, with next hop self) as invalid."""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from filament.control.node import ControlOptions
from filament.control.service import ControlNodeService
from tests.integration.control.test_bgp_control_node import eventually
from tests.integration.interop.peers import GoBgp, free_port, sh

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not shutil.which("gobgpd"), reason="gobgpd not installed")]

NAMES = {"gen": 65001, "mon": 65002, "ibgp": 64512}


@contextmanager
def fabric_addresses(n: int):
    """``n`` /32 addresses (198.19.128.0/17, by pid) on a veth of this test's own."""
    link = f"filu{os.getpid()}"[:15]
    sh("ip", "link", "add", link, "type", "veth", "peer", "name", f"filv{os.getpid()}"[:15])
    try:
        sh("ip", "link", "set", link, "up")
        base = ipaddress.IPv4Address("198.19.128.0") + (os.getpid() % 8192) * 4
        addrs = [str(base + i) for i in range(n)]
        for a in addrs:
            sh("ip", "addr", "add", f"{a}/32", "dev", link)
        yield addrs
    finally:
        sh("ip", "link", "del", link, check=False)


def config(ours: str, neighbors: dict) -> dict:
    def router(name, addr, asn, refs=()):
        return {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", name],
                "bgp_router_parameters": {"router_type": "control-node" if name == "refl" else "router", "address": addr,
                                          "identifier": addr, "autonomous_system": asn, "hold_time": 30,
                                          "address_families": {"family": ["inet", "inet-vpn", "route-target"] if name == "refl" else ["inet"]}},
                "bgp_router_refs": [{"uuid": f"u-{n}", "to": [n], "attr": {"session": [{"attributes": [{"passive": True}]}]}}
                                    for n in refs]}

    routers = {"u-refl": router("refl", ours, 64512, neighbors)}
    routers.update({f"u-{n}": router(n, addr, asn) for n, (addr, asn) in neighbors.items()})
    return {"bgp-router": routers}


def gobgp_toml(addr: str, asn: int, ours: str, remote_port: int) -> str:
    return f"""
[global.config]
  as = {asn}
  router-id = "{addr}"
  port = {free_port(addr)}
  local-address-list = ["{addr}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{ours}"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "{addr}"
    remote-port = {remote_port}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 30
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"""


def routes(g: GoBgp) -> dict[str, tuple[str, list[int]]]:
    """prefix -> (next hop, AS path) in gobgp's IPv4 table."""
    out = {}
    for p in g.rib("ipv4"):
        attrs = {a["type"]: a for a in p["attrs"]}
        asns = [a for seg in attrs.get(2, {}).get("as_paths", []) for a in seg["asns"]]
        out[p["nlri"]["prefix"]] = (attrs.get(3, {}).get("nexthop", ""), asns)
    return out


async def test_ipv4_unicast_reflection_ebgp_and_ibgp():
    with fabric_addresses(4) as (ours, *theirs), tempfile.TemporaryDirectory(prefix=f"fil-bgp-unicast-{os.getpid()}-") as d:
        neighbors = {name: (addr, asn) for (name, asn), addr in zip(NAMES.items(), theirs)}
        Path(d).chmod(0o755)  # gobgpd runs as nobody
        svc = ControlNodeService(None, host=ours, xmpp_port=0, introspect_port=0, name="refl",
                                 options=ControlOptions(router_id=ours), bgp_port=free_port(ours))
        await svc.start()
        peers: dict[str, GoBgp] = {}
        try:
            await svc.apply_bgp_config(config(ours, neighbors))
            for name, (addr, asn) in neighbors.items():
                peers[name] = GoBgp(Path(d) / name, gobgp_toml(addr, asn, ours, svc.bgp_port), log_level="warn")
            for name, g in peers.items():
                await eventually(lambda g=g: "BGP state = ESTABLISHED" in g.cli("neighbor", ours), what=f"{name} to establish")
            gen, mon, ibgp = peers["gen"], peers["mon"], peers["ibgp"]

            gen.cli("global", "rib", "-a", "ipv4", "add", "10.20.0.0/24", "nexthop", "198.18.9.1")
            got = await eventually(lambda: routes(mon).get("10.20.0.0/24"), what="mon to learn gen's route")
            assert got == (ours, [64512, 65001])  # eBGP: our AS first, next hop self
            got = await eventually(lambda: routes(ibgp).get("10.20.0.0/24"), what="the iBGP peer to learn gen's route")
            assert got == ("198.18.9.1", [65001])  # iBGP: next hop and AS path as received

            ibgp.cli("global", "rib", "-a", "ipv4", "add", "10.30.0.0/24", "nexthop", "198.18.9.2")
            for g in (mon, gen):
                got = await eventually(lambda g=g: routes(g).get("10.30.0.0/24"), what="the iBGP route to reach eBGP")
                assert got == (ours, [64512])
            assert sorted(svc.node.rib.tables["inet.0"].routes) == ["10.20.0.0/24", "10.30.0.0/24"]

            gen.cli("global", "rib", "-a", "ipv4", "del", "10.20.0.0/24")
            for g in (mon, ibgp):
                await eventually(lambda g=g: "10.20.0.0/24" not in routes(g), what="the withdrawal to follow")
            assert "10.30.0.0/24" in routes(mon)
        finally:
            for g in peers.values():
                g.stop()
            await svc.stop()
