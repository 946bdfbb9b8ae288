"""Pure config view: instance targets and per-vRouter subgraphs with diffs."""

from __future__ import annotations

from filament.control.config_view import ConfigGraph, Subgraph, diff, instance_configs
from filament.wire.xmpp.model import ConfigLink, ConfigNode

GSC = "default-global-system-config"


def obj(t, u, fq, parent=None, **kw):
    o = {"uuid": u, "fq_name": fq, **kw}
    if parent:
        o["parent_type"], o["parent_uuid"] = parent
    return t, u, o


def objects(*items):
    out: dict = {}
    for t, u, o in items:
        out.setdefault(t, {})[u] = o
    return out


BASE = [
    obj("global-system-config", "g", [GSC], autonomous_system=64512),
    obj("virtual-router", "vr1", [GSC, "c1"], ("global-system-config", "g"), virtual_machine_refs=[{"to": ["vm1"], "uuid": "vm1", "attr": None}]),
    obj("virtual-router", "vr2", [GSC, "c2"], ("global-system-config", "g")),
    obj("virtual-machine", "vm1", ["vm1"]),
    obj("virtual-network", "vn1", ["d", "p", "vn1"], virtual_network_network_id=5,
        network_ipam_refs=[{"to": ["d", "p", "ipam"], "uuid": "ipam", "attr": {"ipam_subnets": [{"subnet": {"ip_prefix": "10.1.0.0", "ip_prefix_len": 24}}]}}]),
    obj("virtual-network", "vn2", ["d", "p", "vn2"]),
    obj("network-ipam", "ipam", ["d", "p", "ipam"]),
    obj("virtual-machine-interface", "vmi1", ["d", "p", "vmi1"], virtual_machine_refs=[{"to": ["vm1"], "uuid": "vm1"}],
        virtual_network_refs=[{"to": ["d", "p", "vn1"], "uuid": "vn1"}]),
    obj("virtual-machine-interface", "vmi2", ["d", "p", "vmi2"], virtual_network_refs=[{"to": ["d", "p", "vn2"], "uuid": "vn2"}],
        virtual_machine_interface_bindings={"key_value_pair": [{"key": "host_id", "value": "c2"}]}),
    obj("routing-instance", "ri1", ["d", "p", "vn1", "vn1"], ("virtual-network", "vn1"),
        route_target_refs=[{"to": ["target:64512:1"], "uuid": "rt1", "attr": {"import_export": None}},
                           {"to": ["target:64512:9"], "uuid": "rt9", "attr": {"import_export": "import"}}],
        routing_instance_refs=[{"to": ["d", "p", "vn2", "vn2"], "uuid": "ri2"}]),
    obj("routing-instance", "ri2", ["d", "p", "vn2", "vn2"], ("virtual-network", "vn2")),
]


def test_instance_configs():
    cfgs = instance_configs(objects(*BASE))
    ri1 = cfgs["d:p:vn1:vn1"]
    assert ri1.import_targets == {"target:64512:1", "target:64512:9"}
    assert ri1.export_targets == {"target:64512:1"}
    assert ri1.virtual_network == "d:p:vn1" and ri1.vn_index == 5 and ri1.vxlan_id == 5
    assert ri1.connections == {"d:p:vn2:vn2"}


def test_subgraph_follows_the_whitelist():
    g = ConfigGraph(objects(*BASE)).subgraph("c1")
    assert set(g.nodes) >= {("virtual-router", f"{GSC}:c1"), ("virtual-machine", "vm1"), ("virtual-machine-interface", "d:p:vmi1"),
                            ("virtual-network", "d:p:vn1"), ("routing-instance", "d:p:vn1:vn1"), ("network-ipam", "d:p:ipam")}
    assert ("virtual-network", "d:p:vn2") not in g.nodes and ("virtual-router", f"{GSC}:c2") not in g.nodes
    assert ConfigLink(("virtual-machine-interface", "d:p:vmi1"), ("virtual-network", "d:p:vn1"), "virtual-machine-interface-virtual-network") in g.links
    mid = ("virtual-network-network-ipam", "attr(d:p:ipam,d:p:vn1)")
    assert mid in g.nodes
    assert ConfigLink(("virtual-network", "d:p:vn1"), mid, "virtual-network-network-ipam") in g.links
    # host-bound VMIs are roots too
    g2 = ConfigGraph(objects(*BASE)).subgraph("c2")
    assert ("virtual-network", "d:p:vn2") in g2.nodes and ("virtual-machine-interface", "d:p:vmi1") not in g2.nodes
    assert ConfigGraph(objects(*BASE)).subgraph("nope").nodes == {}


def test_diff_orders_nodes_links_deletes():
    new = ConfigGraph(objects(*BASE)).subgraph("c1")
    ops = diff(Subgraph({}, frozenset()), new)
    kinds = [(op, type(o).__name__) for op, o in ops]
    assert kinds.index(("update", "ConfigLink")) > max(i for i, k in enumerate(kinds) if k == ("update", "ConfigNode"))
    vn = next(o for _, o in ops if isinstance(o, ConfigNode) and o.type == "virtual-network")
    assert vn.props["virtual_network_network_id"] == 5 and "fq_name" not in vn.props
    assert diff(new, new) == []
    back = diff(new, Subgraph({}, frozenset()))
    first_node_delete = next(i for i, (op, o) in enumerate(back) if isinstance(o, ConfigNode))
    assert all(isinstance(o, ConfigLink) for _, o in back[:first_node_delete]) and all(op == "delete" for op, _ in back)
