"""Table tests of the compiler's parts: allocator, route-target checks, ACL subset rule,
and the reconcile plan."""

from __future__ import annotations

import pytest

from filament.compiler import acl as a
from filament.compiler import route_target as rt
from filament.compiler.core import Engine
from filament.compiler.model import CREATOR, Address, Derived, PortRange, Ref, Subnet
from filament.compiler.reconcile import Actual, plan


# --- route targets ------------------------------------------------------------------

def test_allocator_lowest_free_and_stable():
    alloc = rt.Allocator(8000000, 8000009, {"b": 8000001}, reserved=[8000000])
    assert alloc.allocate("a") == 8000002          # 8000000 reserved, 8000001 taken
    assert alloc.allocate("b") == 8000001          # stable per owner
    alloc.free("b")
    assert alloc.allocate("c") == 8000001          # lowest free again
    alloc.reserve([])
    assert alloc.allocate("d") == 8000000


def test_allocator_exhaustion():
    alloc = rt.Allocator(8000, 8001)
    assert [alloc.allocate(o) for o in "abc"] == [8000, 8001, None]


@pytest.mark.parametrize("asn,four,expect", [(64512, False, (8000000, 8000000 + 2 ** 24 - 1)),
                                             (4200000000, False, (8000, 8000 + 2 ** 15 - 1)),
                                             (64512, True, (8000, 8000 + 2 ** 15 - 1))])
def test_auto_range(asn, four, expect):
    assert rt.auto_range(asn, four) == expect


@pytest.mark.parametrize("target,ok", [
    ("target:64512:100", True), ("target:64512:7999999", True), ("target:64512:8000000", False),
    ("target:64512:16777216", False), ("target:64512:16777217", True),
    ("target:65000:8000001", True), ("target:10.0.0.1:5", True), ("target:10.0.0.1:70000", False),
    ("target:4200000000L:5", True), ("target:4200000000:70000", False),
    ("target:x:1", False), ("route:1:2", False), ("target:1", False),
])
def test_user_target_check(target, ok):
    assert (rt.check_user_target(target, 64512) is None) is ok


def test_recover_takes_only_our_annotated_targets():
    ours = {"fq_name": ["target:64512:8000007"], "id_perms": {"creator": CREATOR},
            "annotations": {"key_value_pair": [{"key": "filament.compiler/owner", "value": "x"}]}}
    theirs = {**ours, "fq_name": ["target:64512:8000001"], "id_perms": {"creator": None}}
    other_asn = {**ours, "fq_name": ["target:65000:8000002"]}
    assert rt.recover([ours, theirs, other_asn], 64512) == {"x": 8000007}


def test_asn_change_keeps_numbers():
    engine = Engine()
    engine.apply([{"op": "put", "type": "virtual-network",
                   "object": {"uuid": "1", "fq_name": ["d", "p", "n"]}},
                  {"op": "put", "type": "routing-instance",
                   "object": {"uuid": "2", "fq_name": ["d", "p", "n", "n"],
                              "routing_instance_is_default": True}}])
    engine.apply([{"op": "put", "type": "global-system-config",
                   "object": {"fq_name": ["default-global-system-config"],
                              "autonomous_system": 65001}}])
    names = [k[2] for k in engine.desired if k[:2] == ("obj", "route-target")]
    assert names == ["target:65001:8000000"]


# --- ACL subset rule ------------------------------------------------------------------

def _e(src="a", dst="b", proto="any", sp=(0, 65535), dp=(0, 65535), action=a.PASS):
    def addr(x):
        if "/" in x:
            p, n = x.split("/")
            return Address(subnet=Subnet(p, int(n)))
        return a.vn(x)
    return a.rule(addr(src), addr(dst), action, protocol=proto, src_port=PortRange(*sp),
                  dst_port=PortRange(*dp))


@pytest.mark.parametrize("earlier,new,covered", [
    (_e(), _e(proto="6"), True),
    (_e(proto="6"), _e(), False),
    (_e(dp=(80, 80)), _e(dp=(80, 80)), True),
    (_e(dp=(80, 80)), _e(), False),
    (_e(dp=(-1, -1)), _e(dp=(80, 80)), True),    # end_port -1 means "any" (UI's any port)
    (_e(src="any"), _e(src="a"), True),
    (_e(src="a"), _e(src="any"), False),
    (_e(src="10.0.0.0/8"), _e(src="10.1.0.0/16"), True),
    (_e(src="10.1.0.0/16"), _e(src="10.0.0.0/8"), False),
    (_e(src="10.0.0.0/8"), _e(src="a"), False),
])
def test_covers(earlier, new, covered):
    assert a.covers(earlier, new) is covered


# --- reconcile plan -------------------------------------------------------------------

def _owned(type_, fq, **props):
    return {"uuid": f"u-{fq}", "fq_name": fq.split(":") if type_ != "route-target" else [fq],
            "id_perms": {"creator": CREATOR}, **props}


def test_plan_orders_creates_refs_deletes():
    desired = {
        ("obj", "route-target", "target:1:2"): Derived("route-target", ("target:1:2",), None, {}),
        ("refs", "routing-instance", "d:p:n:n", "route_target_refs"):
            (Ref("target:1:2", {"import_export": None}),),
    }
    actual = Actual()
    actual.put("routing-instance", {"uuid": "ri", "fq_name": ["d", "p", "n", "n"],
                                    "route_target_refs": [{"to": ["target:1:9"], "attr": None}]})
    actual.put("route-target", _owned("route-target", "target:1:9"))
    actual.put("route-target", {"uuid": "x", "fq_name": ["target:1:5"], "id_perms": {}})
    ops = plan(desired, actual)
    assert [(o.kind, o.type, o.fq) for o in ops] == [
        ("create", "route-target", "target:1:2"),
        ("update", "routing-instance", "d:p:n:n"),
        ("delete", "route-target", "target:1:9"),        # ours and unwanted; target:1:5 is not ours
    ]
    assert ops[0].body["id_perms"] == {"creator": CREATOR}
    assert ops[1].body == {"route_target_refs": [{"to": ["target:1:2"],
                                                  "attr": {"import_export": None}}]}


def test_plan_is_empty_when_converged_with_server_normalisation():
    entries = {"acl_rule": [], "dynamic": False}
    desired = {
        ("obj", "access-control-list", "d:p:n:n"):
            Derived("access-control-list", ("d", "p", "n", "n"), "virtual-network",
                    {"access_control_list_entries": entries}),
        ("refs", "routing-instance", "d:p:n:n", "routing_instance_refs"):
            (Ref("d:p:m:m", {"destination_instance": None}),),
    }
    actual = Actual()
    actual.put("access-control-list", _owned("access-control-list", "d:p:n:n",
                                             access_control_list_entries=entries))
    actual.put("routing-instance", {"uuid": "ri", "fq_name": ["d", "p", "n", "n"],
                                    "routing_instance_refs": [{"to": ["d", "p", "m", "m"],
                                                               "attr": {}, "uuid": "z"}]})
    assert plan(desired, actual) == []


def test_plan_never_touches_objects_it_does_not_own():
    desired = {("obj", "access-control-list", "d:p:n:n"):
               Derived("access-control-list", ("d", "p", "n", "n"), "virtual-network", {"x": 1})}
    actual = Actual()
    actual.put("access-control-list", {"uuid": "a", "fq_name": ["d", "p", "n", "n"],
                                       "id_perms": {"creator": "someone"}, "x": 2})
    actual.put("access-control-list", {"uuid": "b", "fq_name": ["d", "p", "o", "o"],
                                       "id_perms": {"creator": "someone"}})
    assert plan(desired, actual) == []
