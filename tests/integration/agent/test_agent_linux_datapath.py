"""The linux backend in namespaces this test creates: two compute hosts joined by a
veth underlay, workloads behind vifs, VXLAN between them, reconciled from the pure
desired state (no control node: the remote routes are given)."""

from __future__ import annotations

import os
import shutil

import pytest

from filament.agent.desired import desired_state
from filament.agent.reconcile import converge
from filament.agent.view import AgentView, Host, Network, PathNextHop, Port, RouteIn, Subnet
from filament.datapath.state import DatapathState

from netns import Lab, sh

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]

RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
BLUE = Network("d:p:blue:blue", 6, (Subnet("100.64.1.0/24", "100.64.1.1"),))
V1, V2 = "198.18.0.1", "198.18.0.2"


@pytest.fixture
def lab():
    lab = Lab("dp")
    try:
        yield lab
    finally:
        lab.close()


def routes_to(*entries):
    out: dict = {}
    for vrf, prefix, vtep, vni in entries:
        out.setdefault(vrf, {})[prefix] = RouteIn(prefix, (PathNextHop(vtep, vni),))
    return out


def build(lab):
    from filament.datapath.linux import LinuxDatapath

    h1, h2 = lab.ns("h1"), lab.ns("h2")
    lab.underlay(h1, h2, V1, V2)
    w = {
        "w1": lab.workload(h1, "tapw1", "w1", "100.64.1.11", "02:00:00:00:01:11", "100.64.1.1"),
        "w2": lab.workload(h2, "tapw2", "w2", "100.64.1.12", "02:00:00:00:01:12", "100.64.1.1"),
        "w3": lab.workload(h1, "tapw3", "w3", "100.64.1.11", "02:00:00:00:02:11", "100.64.1.1"),
        "w4": lab.workload(h2, "tapw4", "w4", "100.64.1.12", "02:00:00:00:02:12", "100.64.1.1"),
    }
    ports1 = {p.uuid: p for p in (Port("p1", "tapw1", "02:00:00:00:01:11", "100.64.1.11", RED.vrf),
                                   Port("p3", "tapw3", "02:00:00:00:02:11", "100.64.1.11", BLUE.vrf))}
    ports2 = {p.uuid: p for p in (Port("p2", "tapw2", "02:00:00:00:01:12", "100.64.1.12", RED.vrf),
                                   Port("p4", "tapw4", "02:00:00:00:02:12", "100.64.1.12", BLUE.vrf))}
    nets = {RED.vrf: RED, BLUE.vrf: BLUE}
    view1 = AgentView(Host(V1, "ul0", 1600), nets, ports1,
                      routes_to((RED.vrf, "100.64.1.12/32", V2, 5), (BLUE.vrf, "100.64.1.12/32", V2, 6)))
    view2 = AgentView(Host(V2, "ul0", 1600), nets, ports2,
                      routes_to((RED.vrf, "100.64.1.11/32", V1, 5), (BLUE.vrf, "100.64.1.11/32", V1, 6)))
    dps = [LinuxDatapath(h1), LinuxDatapath(h2)]
    for dp, v in zip(dps, (view1, view2)):
        res = converge(dp, desired_state(v))
        assert not res.failed, res.failed
        assert dp.observe() == desired_state(v)
    return h1, h2, w, dps, (view1, view2)


def test_same_network_ping_over_vxlan_isolated_by_network(lab):
    h1, h2, w, dps, views = build(lab)
    try:
        assert lab.ping(w["w1"], "100.64.1.12")
        assert lab.ping(w["w2"], "100.64.1.11")
        assert lab.ping(w["w3"], "100.64.1.12")
        # isolation: w1's pings reached w2, not w4 (same address in the other network)
        before = lab.echos_in(w["w4"]), lab.echos_in(w["w2"])
        assert lab.ping(w["w1"], "100.64.1.12", count=5)
        assert lab.echos_in(w["w4"]) == before[0] and lab.echos_in(w["w2"]) == before[1] + 5
        # the distributed gateway answers ping, and full-size packets pass (no MTU black hole)
        assert lab.ping(w["w1"], "100.64.1.1")
        assert lab.ping(w["w1"], "100.64.1.12", size=1550 - 28)
        # unfiltered ports (no policy, no group: no "P" flag) are forwarded without flows,
        # as the original forwards them: with no port to track, conntrack is not even
        # hooked in the host's namespace (no entry for workloads, gateway, or underlay)
        if shutil.which("conntrack"):
            ct = sh("conntrack", "-L", ns=h1, check=False).stdout
            assert not ct.strip(), ct
    finally:
        for dp in dps:
            dp.close()


def test_restart_sweeps_only_owned_objects(lab):
    from filament.datapath.linux import LinuxDatapath

    h1, h2, w, dps, views = build(lab)
    for dp in dps:
        dp.close()
    # something that is not ours, in the same host: must survive the sweep
    sh("ip", "route", "add", "100.64.99.0/24", "dev", "ul0", "table", "100", ns=h1)
    sh("ip", "rule", "add", "iif", "tapw1", "lookup", "100", "priority", "30000", ns=h1)
    dp = LinuxDatapath(h1)  # a "restarted" agent that now wants only p1 and no routes
    try:
        view = views[0]
        keep = AgentView(view.host, view.networks, {"p1": view.ports["p1"]}, {})
        res = converge(dp, desired_state(keep))
        assert not res.failed, res.failed
        assert dp.observe() == desired_state(keep)
        assert not lab.ping(w["w3"], "100.64.1.12", wait=1)
        converge(dp, desired_state(AgentView(view.host, view.networks, {}, {})))
        assert dp.observe() == DatapathState()
        assert "100.64.99.0/24" in sh("ip", "route", "show", "table", "100", ns=h1).stdout
        assert "lookup 100" in sh("ip", "rule", "show", ns=h1).stdout
        assert sh("ip", "link", "show", "tapw1", ns=h1).returncode == 0  # vifs belong to the orchestrator
    finally:
        dp.close()


def test_missing_namespace_is_an_error_not_a_creation(lab):
    from filament.datapath.linux import LinuxDatapath

    name = f"{lab.prefix}-absent"
    with pytest.raises(FileNotFoundError):
        LinuxDatapath(name)
    assert name not in sh("ip", "netns", "list").stdout
