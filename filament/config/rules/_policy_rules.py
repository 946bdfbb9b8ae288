"""Checks shared by network-policy and security-group rules (PolicyEntriesType)."""

from __future__ import annotations

import orjson

from filament.config.errors import BadRequest, Conflict

PROTOCOL_NAMES = frozenset({"any", "icmp", "tcp", "udp", "icmp6"})


def _check_protocol(proto, path: str) -> None:
    if proto is None:
        return
    p = str(proto).lower()
    if p in PROTOCOL_NAMES:
        return
    if p.isdigit() and 0 <= int(p) <= 255:
        return
    raise BadRequest(f"{path}.protocol: Rule with invalid protocol : {proto}")


def check_rules(ctx, field: str, entries: dict | None, *, security_group: bool) -> None:
    """Fill rule uuids and refuse bad protocols, duplicates and (SG) rules without
    `local` on one side, or (policy) rules without an action."""
    if not entries:
        return
    rules = entries.get("policy_rule") or []
    seen: dict[bytes, int] = {}
    for i, rule in enumerate(rules):
        path = f"{field}.policy_rule[{i}]"
        _check_protocol(rule.get("protocol"), path)
        for side in ("src_ports", "dst_ports"):
            for j, pr in enumerate(rule.get(side) or []):
                lo, hi = pr.get("start_port"), pr.get("end_port")
                if lo is not None and hi is not None and lo != -1 and hi != -1 and lo > hi:
                    raise BadRequest(f"{path}.{side}[{j}]: start_port {lo} > end_port {hi}")
        if security_group:
            local = any((a or {}).get("security_group") == "local"
                        for a in (rule.get("src_addresses") or []) +
                        (rule.get("dst_addresses") or []))
            if not local:
                raise BadRequest(f"{path}: at least one side of a security group rule must "
                                 f"be 'local'")
        elif not rule.get("action_list"):
            raise BadRequest(f"{path}.action_list: a policy rule needs an action")
        key = orjson.dumps({k: v for k, v in rule.items() if k != "rule_uuid"},
                           option=orjson.OPT_SORT_KEYS)
        if key in seen:
            raise Conflict(f"Rule already exists : {path} duplicates "
                           f"{field}.policy_rule[{seen[key]}]")
        seen[key] = i
        if not rule.get("rule_uuid"):
            rule["rule_uuid"] = ctx.new_uuid()
