"""Golden scenarios for the compiler: `input.yaml` (intent) -> `expected.yaml` (derived).

input.yaml:
  objects:   intent objects (type + API JSON without uuids), created in this order
  changes:   optional later steps, each `{put: {...}}` or `{delete: {type, fq_name}}`

The harness plays the API server's own side effects: a virtual network's default
routing instance appears and disappears with it (vnc-api.md section 12), and every
object gets a uuid derived from its name.

expected.yaml is a readable rendering of the desired state (`render`): route-target
objects with their owner, the refs the compiler manages, one line per ACL entry, and
the problems reported. Regenerate after a deliberate change with
`python tests/unit/compiler/compiler_scenario.py <name>` and review the diff.
"""

from __future__ import annotations

import sys
import uuid as uuidlib
from pathlib import Path
from typing import Any

import yaml

from filament.compiler.core import Engine
from filament.compiler.model import IMPLICIT_ALLOW_UUID, IMPLICIT_DENY_UUID, OWNER_KEY, fq_str

SCENARIOS = Path(__file__).parent / "scenarios"


def uid(type_: str, fq_name: list[str]) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{type_}/{fq_str(fq_name)}"))


def load(name: str) -> dict:
    return yaml.safe_load((SCENARIOS / name / "input.yaml").read_text())


def names() -> list[str]:
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "input.yaml").exists())


# --- turning intent into watch events (playing the API server) ------------------------

def put_events(obj: dict) -> list[dict]:
    obj = dict(obj)
    type_ = obj.pop("type")
    obj.setdefault("uuid", uid(type_, obj["fq_name"]))
    for field, refs in list(obj.items()):
        if field.endswith("_refs") and isinstance(refs, list):
            obj[field] = [dict(r, uuid=r.get("uuid") or uid(field[:-5].replace("_", "-"), r["to"]),
                               attr=r.get("attr")) for r in refs]
    events = [{"op": "put", "type": type_, "uuid": obj["uuid"], "object": obj}]
    if type_ == "virtual-network":
        ri_fq = [*obj["fq_name"], obj["fq_name"][-1]]
        events.append({"op": "put", "type": "routing-instance", "uuid": uid("routing-instance", ri_fq),
                       "object": {"fq_name": ri_fq, "uuid": uid("routing-instance", ri_fq),
                                  "parent_type": "virtual-network",
                                  "routing_instance_is_default": True}})
    return events


def delete_events(type_: str, fq_name: list[str]) -> list[dict]:
    events = [{"op": "delete", "type": type_, "uuid": uid(type_, fq_name), "fq_name": fq_name}]
    if type_ == "virtual-network":
        ri_fq = [*fq_name, fq_name[-1]]
        events.insert(0, {"op": "delete", "type": "routing-instance",
                          "uuid": uid("routing-instance", ri_fq), "fq_name": ri_fq})
    return events


def change_events(change: dict) -> list[dict]:
    if "put" in change:
        return put_events(change["put"])
    d = change["delete"]
    return delete_events(d["type"], d["fq_name"])


class World:
    """The raw intent as the API holds it, for recomputing from scratch."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict] = {}

    def apply(self, events: list[dict]) -> None:
        for ev in events:
            key = (ev["type"], ev["uuid"])
            if ev["op"] == "put":
                self.objects[key] = ev["object"]
            else:
                self.objects.pop(key, None)

    def items(self) -> list[tuple[str, dict]]:
        return [(t, o) for (t, _), o in self.objects.items()]


def steps(scenario: dict, variant: str) -> list[list[dict]]:
    """Event batches for one way of playing the scenario."""
    objects = [put_events(o) for o in scenario.get("objects") or []]
    changes = [change_events(c) for c in scenario.get("changes") or []]
    if variant == "forward":
        return objects + changes
    if variant == "reversed":
        return objects[::-1] + changes
    if variant == "squashed":
        world = World()
        for batch in objects + changes:
            world.apply(batch)
        return [[{"op": "put", "type": t, "uuid": o["uuid"], "object": o} for t, o in world.items()]]
    raise ValueError(variant)


# --- rendering the desired state ----------------------------------------------------

def _addr(a: dict) -> str:
    if "virtual_network" in a:
        return a["virtual_network"]
    if "security_group" in a:
        return f"sg={a['security_group']}"
    if "network_policy" in a:
        return f"policy={a['network_policy']}"
    subnets = ([a["subnet"]] if "subnet" in a else []) + a.get("subnet_list", [])
    if subnets:
        return ",".join(f"{s['ip_prefix']}/{s['ip_prefix_len']}" for s in subnets)
    return "*"


def _port(p: dict) -> str:
    return "any" if (p["start_port"], p["end_port"]) in ((0, 65535), (-1, -1)) \
        else f"{p['start_port']}-{p['end_port']}"


def acl_line(e: dict) -> str:
    mc = e["match_condition"]
    action = dict(e["action_list"])
    words = [mc["protocol"], f"{_addr(mc['src_address'])}:{_port(mc['src_port'])}", "->",
             f"{_addr(mc['dst_address'])}:{_port(mc['dst_port'])}",
             action.pop("simple_action", "-")]
    if action:
        words.append(yaml.safe_dump(action, default_flow_style=True).strip())
    if e.get("direction"):
        words.append(e["direction"])
    if mc.get("ethertype"):
        words.append(mc["ethertype"])
    uuid = e.get("rule_uuid")
    words.append({IMPLICIT_ALLOW_UUID: "#implicit-allow", IMPLICIT_DENY_UUID: "#implicit-deny",
                  None: "#-"}.get(uuid, f"#{uuid}"))
    return " ".join(words)


def render(desired: dict, problems: list) -> dict:
    out: dict[str, Any] = {"route-targets": {}, "routing-instances": {}, "logical-routers": {},
                           "access-control-lists": {}}
    for key in sorted(desired, key=repr):
        value = desired[key]
        if key[0] == "obj" and key[1] == "route-target":
            owner = None
            for kv in (value.props.get("annotations") or {}).get("key_value_pair", []):
                if kv["key"] == OWNER_KEY:
                    owner = kv["value"]
            out["route-targets"][key[2]] = owner
        elif key[0] == "obj" and key[1] == "access-control-list":
            entries = value.props["access_control_list_entries"]
            lines = [acl_line(e) for e in entries["acl_rule"]]
            if entries.get("dynamic"):
                lines.insert(0, "(dynamic)")
            out["access-control-lists"][key[2]] = lines
        elif key[0] == "refs":
            section = out["routing-instances" if key[1] == "routing-instance" else "logical-routers"]
            refs = section.setdefault(key[2], {})
            if key[3] == "route_target_refs":
                refs[key[3]] = {r.to: ((r.attr or {}).get("import_export") or "both")
                                for r in value} if key[1] == "routing-instance" \
                    else [r.to for r in value]
            elif value:
                refs[key[3]] = [r.to for r in value]
    out["problems"] = [str(p) for p in problems]
    return out


def canonical(rendered: dict) -> dict:
    """Replace auto-allocated target names by their owner, for runs whose arrival
    order (and so numbering) differs."""
    rename = {name: f"auto({owner})" for name, owner in rendered["route-targets"].items() if owner}

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {walk(k): walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return rename.get(x, x) if isinstance(x, str) else x
    return walk(rendered)


def run(scenario: dict, variant: str = "forward") -> tuple[Engine, World]:
    engine, world = Engine(), World()
    for batch in steps(scenario, variant):
        world.apply(batch)
        engine.apply(batch)
    return engine, world


if __name__ == "__main__":
    for name in sys.argv[1:] or names():
        engine, _ = run(load(name))
        result = engine.result()
        path = SCENARIOS / name / "expected.yaml"
        path.write_text(yaml.safe_dump(render(result.desired, result.problems), sort_keys=False,
                                       width=200))
        print("wrote", path)
