"""ConfigService on the memory store: transactions are all-or-nothing."""

import pytest

from filament.config.errors import ApiError, BadRequest, Conflict, NotFound
from filament.config.service import ConfigService
from filament.config.store import MemoryStore

P = ["default-domain", "default-project"]


@pytest.fixture
def svc():
    s = ConfigService(MemoryStore())
    s.start()
    return s


def vn_body(name, *subnets, **props):
    ipam = P + ["default-network-ipam"]
    attr = {"ipam_subnets": [{"subnet": {"ip_prefix": p, "ip_prefix_len": n}} for p, n in subnets]}
    return {"virtual-network": {"fq_name": P + [name], "parent_type": "project",
                                "network_ipam_refs": [{"to": ipam, "attr": attr}], **props}}


def snapshot(svc):
    return (svc.graph.revision, {u: o.encode() for u, o in svc.graph.objs.items()})


def test_defaults_and_ids(svc):
    g = svc.graph
    assert g.lookup("virtual-network", P + ["default-virtual-network"]).props[
        "virtual_network_network_id"] == 1
    assert g.lookup("virtual-network", P + ["ip-fabric"]).props["virtual_network_network_id"] == 2
    assert g.lookup("security-group", P + ["__no_rule__"]).props["security_group_id"] == 8000001
    vn, _ = svc.create("virtual-network", vn_body("a", ("10.0.0.0", 24)))
    assert vn.props["virtual_network_network_id"] == 5
    ri = [c for c in g.children_of(vn.uuid) if c.type == "routing-instance"]
    assert [r.fq_name for r in ri] == [P + ["a", "a"]]


@pytest.mark.parametrize("body, exc", [
    ({"virtual-network": {"parent_type": "project"}}, BadRequest),
    (vn_body("b", ("10.0.0.0", 24), is_shared="yes"), BadRequest),
    (vn_body("b", ("10.0.0.0", 24), ("10.0.0.0", 25)), BadRequest),
    (vn_body("b", ("10.0.0.0", 24), frobnicate=1), BadRequest),
    ({"virtual-network": {"fq_name": ["default-domain", "nope", "b"], "parent_type": "project"}},
     NotFound),
    ({"virtual-network": {"fq_name": P + ["b"], "parent_type": "project",
                          "network_policy_refs": [{"to": P + ["missing"]}]}}, BadRequest),
    (vn_body("default-virtual-network"), Conflict),
])
def test_failed_create_changes_nothing(svc, body, exc):
    before = snapshot(svc)
    with pytest.raises(exc):
        svc.create("virtual-network", body)
    assert snapshot(svc) == before


def test_failed_delete_and_update_change_nothing(svc):
    vn, _ = svc.create("virtual-network", vn_body("c", ("10.0.0.0", 24)))
    vmi, _ = svc.create("virtual-machine-interface", {"virtual-machine-interface": {
        "fq_name": P + ["p1"], "parent_type": "project",
        "virtual_network_refs": [{"uuid": vn.uuid}]}})
    before = snapshot(svc)
    with pytest.raises(Conflict):
        svc.delete("virtual-network", vn.uuid)
    with pytest.raises(ApiError):
        svc.update("virtual-network", vn.uuid, {"virtual-network": {
            "virtual_network_network_id": 99}})
    assert snapshot(svc) == before


def test_addresses_unique_within_and_across_txns(svc):
    vn, _ = svc.create("virtual-network", vn_body("d", ("10.9.0.0", 29)))
    got = []
    for i in range(4):
        iip, _ = svc.create("instance-ip", {"instance-ip": {
            "fq_name": [f"ip-{i}"], "virtual_network_refs": [{"uuid": vn.uuid}]}})
        got.append(iip.props["instance_ip_address"])
    assert got == ["10.9.0.4", "10.9.0.3", "10.9.0.2", "10.9.0.1"]    # .6 gw, .5 dns
    with pytest.raises(BadRequest, match="exhausted"):
        svc.create("instance-ip", {"instance-ip": {
            "fq_name": ["ip-x"], "virtual_network_refs": [{"uuid": vn.uuid}]}})
    with pytest.raises(Conflict):
        svc.create("instance-ip", {"instance-ip": {
            "fq_name": ["ip-y"], "instance_ip_address": "10.9.0.3",
            "virtual_network_refs": [{"uuid": vn.uuid}]}})
    svc.delete("instance-ip", svc.graph.lookup("instance-ip", ["ip-1"]).uuid)
    iip, _ = svc.create("instance-ip", {"instance-ip": {
        "fq_name": ["ip-z"], "virtual_network_refs": [{"uuid": vn.uuid}]}})
    assert iip.props["instance_ip_address"] == "10.9.0.3"


def test_restart_rebuilds_indexes():
    store = MemoryStore()
    s1 = ConfigService(store)
    s1.start()
    vn, _ = s1.create("virtual-network", vn_body("e", ("10.8.0.0", 24)))
    s1.create("instance-ip", {"instance-ip": {"fq_name": ["r1"],
                                              "virtual_network_refs": [{"uuid": vn.uuid}]}})
    s2 = ConfigService(store)
    s2.start()
    iip, _ = s2.create("instance-ip", {"instance-ip": {
        "fq_name": ["r2"], "virtual_network_refs": [{"uuid": vn.uuid}]}})
    assert iip.props["instance_ip_address"] == "10.8.0.251"
    vn2, _ = s2.create("virtual-network", vn_body("f"))
    assert vn2.props["virtual_network_network_id"] == 6


def test_tombstones_compacted_and_floor_moves():
    store = MemoryStore()
    s = ConfigService(store)
    s.start()
    s.graph.keep_tombstones = 2
    for i in range(6):
        o, _ = s.create("network-ipam", {"network-ipam": {"fq_name": P + [f"t{i}"],
                                                          "parent_type": "project"}})
        s.delete("network-ipam", o.uuid)
    assert len(s.graph.tombstones) <= 4
    assert s.graph.compacted > 0
    assert all(t[0] > s.graph.compacted for t in s.graph.tombstones)


def test_set_tag_single_and_multi_value(svc):
    from filament.config import actions
    for t, v in (("application", "a1"), ("application", "a2"), ("label", "x"), ("label", "y")):
        svc.create("tag", {"tag": {"fq_name": [f"{t}={v}"], "tag_type_name": t, "tag_value": v}})
    vn, _ = svc.create("virtual-network", vn_body("tagged"))
    actions.set_tag(svc, {"obj_type": "virtual_network", "obj_uuid": vn.uuid,
                          "application": {"is_global": True, "value": "a1"},
                          "label": {"is_global": True, "add_values": ["x", "y"]}})
    names = lambda: sorted(svc.graph.get(u).name for u, _ in svc.graph.get(vn.uuid).refs["tag"])
    assert names() == ["application=a1", "label=x", "label=y"]
    actions.set_tag(svc, {"obj_type": "virtual-network", "obj_uuid": vn.uuid,
                          "application": {"is_global": True, "value": "a2"},
                          "label": {"is_global": True, "delete_values": ["x"]}})
    assert names() == ["application=a2", "label=y"]
    with pytest.raises(NotFound):
        actions.set_tag(svc, {"obj_type": "virtual-network", "obj_uuid": vn.uuid,
                              "tier": {"is_global": True, "value": "web"}})
    with pytest.raises(BadRequest):
        actions.set_tag(svc, {"obj_type": "virtual-network", "obj_uuid": vn.uuid,
                              "application": {"is_global": True, "add_values": ["a1", "a2"]}})
    actions.set_tag(svc, {"obj_type": "virtual-network", "obj_uuid": vn.uuid, "label": None})
    assert names() == ["application=a2"]
