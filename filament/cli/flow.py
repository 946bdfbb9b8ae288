"""`filament flow -l`: flows of a compute host with their routing instance, action and rule.

Allowed flows are the conntrack table's entries (`conntrack -L -o extended`, zone =
routing instance); the ACL rule that passed a flow set its conntrack mark to the rule's
id. Dropped flows never enter the conntrack table, so the datapath records them in the
nft set `dropped` (addresses, protocol, the instance's table as packet mark, rule id as
conntrack mark; 2 min timeout). Ids are
`nft.rule_id(comment)`, so the rule comments of the live ruleset name them.
"""

from __future__ import annotations

import json
import subprocess

from filament.cli import CliError


def _run(argv: list[str], netns: str | None) -> str:
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CliError(f"{argv[0]}: {exc}") from None
    if r.returncode:
        raise CliError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout


def parse_conntrack(text: str) -> list[dict]:
    """`conntrack -L -o extended` lines -> original-direction tuples with mark and zone."""
    out = []
    for line in text.splitlines():
        t = line.split()
        if len(t) < 5 or t[0] not in ("ipv4", "ipv6"):
            continue
        kv: dict[str, str] = {}
        flags, state = [], ""
        for tok in t[5:]:
            if "=" in tok:
                k, v = tok.split("=", 1)
                kv.setdefault(k, v)  # first occurrence = original direction
            elif tok.startswith("["):
                flags.append(tok.strip("[]"))
            elif tok.isupper():
                state = tok
        out.append({
            "proto": t[2], "src": kv.get("src", ""), "dst": kv.get("dst", ""),
            "sport": kv.get("sport", ""), "dport": kv.get("dport", ""), "state": state, "flags": flags,
            "mark": int(kv.get("mark", "0")), "zone": int(kv.get("zone", "0")),
        })
    return out


def rule_names(ruleset: dict) -> dict[int, str]:
    """Rule id -> comment, for every commented rule of the owned table."""
    from filament.datapath.nft import rule_id

    out = {}
    for item in ruleset.get("nftables", []):
        c = (item.get("rule") or {}).get("comment")
        if c:
            out[rule_id(c)] = c
    return out


def dropped(ruleset: dict) -> list[dict]:
    """Elements of the `dropped` set: recently dropped flows with the dropping rule's id."""
    from filament.datapath.nft import DROPPED_SET, zone_for_vni
    from filament.datapath.state import TABLE_BASE

    out = []
    for item in ruleset.get("nftables", []):
        s = item.get("set")
        if not s or s.get("name") != DROPPED_SET:
            continue
        for e in s.get("elem", []):
            val = e.get("elem", {}).get("val", e) if isinstance(e, dict) else e
            parts = val.get("concat", []) if isinstance(val, dict) else []
            if len(parts) == 5:
                src, dst, proto, table, mark = parts
                zone = zone_for_vni(int(table) - TABLE_BASE) if int(table) >= TABLE_BASE else 0
                out.append({"proto": str(proto), "src": src, "dst": dst, "sport": "", "dport": "",
                            "state": "", "flags": [], "zone": zone, "mark": int(mark)})
    return out


def flows(netns: str | None, instances: dict[int, str] | None = None) -> list[dict]:
    """Allowed and dropped flows of the host, each with instance, action and rule."""
    from filament.datapath.nft import TABLE

    try:
        ruleset = json.loads(_run(["nft", "-j", "list", "table", "inet", TABLE], netns))
    except CliError:
        ruleset = {}  # no ACLs installed: flows are still listed
    names = rule_names(ruleset)
    instances = instances or {}
    out = []
    for f in parse_conntrack(_run(["conntrack", "-L", "-o", "extended"], netns)):
        out.append({**f, "action": "pass", "rule": names.get(f["mark"], "-")})
    for f in dropped(ruleset):
        out.append({**f, "action": "drop", "rule": names.get(f["mark"], f"id {f['mark']:#x}")})
    for f in out:
        f["instance"] = instances.get(f["zone"], f"zone {f['zone']}")
    return out


def format_flows(rows: list[dict]) -> str:
    head = f"{'Proto':<6}{'Source':<22}{'Destination':<22}{'Instance':<28}{'Action':<7}Rule"
    lines = [head]
    for f in rows:
        src = f"{f['src']}:{f['sport']}" if f["sport"] else f["src"]
        dst = f"{f['dst']}:{f['dport']}" if f["dport"] else f["dst"]
        lines.append(f"{f['proto']:<6}{src:<22}{dst:<22}{f['instance']:<28}{f['action']:<7}{f['rule']}")
    return "\n".join(lines)


def _instances(agent: str) -> dict[int, str]:
    """Zone -> routing instance name, from the agent introspect (empty if unreachable)."""
    import urllib.request

    from filament.datapath.nft import zone_for_vni

    try:
        req = urllib.request.Request(f"http://{agent}/Snh_VrfListReq", headers={"Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=3) as r:
            return {zone_for_vni(v["vni"]): v["name"] for v in json.load(r).get("vrfs", [])}
    except (OSError, ValueError, KeyError):
        return {}


def _main(args) -> int:
    if not args.list:
        raise CliError("nothing to do: use -l")
    rows = flows(args.netns, _instances(args.agent) if args.agent else None)
    print(json.dumps(rows, indent=1) if args.json else format_flows(rows))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("flow", help="flows of a compute host (conntrack + dropped) with their ACL rule")
    p.add_argument("-l", "--list", action="store_true", help="list flows")
    p.add_argument("--netns", help="the compute host's network namespace")
    p.add_argument("--agent", default="", help="agent introspect host:port (names routing instances)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_main)
