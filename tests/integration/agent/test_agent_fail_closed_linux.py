"""The Linux datapath routes a port only once its nft ACLs are loaded: after every single
op of the converge that plugs a port with a security group, the kernel is asked whether
the port is routed, and if it is, whether its mark and its ACL chains are in the ruleset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from filament.agent.desired import desired_state
from filament.agent.reconcile import converge
from filament.agent.view import AclAddress, AclEntry, AgentView, Host, Network, Port, SecurityGroup, Subnet
from filament.datapath.state import Op, table_for_vni

from netns import Lab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]

RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
WEB = SecurityGroup("d:p:web", 8000001, ingress=(AclEntry("tcp-80", "pass", "6", src=AclAddress("prefix", "0.0.0.0/0"),
                                                         dst_ports=(80, 80)),))


def kernel_state(ns: str, vif: str) -> tuple[bool, bool]:
    """(the instance table routes to ``vif``, the ruleset marks ``vif`` and sends its new
    flows through its security-group chains both ways)."""
    r = subprocess.run(["ip", "-n", ns, "-j", "route", "show", "table", str(table_for_vni(5))],
                       capture_output=True, text=True)
    routes = json.loads(r.stdout or "[]") if r.returncode == 0 else []  # no table yet: no route
    routed = any(r.get("dev") == vif for r in routes)
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "filament"],
                       capture_output=True, text=True)
    text = r.stdout if r.returncode == 0 else ""
    filtered = all(s in text for s in (f'"{vif}" : 0x00010005', f'"{vif}" : jump in-{vif}', f'"{vif}" : jump eg-{vif}',
                                       f"chain sg-in-{vif} {{", f"jump sg-in-{vif}", "tcp-80"))
    return routed, filtered


class Watched:
    """The real backend; after each op, the kernel must not route the vif unfiltered."""

    def __init__(self, backend, ns: str, vif: str):
        self.backend, self.ns, self.vif, self.seen = backend, ns, vif, []

    def observe(self):
        return self.backend.observe()

    def apply(self, op: Op) -> None:
        self.backend.apply(op)
        routed, filtered = kernel_state(self.ns, self.vif)
        self.seen.append((str(op)[:60], routed, filtered))
        assert filtered or not routed, f"{self.vif} routed without its ACLs after {op}: {self.seen}"


def test_port_with_a_security_group_is_never_routed_unfiltered():
    from filament.datapath.linux import LinuxDatapath

    lab = Lab("fc")
    dp = None
    try:
        h1 = lab.ns("h1")
        lab.underlay(h1, lab.ns("h2"), "198.18.0.1", "198.18.0.2")
        lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1")
        lab.workload(h1, "tapw2", "w2", "100.64.1.12", "02:00:00:00:01:12", "100.64.1.1")
        host = Host("198.18.0.1", "ul0", 1600)
        p1 = Port("p1", "tapw1", "02:00:00:00:01:11", "100.64.1.11", RED.vrf, security_groups=(WEB.name,))
        p2 = Port("p2", "tapw2", "02:00:00:00:01:12", "100.64.1.12", RED.vrf, security_groups=(WEB.name,))
        dp = LinuxDatapath(h1)
        for ports, vif in (({"p1": p1}, "tapw1"), ({"p1": p1, "p2": p2}, "tapw2")):  # first port, then a second
            watched = Watched(dp, h1, vif)
            res = converge(watched, desired_state(AgentView(host, {RED.vrf: RED}, ports, {}, {WEB.name: WEB})))
            assert not res.failed, res.failed
            assert watched.seen[-1][1:] == (True, True), watched.seen  # routed and filtered in the end
            assert any(routed for _, routed, _ in watched.seen)  # the check ran while it was routed
    finally:
        if dp is not None:
            dp.close()
        lab.close()
