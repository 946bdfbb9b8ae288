"""The reconciler against the model backend: converge, sweep, survive refusals."""

from __future__ import annotations

import errno

from filament.agent.desired import desired_state
from filament.agent.reconcile import converge, reconcile
from filament.agent.view import AgentView, Host, Network, PathNextHop, Port, RouteIn, Subnet
from filament.datapath.model import ModelDatapath
from filament.datapath.state import DatapathState, Route, table_for_vni

H1 = Host(vtep="198.18.0.1", underlay_dev="u1", underlay_mtu=1600)
RED = Network("red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
BLUE = Network("blue", 6, (Subnet("100.64.1.0/24", "100.64.1.1"),))
P1 = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", "red")
P2 = Port("p2", "tap2", "02:00:00:00:00:12", "100.64.1.12", "red")
P3 = Port("p3", "tap3", "02:00:00:00:00:13", "100.64.1.11", "blue")
R12 = {"red": {"100.64.1.13/32": RouteIn("100.64.1.13/32", (PathNextHop("198.18.0.2", 5),))}}


def view(ports, routes=None):
    return AgentView(H1, {"red": RED, "blue": BLUE}, {p.uuid: p for p in ports}, routes or {})


def test_converges_in_one_pass_and_is_then_idempotent():
    dp = ModelDatapath({"tap1", "tap2", "tap3", "u1"})
    want = desired_state(view([P1, P2, P3], R12))
    first = reconcile(dp, want)
    assert not first.failed and first.applied
    assert dp.observe() == want
    assert reconcile(dp, want).converged


def test_sweeps_what_is_no_longer_wanted():
    dp = ModelDatapath({"tap1", "tap2", "tap3"})
    converge(dp, desired_state(view([P1, P2, P3], R12)))
    want = desired_state(view([P1]))
    converge(dp, want)
    assert dp.observe() == want
    converge(dp, desired_state(view([])))
    assert dp.observe() == DatapathState()


def test_restart_with_a_fresh_reconciler_sweeps_orphans():
    dp = ModelDatapath({"tap1", "tap2", "tap3"})
    converge(dp, desired_state(view([P1, P3], R12)))
    # a "restarted agent" knows only P1 now: the same backend state is observed and swept
    want = desired_state(view([P1]))
    assert converge(dp, want).converged or dp.observe() == want
    assert dp.observe() == want


def test_refused_object_is_reported_and_others_still_applied():
    dp = ModelDatapath({"tap1", "tap3"})
    want = desired_state(view([P1, P3]))
    bad = Route(table_for_vni(5), "100.64.1.11/32", nexthops=next(r.nexthops for r in want.routes if r.prefix == "100.64.1.11/32" and r.table == table_for_vni(5)))
    dp.refuse[bad] = errno.EPERM
    res = reconcile(dp, want)
    assert [f.op.obj for f in res.failed] == [bad]
    assert "EPERM" in str(res.failed[0]) and "100.64.1.11/32" in str(res.failed[0])
    have = dp.observe()
    assert have.routes == want.routes - {bad}
    del dp.refuse[bad]
    reconcile(dp, want)
    assert dp.observe() == want


def test_missing_vif_fails_only_that_port():
    dp = ModelDatapath({"tap1"})  # tap2 not plugged yet
    want = desired_state(view([P1, P2]))
    res = converge(dp, want)
    assert res.failed and all("tap2" in str(f) for f in res.failed)
    assert any(v.name == "tap1" for v in dp.observe().vifs)
    dp.links.add("tap2")
    converge(dp, want)
    assert dp.observe() == want


def test_incremental_equals_recompute():
    """Adding ports one by one converges to the same state as computing all at once."""
    dp = ModelDatapath({"tap1", "tap2", "tap3"})
    ports = []
    for p in (P1, P2, P3):
        ports.append(p)
        converge(dp, desired_state(view(ports, R12)))
    fresh = ModelDatapath({"tap1", "tap2", "tap3"})
    converge(fresh, desired_state(view([P1, P2, P3], R12)))
    assert dp.observe() == fresh.observe()
