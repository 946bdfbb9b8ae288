"""Compute hosts and workloads as network namespaces, created and removed by name."""

from __future__ import annotations

import os
import subprocess


def sh(*argv: str, check: bool = True, ns: str | None = None) -> subprocess.CompletedProcess:
    if ns:
        argv = ("ip", "netns", "exec", ns, *argv)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


class Lab:
    """Owns every namespace it creates (unique prefix) and deletes them in ``close``."""

    def __init__(self, tag: str):
        self.prefix = f"fl5-{os.getpid()}-{tag}"
        self.namespaces: list[str] = []

    def ns(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        sh("ip", "netns", "add", full)
        self.namespaces.append(full)
        sh("ip", "link", "set", "lo", "up", ns=full)
        return full

    def underlay(self, h1: str, h2: str, ip1: str, ip2: str, mtu: int = 1600) -> None:
        sh("ip", "link", "add", "ul0", "netns", h1, "mtu", str(mtu), "type", "veth", "peer", "name", "ul0", "netns", h2, "mtu", str(mtu))
        for ns, ip in ((h1, ip1), (h2, ip2)):
            sh("ip", "addr", "add", f"{ip}/24", "dev", "ul0", ns=ns)
            sh("ip", "link", "set", "ul0", "up", ns=ns)

    def workload(self, host: str, vif: str, name: str, ip: str, mac: str, gw: str, plen: int = 24, mtu: int = 1550) -> str:
        w = self.ns(name)
        sh("ip", "link", "add", vif, "netns", host, "type", "veth", "peer", "name", "eth0", "netns", w)
        sh("ip", "link", "set", "eth0", "address", mac, "mtu", str(mtu), "up", ns=w)
        sh("ip", "addr", "add", f"{ip}/{plen}", "dev", "eth0", ns=w)
        sh("ip", "route", "add", "default", "via", gw, ns=w)
        return w

    def ping(self, ns: str, dst: str, count: int = 1, wait: float = 2, size: int | None = None) -> bool:
        extra = ["-s", str(size), "-M", "do"] if size else []
        r = sh("ping", "-c", str(count), "-W", str(wait), "-i", "0.2", *extra, dst, ns=ns, check=False)
        return r.returncode == 0

    def echos_in(self, ns: str) -> int:
        """ICMP echo requests the namespace has received (Icmp InEchos)."""
        lines = [l.split() for l in sh("cat", "/proc/net/snmp", ns=ns).stdout.splitlines() if l.startswith("Icmp:")]
        return int(lines[1][lines[0].index("InEchos")])

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "pids", ns, check=False)
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()
