"""A Filament BGP session against a real gobgpd 3.10 on loopback (non-standard ports,
run as user nobody): it reaches Established and exchanges VPNv4 and EVPN routes both ways."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from filament.control.bgp_session import BgpPeerConfig, BgpSession
from filament.wire.bgp import EVPN, IPV4_VPN, RTC, RouteDistinguisher
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import LocalPref, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.nlri.evpn import ESI_ZERO, MacIpAdvertisement
from filament.wire.bgp.nlri.rtc import RtMembership
from filament.wire.bgp.nlri.vpn import VpnPrefix

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not shutil.which("gobgpd"), reason="gobgpd not installed")]

OURS, THEIRS = "127.0.0.61", "127.0.0.62"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class GoBgp:
    """gobgpd as user nobody, passive toward our address; ``cli`` drives its gRPC API."""

    def __init__(self, tmp: Path, asn: int = 64512):
        self.port = free_port(THEIRS)
        self.api = free_port()
        self.tmp = tmp
        (tmp / "gobgpd.toml").write_text(f"""
[global.config]
  as = {asn}
  router-id = "{THEIRS}"
  port = {self.port}
  local-address-list = ["{THEIRS}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{OURS}"
    peer-as = 64512
  [neighbors.transport.config]
    passive-mode = true
    local-address = "{THEIRS}"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "rtc"
""")
        tmp.chmod(0o777)
        self.log = open(tmp / "gobgpd.log", "wb")
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "gobgpd", "-f", str(tmp / "gobgpd.toml"),
             "--api-hosts", f"127.0.0.1:{self.api}", "-l", "debug"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def cli(self, *args: str) -> str:
        return subprocess.run(["gobgp", "-p", str(self.api), *args], check=True, capture_output=True, text=True, timeout=10).stdout

    def rib(self, family: str) -> list:
        out = self.cli("-j", "global", "rib", "-a", family)
        data = json.loads(out) if out.strip() else {}
        return [p for paths in data.values() for p in paths] if isinstance(data, dict) else []

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


async def eventually(check, timeout: float = 15.0, what: str = "condition"):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = await asyncio.to_thread(check) if not asyncio.iscoroutinefunction(check) else await check()
        if result:
            return result
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class Recorder:
    def __init__(self):
        self.established = asyncio.Event()
        self.routes: dict = {}
        self.eor: set = set()
        self.closed: list[str] = []

    def on_established(self, session):
        # Default RT membership: "send me every VPN route" (RFC 4684 §4).
        session.advertise(RTC, RtMembership(), (Origin(0), AsPath(()), LocalPref(100)))
        self.established.set()

    def on_update(self, session, update):
        attrs = update.attributes
        for fam, nlri in update.withdrawals():
            self.routes.pop((fam, nlri), None)
        for fam, nlri, nh in update.announced():
            self.routes[(fam, nlri)] = (nh, attrs)

    def on_route_refresh(self, session, family):
        pass

    def on_end_of_rib(self, session, family):
        self.eor.add(family)

    def on_closed(self, session, reason):
        self.closed.append(reason)


@pytest.fixture
def gobgp():
    with tempfile.TemporaryDirectory(prefix="fil-gobgp-") as d:
        g = GoBgp(Path(d))
        try:
            subprocess.run(["sh", "-c", f"for i in $(seq 100); do gobgp -p {g.api} global >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1"], check=True)
            yield g
        finally:
            g.stop()


@pytest.fixture
async def session(gobgp):
    rec = Recorder()
    cfg = BgpPeerConfig("gobgp", THEIRS, 64512, 64512, OURS, (IPV4_VPN, EVPN, RTC), hold_time=30, port=gobgp.port,
                        local_address=OURS, connect_retry=1.0, graceful_restart_time=60)
    sess = BgpSession(cfg, rec)
    sess.start()
    await asyncio.wait_for(rec.established.wait(), 20)
    yield sess, rec
    await sess.stop()


async def test_established_with_negotiated_families(session, gobgp):
    sess, rec = session
    assert set(sess.negotiated.families) == {IPV4_VPN, EVPN, RTC}
    assert sess.negotiated.hold_time == 30 and sess.negotiated.as4 and sess.negotiated.route_refresh
    out = await asyncio.to_thread(gobgp.cli, "neighbor", OURS)
    assert "BGP state = ESTABLISHED" in out


async def test_vpnv4_route_from_gobgp_arrives(session, gobgp):
    sess, rec = session
    await asyncio.to_thread(gobgp.cli, "global", "rib", "-a", "vpnv4", "add", "10.2.2.0/24", "label", "202", "rd", "64512:2",
                            "rt", "64512:2", "nexthop", "198.18.100.2")
    key = (IPV4_VPN, VpnPrefix(RouteDistinguisher.parse("64512:2"), "10.2.2.0/24", (202,)))
    await eventually(lambda: key in rec.routes, what="the VPNv4 route")
    nh, attrs = rec.routes[key]
    assert nh == "198.18.100.2"
    ext = next(a for a in attrs if isinstance(a, ExtCommunities))
    assert [str(c) for c in ext.communities] == ["target:64512:2"]
    await asyncio.to_thread(gobgp.cli, "global", "rib", "-a", "vpnv4", "del", "10.2.2.0/24", "label", "202", "rd", "64512:2")
    await eventually(lambda: key not in rec.routes, what="the VPNv4 withdrawal")


async def test_routes_from_filament_reach_gobgp(session, gobgp):
    sess, rec = session
    attrs = (Origin(0), AsPath(()), LocalPref(200),
             ExtCommunities((ExtCommunity.route_target("target:64512:7"), ExtCommunity.encapsulation("vxlan"))))
    vpn = VpnPrefix(RouteDistinguisher.parse("198.18.0.61:1"), "100.64.7.0/24", (37,))
    mac = MacIpAdvertisement(RouteDistinguisher.parse("198.18.0.61:1"), ESI_ZERO, 0, "02:00:00:00:07:01", "100.64.7.1", 7007)
    sess.advertise(IPV4_VPN, vpn, attrs, "198.18.0.61")
    sess.advertise(EVPN, mac, attrs, "198.18.0.61")

    def vpn_seen():
        return [p for p in gobgp.rib("vpnv4") if p["nlri"]["prefix"] == "100.64.7.0/24"]

    paths = await eventually(vpn_seen, what="gobgp to learn the VPNv4 route")
    nlri = paths[0]["nlri"]
    assert nlri["labels"] == [37] and nlri["rd"] == {"type": 1, "admin": "198.18.0.61", "assigned": 1}
    mp = next(a for a in paths[0]["attrs"] if a["type"] == 14)
    assert mp["nexthop"] == "198.18.0.61"

    def evpn_seen():
        return [p for p in gobgp.rib("evpn") if p["nlri"]["value"].get("mac") == "02:00:00:00:07:01"]

    paths = await eventually(evpn_seen, what="gobgp to learn the EVPN type-2 route")
    assert paths[0]["nlri"]["value"]["ip"] == "100.64.7.1" and paths[0]["nlri"]["value"]["labels"] == [7007]

    sess.withdraw(IPV4_VPN, vpn)
    await eventually(lambda: not vpn_seen(), what="gobgp to drop the withdrawn route")
    assert evpn_seen()


async def test_wrong_peer_as_gets_open_error(gobgp):
    rec = Recorder()
    cfg = BgpPeerConfig("gobgp", THEIRS, 65000, 64512, OURS, (IPV4_VPN,), port=gobgp.port, local_address=OURS, connect_retry=30)
    sess = BgpSession(cfg, rec)
    sess.start()
    try:
        await eventually(lambda: "NOTIFICATION 2/2" in sess.stats.last_error, what="Bad Peer AS")
        assert sess.stats.tx["notification"] == 1
    finally:
        await sess.stop()
