"""BGP route reflection benchmark: Filament vs GoBGP vs FRR, side by side in one run.

    generator (AS 65001) --eBGP--> reflector (AS 64512) --eBGP--> monitor (AS 65002)

The generator and the monitor are raw BGP speakers in this process (OPEN/KEEPALIVE
by hand, UPDATEs pre-encoded with ``filament.wire.bgp`` before the clock starts, so
the generator is never the bottleneck); each reflector runs as its own process on
loopback with its own addresses: Filament's control node (``python -m
filament.control`` on static config, uvloop), gobgpd, FRR bgpd (``-Z``). eBGP on
both sides, so no reflector needs route-reflector-client config.

Printed per family (IPv4 unicast, VPNv4) and reflector:
  first->last  seconds from the generator's first UPDATE to the monitor's last route
  mon f->l     seconds from the monitor's first route to its last
  routes/s     routes / first->last
  B/route      UPDATE bytes the monitor received (headers included) / routes
and the ratios Filament/GoBGP and Filament/FRR of routes/s (>1: Filament faster).

    .venv/bin/python bench/bench_bgp.py                # 100k routes, both families
    .venv/bin/python bench/bench_bgp.py --quick        # 10k routes
    .venv/bin/python bench/bench_bgp.py --routes 50000 --family vpnv4 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile  # noqa: F401  (documents that --profile relies on it)
import ipaddress
import json
import os
import pstats
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration" / "interop"))

from filament.wire.bgp import IPV4_UNICAST, IPV4_VPN, Context, Keepalive, Open, RouteDistinguisher, Update, encode_message  # noqa: E402
from filament.wire.bgp import capabilities as caps  # noqa: E402
from filament.wire.bgp.attr.as_path import AsPath  # noqa: E402
from filament.wire.bgp.attr.basic import NextHop, Origin  # noqa: E402
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity  # noqa: E402
from filament.wire.bgp.attr.mp import MpReach  # noqa: E402
from filament.wire.bgp.message import MAX_SIZE  # noqa: E402
from filament.wire.bgp.nlri.ip import IpPrefix  # noqa: E402
from filament.wire.bgp.nlri.vpn import VpnPrefix  # noqa: E402

from peers import Frr, GoBgp, free_port, have_frr, have_gobgp  # noqa: E402

GEN, REFL, MON = "127.0.0.121", "127.0.0.122", "127.0.0.123"
GEN_AS, REFL_AS, MON_AS = 65001, 64512, 65002
FAMILIES = {"ipv4": IPV4_UNICAST, "vpnv4": IPV4_VPN}
CTX = Context(as4=True)


# ---- the generator's UPDATEs (encoded before timing) ------------------------------------


def prefixes(n: int) -> list[str]:
    """n distinct /24s from 10.0.0.0 upward (100k fit below 12.0.0.0)."""
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    return [f"{ipaddress.IPv4Address(base + (i << 8))}/24" for i in range(n)]


def encode_updates(family: str, n: int) -> list[bytes]:
    """UPDATEs announcing n routes, as many per message as fit in 4096 bytes."""
    attrs = (Origin(0), AsPath(((2, (GEN_AS,)),)))
    nets = prefixes(n)
    rd = RouteDistinguisher.parse(f"{GEN_AS}:1")
    rt = ExtCommunities((ExtCommunity.route_target(f"{REFL_AS}:1"),))
    per = 900 if family == "ipv4" else 250  # fits in 4096 bytes (4 B / 15 B per NLRI)
    out = []
    for i in range(0, n, per):
        chunk = nets[i:i + per]
        if family == "ipv4":
            upd = Update(attributes=attrs + (NextHop("198.18.121.1"),), nlri=tuple(IpPrefix(p) for p in chunk))
        else:
            nlri = tuple(VpnPrefix(rd, p, (16 + (j % 1000),)) for j, p in enumerate(chunk, i))
            upd = Update(attributes=(attrs[0], attrs[1], rt, MpReach(IPV4_VPN, "198.18.121.1", nlri)))
        data = encode_message(upd, CTX)
        assert len(data) <= MAX_SIZE, len(data)
        out.append(data)
    return out


# ---- raw BGP speaker ----------------------------------------------------------------


class RawPeer:
    """Just enough BGP: OPEN exchange, keepalives, and a message read loop."""

    def __init__(self, local: str, asn: int, router_id: str, family: str):
        self.local, self.asn, self.router_id, self.family = local, asn, router_id, family
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._ka: asyncio.Task | None = None

    async def connect(self, host: str, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.reader, self.writer = await asyncio.open_connection(host, port, local_addr=(self.local, 0))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        cl = (caps.Multiprotocol(FAMILIES[self.family]), caps.RouteRefresh(), caps.FourOctetAs(self.asn))
        self.writer.write(encode_message(Open(self.asn, 90, self.router_id, cl), CTX))
        got_open = False
        while True:
            mtype, _ = await asyncio.wait_for(self.read(), timeout)
            if mtype == 1:
                got_open = True
                self.writer.write(encode_message(Keepalive(), CTX))
            elif mtype == 4 and got_open:
                break
            elif mtype == 3:
                raise RuntimeError(f"{self.local}: NOTIFICATION from {host}:{port}")
        self._ka = asyncio.create_task(self._keepalives())

    async def read(self) -> tuple[int, bytes]:
        header = await self.reader.readexactly(19)
        size, mtype = struct.unpack_from("!HB", header, 16)
        body = await self.reader.readexactly(size - 19)
        return mtype, body

    async def _keepalives(self) -> None:
        ka = encode_message(Keepalive(), CTX)
        while True:
            await asyncio.sleep(30)
            self.writer.write(ka)

    def close(self) -> None:
        if self._ka:
            self._ka.cancel()
        if self.writer:
            self.writer.close()


def _count_nlri(data: bytes, vpn: bool, seen: set) -> None:
    i, n = 0, len(data)
    while i < n:
        bits = data[i]
        size = (bits + 7) // 8
        # VPN: skip the label (3 bytes) so a relabelled route counts once
        seen.add(data[i + 4:i + 1 + size] if vpn else data[i + 1:i + 1 + size])
        i += 1 + size


@dataclass
class Received:
    first: float = 0.0
    last: float = 0.0
    routes: int = 0
    update_bytes: int = 0


async def monitor(peer: RawPeer, expect: int, vpn: bool, timeout: float) -> Received:
    """Count distinct announced routes until ``expect`` (or ``timeout`` of silence)."""
    seen: set = set()
    out = Received()
    while len(seen) < expect:
        try:
            mtype, body = await asyncio.wait_for(peer.read(), timeout)
        except asyncio.TimeoutError:
            break
        if mtype != 2:
            continue
        out.update_bytes += len(body) + 19
        wlen = struct.unpack_from("!H", body, 0)[0]
        alen = struct.unpack_from("!H", body, 2 + wlen)[0]
        attrs_end = 4 + wlen + alen
        before = len(seen)
        if not vpn:
            _count_nlri(body[attrs_end:], False, seen)
        else:
            i = 4 + wlen
            while i < attrs_end:
                flags, code = body[i], body[i + 1]
                if flags & 0x10:
                    length, hdr = struct.unpack_from("!H", body, i + 2)[0], 4
                else:
                    length, hdr = body[i + 2], 3
                if code == 14:
                    v = body[i + hdr:i + hdr + length]
                    nhlen = v[3]
                    _count_nlri(v[5 + nhlen:], True, seen)
                i += hdr + length
        if len(seen) > before:
            now = time.monotonic()
            out.first = out.first or now
            out.last = now
    out.routes = len(seen)
    return out


# ---- reflectors ---------------------------------------------------------------------


class FilamentReflector:
    name = "Filament"

    def __init__(self, tmp: Path, family: str, profile: bool):
        self.port = free_port(REFL)
        self.tmp = tmp
        self.profile_path = tmp / "filament.prof" if profile else None
        fam = {"ipv4": "inet", "vpnv4": "inet-vpn"}[family]

        def router(uuid, name, addr, asn, refs=()):
            return {"fq_name": ["default-domain", "default-project", "ip-fabric", "__default__", name],
                    "bgp_router_parameters": {"router_type": "router" if name != "refl" else "control-node",
                                              "address": addr, "identifier": addr, "autonomous_system": asn,
                                              "hold_time": 90, "address_families": {"family": [fam]}},
                    "bgp_router_refs": [{"uuid": u, "to": [n], "attr": {"session": [{"attributes": [
                        {"passive": True, "address_families": {"family": [fam]}}]}]}} for u, n in refs]}

        objects = {"bgp-router": {
            "u-refl": router("u-refl", "refl", REFL, REFL_AS, (("u-gen", "gen"), ("u-mon", "mon"))),
            "u-gen": router("u-gen", "gen", GEN, GEN_AS),
            "u-mon": router("u-mon", "mon", MON, MON_AS),
        }}
        # the control node advertises its own families: let it speak the benchmark's
        objects["bgp-router"]["u-refl"]["bgp_router_parameters"]["address_families"] = {"family": [fam, "route-target"]}
        (tmp / "filament.json").write_text(json.dumps({"objects": objects}))
        argv = [sys.executable]
        if profile:
            argv += ["-m", "cProfile", "-o", str(self.profile_path)]
        argv += ["-m", "filament.control", "--config-file", str(tmp / "filament.json"), "--host", REFL, "--xmpp-port", "0",
                 "--introspect-port", "0", "--bgp-port", str(self.port), "--name", "refl", "--asn", str(REFL_AS),
                 "--router-id", REFL, "--log-level", "WARNING"]
        try:
            import uvloop  # noqa: F401

            argv.append("--uvloop")
        except ImportError:
            pass
        self.log = open(tmp / "filament.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, cwd=ROOT)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready"):
            raise RuntimeError(f"filament control node did not start: {line} {(tmp / 'filament.log').read_text()[-2000:]}")

    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60 if self.profile_path else 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class GoBgpReflector:
    name = "GoBGP"

    def __init__(self, tmp: Path, family: str, profile: bool):
        self.port = free_port(REFL)
        fam = {"ipv4": "ipv4-unicast", "vpnv4": "l3vpn-ipv4-unicast"}[family]
        neighbors = "".join(f"""
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{addr}"
    peer-as = {asn}
  [neighbors.transport.config]
    passive-mode = true
    local-address = "{REFL}"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{fam}"
""" for addr, asn in ((GEN, GEN_AS), (MON, MON_AS)))
        toml = f"""
[global.config]
  as = {REFL_AS}
  router-id = "{REFL}"
  port = {self.port}
  local-address-list = ["{REFL}"]
{neighbors}"""
        self.g = GoBgp(tmp / "gobgp", toml, log_level="warn")

    def pid(self) -> int:
        return self.g.proc.pid

    def stop(self) -> None:
        self.g.stop()


class FrrReflector:
    name = "FRR"

    def __init__(self, tmp: Path, family: str, profile: bool):
        self.port = free_port(REFL)
        af = {"ipv4": "ipv4 unicast", "vpnv4": "ipv4 vpn"}[family]
        nbrs = "".join(f" neighbor {a} remote-as {asn}\n neighbor {a} passive\n neighbor {a} disable-connected-check\n"
                       for a, asn in ((GEN, GEN_AS), (MON, MON_AS)))
        conf = f"""frr defaults traditional
router bgp {REFL_AS}
 bgp router-id {REFL}
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 no bgp network import-check
{nbrs} address-family {af}
  neighbor {GEN} activate
  neighbor {MON} activate
 exit-address-family
"""
        self.f = Frr(tmp / "frr", conf, listen=REFL, port=self.port)

    def pid(self) -> int:
        return self.f.procs[-1].pid

    def stop(self) -> None:
        self.f.stop()


REFLECTORS = {"filament": FilamentReflector, "gobgp": GoBgpReflector, "frr": FrrReflector}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    reflector: str
    family: str
    routes: int
    expected: int
    total: float  # generator's first UPDATE -> monitor's last route
    mon_span: float
    update_bytes: int
    cpu: float

    @property
    def rate(self) -> float:
        return self.routes / self.total if self.total > 0 and self.routes else 0.0


async def run_one(kind: str, family: str, updates: list[bytes], n: int, args) -> Result:
    with tempfile.TemporaryDirectory(prefix=f"fil-bench-bgp-{kind}-") as d:
        tmp = Path(d)
        tmp.chmod(0o777)
        refl = await asyncio.to_thread(REFLECTORS[kind], tmp, family, args.profile and kind == "filament")
        mon = RawPeer(MON, MON_AS, MON, family)
        gen = RawPeer(GEN, GEN_AS, GEN, family)
        try:
            await mon.connect(REFL, refl.port)
            await gen.connect(REFL, refl.port)
            cpu0 = cpu_seconds(refl.pid())
            watch = asyncio.create_task(monitor(mon, n, family == "vpnv4", args.silence))
            await asyncio.sleep(0.5)  # both sessions settled (initial End-of-RIBs) before the clock starts
            t0 = time.monotonic()
            for data in updates:
                gen.writer.write(data)
                if gen.writer.transport.get_write_buffer_size() > 1 << 20:
                    await gen.writer.drain()
            await gen.writer.drain()
            got = await watch
            cpu = cpu_seconds(refl.pid()) - cpu0
        finally:
            gen.close()
            mon.close()
            await asyncio.to_thread(refl.stop)
        if kind == "filament" and args.profile and refl.profile_path and refl.profile_path.exists():
            print(f"\ncProfile of the Filament control node ({family}, {n} routes), top 25 by own and by cumulative time:")
            st = pstats.Stats(str(refl.profile_path))
            st.sort_stats("tottime").print_stats(25)
            st.sort_stats("cumulative").print_stats(40)
    total = (got.last - t0) if got.routes else 0.0
    return Result(REFLECTORS[kind].name, family, got.routes, n, total, got.last - got.first, got.update_bytes, cpu)


def report(results: list[Result]) -> None:
    print(f"\n{'family':7} {'reflector':9} {'routes':>8} {'first->last s':>13} {'mon f->l s':>10} {'routes/s':>10} "
          f"{'B/route':>8} {'cpu s':>6}")
    for r in results:
        bpr = r.update_bytes / r.routes if r.routes else 0
        note = "" if r.routes == r.expected else f"  (only {r.routes}/{r.expected} reflected)"
        print(f"{r.family:7} {r.reflector:9} {r.routes:8d} {r.total:13.3f} {r.mon_span:10.3f} {r.rate:10.0f} {bpr:8.1f} {r.cpu:6.2f}{note}")
    for fam in dict.fromkeys(r.family for r in results):
        by = {r.reflector: r for r in results if r.family == fam}
        fil = by.get("Filament")
        if not fil:
            continue
        for other in ("GoBGP", "FRR"):
            o = by.get(other)
            if o and o.rate and fil.rate:
                print(f"{fam}: Filament/{other} routes/s = {fil.rate / o.rate:.2f}x   (B/route {fil.update_bytes / fil.routes:.1f} vs "
                      f"{o.update_bytes / o.routes:.1f})")
            elif o:
                print(f"{fam}: Filament/{other} = n/a (Filament reflected {fil.routes} of {fil.expected} routes)")


async def main_async(args) -> None:
    n = args.routes
    results = []
    for family in args.family:
        t = time.monotonic()
        updates = encode_updates(family, n)
        print(f"{family}: {n} routes in {len(updates)} UPDATEs ({sum(map(len, updates))} bytes) encoded in "
              f"{time.monotonic() - t:.2f} s", flush=True)
        for kind in args.reflectors:
            r = await run_one(kind, family, updates, n, args)
            print(f"  {r.reflector:9} {r.routes}/{n} routes, first->last {r.total:.3f} s, {r.rate:.0f} routes/s", flush=True)
            results.append(r)
    report(results)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routes", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="10k routes")
    ap.add_argument("--family", nargs="+", choices=sorted(FAMILIES), default=["ipv4", "vpnv4"])
    ap.add_argument("--reflectors", nargs="+", choices=sorted(REFLECTORS), default=["filament", "gobgp", "frr"])
    ap.add_argument("--silence", type=float, default=20.0, help="give up after this many seconds without a new route")
    ap.add_argument("--profile", action="store_true", help="run Filament's control node under cProfile and print hot spots")
    args = ap.parse_args(argv)
    if args.quick:
        args.routes = 10_000
    if args.routes > 500_000:
        ap.error("--routes: at most 500000 (prefixes are /24s from 10.0.0.0)")
    missing = [k for k in args.reflectors if (k == "gobgp" and not have_gobgp()) or (k == "frr" and not have_frr())]
    if missing:
        print(f"skipping {', '.join(missing)}: not installed (scripts/setup.sh installs gobgpd and frr)")
        args.reflectors = [k for k in args.reflectors if k not in missing]
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
