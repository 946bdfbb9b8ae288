"""Incremental == recompute after any sequence of changes (Hypothesis).

A small universe of networks, policies (naming networks, `any`, `local`, other
policies), ports, routers, security groups and foreign route targets is created,
changed and deleted in random order; after every step the incremental engine must
equal a full recompute with the same allocations.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filament.compiler.core import Engine, compile

P = ["default-domain", "p"]
Q = ["default-domain", "q"]
NETS = [[*P, "a"], [*P, "b"], [*P, "c"], [*Q, "d"]]
POLICIES = [[*P, "x"], [*P, "y"], [*Q, "z"]]
PORTS = [[*P, "pa"], [*P, "pb"], [*Q, "pd"]]
SGS = [[*P, "s1"], [*P, "s2"]]


def addr_strategy():
    return st.one_of(
        st.sampled_from(NETS).map(lambda n: {"virtual_network": ":".join(n)}),
        st.sampled_from(["any", "local"]).map(lambda v: {"virtual_network": v}),
        st.sampled_from(POLICIES).map(lambda p: {"network_policy": ":".join(p)}),
        st.just({"subnet": {"ip_prefix": "10.0.0.0", "ip_prefix_len": 8}}),
    )


rule = st.fixed_dictionaries({
    "rule_uuid": st.sampled_from(["r1", "r2", "r3"]),
    "direction": st.sampled_from(["<>", ">"]),
    "protocol": st.sampled_from(["any", "tcp", "udp", "bogus"]),
    "src_addresses": st.lists(addr_strategy(), min_size=1, max_size=2),
    "dst_addresses": st.lists(addr_strategy(), min_size=1, max_size=2),
    "dst_ports": st.sampled_from([[], [{"start_port": 80, "end_port": 80}]]),
    "action_list": st.sampled_from([{"simple_action": "pass"}, {"simple_action": "deny"},
                                    {"apply_service": ["x"]}]),
})


def net_event(fq, policies, rts, delete):
    ri = [*fq, fq[-1]]
    if delete:
        return [{"op": "delete", "type": "routing-instance", "uuid": ":".join(ri), "fq_name": ri},
                {"op": "delete", "type": "virtual-network", "uuid": ":".join(fq), "fq_name": fq}]
    obj = {"uuid": ":".join(fq), "fq_name": fq, "route_target_list": {"route_target": rts},
           "network_policy_refs": [{"to": p, "attr": {"sequence": {"major": i, "minor": 0}}}
                                   for i, p in enumerate(policies)]}
    return [{"op": "put", "type": "virtual-network", "uuid": obj["uuid"], "object": obj},
            {"op": "put", "type": "routing-instance", "uuid": ":".join(ri),
             "object": {"uuid": ":".join(ri), "fq_name": ri, "routing_instance_is_default": True}}]


def simple(type_, fq, obj, delete):
    if delete:
        return [{"op": "delete", "type": type_, "uuid": ":".join(fq), "fq_name": fq}]
    return [{"op": "put", "type": type_, "uuid": ":".join(fq),
             "object": {"uuid": ":".join(fq), "fq_name": fq, **obj}}]


change = st.one_of(
    st.builds(net_event, st.sampled_from(NETS), st.lists(st.sampled_from(POLICIES), unique_by=str,
                                                         max_size=2),
              st.lists(st.sampled_from(["target:64512:100", "target:64512:8000001", "bad"]),
                       max_size=2, unique=True), st.booleans()),
    st.builds(lambda fq, rules, d: simple("network-policy", fq,
                                          {"network_policy_entries": {"policy_rule": rules}}, d),
              st.sampled_from(POLICIES), st.lists(rule, max_size=2), st.booleans()),
    st.builds(lambda fq, net, d: simple("virtual-machine-interface", fq,
                                        {"virtual_network_refs": [{"to": net}]}, d),
              st.sampled_from(PORTS), st.sampled_from(NETS), st.booleans()),
    st.builds(lambda ports, rts, d: simple("logical-router", [*P, "lr"], {
        "virtual_machine_interface_refs": [{"to": p} for p in ports],
        "configured_route_target_list": {"route_target": rts}}, d),
        st.lists(st.sampled_from(PORTS), unique_by=str, max_size=3),
        st.lists(st.sampled_from(["target:64512:555"]), max_size=1), st.booleans()),
    st.builds(lambda fq, other, sg_id, d: simple("security-group", fq, {
        "security_group_id": sg_id, "security_group_entries": {"policy_rule": [{
            "protocol": "tcp", "src_addresses": [{"security_group": ":".join(other)}],
            "dst_addresses": [{"security_group": "local"}]}]}}, d),
        st.sampled_from(SGS), st.sampled_from(SGS), st.sampled_from([8000002, 8000003, None]),
        st.booleans()),
    st.builds(lambda n, d: simple("route-target", [f"target:64512:{n}"], {}, d),
              st.sampled_from([8000000, 8000001, 8000002]), st.booleans()),
    st.builds(lambda asn: simple("global-system-config", ["default-global-system-config"],
                                 {"autonomous_system": asn}, False),
              st.sampled_from([64512, 64513])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(change, min_size=1, max_size=3), min_size=5, max_size=30))
def test_incremental_equals_recompute(batches):
    engine = Engine()
    world: dict[tuple, dict] = {}
    for batch in batches:
        events = [ev for ch in batch for ev in ch]
        for ev in events:
            key = (ev["type"], ev["uuid"])
            if ev["op"] == "put":
                world[key] = ev["object"]
            else:
                world.pop(key, None)
        engine.apply(events)
        inc = engine.result()
        full = compile([(t, o) for (t, _), o in world.items()], inc.allocations)
        assert full.desired == inc.desired
        assert full.problems == inc.problems
        numbers = list(inc.allocations.values())
        assert len(numbers) == len(set(numbers)), "two owners share a route target"
