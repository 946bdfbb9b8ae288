"""No port forwards before its ACLs are loaded: the reconciler's op order, checked after
every single op on the model backend, and its fail-closed answer to a refused filter."""

from __future__ import annotations

import errno

import pytest

from filament.agent.desired import desired_state
from filament.agent.reconcile import converge
from filament.agent.view import AclAddress, AclEntry, AgentView, Host, Network, PathNextHop, Port, RouteIn, SecurityGroup, Subnet
from filament.datapath.model import ModelDatapath
from filament.datapath.state import DatapathState, Op
from tests.unit.datapath.nft_text import acl_entry, mark_of

H1 = Host(vtep="198.18.0.1", underlay_dev="u1", underlay_mtu=1600)
RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),), acl=(AclEntry("pol-any", "pass"),))
WEB = SecurityGroup("d:p:web", 8000001, ingress=(AclEntry("tcp-80", "pass", "6", src=AclAddress("prefix", "0.0.0.0/0"),
                                                         dst_ports=(80, 80)),))
OPEN = Port("p0", "tap0", "02:00:00:00:00:10", "100.64.1.10", RED.vrf)
WEB1 = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", RED.vrf, security_groups=(WEB.name,))
WEB2 = Port("p2", "tap2", "02:00:00:00:00:12", "100.64.1.12", RED.vrf, security_groups=(WEB.name,))
ROUTES = {RED.vrf: {"100.64.1.20/32": RouteIn("100.64.1.20/32", (PathNextHop("198.18.0.2", 5),))}}


def view(*ports: Port) -> AgentView:
    return AgentView(H1, {RED.vrf: RED}, {p.uuid: p for p in ports}, ROUTES, {WEB.name: WEB})


class Watched(ModelDatapath):
    """A model datapath that checks, after every op, that each vif it would forward for
    (configured, with a route to it) is marked with its table and has the ACL stages
    ``want`` names for it loaded, in both directions."""

    def __init__(self, links: set[str], want: DatapathState):
        super().__init__(links)
        self.want: dict[tuple[str, str], list[str]] = {}
        for a in want.filter.acls:  # sorted: policy before sg, as the chains run them
            self.want.setdefault((a.vif, a.direction), []).append(a.stage)
        self.checked = 0

    def apply(self, op: Op) -> None:
        super().apply(op)
        routed = {nh.dev for r in self.objects["routes"] for nh in r.nexthops}
        for vif in {v.name for v in self.objects["vifs"]} & routed:
            text = self.filter.text
            assert text and mark_of(text, vif) is not None, f"{vif} forwards unmarked after {op}"
            for (name, direction), stages in self.want.items():
                if name == vif:
                    loaded = [c.split("-")[0] for c in acl_entry(text, vif, direction)]
                    assert loaded == stages, f"{vif} {direction} forwards with {loaded}, not {stages}, after {op}"
            self.checked += 1


@pytest.mark.parametrize("before,after", [
    ((), (WEB1,)),                      # first port on the host, with a security group
    ((OPEN,), (OPEN, WEB1)),            # a filtered port next to an open one
    ((WEB1,), (WEB1, WEB2)),            # a second port of the group
    ((OPEN, WEB1), (WEB2,)),            # ports removed and one added in the same pass
])
def test_no_port_forwards_before_its_acls_are_loaded(before, after):
    want = desired_state(view(*after))
    dp = Watched({"tap0", "tap1", "tap2", "u1"}, want)
    assert not converge(dp, desired_state(view(*before))).failed
    res = converge(dp, want)
    assert not res.failed and dp.observe() == want
    assert dp.checked  # the invariant was actually exercised on routed vifs


def test_a_refused_filter_routes_no_new_port():
    dp = ModelDatapath({"tap0", "tap1", "u1"})
    assert not converge(dp, desired_state(view(OPEN))).failed
    want = desired_state(view(OPEN, WEB1))
    dp.refuse[want.filter] = errno.EINVAL
    res = converge(dp, want)
    have = dp.observe()
    assert "tap1" not in {v.name for v in have.vifs}
    assert not any(nh.dev == "tap1" for r in have.routes for nh in r.nexthops)
    why = [str(f) for f in res.failed if f.op.kind == "vifs"]
    assert why and "nft filter is not loaded" in why[0] and "EINVAL" in why[0]
    del dp.refuse[want.filter]
    assert not converge(dp, want).failed and dp.observe() == want


class Counting(ModelDatapath):
    observed = 0

    def observe(self) -> DatapathState:
        self.observed += 1
        return super().observe()


def test_a_pass_without_failures_is_not_confirmed_by_another():
    dp = Counting({"tap0", "tap1", "u1"})
    assert converge(dp, desired_state(view(OPEN, WEB1))).applied
    assert dp.observed == 1
    dp, dp.observed = Counting({"tap0", "u1"}), 0  # tap1 not plugged yet
    assert converge(dp, desired_state(view(OPEN, WEB1))).failed
    assert dp.observed == 2  # a failure after progress is retried at once; one without progress is not
