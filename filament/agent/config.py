"""The agent's config: the IFMap subgraph the control node sends, applied in order, and
read (pure) into networks and VMIs. Values arrive as strings / nested dicts; a single
repeated element arrives as a dict, not a one-element list, so readers accept both."""

from __future__ import annotations

import uuid as _uuid
from dataclasses import dataclass, field

from filament.agent.view import Network, Subnet
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
        out[vrf_name(name)] = Network(vrf_name(name), vni, tuple(sorted(subnets, key=lambda s: s.prefix)), uuid_of(props))
    return out


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
        macs = as_list((props.get("virtual_machine_interface_mac_addresses") or {}).get("mac_address"))
        out[u] = Vmi(
            u, name, vrf_name(vns[0][1]) if vns else "", tuple(macs), tuple(i for i in ips if i),
            uuid_of(db.nodes.get(vms[0], {})) if vms else "", vms[0][1] if vms else "",
        )
    return out
