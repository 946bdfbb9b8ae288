"""Real BGP peers for interop tests and the BGP benchmark: FRR (bgpd, optionally with
zebra) and gobgpd, each with a private directory for config, sockets, pid files and
logs, started in the foreground and stopped by PID (never by name).

FRR facts this relies on (machine-recipes §2): ``bgpd -S -Z`` runs without zebra and
without dropping privileges; ``--vty_socket`` puts the vty sockets in our directory so
``vtysh --vty_socket`` talks to this bgpd only; FRR treats next hops in 127/8 as
martian, so routes use 198.18/15 next hops even when sessions run on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

FRR_DIR = Path("/usr/lib/frr")


def have_frr() -> bool:
    return (FRR_DIR / "bgpd").exists() and shutil.which("vtysh") is not None


def have_gobgp() -> bool:
    return shutil.which("gobgpd") is not None and shutil.which("gobgp") is not None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float = 20.0, what: str = "condition", interval: float = 0.1):
    """Poll ``check()`` until it returns something truthy (returned) or time runs out."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def _stop(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _netns(ns: str | None, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv] if ns else argv


class Frr:
    """One FRR instance: bgpd (and zebra when ``zebra=True``) in ``ns`` (None: this
    namespace). ``config`` is the whole frr.conf text. Without zebra, bgpd binds
    ``listen`` on ``port``; with zebra it uses the namespace's addresses."""

    def __init__(self, workdir: Path, config: str, *, ns: str | None = None, zebra: bool = False,
                 listen: str = "127.0.0.1", port: int = 0, bgpd_ns: str | None = "same"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o777)
        self.ns = ns
        self.zebra = zebra
        self.port = port
        self.procs: list[subprocess.Popen] = []
        (self.dir / "frr.conf").write_text(config)
        (self.dir / "vtysh.conf").write_text("")
        self._logs = []
        try:
            if zebra:
                self._spawn("zebra", ns, ["-z", str(self.dir / "zserv.api"), "-f", "/dev/null"])
                wait_until(lambda: (self.dir / "zserv.api").exists() and (self.dir / "zebra.vty").exists(), 10, "zebra to start")
                extra = ["-z", str(self.dir / "zserv.api")]
            else:
                extra = ["-Z"]
            if port:
                extra += ["-p", str(port)]
            else:
                extra += ["-p", "0"]  # no listener: we dial, or the peer is passive
            if listen and not zebra:
                extra += ["-l", listen]
            self._spawn("bgpd", ns if bgpd_ns == "same" else bgpd_ns, ["-f", str(self.dir / "frr.conf"), *extra])
            wait_until(lambda: (self.dir / "bgpd.vty").exists(), 10, "bgpd to start")
        except BaseException:
            self.stop()
            raise

    def _spawn(self, daemon: str, ns: str | None, args: list[str]) -> None:
        log = open(self.dir / f"{daemon}.out", "wb")
        self._logs.append(log)
        # bgpd -S keeps our user; zebra has no -S and drops to user frr (hence the 0777 dir)
        skip_runas = ["-S"] if daemon == "bgpd" else []
        argv = [str(FRR_DIR / daemon), *skip_runas, "-N", f"fil{os.getpid()}", "--vty_socket", str(self.dir),
                "-i", str(self.dir / f"{daemon}.pid"), "-P", "0", "--log", f"file:{self.dir / (daemon + '.log')}", *args]
        self.procs.append(subprocess.Popen(_netns(ns, argv), stdout=log, stderr=subprocess.STDOUT))

    def vtysh(self, *commands: str, check: bool = True) -> str:
        argv = ["vtysh", "--vty_socket", str(self.dir), "--config_dir", str(self.dir)]
        for c in commands:
            argv += ["-c", c]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if check and r.returncode:
            raise RuntimeError(f"vtysh {commands}: {r.stdout.strip()} {r.stderr.strip()}")
        return r.stdout

    def json(self, command: str) -> dict:
        out = self.vtysh(command + " json")
        return json.loads(out) if out.strip() else {}

    def configure(self, *lines: str) -> str:
        """Apply config lines (``conf t`` context); an FRR error raises."""
        out = self.vtysh("configure terminal", *lines)
        if "%" in out:
            raise RuntimeError(f"FRR rejected {lines}: {out.strip()}")
        return out

    def neighbor_state(self, address: str) -> str:
        try:
            data = self.json(f"show bgp neighbors {address}")
        except (RuntimeError, json.JSONDecodeError):
            return ""
        return (data.get(address) or {}).get("bgpState", "")

    def vpn_routes(self, afi: str = "ipv4") -> dict[str, dict[str, list[dict]]]:
        """``show bgp <afi> vpn``: {rd: {prefix: [paths]}} (valid paths only)."""
        data = self.json(f"show bgp {afi} vpn")
        out: dict[str, dict[str, list[dict]]] = {}
        for rd, prefixes in (data.get("routes", {}).get("routeDistinguishers") or {}).items():
            for prefix, paths in prefixes.items():
                good = [p for p in paths if p.get("valid")]
                if good:
                    out.setdefault(rd, {})[prefix] = good
        return out

    def evpn_routes(self) -> dict[str, dict[str, dict]]:
        """``show bgp l2vpn evpn``: {rd: {"[2]:[0]:[48]:[mac]:[32]:[ip]": entry}}."""
        data = self.json("show bgp l2vpn evpn")
        return {rd: {k: v for k, v in entries.items() if isinstance(v, dict)}
                for rd, entries in data.items() if isinstance(entries, dict) and "rd" in entries}

    def log_text(self) -> str:
        return "\n".join((p.read_text(errors="replace")) for p in sorted(self.dir.glob("*.log")))

    def stop(self) -> None:
        for p in reversed(self.procs):
            _stop(p)
        self.procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()


class GoBgp:
    """gobgpd with a given TOML config, run as user nobody; ``cli`` drives its gRPC API."""

    def __init__(self, workdir: Path, toml: str, *, ns: str | None = None, api_port: int | None = None, log_level: str = "info"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o777)
        self.api = api_port or free_port()
        (self.dir / "gobgpd.toml").write_text(toml)
        self._log = open(self.dir / "gobgpd.log", "wb")
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "gobgpd", "-f", str(self.dir / "gobgpd.toml"),
                "--api-hosts", f"127.0.0.1:{self.api}", "-l", log_level, "-p", "--pprof-disable"]
        self.proc = subprocess.Popen(_netns(ns, argv), stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(lambda: self._api_up(), 10, "gobgpd's API")

    def _api_up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gobgpd exited: {(self.dir / 'gobgpd.log').read_text()[-2000:]}")
        r = subprocess.run(["gobgp", "-p", str(self.api), "global"], capture_output=True, timeout=10)
        return r.returncode == 0

    def cli(self, *args: str, input: str | None = None) -> str:
        return subprocess.run(["gobgp", "-p", str(self.api), *args], check=True, capture_output=True, text=True,
                              timeout=120, input=input).stdout

    def rib(self, family: str) -> list:
        out = self.cli("-j", "global", "rib", "-a", family)
        data = json.loads(out) if out.strip() else {}
        return [p for paths in data.values() for p in paths] if isinstance(data, dict) else []

    def stop(self) -> None:
        _stop(self.proc)
        self._log.close()


def sh(*argv: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(_netns(ns, list(argv)), capture_output=True, text=True, timeout=60)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(argv)}{' in ' + ns if ns else ''}: {r.stderr.strip()}")
    return r


class Namespaces:
    """Network namespaces named ``fil-<pid>-<tag>-<name>``, all removed by ``close``
    (after killing whatever still runs in them)."""

    def __init__(self, tag: str):
        self.prefix = f"fil-{os.getpid()}-{tag}"
        self.names: list[str] = []
        self.root_links: list[str] = []

    def add(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        sh("ip", "netns", "add", full)
        self.names.append(full)
        sh("ip", "link", "set", "lo", "up", ns=full)
        return full

    def veth(self, a: str, a_if: str, b: str, b_if: str, mtu: int = 1600) -> None:
        sh("ip", "link", "add", a_if, "netns", a, "mtu", str(mtu), "type", "veth", "peer", "name", b_if, "netns", b, "mtu", str(mtu))
        sh("ip", "link", "set", a_if, "up", ns=a)
        sh("ip", "link", "set", b_if, "up", ns=b)

    def link_to_root(self, ns: str, ns_if: str, ns_ip: str, root_ip: str, plen: int = 30) -> str:
        """A veth between ``ns`` and this (root) namespace, named ``fil<pid><n>`` on our
        side, so processes here (a control node) can peer with daemons in ``ns``."""
        root_if = f"fil{os.getpid()}{len(self.root_links)}"[:15]
        sh("ip", "link", "add", root_if, "type", "veth", "peer", "name", ns_if, "netns", ns)
        self.root_links.append(root_if)
        sh("ip", "addr", "add", f"{root_ip}/{plen}", "dev", root_if)
        sh("ip", "link", "set", root_if, "up")
        sh("ip", "addr", "add", f"{ns_ip}/{plen}", "dev", ns_if, ns=ns)
        sh("ip", "link", "set", ns_if, "up", ns=ns)
        return root_if

    def close(self) -> None:
        for link in self.root_links:
            sh("ip", "link", "del", link, check=False)
        self.root_links.clear()
        for ns in reversed(self.names):
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            sh("ip", "netns", "del", ns, check=False)
        self.names.clear()


def l2vni_switch(ns: str, *, vni: int, vtep: str, underlay_dev: str, bridge_ip: str = "") -> None:
    """A Cumulus-style L2VNI in ``ns``: bridge br<vni> with VXLAN port vx<vni> (no
    learning, ARP/ND suppression), as FRR's zebra expects for ``advertise-all-vni``."""
    br, vx = f"br{vni}", f"vx{vni}"
    sh("ip", "link", "add", br, "type", "bridge", ns=ns)
    sh("ip", "link", "set", br, "addrgenmode", "none", ns=ns)
    sh("ip", "link", "add", vx, "type", "vxlan", "id", str(vni), "local", vtep, "dstport", "4789", "nolearning",
       "dev", underlay_dev, ns=ns)
    sh("ip", "link", "set", vx, "master", br, "mtu", "1500", ns=ns)
    sh("bridge", "link", "set", "dev", vx, "neigh_suppress", "on", "learning", "off", ns=ns)
    if bridge_ip:
        sh("ip", "addr", "add", bridge_ip, "dev", br, ns=ns)
    sh("ip", "link", "set", vx, "up", ns=ns)
    sh("ip", "link", "set", br, "up", ns=ns)


def bridge_host(nss: Namespaces, switch: str, name: str, port: str, ip: str, mac: str, vni: int) -> str:
    """A host namespace plugged into the switch's bridge br<vni> (its eth0 has ``ip``)."""
    host = nss.add(name)
    sh("ip", "link", "add", port, "netns", switch, "type", "veth", "peer", "name", "eth0", "netns", host)
    sh("ip", "link", "set", "eth0", "address", mac, "mtu", "1450", "up", ns=host)
    sh("ip", "addr", "add", ip, "dev", "eth0", ns=host)
    sh("ip", "link", "set", port, "master", f"br{vni}", "up", ns=switch)
    return host
