"""diff() and the model backend's kernel-like preconditions."""

from __future__ import annotations

import pytest

from filament.datapath.base import DatapathError
from filament.datapath.model import ModelDatapath
from filament.datapath.state import DatapathState, Neighbour, NextHop, Op, Route, Vxlan, diff, vtep_mac

VX = Vxlan("flvx5", 5, "198.18.0.1", "u1", vtep_mac("198.18.0.1"))
R = Route(0x10005, "100.64.1.12/32", nexthops=(NextHop("flvx5", "198.18.0.2"),))
N = Neighbour("flvx5", "198.18.0.2", vtep_mac("198.18.0.2"))


def test_vtep_mac():
    assert vtep_mac("198.18.0.1") == "02:00:c6:12:00:01"


@pytest.mark.parametrize(
    "desired,actual,expected",
    [
        (DatapathState(), DatapathState(), []),
        (DatapathState(vxlans=frozenset({VX}), routes=frozenset({R})), DatapathState(),
         [("add", "vxlans"), ("add", "routes")]),
        (DatapathState(), DatapathState(vxlans=frozenset({VX}), routes=frozenset({R}), neighbours=frozenset({N})),
         [("del", "routes"), ("del", "neighbours"), ("del", "vxlans")]),
    ],
)
def test_diff_orders_dependencies(desired, actual, expected):
    assert [(op.action, op.kind) for op in diff(desired, actual)] == expected


def test_changed_route_is_replaced_not_deleted():
    r2 = Route(R.table, R.prefix, nexthops=(NextHop("flvx5", "198.18.0.3"),))
    ops = diff(DatapathState(routes=frozenset({r2})), DatapathState(routes=frozenset({R})))
    assert [(o.action, o.obj) for o in ops] == [("add", r2)]


def test_model_refuses_route_on_missing_device():
    dp = ModelDatapath()
    with pytest.raises(DatapathError) as ei:
        dp.apply(Op("add", "routes", R))
    assert "flvx5" in str(ei.value)


def test_model_deleting_device_drops_dependents():
    dp = ModelDatapath()
    for kind, obj in (("vxlans", VX), ("neighbours", N), ("routes", R)):
        dp.apply(Op("add", kind, obj))
    dp.apply(Op("del", "vxlans", VX))
    assert dp.observe() == DatapathState()
