"""The agent's config: the IFMap subgraph the control node sends, applied in order, and
read (pure) into networks and VMIs. Values arrive as strings / nested dicts; a single
repeated element arrives as a dict, not a one-element list, so readers accept both."""

from __future__ import annotations

import uuid as _uuid
from dataclasses import dataclass, field, replace

from filament.agent.view import ANY, AclAddress, AclEntry, FloatingIp, Network, SecurityGroup, Subnet
from filament.wire.xmpp.model import ConfigLink, ConfigNode, ConfigUpdate

Key = tuple[str, str]  # (type, fq-name string)


@dataclass
class ConfigDB:
    """What the control node has sent, as nodes (props) and undirected links."""

    nodes: dict[Key, dict] = field(default_factory=dict)
    links: set[tuple[Key, Key, str]] = field(default_factory=set)

    def apply(self, upd: ConfigUpdate) -> None:
        for op, obj in upd.ops:
            if isinstance(obj, ConfigNode):
                key = (obj.type, obj.name)
                if op == "update":
                    self.nodes[key] = dict(obj.props)
                else:
                    self.nodes.pop(key, None)
            elif isinstance(obj, ConfigLink):
                link = (obj.left, obj.right, obj.metadata)
                (self.links.add if op == "update" else self.links.discard)(link)

    def clear(self) -> None:
        self.nodes.clear()
        self.links.clear()


@dataclass(frozen=True, slots=True)
class Vmi:
    uuid: str
    name: str
    vrf: str  # "" when its network is not known yet
    macs: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    vm: str = ""
    vm_name: str = ""
    security_groups: tuple[str, ...] = ()  # fq-names


def as_list(v) -> list:
    if v is None or v == "":
        return []
    return v if isinstance(v, list) else [v]


def uuid_of(props: dict) -> str:
    u = (props.get("id_perms") or {}).get("uuid") or {}
    try:
        return str(_uuid.UUID(int=(int(u["uuid_mslong"]) << 64) | int(u["uuid_lslong"])))
    except (KeyError, TypeError, ValueError):
        return ""


def _neighbours(db: ConfigDB) -> dict[Key, set[Key]]:
    adj: dict[Key, set[Key]] = {}
    for a, b, _ in db.links:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    return adj


def vrf_name(vn_fq: str) -> str:
    return f"{vn_fq}:{vn_fq.rsplit(':', 1)[-1]}"


def networks(db: ConfigDB) -> dict[str, Network]:
    adj = _neighbours(db)
    out = {}
    for (t, name), props in db.nodes.items():
        if t != "virtual-network":
            continue
        vni = 0
        try:
            vni = int(((props.get("virtual_network_properties") or {}).get("vxlan_network_identifier")) or 0)
            vni = vni or int(props.get("virtual_network_network_id") or 0)
        except (TypeError, ValueError):
            pass
        if not vni:
            continue  # no id yet: fail closed
        subnets = []
        for nb in adj.get((t, name), ()):  # attr middle nodes carry VnSubnetsType
            if nb[0] != "virtual-network-network-ipam":
                continue
            value = (db.nodes.get(nb) or {}).get("value") or {}
            for s in as_list(value.get("ipam_subnets")):
                sn = s.get("subnet") or {}
                if sn.get("ip_prefix"):
                    subnets.append(Subnet(f"{sn['ip_prefix']}/{sn.get('ip_prefix_len', '32')}", s.get("default_gateway") or ""))
        acls = sorted(nb for nb in adj.get((t, name), ()) if nb[0] == "access-control-list" and nb in db.nodes)
        # the policy ACL (<vn>:<vn-name>) first, then any other (dynamic) one
        acls.sort(key=lambda k: k[1] != f"{name}:{name.rsplit(':', 1)[-1]}")
        acl = tuple(e for k in acls for e in acl_entries(db.nodes[k])) if acls else None
        out[vrf_name(name)] = Network(vrf_name(name), vni, tuple(sorted(subnets, key=lambda s: s.prefix)), uuid_of(props),
                                      acl, floating_ips(db, adj, name))
    return out


def floating_ips(db: ConfigDB, adj: dict[Key, set[Key]], vn: str) -> tuple[FloatingIp, ...]:
    """The floating IPs of a network's pools that are bound to a VMI (one per VMI)."""
    out = set()
    for pool in adj.get(("virtual-network", vn), ()):
        if pool[0] != "floating-ip-pool" or pool not in db.nodes:
            continue
        for fip in adj.get(pool, ()):
            props = db.nodes.get(fip)
            if fip[0] != "floating-ip" or props is None or not props.get("floating_ip_address"):
                continue
            for vmi in adj.get(fip, ()):
                u = uuid_of(db.nodes.get(vmi, {})) if vmi[0] == "virtual-machine-interface" else ""
                if u:
                    out.add(FloatingIp(str(props["floating_ip_address"]), u,
                                       str(props.get("floating_ip_fixed_ip_address") or "")))
    return tuple(sorted(out))


def vmis(db: ConfigDB) -> dict[str, Vmi]:
    adj = _neighbours(db)
    out = {}
    for (t, name), props in db.nodes.items():
        if t != "virtual-machine-interface":
            continue
        u = uuid_of(props)
        if not u:
            continue
        vns = sorted(n for n in adj.get((t, name), ()) if n[0] == "virtual-network")
        ips = sorted(
            str(db.nodes.get(n, {}).get("instance_ip_address") or "")
            for n in adj.get((t, name), ())
            if n[0] == "instance-ip"
        )
        vms = sorted(n for n in adj.get((t, name), ()) if n[0] == "virtual-machine")
        sgs = tuple(sorted(n[1] for n in adj.get((t, name), ()) if n[0] == "security-group"))
        macs = as_list((props.get("virtual_machine_interface_mac_addresses") or {}).get("mac_address"))
        out[u] = Vmi(
            u, name, vrf_name(vns[0][1]) if vns else "", tuple(macs), tuple(i for i in ips if i),
            uuid_of(db.nodes.get(vms[0], {})) if vms else "", vms[0][1] if vms else "", sgs,
        )
    return out


PROTOCOLS = {"any": "any", "icmp": "1", "tcp": "6", "udp": "17", "icmp6": "58"}


def _address(raw) -> AclAddress:
    """``AddressType`` -> one typed side; an unparsable side matches nothing (fail closed)."""
    if not raw:
        return ANY  # the SG ACL's own side is unconstrained
    if raw.get("subnet") or raw.get("subnet_list"):
        subs = as_list(raw.get("subnet")) + as_list(raw.get("subnet_list"))
        return AclAddress("prefix", ",".join(f"{s.get('ip_prefix')}/{s.get('ip_prefix_len')}" for s in subs))
    if raw.get("security_group") is not None:
        sg = str(raw["security_group"])
        return ANY if sg in ("-1", "any") else AclAddress("local" if sg == "local" else "group", sg)
    vn = raw.get("virtual_network")
    if vn:
        return ANY if vn == "any" else AclAddress("local" if vn == "local" else "network", vn)
    return AclAddress("none")


def _ports(raw) -> tuple[int, int]:
    raw = raw or {}
    try:
        lo, hi = int(raw.get("start_port", 0)), int(raw.get("end_port", 65535))
    except (TypeError, ValueError):
        return (0, 65535)
    return (max(lo, 0), 65535 if hi < 0 else hi)


def acl_entries(props: dict) -> tuple[AclEntry, ...]:
    """An access-control-list's ``access_control_list_entries`` -> typed entries in order.
    An entry without a rule_uuid is named ``<acl uuid>/<index>``. A bidirectional (``<>``)
    entry is followed by its reverse (sides and ports swapped) unless that is the same
    match, as the original agent does (``filter/acl.cc``)."""
    acl_uuid = uuid_of(props)
    out = []
    for i, r in enumerate(as_list((props.get("access_control_list_entries") or {}).get("acl_rule"))):
        m = r.get("match_condition") or {}
        proto = str(m.get("protocol") or "any").lower()
        proto = PROTOCOLS.get(proto, proto if proto.isdigit() else "none")
        action = str((r.get("action_list") or {}).get("simple_action") or "deny")
        entry = AclEntry(
            r.get("rule_uuid") or f"{acl_uuid or 'acl'}/{i}", "pass" if action == "pass" else "deny", proto,
            _address(m.get("src_address")), _address(m.get("dst_address")),
            _ports(m.get("src_port")), _ports(m.get("dst_port")), m.get("ethertype") or "IPv4",
        )
        out.append(entry)
        if r.get("direction") == "<>":
            rev = replace(entry, src=entry.dst, dst=entry.src, src_ports=entry.dst_ports, dst_ports=entry.src_ports)
            if rev != entry:
                out.append(rev)
    return tuple(out)


def security_groups(db: ConfigDB) -> dict[str, SecurityGroup]:
    """Security groups with their ingress/egress ACLs (the compiler's, by name)."""
    out = {}
    for (t, name), props in db.nodes.items():
        if t != "security-group":
            continue
        try:
            sg_id = int(props.get("configured_security_group_id") or props.get("security_group_id") or 0)
        except (TypeError, ValueError):
            sg_id = 0
        ingress = db.nodes.get(("access-control-list", f"{name}:ingress-access-control-list"))
        egress = db.nodes.get(("access-control-list", f"{name}:egress-access-control-list"))
        out[name] = SecurityGroup(name, sg_id, acl_entries(ingress) if ingress else (),
                                  acl_entries(egress) if egress else ())
    return out
