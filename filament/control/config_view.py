"""Config as the control node needs it (pure): routing-instance targets and each
vRouter's config subgraph, as the original's IFMap graph walk would send it."""

from __future__ import annotations

from dataclasses import dataclass

from filament.control.rib import InstanceConfig
from filament.wire.xmpp.model import ConfigLink, ConfigNode

# Which neighbour types a walk follows from each node type (the original's whitelist).
WALK: dict[str, frozenset[str]] = {
    k: frozenset(v)
    for k, v in {
        "virtual-router": ["virtual-machine", "virtual-machine-interface", "physical-router", "global-system-config", "network-ipam"],
        "global-system-config": ["global-vrouter-config", "global-qos-config"],
        "virtual-machine": ["virtual-machine-interface", "service-instance", "tag"],
        "virtual-machine-interface": [
            "virtual-network", "instance-ip", "security-group", "floating-ip", "alias-ip", "routing-instance",
            "interface-route-table", "service-health-check", "bgp-as-a-service", "qos-config", "bridge-domain",
            "tag", "port-tuple", "virtual-machine-interface", "logical-interface", "virtual-port-group",
            "application-policy-set",
        ],
        "virtual-network": [
            "routing-instance", "network-ipam", "access-control-list", "floating-ip-pool", "alias-ip-pool",
            "qos-config", "tag", "virtual-network", "multicast-policy", "network-policy",
        ],
        "network-policy": [],
        "instance-ip": ["virtual-network"],
        "security-group": ["access-control-list"],
        "floating-ip": ["floating-ip-pool", "instance-ip"],
        "floating-ip-pool": ["virtual-network"],
        "application-policy-set": ["firewall-policy"],
        "firewall-policy": ["firewall-rule"],
        "firewall-rule": ["address-group", "service-group"],
        "network-ipam": ["virtual-DNS"],
        "tag": ["application-policy-set"],
    }.items()
}
WATCHED_TYPES = sorted(
    set(WALK) | {t for v in WALK.values() for t in v} | {"routing-instance", "route-target", "global-system-config", "bgp-router"}
)
_NOT_PROPS = {"uuid", "fq_name", "parent_type", "parent_uuid", "parent_href", "href", "name", "perms2"}


def fq(obj: dict) -> str:
    return ":".join(obj.get("fq_name") or [obj.get("uuid", "")])


def instance_configs(objects: dict[str, dict[str, dict]]) -> dict[str, InstanceConfig]:
    """Routing instances with import/export targets (compiler-written), VN and connections."""
    vns = objects.get("virtual-network", {})
    ris = objects.get("routing-instance", {})
    by_uuid = {u: fq(o) for u, o in ris.items()}
    out = {}
    for uuid, ri in ris.items():
        imp, exp = set(), set()
        for ref in ri.get("route_target_refs") or []:
            rt = (ref.get("to") or [""])[-1]
            how = ((ref.get("attr") or {}).get("import_export")) or ""
            if how in ("", "import"):
                imp.add(rt)
            if how in ("", "export"):
                exp.add(rt)
        conns = set()
        for ref in ri.get("routing_instance_refs") or []:
            name = by_uuid.get(ref.get("uuid", "")) or ":".join(ref.get("to") or [])
            if name:
                conns.add(name)
        vn = vns.get(ri.get("parent_uuid", "")) if ri.get("parent_type") == "virtual-network" else None
        vn_name, vn_index, vxlan, vlan_based = "", 0, 0, False
        if vn is not None:
            vlan_based = evpn_flavor(vn) == "vlan-based"
            vn_name = fq(vn)
            vn_index = int(vn.get("virtual_network_network_id") or 0)
            props = vn.get("virtual_network_properties") or {}
            vxlan = int(props.get("vxlan_network_identifier") or 0) or vn_index
        name = fq(ri)
        out[name] = InstanceConfig(name, frozenset(imp), frozenset(exp), vn_name, vn_index, vxlan, frozenset(conns), vlan_based)
    return out


EVPN_FLAVOR_ANNOTATION = "evpn-flavor"


def evpn_flavor(vn: dict) -> str:
    """``vlan-aware`` (the original's default: ethernet tag = VNI) or ``vlan-based`` (tag 0),
    from the virtual-network annotation ``evpn-flavor`` (the schema has no such property)."""
    for kv in ((vn.get("annotations") or {}).get("key_value_pair") or []):
        if kv.get("key") == EVPN_FLAVOR_ANNOTATION and kv.get("value") in ("vlan-aware", "vlan-based"):
            return kv["value"]
    return "vlan-aware"


@dataclass(frozen=True)
class Subgraph:
    nodes: dict  # (type, name) -> object dict
    links: frozenset  # ConfigLink


class ConfigGraph:
    """Adjacency over all watched objects, rebuilt per config batch."""

    def __init__(self, objects: dict[str, dict[str, dict]]):
        self.objects = objects
        self.adj: dict[tuple[str, str], list[tuple[str, str, str, object]]] = {}
        self.vr_by_name: dict[str, str] = {}
        self.vmis_by_host: dict[str, list[str]] = {}
        for t, objs in objects.items():
            for u, o in objs.items():
                pt, pu = o.get("parent_type"), o.get("parent_uuid")
                if pt and pu and pu in objects.get(pt, {}):
                    self._edge((pt, pu), (t, u), f"{pt}-{t}", None)
                for k, refs in o.items():
                    if not k.endswith("_refs") or k.endswith("_back_refs") or not isinstance(refs, list):
                        continue
                    rt = k[: -len("_refs")].replace("_", "-")
                    for ref in refs:
                        ru = ref.get("uuid")
                        if ru and ru in objects.get(rt, {}):
                            self._edge((t, u), (rt, ru), f"{t}-{rt}", ref.get("attr"))
                if t == "virtual-router":
                    self.vr_by_name[(o.get("fq_name") or [""])[-1]] = u
                elif t == "virtual-machine-interface":
                    for kv in ((o.get("virtual_machine_interface_bindings") or {}).get("key_value_pair") or []):
                        if kv.get("key") == "host_id" and kv.get("value"):
                            self.vmis_by_host.setdefault(kv["value"], []).append(u)

    def _edge(self, a, b, meta, attr):
        self.adj.setdefault(a, []).append((b[0], b[1], meta, attr, True))
        self.adj.setdefault(b, []).append((a[0], a[1], meta, attr, False))

    def subgraph(self, vrouter: str, vms: frozenset[str] = frozenset()) -> Subgraph:
        """Everything reachable from the vRouter (plus subscribed VMs, host-bound VMIs)."""
        roots = []
        vr = self.vr_by_name.get(vrouter)
        if vr is None:
            return Subgraph({}, frozenset())
        roots.append(("virtual-router", vr))
        roots += [("virtual-machine", u) for u in vms if u in self.objects.get("virtual-machine", {})]
        roots += [("virtual-machine-interface", u) for u in self.vmis_by_host.get(vrouter, [])]
        seen = set(roots)
        stack = list(roots)
        links = set()
        while stack:
            cur = stack.pop()
            allowed = WALK.get(cur[0], frozenset())
            for nt, nu, meta, attr, forward in self.adj.get(cur, ()):
                if nt not in allowed and (nt, nu) not in seen:
                    continue
                nxt = (nt, nu)
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
                a, b = (cur, nxt) if forward else (nxt, cur)
                links.add((a, b, meta, _freeze(attr)))
        nodes = {(t, fq(self.objects[t][u])): self.objects[t][u] for t, u in seen}
        out_links = set()
        for a, b, meta, attr in links:
            an = (a[0], fq(self.objects[a[0]][a[1]]))
            bn = (b[0], fq(self.objects[b[0]][b[1]]))
            if attr is None:
                out_links.add(ConfigLink(an, bn, meta))
            else:
                mid = (meta, f"attr({min(an[1], bn[1])},{max(an[1], bn[1])})")
                nodes[mid] = {"__attr__": attr}
                out_links.add(ConfigLink(an, mid, meta))
                out_links.add(ConfigLink(mid, bn, meta))
        return Subgraph(nodes, frozenset(out_links))


def _freeze(attr):
    if attr is None or attr == {}:
        return None
    import orjson

    return orjson.dumps(attr, option=orjson.OPT_SORT_KEYS)


def config_node(key: tuple[str, str], obj: dict) -> ConfigNode:
    """The node with its set properties (attr middle nodes carry one `value`)."""
    if "__attr__" in obj:
        import orjson

        return ConfigNode(key[0], key[1], {"value": orjson.loads(obj["__attr__"])})
    props = {}
    for k, v in obj.items():
        if k in _NOT_PROPS or k.endswith("_refs") or v is None:
            continue
        props[k] = v
    ip = dict(props.get("id_perms") or {})
    if "uuid" not in ip and obj.get("uuid"):
        try:
            n = int(obj["uuid"].replace("-", ""), 16)
            ip["uuid"] = {"uuid_mslong": n >> 64, "uuid_lslong": n & ((1 << 64) - 1)}
        except ValueError:
            pass
    props["id_perms"] = ip
    return ConfigNode(key[0], key[1], props)


def diff(old: Subgraph, new: Subgraph) -> list[tuple[str, object]]:
    """Ops turning what the agent has into ``new``: nodes before the links that use
    them; link deletes before node deletes."""
    ops: list[tuple[str, object]] = []
    for key, obj in new.nodes.items():
        prev = old.nodes.get(key)
        if prev is None or (prev is not obj and prev != obj):
            ops.append(("update", config_node(key, obj)))
    for link in sorted(new.links - old.links, key=_link_key):
        ops.append(("update", link))
    for link in sorted(old.links - new.links, key=_link_key):
        ops.append(("delete", link))
    for key in sorted(old.nodes.keys() - new.nodes.keys()):
        ops.append(("delete", ConfigNode(key[0], key[1])))
    return ops


def _link_key(link: ConfigLink):
    return (link.metadata, link.left, link.right)
