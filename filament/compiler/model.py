"""Typed models of what the compiler reads (intent) and writes (derived objects).

Intent objects are parsed from the API's JSON (a watch `put` or a detail list entry)
into frozen dataclasses keyed by fq-name string (`a:b:c`), as the original schema
transformer keys its graph. Parsing never raises on bad input: missing or malformed
fields become empty values, and the rules report what they had to skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATOR = "filament.compiler"
OWNER_KEY = "filament.compiler/owner"   # annotation naming the owner of an auto route target

# Rule uuids of the implicit ACL entries (cfgm_common RULE_IMPLICIT_*_UUID).
IMPLICIT_ALLOW_UUID = "00000000-0000-0000-0000-100000000001"
IMPLICIT_DENY_UUID = "00000000-0000-0000-0000-100000000002"

# Routing instances that never get an auto route target (ST `RoutingInstanceST.__init__`).
NO_RT_INSTANCES = frozenset({
    "default-domain:default-project:ip-fabric:__default__",
    "default-domain:default-project:__link_local__:__link_local__",
})
IP_FABRIC_VN = "default-domain:default-project:ip-fabric"


def fq_str(fq_name: Any) -> str:
    return ":".join(fq_name) if isinstance(fq_name, (list, tuple)) else str(fq_name)


def _refs(obj: dict, field_: str) -> list[dict]:
    refs = obj.get(field_)
    return [r for r in refs if isinstance(r, dict) and r.get("to")] if isinstance(refs, list) else []


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    """`{"route_target": [...]}`-style wrapper -> tuple of strings."""
    if isinstance(value, dict):
        value = value.get(key)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


# --- policy rules (shared by network policies and security groups) -----------------

@dataclass(frozen=True, slots=True)
class Subnet:
    ip_prefix: str
    ip_prefix_len: int

    def to_json(self) -> dict:
        return {"ip_prefix": self.ip_prefix, "ip_prefix_len": self.ip_prefix_len}


@dataclass(frozen=True, slots=True)
class Address:
    """`AddressType`: exactly one of its fields is meant to be set."""
    virtual_network: str | None = None
    security_group: str | None = None
    network_policy: str | None = None
    subnet: Subnet | None = None
    subnet_list: tuple[Subnet, ...] = ()

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        if self.virtual_network is not None:
            out["virtual_network"] = self.virtual_network
        if self.security_group is not None:
            out["security_group"] = self.security_group
        if self.network_policy is not None:
            out["network_policy"] = self.network_policy
        if self.subnet is not None:
            out["subnet"] = self.subnet.to_json()
        if self.subnet_list:
            out["subnet_list"] = [s.to_json() for s in self.subnet_list]
        return out

    @property
    def subnets(self) -> tuple[Subnet, ...]:
        return ((self.subnet,) if self.subnet else ()) + self.subnet_list


@dataclass(frozen=True, slots=True)
class PortRange:
    start_port: int = 0
    end_port: int = 65535

    def to_json(self) -> dict:
        return {"start_port": self.start_port, "end_port": self.end_port}


ANY_PORT = PortRange()


@dataclass(frozen=True, slots=True)
class PolicyRule:
    rule_uuid: str | None
    direction: str | None
    protocol: str | None
    ethertype: str | None
    src_addresses: tuple[Address, ...]
    dst_addresses: tuple[Address, ...]
    src_ports: tuple[PortRange, ...]
    dst_ports: tuple[PortRange, ...]
    action: dict | None        # `action_list` as sent, None when absent


def _subnet(raw: Any) -> Subnet | None:
    if not isinstance(raw, dict) or raw.get("ip_prefix") is None:
        return None
    try:
        return Subnet(str(raw["ip_prefix"]), int(raw.get("ip_prefix_len") or 0))
    except (TypeError, ValueError):
        return None


def _address(raw: Any) -> Address:
    if not isinstance(raw, dict):
        return Address()
    subnets = raw.get("subnet_list") or []
    return Address(
        virtual_network=raw.get("virtual_network") or None,
        security_group=raw.get("security_group") or None,
        network_policy=raw.get("network_policy") or None,
        subnet=_subnet(raw.get("subnet")),
        subnet_list=tuple(s for s in (_subnet(x) for x in subnets) if s),
    )


def _port(raw: Any) -> PortRange:
    if not isinstance(raw, dict):
        return ANY_PORT
    try:
        start = raw.get("start_port")
        end = raw.get("end_port")
        return PortRange(0 if start is None else int(start), 65535 if end is None else int(end))
    except (TypeError, ValueError):
        return ANY_PORT


def parse_rules(entries: Any) -> tuple[PolicyRule, ...]:
    """`{"policy_rule": [...]}` (network_policy_entries / security_group_entries)."""
    raw_rules = entries.get("policy_rule") if isinstance(entries, dict) else None
    rules = []
    for r in raw_rules if isinstance(raw_rules, list) else []:
        if not isinstance(r, dict):
            continue
        action = r.get("action_list")
        proto = r.get("protocol")
        rules.append(PolicyRule(
            rule_uuid=r.get("rule_uuid"),
            direction=r.get("direction"),
            protocol=str(proto) if proto is not None else None,
            ethertype=r.get("ethertype"),
            src_addresses=tuple(_address(a) for a in r.get("src_addresses") or []),
            dst_addresses=tuple(_address(a) for a in r.get("dst_addresses") or []),
            src_ports=tuple(_port(p) for p in r.get("src_ports") or []),
            dst_ports=tuple(_port(p) for p in r.get("dst_ports") or []),
            action=action if isinstance(action, dict) else None,
        ))
    return tuple(rules)


# --- intent objects -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PolicyAttachment:
    policy: str                 # fq-name string of the network-policy
    sequence: tuple[int, int]   # (major, minor); missing sequence sorts last
    dynamic: bool               # a `timer` puts the rules into the `dynamic` ACL


@dataclass(frozen=True, slots=True)
class VirtualNetwork:
    fq: str
    uuid: str
    parent: str                           # project fq-name string
    policies: tuple[PolicyAttachment, ...]
    route_targets: tuple[str, ...]        # route_target_list
    import_targets: tuple[str, ...]
    export_targets: tuple[str, ...]
    provider_links: tuple[str, ...]       # virtual_network_refs (provider networks)
    is_provider_network: bool
    fabric_snat: bool

    @property
    def name(self) -> str:
        return self.fq.rsplit(":", 1)[-1]

    @property
    def primary_ri(self) -> str:
        return f"{self.fq}:{self.name}"


LAST = 2 ** 63 - 1


def parse_virtual_network(obj: dict) -> VirtualNetwork:
    fq = obj.get("fq_name") or []
    policies = []
    for ref in _refs(obj, "network_policy_refs"):
        attr = ref.get("attr") if isinstance(ref.get("attr"), dict) else {}
        seq = attr.get("sequence") if isinstance(attr.get("sequence"), dict) else None
        try:
            order = (int(seq.get("major")), int(seq.get("minor"))) if seq else (LAST, LAST)
        except (TypeError, ValueError):
            order = (LAST, LAST)
        policies.append(PolicyAttachment(fq_str(ref["to"]), order, bool(attr.get("timer"))))
    policies.sort(key=lambda p: (p.sequence, p.policy))
    return VirtualNetwork(
        fq=fq_str(fq), uuid=obj.get("uuid", ""), parent=fq_str(fq[:-1]),
        policies=tuple(policies),
        route_targets=_str_list(obj.get("route_target_list"), "route_target"),
        import_targets=_str_list(obj.get("import_route_target_list"), "route_target"),
        export_targets=_str_list(obj.get("export_route_target_list"), "route_target"),
        provider_links=tuple(sorted(fq_str(r["to"]) for r in _refs(obj, "virtual_network_refs"))),
        is_provider_network=bool(obj.get("is_provider_network")),
        fabric_snat=bool(obj.get("fabric_snat")),
    )


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    fq: str
    rules: tuple[PolicyRule, ...]


def parse_network_policy(obj: dict) -> NetworkPolicy:
    return NetworkPolicy(fq_str(obj.get("fq_name") or []),
                         parse_rules(obj.get("network_policy_entries")))


@dataclass(frozen=True, slots=True)
class RoutingInstance:
    fq: str
    uuid: str
    network: str          # parent VN fq-name string
    is_default: bool


def parse_routing_instance(obj: dict) -> RoutingInstance:
    fq = obj.get("fq_name") or []
    return RoutingInstance(fq_str(fq), obj.get("uuid", ""), fq_str(fq[:-1]),
                           bool(obj.get("routing_instance_is_default")))


@dataclass(frozen=True, slots=True)
class LogicalRouter:
    fq: str
    uuid: str
    ports: tuple[str, ...]                 # router-interface VMI fq-name strings
    configured_targets: tuple[str, ...]
    vxlan_routing: bool


def parse_logical_router(obj: dict) -> LogicalRouter:
    return LogicalRouter(
        fq=fq_str(obj.get("fq_name") or []), uuid=obj.get("uuid", ""),
        ports=tuple(sorted(fq_str(r["to"]) for r in _refs(obj, "virtual_machine_interface_refs"))),
        configured_targets=_str_list(obj.get("configured_route_target_list"), "route_target"),
        vxlan_routing=obj.get("logical_router_type") == "vxlan-routing",
    )


@dataclass(frozen=True, slots=True)
class Port:
    """A virtual-machine-interface, as far as the compiler cares: its network."""
    fq: str
    network: str | None


def parse_port(obj: dict) -> Port:
    refs = _refs(obj, "virtual_network_refs")
    return Port(fq_str(obj.get("fq_name") or []), fq_str(refs[0]["to"]) if refs else None)


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    fq: str
    sg_id: int | None
    rules: tuple[PolicyRule, ...]


def parse_security_group(obj: dict) -> SecurityGroup:
    sg_id = obj.get("configured_security_group_id") or obj.get("security_group_id")
    try:
        sg_id = int(sg_id) if sg_id is not None else None
    except (TypeError, ValueError):
        sg_id = None
    return SecurityGroup(fq_str(obj.get("fq_name") or []), sg_id,
                         parse_rules(obj.get("security_group_entries")))


@dataclass(frozen=True, slots=True)
class SystemConfig:
    asn: int = 64512
    four_byte: bool = False


def parse_system_config(obj: dict) -> SystemConfig:
    try:
        asn = int(obj.get("autonomous_system") or 64512)
    except (TypeError, ValueError):
        asn = 64512
    return SystemConfig(asn, bool(obj.get("enable_4byte_as")))


# --- what the compiler writes -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Ref:
    to: str                 # fq-name string of the target
    attr: Any = None        # JSON value, compared as-is

    def sort_key(self) -> tuple:
        return (self.to, repr(self.attr))


@dataclass(frozen=True)
class Derived:
    """An object the compiler owns (created with `id_perms.creator` = CREATOR)."""
    type: str
    fq_name: tuple[str, ...]
    parent_type: str | None
    props: dict = field(hash=False, compare=True)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the intent the compiler could not compile as written."""
    type: str
    fq: str
    message: str

    def __str__(self) -> str:
        return f"{self.type} {self.fq}: {self.message}"
