"""Compiler benchmark: full compile of N networks + N policies vs one incremental change.

Policy i passes tcp between network i and network i+1 (both carry it), so every
network has two policies, an ACL and two connections, like a chain of tenants.
Prints the time to compile everything from scratch, the time for one change at that
size (a policy's port edited), and the ratio incremental/full. Both include the
reconcile plan (the writes to send) against an API that already holds the result
of the previous step; both are checked to agree with a full recompute.

    .venv/bin/python bench/bench_compiler.py [--networks 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from filament.compiler.core import Engine, compile
from filament.compiler.reconcile import Actual, plan

PROJECT = ["default-domain", "bench"]


def vn_fq(i: int) -> list[str]:
    return [*PROJECT, f"vn{i}"]


def policy(i: int, n: int, port: int = 80) -> dict:
    return {"uuid": f"np-{i}", "fq_name": [*PROJECT, f"np{i}"],
            "network_policy_entries": {"policy_rule": [{
                "rule_uuid": f"rule-{i}", "direction": "<>", "protocol": "tcp",
                "src_addresses": [{"virtual_network": ":".join(vn_fq(i))}],
                "dst_addresses": [{"virtual_network": ":".join(vn_fq((i + 1) % n))}],
                "dst_ports": [{"start_port": port, "end_port": port}],
                "action_list": {"simple_action": "pass"}}]}}


def intent(n: int) -> list[dict]:
    events = []
    for i in range(n):
        events.append({"op": "put", "type": "network-policy", "uuid": f"np-{i}",
                       "object": policy(i, n)})
    for i in range(n):
        refs = [{"to": [*PROJECT, f"np{j}"], "attr": {"sequence": {"major": k, "minor": 0}}}
                for k, j in enumerate((i, (i - 1) % n))]
        events.append({"op": "put", "type": "virtual-network", "uuid": f"vn-{i}",
                       "object": {"uuid": f"vn-{i}", "fq_name": vn_fq(i),
                                  "network_policy_refs": refs}})
        ri = [*vn_fq(i), f"vn{i}"]
        events.append({"op": "put", "type": "routing-instance", "uuid": f"ri-{i}",
                       "object": {"uuid": f"ri-{i}", "fq_name": ri,
                                  "routing_instance_is_default": True}})
    return events


def as_api(desired: dict) -> Actual:
    """What the API holds once the compiler's writes have landed."""
    actual = Actual()
    for key, value in desired.items():
        if key[0] == "obj":
            actual.put(key[1], {"uuid": key[2], "fq_name": list(value.fq_name),
                                "id_perms": {"creator": "filament.compiler"}, **value.props})
    for key, value in desired.items():
        if key[0] == "refs":
            obj = actual.get(key[1], key[2]) or {"uuid": key[2], "fq_name": key[2].split(":")}
            obj[key[3]] = [{"to": r.to.split(":") if key[3] == "routing_instance_refs" else [r.to],
                            "attr": r.attr} for r in value]
            actual.put(key[1], obj)
    return actual


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--networks", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    n = args.networks
    events = intent(n)

    fulls, incs = [], []
    for rep in range(args.repeat):
        empty = Actual()
        for ev in events:        # the API already holds the intent and default RIs
            if ev["type"] == "routing-instance":
                empty.put("routing-instance", ev["object"])
        t0 = time.perf_counter()
        engine = Engine()
        engine.apply(events)
        engine.take_touched()
        ops = plan(engine.desired, empty)
        fulls.append(time.perf_counter() - t0)
        full_ops = len(ops)

        actual = as_api(engine.desired)
        change = {"op": "put", "type": "network-policy", "uuid": f"np-{n // 2}",
                  "object": policy(n // 2, n, port=8080 + rep)}
        t0 = time.perf_counter()
        engine.apply([change])
        inc_ops = plan(engine.desired, actual, engine.take_touched())
        incs.append(time.perf_counter() - t0)

    # the incremental result is the full recompute's (same allocations)
    final = [e if e["uuid"] != change["uuid"] else change for e in events]
    check = compile([(e["type"], e["object"]) for e in final], engine.allocator.by_owner)
    assert check.desired == engine.desired, "incremental != recompute"

    full, inc = statistics.median(fulls), statistics.median(incs)
    print(f"compiler benchmark: {n} networks + {n} policies "
          f"({len(engine.desired)} desired entries, {full_ops} writes from scratch)")
    print(f"  full compile + plan:          {full * 1000:9.1f} ms  (median of {args.repeat})")
    print(f"  one policy change + plan:     {inc * 1000:9.3f} ms  ({len(inc_ops)} writes)")
    print(f"  ratio incremental/full:       {inc / full:9.5f}  ({full / inc:.0f}x faster)")


if __name__ == "__main__":
    main()
