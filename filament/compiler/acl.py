"""ACL entries (`AclRuleType`) and the original's subset rule for appending them.

An entry is dropped when an earlier entry of the same ACL already covers it: ports
contained, protocol equal or `any`, address equal or `any`, or subnet contained
(ST `AclRuleListST._rule_is_subset`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from filament.compiler.model import ANY_PORT, Address, PortRange, Subnet

# cfgm_common's protocol tables; numbers are written as strings.
PROTO_IPV4 = {"any": "any", "icmp": "1", "tcp": "6", "udp": "17", "icmp6": "58"}
PROTO_IPV6 = {"any": "any", "icmp": "58", "tcp": "6", "udp": "17", "icmp6": "58"}


def protocol_number(protocol: str | None, ethertype: str | None, *, missing: str | None) -> str | None:
    """Policy protocol name/number -> ACL protocol string; None when unknown."""
    if protocol is None:
        return missing
    if protocol.isdigit():
        return protocol if 0 <= int(protocol) <= 255 else None
    table = PROTO_IPV6 if ethertype == "IPv6" else PROTO_IPV4
    return table.get(protocol.lower())


@dataclass(frozen=True, slots=True)
class AclRule:
    protocol: str
    src: Address
    src_port: PortRange
    dst: Address
    dst_port: PortRange
    action: tuple[tuple[str, Any], ...]     # action_list items, sorted, JSON values
    rule_uuid: str | None = None
    direction: str | None = None
    ethertype: str | None = None

    @property
    def simple_action(self) -> str | None:
        return dict(self.action).get("simple_action")

    def to_json(self) -> dict:
        match: dict[str, Any] = {
            "protocol": self.protocol,
            "src_address": self.src.to_json(), "src_port": self.src_port.to_json(),
            "dst_address": self.dst.to_json(), "dst_port": self.dst_port.to_json(),
        }
        if self.ethertype:
            match["ethertype"] = self.ethertype
        out: dict[str, Any] = {"match_condition": match, "action_list": dict(self.action)}
        if self.rule_uuid:
            out["rule_uuid"] = self.rule_uuid
        if self.direction:
            out["direction"] = self.direction
        return out


def action_items(action: dict) -> tuple[tuple[str, Any], ...]:
    """Normalise an action_list to sorted items without null/empty members."""
    return tuple(sorted((k, v) for k, v in action.items() if v not in (None, [], {}, "")))


PASS = action_items({"simple_action": "pass"})
DENY = action_items({"simple_action": "deny"})


def vn(name: str) -> Address:
    return Address(virtual_network=name)


def rule(src: Address, dst: Address, action: tuple, *, protocol: str = "any",
         src_port: PortRange = ANY_PORT, dst_port: PortRange = ANY_PORT,
         rule_uuid: str | None = None, direction: str | None = None,
         ethertype: str | None = None) -> AclRule:
    return AclRule(protocol, src, src_port, dst, dst_port, action, rule_uuid, direction, ethertype)


def _port_in(lhs: PortRange, rhs: PortRange) -> bool:
    return lhs.start_port >= rhs.start_port and (rhs.end_port == -1 or lhs.end_port <= rhs.end_port)


def _net(s: Subnet) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(f"{s.ip_prefix}/{s.ip_prefix_len}", strict=False)
    except ValueError:
        return None


def _address_in(lhs: Address, rhs: Address) -> bool:
    lsub, rsub = lhs.subnets, rhs.subnets
    if not lsub and not rsub:
        return rhs.virtual_network in (lhs.virtual_network, "any")
    for ls in lsub:
        ln = _net(ls)
        for rs in rsub:
            rn = _net(rs)
            if ln is not None and rn is not None and ln.version == rn.version and ln.subnet_of(rn):
                return True
    return False


def covers(earlier: AclRule, new: AclRule) -> bool:
    return (_port_in(new.src_port, earlier.src_port) and _port_in(new.dst_port, earlier.dst_port)
            and earlier.protocol in (new.protocol, "any")
            and _address_in(new.src, earlier.src) and _address_in(new.dst, earlier.dst))


def append(entries: list[AclRule], new: AclRule) -> bool:
    """Append `new` unless an entry already in the list covers it."""
    if any(covers(e, new) for e in entries):
        return False
    entries.append(new)
    return True


def acl_json(entries: list[AclRule], dynamic: bool | None) -> dict:
    out: dict[str, Any] = {"acl_rule": [e.to_json() for e in entries]}
    if dynamic is not None:
        out["dynamic"] = dynamic
    return out
