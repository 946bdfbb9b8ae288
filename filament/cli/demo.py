"""`filament demo`: two compute hosts as network namespaces (veth underlay in
198.18.0.0/24), a controller (`filament up`, or a running one), two vRouter agents, two
networks with the same subnet and four workloads made through the config API and
plugged through the agents' port API; then the pings, as a table.

Everything it creates carries its prefix (namespaces ``<prefix>-h1`` …, config objects
``<prefix>-red`` …). It cleans up on exit; ``--keep`` leaves it running and writes a
state file (pids, namespaces, objects) that ``filament demo --down`` reads to remove it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filament.cli import CliError

GSC = "default-global-system-config"
PROJ = ["default-domain", "default-project"]
IPAM = PROJ + ["default-network-ipam"]
SUBNET, PLEN, GATEWAY = "10.1.1.0", 24, "10.1.1.1"
UNDERLAY = {1: "198.18.0.1", 2: "198.18.0.2"}


@dataclass(frozen=True)
class Workload:
    name: str  # red1 …
    network: str  # red | blue
    host: int  # 1 | 2
    ip: str
    mac: str


WORKLOADS = (
    Workload("red1", "red", 1, "10.1.1.11", "02:00:0a:01:01:0b"),
    Workload("red2", "red", 2, "10.1.1.12", "02:00:0a:01:01:0c"),
    Workload("blue1", "blue", 1, "10.1.1.11", "02:00:0a:02:01:0b"),
    Workload("blue2", "blue", 2, "10.1.1.13", "02:00:0a:02:01:0d"),
)
# (from, to address, label of the target, expected to answer)
PINGS = (
    ("red1", "10.1.1.12", "red2", True), ("red2", "10.1.1.11", "red1", True),
    ("blue1", "10.1.1.13", "blue2", True), ("blue2", "10.1.1.11", "blue1", True),
    ("red1", GATEWAY, "gateway", True),
    ("red1", "10.1.1.13", "blue2 (other network)", False),
    ("blue2", "10.1.1.12", "red2 (other network)", False),
)


@dataclass
class DemoState:
    """What a kept demo consists of, so `--down` can remove exactly that."""

    prefix: str
    namespaces: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    api: str = ""
    own_controller: bool = False
    objects: list[list[str]] = field(default_factory=list)  # [type, uuid], in creation order
    data_dir: str = ""
    agents: dict[str, str] = field(default_factory=dict)  # agent name -> introspect host:port


def parse_rtt(ping_output: str) -> float | None:
    """Average RTT in ms from ping's summary line, None when nothing answered."""
    m = re.search(r"= [\d.]+/([\d.]+)/", ping_output)
    return float(m.group(1)) if m else None


# ---- processes, namespaces, HTTP ------------------------------------------------------


def _sh(*argv: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    if ns:
        argv = ("ip", "netns", "exec", ns, *argv)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and r.returncode:
        raise CliError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(method: str, url: str, body=None, timeout: float = 10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
    except urllib.error.HTTPError as exc:
        raise CliError(f"{method} {url}: HTTP {exc.code} {exc.read().decode(errors='replace')[:300]}") from None
    except OSError as exc:
        raise CliError(f"{method} {url}: {exc}") from None
    return json.loads(text) if text else None


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _spawn(argv: list[str], log_path: str) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        # own session: a kept demo survives the terminal's ^C
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _until(pred, what: str, timeout: float, log_path: str = "", proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise CliError(f"{what}: the process exited ({proc.returncode})\n{_tail(log_path)}")
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise CliError(f"timed out waiting for {what}" + (f"\n{_tail(log_path)}" if log_path else ""))
        time.sleep(0.05)


def _is_ours(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"filament" in part for part in cmd)


def _stop_pids(pids: list[int]) -> None:
    alive = [p for p in pids if _is_ours(p)]
    for p in alive:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while alive and time.monotonic() < deadline:
        for p in list(alive):
            try:
                done, _ = os.waitpid(p, os.WNOHANG)
            except ChildProcessError:  # not our child (a kept demo): poll /proc
                done = p if not Path(f"/proc/{p}").exists() else 0
            if done:
                alive.remove(p)
        time.sleep(0.05)
    for p in alive:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def teardown(state: DemoState) -> None:
    """Remove what the demo made: config objects (on a controller we did not start),
    processes, namespaces, its data directory. Safe to run twice."""
    if state.objects and not state.own_controller and state.api:
        for type_, uuid in reversed(state.objects):
            try:
                _http("DELETE", f"{state.api}/{type_}/{uuid}")
            except CliError:
                pass
    _stop_pids(state.pids)
    for ns in reversed(state.namespaces):
        for pid in _sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        _sh("ip", "netns", "del", ns, check=False)
    if state.data_dir:
        shutil.rmtree(state.data_dir, ignore_errors=True)


# ---- the demo -------------------------------------------------------------------------


class Demo:
    def __init__(self, args):
        self.args = args
        self.prefix = args.prefix
        self.data_dir = os.path.join(args.state_dir, args.prefix)
        self.state = DemoState(args.prefix, data_dir=self.data_dir)
        self.agents: dict[int, dict] = {}
        self.nets: dict[str, dict] = {}
        self.ports: dict[str, dict] = {}

    def ns(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        _sh("ip", "netns", "add", full)
        self.state.namespaces.append(full)
        _sh("ip", "link", "set", "lo", "up", ns=full)
        return full

    def build_hosts(self) -> None:
        h1, h2 = self.ns("h1"), self.ns("h2")
        _sh("ip", "link", "add", "ul0", "netns", h1, "mtu", "1600", "type", "veth",
            "peer", "name", "ul0", "netns", h2, "mtu", "1600")
        for i, h in ((1, h1), (2, h2)):
            _sh("ip", "addr", "add", f"{UNDERLAY[i]}/24", "dev", "ul0", ns=h)
            _sh("ip", "link", "set", "ul0", "up", ns=h)
        for w in WORKLOADS:
            wns, host = self.ns(w.name), f"{self.prefix}-h{w.host}"
            _sh("ip", "link", "add", f"tap{w.name}", "netns", host, "type", "veth", "peer", "name", "eth0", "netns", wns)
            _sh("ip", "link", "set", "eth0", "address", w.mac, "mtu", "1550", "up", ns=wns)
            _sh("ip", "addr", "add", f"{w.ip}/{PLEN}", "dev", "eth0", ns=wns)
            _sh("ip", "route", "add", "default", "via", GATEWAY, ns=wns)

    def controller(self) -> tuple[str, int]:
        a = self.args
        if a.api:
            host, _, port = (a.xmpp or "127.0.0.1:5269").rpartition(":")
            self.state.api = a.api.rstrip("/")
            _http("GET", f"{self.state.api}/virtual-networks")
            return host or "127.0.0.1", int(port)
        xmpp = a.xmpp_port or _free_port()
        log = os.path.join(self.data_dir, "up.log")
        proc = _spawn([sys.executable, "-m", "filament", "up", "--listen", "127.0.0.1", "--api-port", str(a.api_port),
                       "--xmpp-port", str(xmpp), "--introspect-port", str(_free_port()), "--bgp-port", "0",
                       "--data-dir", os.path.join(self.data_dir, "controller"), "--log-level", "WARNING"], log)
        self.state.pids.append(proc.pid)
        self.state.own_controller = True
        m = _until(lambda: re.search(r"config API on (http://[\d.]+:\d+)", _tail(log, 50)), "the controller to start",
                   30, log, proc)
        self.state.api = m.group(1)
        return "127.0.0.1", xmpp

    def start_agents(self, xmpp: tuple[str, int]) -> None:
        for i in (1, 2):
            name, port_api, intro = f"{self.prefix}-cn{i}", _free_port(), _free_port()
            log = os.path.join(self.data_dir, f"agent{i}.log")
            proc = _spawn([sys.executable, "-m", "filament.agent", "--name", name, "--vtep", UNDERLAY[i],
                           "--underlay-dev", "ul0", "--underlay-mtu", "1600", "--control", f"{xmpp[0]}:{xmpp[1]}",
                           "--xmpp-source", f"127.0.0.{60 + i}", "--port-api", f"127.0.0.1:{port_api}",
                           "--introspect", f"127.0.0.1:{intro}", "--ports-dir", os.path.join(self.data_dir, f"ports{i}"),
                           "--netns", f"{self.prefix}-h{i}"], log)
            self.state.pids.append(proc.pid)
            self.state.agents[name] = f"127.0.0.1:{intro}"
            self.agents[i] = {"name": name, "url": f"http://127.0.0.1:{port_api}", "introspect": f"127.0.0.1:{intro}",
                              "log": log, "proc": proc}

        for a in self.agents.values():
            _until(lambda a=a: self._answers(a["url"] + "/ports"), f"agent {a['name']}", 30, a["log"], a["proc"])

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            _http("GET", url, timeout=2)
        except CliError:
            return False
        return True

    def create(self, type_: str, body: dict) -> dict:
        obj = _http("POST", f"{self.state.api}/{type_}s", {type_: body})[type_]
        self.state.objects.append([type_, obj["uuid"]])
        return obj

    def configure(self) -> None:
        def ref(o):
            return [{"to": o["fq_name"], "uuid": o["uuid"]}]

        p = self.prefix
        for color in ("red", "blue"):
            self.nets[color] = self.create("virtual-network", {
                "fq_name": PROJ + [f"{p}-{color}"], "parent_type": "project",
                "network_ipam_refs": [{"to": IPAM, "attr": {"ipam_subnets": [
                    {"subnet": {"ip_prefix": SUBNET, "ip_prefix_len": PLEN}, "default_gateway": GATEWAY}]}}]})
        vms: dict[int, list[dict]] = {1: [], 2: []}
        for w in WORKLOADS:
            vn = self.nets[w.network]
            vm = self.create("virtual-machine", {"fq_name": [f"{p}-{w.name}"]})
            vmi = self.create("virtual-machine-interface", {
                "fq_name": PROJ + [f"{p}-{w.name}"], "parent_type": "project", "virtual_network_refs": ref(vn),
                "virtual_machine_refs": ref(vm), "virtual_machine_interface_mac_addresses": {"mac_address": [w.mac]}})
            self.create("instance-ip", {"fq_name": [f"{p}-{w.name}"], "instance_ip_address": w.ip,
                                        "virtual_network_refs": ref(vn), "virtual_machine_interface_refs": ref(vmi)})
            vms[w.host].append(vm)
            self.ports[w.name] = {
                "id": vmi["uuid"], "instance-id": vm["uuid"], "vn-id": vn["uuid"], "vm-project-id": "",
                "display-name": vm["fq_name"][-1], "ip-address": w.ip, "ip6-address": "", "type": 0,
                "system-name": f"tap{w.name}", "mac-address": w.mac, "rx-vlan-id": -1, "tx-vlan-id": -1}
        for i in (1, 2):
            self.create("virtual-router", {"fq_name": [GSC, f"{p}-cn{i}"], "parent_type": "global-system-config",
                                           "virtual_router_ip_address": UNDERLAY[i],
                                           "virtual_machine_refs": [r for vm in vms[i] for r in ref(vm)]})

    def plug(self) -> None:
        for w in WORKLOADS:
            _http("POST", f"{self.agents[w.host]['url']}/port", self.ports[w.name])

        def ready() -> bool:
            for w in WORKLOADS:
                a = self.agents[w.host]
                if _http("GET", f"{a['url']}/port/{self.ports[w.name]['id']}")["active"] != "Active":
                    return False
            for a in self.agents.values():
                for color, net in self.nets.items():
                    vrf = ":".join(net["fq_name"] + [net["fq_name"][-1]])
                    rts = _http("GET", f"http://{a['introspect']}/Snh_Inet4UcRouteReq?vrf={vrf}")["routes"]
                    if not any(h["via"] for r in rts for h in r["next_hops"]):
                        return False
                st = _http("GET", f"http://{a['introspect']}/Snh_AgentStatus")
                if st["applied_generation"] < st["generation"] or st["failed"]:
                    return False
            return True

        _until(ready, "ports to be active and routes programmed", 30, self.agents[1]["log"])

    def pings(self) -> list[tuple[str, str, bool, bool, float | None]]:
        out = []
        for src, dst, label, expect in PINGS:
            count, wait = ("3", "1") if expect else ("2", "0.5")
            r = _sh("ping", "-c", count, "-i", "0.2", "-W", wait, dst, ns=f"{self.prefix}-{src}", check=False)
            out.append((src, f"{label} {dst}", r.returncode == 0, expect, parse_rtt(r.stdout)))
        return out


def print_table(results) -> bool:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="filament demo: pings between workloads")
    for col in ("From", "To", "Result", "RTT"):
        table.add_column(col)
    ok = True
    for src, dst, answered, expect, rtt in results:
        if answered and expect:
            result = "[green]reply[/green]"
        elif not answered and not expect:
            result = "[green]no reply (isolated, as expected)[/green]"
        else:
            ok = False
            result = "[red]FAILED: " + ("no reply" if expect else "reply across networks") + "[/red]"
        table.add_row(src, dst, result, f"{rtt:.3f} ms" if rtt is not None else "-")
    Console(width=110).print(table)
    return ok


def _state_path(args) -> Path:
    return Path(args.state_dir) / f"{args.prefix}.json"


def run_demo(args) -> int:
    if os.geteuid() != 0:
        raise CliError("filament demo needs root: it creates network namespaces (run it with sudo)")
    for tool in ("ip", "nft", "ping"):
        if shutil.which(tool) is None:
            raise CliError(f"filament demo needs `{tool}` (apt-get install iproute2 nftables iputils-ping)")
    path = _state_path(args)
    if args.down:
        if not path.exists():
            raise CliError(f"no kept demo with prefix {args.prefix!r} ({path} does not exist)")
        state = DemoState(**json.loads(path.read_text()))
        teardown(state)
        path.unlink()
        print(f"demo {args.prefix}: removed ({len(state.namespaces)} namespaces, {len(state.pids)} processes)")
        return 0
    if path.exists():
        raise CliError(f"a kept demo with prefix {args.prefix!r} exists: remove it with "
                       f"`filament demo --down --prefix {args.prefix}`")
    if any(line.split()[0].startswith(f"{args.prefix}-") for line in _sh("ip", "netns", "list").stdout.splitlines() if line):
        raise CliError(f"namespaces named {args.prefix}-* exist already: pick another --prefix")
    demo = Demo(args)
    os.makedirs(demo.data_dir, exist_ok=True)
    keep = False
    try:
        print(f"building compute hosts {args.prefix}-h1, {args.prefix}-h2 (underlay 198.18.0.0/24) and 4 workloads", flush=True)
        demo.build_hosts()
        xmpp = demo.controller()
        print(f"controller: config API {demo.state.api}, XMPP {xmpp[0]}:{xmpp[1]}", flush=True)
        demo.start_agents(xmpp)
        demo.configure()
        demo.plug()
        ok = print_table(demo.pings())
        a1 = demo.agents[1]["introspect"]
        red = ":".join(demo.nets["red"]["fq_name"] + [demo.nets["red"]["fq_name"][-1]])
        print(f"look around (host 1):\n  filament vif --list --agent {a1}\n  filament vr route -v {red} --agent {a1}\n"
              f"  filament flow -l --netns {args.prefix}-h1 --agent {a1}\n"
              f"  ip netns exec {args.prefix}-red1 ping 10.1.1.12")
        if args.keep:
            demo.state.data_dir = demo.data_dir
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(asdict(demo.state), indent=1))
            keep = True
            print(f"kept running; remove it with: filament demo --down --prefix {args.prefix}"
                  f"{' --state-dir ' + args.state_dir if args.state_dir != DEFAULT_STATE_DIR else ''}")
        return 0 if ok else 1
    finally:
        if not keep:
            teardown(demo.state)
            print(f"demo {args.prefix}: cleaned up", flush=True)


DEFAULT_STATE_DIR = "/run/filament-demo"


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="two compute hosts in namespaces, two networks, four workloads, pings")
    p.add_argument("--keep", action="store_true", help="leave it running (remove later with --down)")
    p.add_argument("--down", action="store_true", help="remove a demo left running with --keep")
    p.add_argument("--prefix", default="fldemo", help="name prefix of its namespaces and objects (default %(default)s)")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="state file and logs (default %(default)s)")
    p.add_argument("--api", default="", help="use this running config API (e.g. http://127.0.0.1:8082)")
    p.add_argument("--xmpp", default="", help="with --api: its control node's XMPP host:port (default 127.0.0.1:5269)")
    p.add_argument("--api-port", type=int, default=0, help="config API port of the controller it runs (0: free port)")
    p.add_argument("--xmpp-port", type=int, default=0, help="XMPP port of the controller it runs (0: free port)")
    p.set_defaults(handler=run_demo)
