"""Agent + Linux datapath benchmark: port create -> first ping, and TCP throughput.

Real processes on the embedded store: `filament api`, a control node and two agents
(`python -m filament.agent --netns`, linux datapath) programming two compute-host
namespaces joined by a veth underlay (198.18.0.0/15, MTU 1600). A peer workload sits
on host 2; every measured workload is created on host 1 and pings the peer, so the
first echo reply needs host 1's vif and route *and* host 2's route back (the
control node's reflection of host 1's new route).

Latency, per port: VM + VMI + instance-ip through the REST API ("api"), workload netns
+ veth as a CNI plugin would make them ("wire"), the agent's port API POST ("plug"),
then an ICMP echo every --interval ms from a raw socket inside the workload netns
until the first reply ("ping" = plug returned -> first reply). "total" = first API
request -> first reply. Single ports are created one after another; bursts create
--burst ports at once (per-port figures, and the burst's wall time to the last reply).

Throughput: iperf3 TCP, one stream, between two workloads across the Filament overlay,
vs a plain veth pair between two namespaces and vs a hand-built VXLAN overlay
(machine-recipes §1a: per-VN table, `ip rule iif`, proxy ARP, static neigh/fdb, no
nftables) over the same kind of underlay, all with workload MTU 1550, interleaved in
the same run; the figure is the median of --rounds runs.

    .venv/bin/python bench/bench_agent.py [--quick] [--singles 100] [--bursts 2] [--burst 100]

Needs root, ip, nft and iperf3. Everything it creates carries the prefix flb-<pid> and
is removed at exit, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PREFIX = f"flb-{os.getpid()}"
PROJ = ["default-domain", "default-project"]
IPAM = PROJ + ["default-network-ipam"]
GSC = "default-global-system-config"
MTU = 1550            # workload MTU everywhere: underlay 1600 - 50 (VXLAN)
UNDERLAY_MTU = 1600
GATEWAY = "100.64.0.1"
PEER_IP = "100.64.0.2"
TARGET_P99_MS = 100.0
TARGET_VS_VXLAN = 0.95
OVERLAY, VETH, RAW_VXLAN = "filament overlay", "plain veth", "raw vxlan (§1a)"
AGENT_LOG_LEVEL = "WARNING"
ARP_RETRANS_MS = 1  # workload ARP retransmit: one jiffy (4 ms at HZ=250), the probe's resolution


# ---- namespaces and links -----------------------------------------------------------


def ip_batch(lines: list[str], ns: str | None = None, tool: str = "ip") -> None:
    argv = [tool, *(["-n", ns] if ns else []), "-batch", "-"]
    r = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")


async def aip_batch(lines: list[str], ns: str | None = None) -> None:
    argv = ["ip", *(["-n", ns] if ns else []), "-batch", "-"]
    p = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE)
    _, err = await p.communicate(("\n".join(lines) + "\n").encode())
    if p.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {err.decode().strip()}")


def sysctl(ns: str, *settings: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", *settings], check=True, capture_output=True)


class Namespaces:
    """Every namespace this run creates; ``close`` kills what runs in them and deletes them."""

    def __init__(self):
        self.names: list[str] = []

    def name(self, tag: str) -> str:
        full = f"{PREFIX}-{tag}"
        self.names.append(full)  # tracked before it exists: cleanup must not miss a half-made one
        return full

    def make(self, *tags: str) -> list[str]:
        names = [self.name(t) for t in tags]
        ip_batch([f"netns add {n}" for n in names])
        for n in names:
            ip_batch(["link set lo up"], ns=n)
        return names

    def close(self) -> None:
        existing = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
        mine = [n for n in self.names if n in existing]
        mine += [n for n in existing if n.startswith(PREFIX + "-") and n not in mine]
        for n in mine:
            for pid in subprocess.run(["ip", "netns", "pids", n], capture_output=True, text=True).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        if mine:
            subprocess.run(["ip", "-force", "-batch", "-"], input="".join(f"netns del {n}\n" for n in mine),
                           capture_output=True, text=True)
        self.names.clear()


# ---- ICMP probe from inside a namespace ---------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def icmp_socket_in(ns: str) -> socket.socket:
    """A raw ICMP socket living in ``ns`` (a socket keeps the netns it was created in;
    setns only switches this thread, and only for the two calls in between)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        finally:
            _setns(home)
    finally:
        os.close(home)
        os.close(target)
    s.setblocking(False)
    return s


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    body = struct.pack("!HH", ident, seq) + b"filament-bench"
    return struct.pack("!BBH", 8, 0, _checksum(b"\x08\x00\x00\x00" + body)) + body


async def first_reply(sock: socket.socket, dst: str, ident: int, interval: float, timeout: float) -> float | None:
    """Send an echo request every ``interval`` s until one is answered; perf_counter of
    the first reply, or None after ``timeout``."""
    loop = asyncio.get_running_loop()
    got = asyncio.Event()
    at: list[float] = []

    def readable():
        while True:
            try:
                data, (src, _) = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            ihl = (data[0] & 0x0F) * 4
            if len(data) >= ihl + 8 and src == dst and data[ihl] == 0 and struct.unpack("!H", data[ihl + 4:ihl + 6])[0] == ident:
                if not at:
                    at.append(time.perf_counter())
                    got.set()

    loop.add_reader(sock.fileno(), readable)
    try:
        deadline = loop.time() + timeout
        seq = 0
        while not got.is_set() and loop.time() < deadline:
            seq = (seq + 1) & 0xFFFF
            try:
                sock.sendto(echo_request(ident, seq), (dst, 0))
            except OSError:
                pass  # no route / unreachable yet: try again next tick
            try:
                await asyncio.wait_for(got.wait(), interval)
            except asyncio.TimeoutError:
                pass
        return at[0] if at else None
    finally:
        loop.remove_reader(sock.fileno())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- processes ----------------------------------------------------------------------


PROCS: list["Proc"] = []  # every child started, stopped again at exit whatever happens


class Proc:
    """A child process logging to a file (never an undrained pipe)."""

    def __init__(self, name: str, argv: list[str], logdir: str):
        PROCS.append(self)
        self.name = name
        self.log_path = os.path.join(logdir, f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = Path(self.log_path).read_text(errors="replace")
            m = re.search(pattern, text)
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not start:\n{Path(self.log_path).read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)


# ---- the Filament lab ---------------------------------------------------------------


@dataclass
class Sample:
    api: float = 0.0
    wire: float = 0.0
    plug: float = 0.0
    ping: float | None = None   # plug returned -> first reply
    total: float | None = None  # first API request -> first reply
    start: float = 0.0
    end: float | None = None


@dataclass
class Workload:
    ns: str
    ip: str
    sock: socket.socket | None = None


@dataclass
class OverlayLab:
    """Config API, control node, two agents, one network, a peer on host 2."""

    nss: Namespaces
    tmp: str
    interval: float
    trace: str | None = None  # dir of the agents' pass logs (and profiles)
    profile: bool = False
    procs: list[Proc] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    wire_limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8))

    async def start(self) -> None:
        from filament.config.client import ConfigClient

        self.h1, self.h2 = self.nss.make("h1", "h2")
        ip_batch([f"link add ul0 netns {self.h1} mtu {UNDERLAY_MTU} type veth peer name ul0 netns {self.h2} mtu {UNDERLAY_MTU}"])
        for ns, ip in ((self.h1, "198.18.0.1"), (self.h2, "198.18.0.2")):
            ip_batch([f"addr add {ip}/24 dev ul0", "link set ul0 up"], ns=ns)
        py = sys.executable
        api = Proc("api", [py, "-m", "filament", "api", "--listen", "127.0.0.1", "--api-port", "0", "--data-dir",
                           os.path.join(self.tmp, "data"), "--log-level", "WARNING"], self.tmp)
        self.procs.append(api)
        url = api.wait_for(r"config API on (http://[\d.]+:\d+)").group(1)
        self.api = ConfigClient(url)
        ctl = Proc("control", [py, "-m", "filament.control", "--api", url, "--host", "127.0.0.1", "--xmpp-port", "0",
                               "--introspect-port", "0", "--bgp-port", "-1", "--name", f"{PREFIX}-ctl",
                               "--router-id", "127.0.0.1", "--log-level", "WARNING"], self.tmp)
        self.procs.append(ctl)
        xmpp = int(ctl.wait_for(r"ready xmpp=(\d+)").group(1))
        self.vn = await self.api.create("virtual-network", {
            "fq_name": PROJ + [f"{PREFIX}-vn"], "parent_type": "project",
            "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                {"subnet": {"ip_prefix": "100.64.0.0", "ip_prefix_len": 16}, "default_gateway": GATEWAY}]}}]})
        self.port_api, self.introspect = [], []
        for i, ns in ((1, self.h1), (2, self.h2)):
            introspect = free_port()
            self.introspect.append(f"http://127.0.0.1:{introspect}/Snh_AgentStatus")
            name = f"{PREFIX}-cn{i}"
            await self.api.create("virtual-router", {"fq_name": [GSC, name], "parent_type": "global-system-config",
                                                     "virtual_router_ip_address": f"198.18.0.{i}"})
            launch = [py, "-m", "filament.agent"]
            if self.trace:
                launch = [py, __file__, "--as-agent", "profile" if self.profile else "trace",
                          os.path.join(self.trace, f"agent{i}")]
            a = Proc(f"agent{i}", [*launch, "--name", name, "--vtep", f"198.18.0.{i}",
                                   "--underlay-dev", "ul0", "--underlay-mtu", str(UNDERLAY_MTU),
                                   "--control", f"127.0.0.1:{xmpp}", "--xmpp-source", f"127.0.0.{20 + i}",
                                   "--port-api", "127.0.0.1:0", "--introspect", f"127.0.0.1:{introspect}",
                                   "--ports-dir", os.path.join(self.tmp, f"ports{i}"), "--netns", ns,
                                   "--log-level", AGENT_LOG_LEVEL], self.tmp)
            self.procs.append(a)
            port = a.wait_for(r"port API on [\d.]+:(\d+)").group(1)
            self.port_api.append(f"http://127.0.0.1:{port}/port")
        import aiohttp

        self.http = aiohttp.ClientSession()
        await self._in_sync()
        self.peer = Workload(self.nss.name("peer"), PEER_IP)
        await self._create(self.peer, "peer", "02:fb:ff:00:00:02", 2, "vpeer", Sample())

    async def _in_sync(self, timeout: float = 30.0) -> None:
        """Both agents had their control node's EoR (sent after a quiet second) and
        reconciled once: what follows measures ports, not agent start-up."""
        deadline = time.monotonic() + timeout
        for url in self.introspect:
            while True:
                try:
                    async with self.http.get(url) as r:
                        st = await r.json()
                    if st["applied_generation"] >= 1 and any(x["eor"] for x in st["sessions"]):
                        break
                except (OSError, ValueError, KeyError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"agent not in sync after {timeout:.0f} s: {url}")
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        for w in self.workloads + [getattr(self, "peer", None)]:
            if w and w.sock:
                w.sock.close()
        if getattr(self, "http", None):
            await self.http.close()
        if getattr(self, "api", None):
            await self.api.close()

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()

    async def _create(self, w: Workload, name: str, mac: str, host: int, vif: str, s: Sample) -> None:
        s.start = time.perf_counter()
        vm = await self.api.create("virtual-machine", {"fq_name": [f"{PREFIX}-{name}"]})
        vn_ref = [{"to": self.vn["fq_name"], "uuid": self.vn["uuid"]}]
        vmi = await self.api.create("virtual-machine-interface", {
            "fq_name": PROJ + [f"{PREFIX}-{name}"], "parent_type": "project", "virtual_network_refs": vn_ref,
            "virtual_machine_refs": [{"to": vm["fq_name"], "uuid": vm["uuid"]}],
            "virtual_machine_interface_mac_addresses": {"mac_address": [mac]}})
        await self.api.create("instance-ip", {
            "fq_name": [f"{PREFIX}-{name}"], "instance_ip_address": w.ip, "virtual_network_refs": vn_ref,
            "virtual_machine_interface_refs": [{"to": vmi["fq_name"], "uuid": vmi["uuid"]}]})
        t1 = time.perf_counter()
        host_ns = self.h1 if host == 1 else self.h2
        async with self.wire_limit:
            await aip_batch([f"netns add {w.ns}",
                             f"link add {vif} netns {host_ns} type veth peer name eth0 netns {w.ns}"])
            # an ARP sent before the agent turned proxy ARP on must not park the workload
            # for the default 1 s retransmit (an artifact of probing early)
            await aip_batch(["link set lo up", f"link set eth0 address {mac} mtu {MTU} up",
                             f"addr add {w.ip}/16 dev eth0", f"route add default via {GATEWAY}",
                             f"ntable change name arp_cache dev eth0 retrans {ARP_RETRANS_MS}"], ns=w.ns)
        w.sock = icmp_socket_in(w.ns)
        t2 = time.perf_counter()
        body = {"id": vmi["uuid"], "instance-id": vm["uuid"], "vn-id": self.vn["uuid"], "vm-project-id": "",
                "display-name": vm["fq_name"][-1], "ip-address": w.ip, "ip6-address": "", "type": 0,
                "system-name": vif, "mac-address": mac, "rx-vlan-id": -1, "tx-vlan-id": -1}
        async with self.http.post(self.port_api[host - 1], json=body) as r:
            if r.status != 200:
                raise RuntimeError(f"port add {name}: {r.status} {await r.text()}")
        t3 = time.perf_counter()
        s.api, s.wire, s.plug = t1 - s.start, t2 - t1, t3 - t2

    async def port(self, k: int, timeout: float = 20.0) -> Sample:
        """Create workload k on host 1 and time it until its first echo reply from the peer."""
        w = Workload(self.nss.name(f"w{k}"), f"100.64.{1 + k // 250}.{k % 250 + 1}")
        self.workloads.append(w)
        s = Sample()
        await self._create(w, f"w{k}", f"02:fb:00:00:{k >> 8:02x}:{k & 0xFF:02x}", 1, f"vb{k}", s)
        t3 = time.perf_counter()
        s.end = await first_reply(w.sock, PEER_IP, (os.getpid() + k) & 0xFFFF, self.interval, timeout)
        if s.end is not None:
            s.ping, s.total = s.end - t3, s.end - s.start
        return s


# ---- throughput ---------------------------------------------------------------------


def build_veth_pair(nss: Namespaces) -> tuple[str, str, str]:
    a, b = nss.make("va", "vb")
    ip_batch([f"link add eth0 netns {a} mtu {MTU} type veth peer name eth0 netns {b} mtu {MTU}"])
    ip_batch(["addr add 100.66.0.1/24 dev eth0", "link set eth0 up"], ns=a)
    ip_batch(["addr add 100.66.0.2/24 dev eth0", "link set eth0 up"], ns=b)
    return a, b, "100.66.0.2"


def build_raw_vxlan(nss: Namespaces) -> tuple[str, str, str]:
    """machine-recipes §1a by hand: two hosts, one VN (VNI 100, table 100), no nftables."""
    h1, h2, w1, w2 = nss.make("rh1", "rh2", "rw1", "rw2")
    ip_batch([f"link add ul0 netns {h1} mtu {UNDERLAY_MTU} type veth peer name ul0 netns {h2} mtu {UNDERLAY_MTU}",
              f"link add tap1 netns {h1} type veth peer name eth0 netns {w1}",
              f"link add tap2 netns {h2} type veth peer name eth0 netns {w2}"])
    wl = {1: (w1, "100.64.1.11", "02:00:00:00:01:11"), 2: (w2, "100.64.1.12", "02:00:00:00:01:12")}
    for i, h in ((1, h1), (2, h2)):
        o = 3 - i
        w, wip, wmac = wl[i]
        ip_batch([f"link set eth0 address {wmac} mtu {MTU} up", f"addr add {wip}/24 dev eth0",
                  "route add default via 100.64.1.1"], ns=w)
        sysctl(h, "net.ipv4.ip_forward=1", f"net.ipv4.conf.tap{i}.proxy_arp=1", f"net.ipv4.neigh.tap{i}.proxy_delay=0",
               f"net.ipv4.conf.tap{i}.rp_filter=0")
        ip_batch([f"addr add 198.18.0.{i}/24 dev ul0", "link set ul0 up", f"link set tap{i} mtu {MTU} up",
                  f"rule add iif tap{i} lookup 100", f"route add {wip}/32 dev tap{i} table 100",
                  f"neigh replace {wip} lladdr {wmac} dev tap{i} nud permanent",
                  "route add local 100.64.1.1/32 dev lo table 100", "route add unreachable default table 100",
                  f"link add vx100 type vxlan id 100 local 198.18.0.{i} dstport 4789 nolearning dev ul0",
                  f"link set vx100 address 02:00:00:0{i}:01:00 mtu {MTU} up", "rule add iif vx100 lookup 100",
                  f"route add {wl[o][1]}/32 dev vx100 table 100",
                  f"neigh replace {wl[o][1]} lladdr 02:00:00:0{o}:01:00 dev vx100 nud permanent"], ns=h)
        ip_batch([f"fdb append 02:00:00:0{o}:01:00 dev vx100 dst 198.18.0.{o}"], ns=h, tool="bridge")
    return w1, w2, "100.64.1.12"


def iperf3(client: str, server: str, dst: str, seconds: float, logdir: str, port: int) -> float:
    """Gbit/s received by the server for one TCP stream (the first second omitted)."""
    srv = Proc(f"iperf3-s-{port}", ["ip", "netns", "exec", server, "iperf3", "-s", "-1", "-p", str(port),
                                    "--forceflush"], logdir)
    try:
        srv.wait_for(r"Server listening", 10)
        r = subprocess.run(["ip", "netns", "exec", client, "iperf3", "-c", dst, "-p", str(port), "-t", str(seconds),
                            "-O", "1", "-J"], capture_output=True, text=True, timeout=seconds + 30)
        out = json.loads(r.stdout or "{}")
        if "error" in out or r.returncode:
            raise RuntimeError(f"iperf3 {client} -> {dst}: {out.get('error') or r.stderr.strip()}")
        return out["end"]["sum_received"]["bits_per_second"] / 1e9
    finally:
        srv.stop()


# ---- reporting ----------------------------------------------------------------------


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")  # nearest rank


def row(label: str, samples: list[Sample]) -> str:
    ok = [s for s in samples if s.total is not None]
    cols = []
    for attr in ("api", "wire", "plug", "ping", "total"):
        xs = [getattr(s, attr) * 1000 for s in ok]
        cols.append(f"{pct(xs, 0.5):7.1f} {pct(xs, 0.99):7.1f}")
    return f"{label:<22} {len(ok):>3}/{len(samples):<3} " + "  ".join(cols)


HEADER = (f"{'':<22} {'ok':>7} " + "  ".join(f"{n + ' p50':>7} {'p99':>7}" for n in ("api", "wire", "plug", "ping", "total"))
          + "   (ms)")


async def run(args, nss: Namespaces, tmp: str) -> None:
    trace = os.path.abspath(args.profile or args.trace or os.path.join(tmp, "trace"))
    os.makedirs(trace, exist_ok=True)
    lab = OverlayLab(nss, tmp, args.interval / 1000, trace, bool(args.profile))
    try:
        t0 = time.perf_counter()
        await lab.start()
        first = await lab.port(0, timeout=60)  # first port of the network on host 1: VXLAN device, VRF subscribe
        if first.total is None:
            raise RuntimeError("the first workload never reached the peer; logs in " + tmp)
        print(f"lab up in {time.perf_counter() - t0:.1f} s (config API, control node, 2 agents in sync, peer on host 2)", flush=True)
        early: dict[str, list[float]] = {}
        if args.rounds:
            va, vb, vdst = build_veth_pair(nss)
            rw1, rw2, rdst = build_raw_vxlan(nss)
            overlay = (lab.workloads[0].ns, lab.peer.ns, PEER_IP)
            early = throughput(args, tmp, {OVERLAY: overlay, VETH: (va, vb, vdst), RAW_VXLAN: (rw1, rw2, rdst)})
        print(HEADER)
        print(row("first port of the VN", [first]), flush=True)
        singles = [await lab.port(k) for k in range(1, args.singles + 1)]
        print(row(f"single x{args.singles}", singles), flush=True)
        print(where_time_goes([first], trace).replace("from the plug", "first port, from the plug"))
        print(where_time_goes(singles, trace), flush=True)
        next_k = args.singles + 1
        bursts, walls = [], []
        for b in range(args.bursts):
            t = time.perf_counter()
            lab.interval = args.burst_interval / 1000
            burst = await asyncio.gather(*(lab.port(k) for k in range(next_k, next_k + args.burst)))
            ends = [s.end for s in burst if s.end is not None]
            walls.append((max(ends) - t) if len(ends) == len(burst) else float("nan"))
            next_k += args.burst
            bursts += burst
            print(row(f"burst {b + 1} of {args.burst}", burst) + f"   burst wall {walls[-1] * 1000:.0f} ms", flush=True)
        ok_singles = [s.total * 1000 for s in singles if s.total is not None]
        p99 = pct(ok_singles, 0.99)
        print(f"single port create -> first ping: p50 {pct(ok_singles, 0.5):.1f} ms, p99 {p99:.1f} ms "
              f"(target p99 < {TARGET_P99_MS:.0f} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'}); "
              f"agent/datapath only (plug -> ping) p99 {pct([s.ping * 1000 for s in singles if s.ping is not None], 0.99):.1f} ms")
        if bursts:
            print(f"bursts of {args.burst}: per-port total p50 {pct([s.total * 1000 for s in bursts if s.total], 0.5):.0f} ms "
                  f"p99 {pct([s.total * 1000 for s in bursts if s.total], 0.99):.0f} ms; wall to the last reply "
                  + ", ".join(f"{w * 1000:.0f} ms" for w in walls) + f" ({len(lab.workloads)} ports on host 1 at the end)")
        print(pass_costs(trace), flush=True)
        print(f"  load average during the run: {os.getloadavg()[0]:.2f} (2 cores; other work on the machine skews the figures)")
        if args.rounds:
            # blocking on purpose: nothing else runs on the loop now
            # the newest port, with every port on host 1: per-packet work that grows with ports shows here
            late = throughput(args, tmp, {OVERLAY: (lab.workloads[-1].ns, lab.peer.ns, PEER_IP), RAW_VXLAN: (rw1, rw2, rdst)})
            print_throughput(args, early, late, 1, len(lab.workloads))
    finally:
        await lab.close()
        lab.stop()


def throughput(args, tmp: str, paths: dict[str, tuple[str, str, str]]) -> dict[str, list[float]]:
    """Gbit/s per path: --rounds rounds, the paths interleaved within each round, the
    order rotated from round to round (the first run of a round tends to be faster)."""
    got: dict[str, list[float]] = {k: [] for k in paths}
    port = 20000 + os.getpid() % 20000
    names = list(paths)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            client, server, dst = paths[name]
            got[name].append(iperf3(client, server, dst, args.seconds, tmp, port))
    return got


def print_throughput(args, early: dict[str, list[float]], late: dict[str, list[float]], n_early: int, n_late: int) -> None:
    med = lambda runs: statistics.median(runs) if runs else float("nan")  # noqa: E731
    print(f"iperf3 TCP, 1 stream, {args.seconds:g} s x {args.rounds} rounds (median Gbit/s, runs), MTU {MTU}; "
          f"the overlay from the first port with {n_early} and from the newest with {n_late} ports on host 1:")
    for name in early:
        cells = []
        for got in (early, late):
            runs = got.get(name, [])
            cells.append(f"{med(runs):6.2f} ({' '.join(f'{x:.1f}' for x in runs)})" if runs else "-")
        print(f"  {name:<18} {cells[0]:<28} {cells[1]}")
    ratios = []
    for got in (early, late):
        ov, vx = med(got[OVERLAY]), med(got[RAW_VXLAN])
        ratios.append(ov / vx)
        veth = f", overlay / plain veth {ov / med(got[VETH]):.3f}x" if got.get(VETH) else ""
        n = n_early if got is early else n_late
        # runs of one round are seconds apart, so they share the machine's load: the
        # median of the per-round ratios is steadier than the ratio of the medians
        paired = med([a / b for a, b in zip(got[OVERLAY], got[RAW_VXLAN])])
        print(f"  {n:>3} ports: overlay / raw vxlan {ov / vx:.3f}x (per-round ratios: median {paired:.3f}x){veth}")
    worst = min(ratios)
    print(f"  target >= {TARGET_VS_VXLAN}x raw vxlan: {'met' if worst >= TARGET_VS_VXLAN else 'NOT met'} (worst {worst:.3f}x)")


# ---- tracing / profiling an agent (--trace DIR, --profile DIR) -----------------------


def as_agent(out: str, profile: bool, argv: list[str]) -> int:
    """Run ``python -m filament.agent argv``, logging every reconcile pass to
    OUT.passes.jsonl: perf_counter at its start, after observing, at its end, and the ops
    applied by kind; and each route update received from the control node (CLOCK_MONOTONIC is shared by processes, so passes line up with the
    benchmark's own timestamps). With ``profile`` also cProfile the event loop thread
    (OUT.loop.prof) and the converge calls in the datapath thread (OUT.passes.prof;
    cProfile only sees the thread that enabled it)."""
    import cProfile

    from filament.agent import __main__ as agent_main
    from filament.agent import reconcile, service, xmpp_client
    from filament.wire.xmpp.model import RouteUpdate

    passes = cProfile.Profile()
    log = open(out + ".passes.jsonl", "w")
    real_converge, real_reconcile = service.converge, reconcile.reconcile
    calls = [0]

    class Timed:
        """The backend, with the end of each observe() noted."""

        def __init__(self, backend):
            self.backend, self.observed, self.applied = backend, 0.0, {}

        def observe(self):
            self.applied = {}
            try:
                return self.backend.observe()
            finally:
                self.observed = time.perf_counter()

        def apply(self, op):
            try:
                return self.backend.apply(op)
            finally:
                self.applied[op.kind] = time.perf_counter()  # when the last op of each kind ended

        def __getattr__(self, name):
            return getattr(self.backend, name)

    def timed_reconcile(backend, desired):
        t0 = time.perf_counter()
        result = real_reconcile(backend, desired)
        ops: dict[str, int] = {}
        for op in result.applied:
            ops[f"{op.action} {op.kind}"] = ops.get(f"{op.action} {op.kind}", 0) + 1
        log.write(json.dumps({"call": calls[0], "start": t0, "observed": backend.observed, "end": time.perf_counter(),
                              "ops": ops, "failed": len(result.failed), "applied": backend.applied}) + "\n")
        log.flush()
        return result

    def converge(backend, desired, *a, **kw):
        calls[0] += 1
        if profile:
            passes.enable()
        try:
            return real_converge(Timed(backend), desired, *a, **kw)
        finally:
            if profile:
                passes.disable()

    real_message = xmpp_client.ControlSession._message

    def message(self, msg):
        if isinstance(msg, RouteUpdate) and msg.items:
            log.write(json.dumps({"route_rx": time.perf_counter(), "node": msg.node}) + "\n")
        return real_message(self, msg)

    reconcile.reconcile = timed_reconcile
    service.converge = converge
    xmpp_client.ControlSession._message = message
    loop_prof = cProfile.Profile()
    if profile:
        loop_prof.enable()
    try:
        return agent_main.main(argv)
    finally:
        log.close()
        if profile:
            loop_prof.disable()
            loop_prof.dump_stats(out + ".loop.prof")
            passes.dump_stats(out + ".passes.prof")


def load_trace(path: str) -> list[dict]:
    try:
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError:
        return []


def load_passes(path: str) -> list[dict]:
    return [x for x in load_trace(path) if "start" in x]


def where_time_goes(samples: list[Sample], trace: str) -> str:
    """Per port, from the plug: when host 1's pass that configured the vif started and
    ended (and how long its observe took), when host 2's pass that installed the route
    back ended, and the first reply; then what the passes cost overall."""
    p1, p2 = load_passes(os.path.join(trace, "agent1.passes.jsonl")), load_passes(os.path.join(trace, "agent2.passes.jsonl"))
    rx2 = [x["route_rx"] for x in load_trace(os.path.join(trace, "agent2.passes.jsonl")) if "route_rx" in x]
    cols: dict[str, list[float]] = {k: [] for k in ("h1 start", "h1 observe", "h1 routed", "h1 filtered", "h2 route rx",
                                                    "h2 end", "reply")}
    early = 0  # replies that came back before host 1 had loaded the port's nft filter
    for s in samples:
        if s.end is None:
            continue
        plug = s.start + s.api + s.wire + s.plug
        v = next((x for x in p1 if x["end"] >= plug and x["ops"].get("add vifs")), None)
        r = next((x for x in p2 if x["end"] >= plug and x["ops"].get("add routes")), None)
        if not v or not r:
            continue
        routed = max(v["applied"].get("rules", 0), v["applied"].get("routes", 0), v["applied"].get("vifs", 0))
        filtered = v["applied"].get("filter", v["end"])
        early += s.end < filtered
        got = next((t for t in rx2 if t >= plug), r["end"])
        for k, x in (("h1 start", v["start"]), ("h1 routed", routed), ("h1 filtered", filtered), ("h2 route rx", got),
                     ("h2 end", r["end"]), ("reply", s.end)):
            cols[k].append((x - plug) * 1000)
        cols["h1 observe"].append((v["observed"] - v["start"]) * 1000)
    if not cols["reply"]:
        return "  timeline: no matching passes in the trace"
    line = "  from the plug, p50/p99 ms: " + ", ".join(
        f"{k} {pct(v, .5):.1f}/{pct(v, .99):.1f}" for k, v in cols.items())
    return line + f"; {early}/{len(cols['reply'])} replies before the port's nft filter was loaded"


def pass_costs(trace: str) -> str:
    """What one reconcile pass costs on host 1: observe, and apply per op applied."""
    p1 = load_passes(os.path.join(trace, "agent1.passes.jsonl"))
    if not p1:
        return ""
    obs = [(x["observed"] - x["start"]) * 1000 for x in p1]
    idle = [x for x in p1 if not x["ops"]]
    busy = [x for x in p1 if x["ops"]]
    per_op = [(x["end"] - x["observed"]) * 1000 / sum(x["ops"].values()) for x in busy]
    calls = len({x["call"] for x in p1})
    return (f"  host 1: {len(p1)} reconcile passes in {calls} converge calls ({len(idle)} applied nothing); "
            f"observe p50 {pct(obs, .5):.1f} ms max {max(obs):.1f} ms; apply p50 {pct(per_op, .5):.1f} ms per op")


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--as-agent":
        raise SystemExit(as_agent(sys.argv[3], sys.argv[2] == "profile", sys.argv[4:]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples, one short iperf3 round (< 60 s)")
    ap.add_argument("--singles", type=int, default=100, help="ports created one after another")
    ap.add_argument("--bursts", type=int, default=2, help="bursts of --burst ports created at once")
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--interval", type=float, default=2.0, help="ms between echo requests, single ports")
    ap.add_argument("--burst-interval", type=float, default=10.0, help="ms between echo requests, per port in a burst")
    ap.add_argument("--seconds", type=float, default=5.0, help="iperf3 duration")
    ap.add_argument("--rounds", type=int, default=3, help="iperf3 rounds per path (0: skip throughput)")
    ap.add_argument("--trace", metavar="DIR", help="keep the agents' per-pass timings (JSON lines) in DIR")
    ap.add_argument("--profile", metavar="DIR", help="as --trace, and run the agents under cProfile (slower)")
    args = ap.parse_args()
    if args.quick:
        args.singles, args.bursts, args.seconds, args.rounds = min(args.singles, 20), min(args.bursts, 1), 2.0, min(args.rounds, 1)
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "nft", "iperf3")):
        raise SystemExit("needs root, ip, nft and iperf3")

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    nss = Namespaces()
    tmp = tempfile.mkdtemp(prefix=f"{PREFIX}-")
    ok = False
    try:
        asyncio.run(run(args, nss, tmp))
        ok = True
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the cleanup
        for p in reversed(PROCS):
            p.stop()
        nss.close()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}", file=sys.stderr)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
