"""Agent route items <-> control-node paths (pure).

``path_from_item`` validates an agent's item the way the original does and turns
it into a table key + primary path; ``advertise`` builds the entry (or retract)
the control node sends a subscribed agent for one route.
"""

from __future__ import annotations

import ipaddress

from filament.control.path import Path, derived_med, ecmp_paths, router_id_int
from filament.control.rib import Rib, is_flood_key
from filament.control.table import RouteTable
from filament.wire.xmpp.model import AFI_SAFI, BROADCAST_MAC, FAMILIES, ItemError, NextHop, RouteEntry

KNOWN_ENCAPS = ("gre", "udp", "vxlan", "mpls", "nvgre", "native", "vxlan-gpe")
ZERO_MAC = "00:00:00:00:00:00"


def _check_ip(address: str, what: str) -> ipaddress._BaseAddress:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ItemError(f"bad {what} {address[:48]!r}") from None
    if int(ip) == 0:
        raise ItemError(f"zero {what}")
    return ip


def _prefix(address: str, v6: bool) -> str:
    try:
        net = ipaddress.ip_network(address, strict=False)
    except ValueError:
        raise ItemError(f"bad prefix {address[:48]!r}") from None
    if (net.version == 6) != v6:
        raise ItemError(f"prefix {address} has the wrong address family")
    return net.with_prefixlen


def path_from_item(
    entry: RouteEntry,
    *,
    peer: str,
    peer_address: str,
    instance_id: int | None,
    primary_instance_id: int | None = None,
) -> tuple[str, str, Path]:
    """(family, table key, primary path) for an agent's published item."""
    family = FAMILIES.get((entry.afi, entry.safi))
    if family is None:
        raise ItemError(f"unsupported address family {entry.afi}/{entry.safi}")
    if len(entry.next_hops) != 1:
        raise ItemError(f"{len(entry.next_hops)} next-hops (exactly one expected)")
    nh = entry.next_hops[0]
    if nh.af not in (1, 2, 25):
        raise ItemError(f"next-hop af {nh.af}")
    _check_ip(nh.address, "next-hop address")
    iid = primary_instance_id if primary_instance_id is not None else (instance_id or 0)
    encap = tuple(e for e in nh.encap if e in KNOWN_ENCAPS)
    flags: frozenset[str] = frozenset()
    if nh.encap and not encap:
        flags = frozenset({"NoTunnelEncap"})
    lp = entry.local_pref or 100
    common = dict(
        peer=peer,
        protocol="XMPP",
        next_hop=nh.address,
        label=nh.label,
        l3_label=nh.l3_label,
        encap=encap,
        local_pref=lp,
        med=derived_med(entry.local_pref, entry.med),
        sequence=entry.sequence,
        sticky=entry.sticky,
        security_groups=entry.security_groups,
        tags=nh.tags,
        communities=entry.communities,
        sub_protocol=entry.sub_protocol,
        router_mac=nh.mac if nh.mac and nh.mac != ZERO_MAC else "",
        flags=flags,
        router_id=router_id_int(peer_address),
    )
    if family in ("inet", "inet6"):
        key = _prefix(entry.address, family == "inet6")
        if nh.label == 0:
            raise ItemError("label 0 in a routing instance")
        return family, key, Path(source_rd=f"{nh.address}:{iid}", **common)
    if family == "evpn":
        if entry.group:
            raise ItemError("EVPN SMET (type 6) routes are not supported")
        mac = entry.mac or ZERO_MAC
        addr = entry.address or "0.0.0.0/32"
        tag = entry.ethernet_tag
        if mac == BROADCAST_MAC:
            rd = f"{peer_address}:{iid}"
            key = f"2-{rd}-{tag}-{mac},0.0.0.0"
            return family, key, Path(source_rd=rd, etree_leaf=entry.etree_leaf, **common)
        if mac != ZERO_MAC:
            ip, _, plen = addr.partition("/")
            ipobj = ipaddress.ip_address(ip) if _is_ip(ip) else None
            if ipobj is None or (int(ipobj) and plen not in ("32", "128")):
                raise ItemError(f"bad EVPN MAC/IP address {addr[:48]!r}")
            key = f"2-0:0-{tag}-{mac},{ip}"
        else:
            key = f"5-0:0-{tag}-{_prefix(addr, ':' in addr)}"
        return family, key, Path(source_rd=f"{nh.address}:{iid}", etree_leaf=entry.etree_leaf, **common)
    # ermvpn: the agent's native tree route with its label block
    if not nh.label_block:
        raise ItemError("multicast next-hop without a label block")
    group = entry.group or "255.255.255.255"
    source = entry.source or "0.0.0.0"
    rd = f"{peer_address}:{iid}"
    key = f"0-{rd}-0.0.0.0,{group},{source}"
    common["label"] = int(nh.label_block.partition("-")[0])
    common["local_pref"] = 100
    return family, key, Path(source_rd=rd, label_block=nh.label_block, **common)


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def withdraw_key(entry: RouteEntry, *, peer_address: str, instance_id: int | None, primary_instance_id: int | None = None) -> tuple[str, str]:
    """(family, key) a dissociate refers to; next-hops are not needed."""
    family = FAMILIES.get((entry.afi, entry.safi))
    if family is None:
        raise ItemError(f"unsupported address family {entry.afi}/{entry.safi}")
    iid = primary_instance_id if primary_instance_id is not None else (instance_id or 0)
    if family in ("inet", "inet6"):
        return family, _prefix(entry.address, family == "inet6")
    if family == "evpn":
        mac = entry.mac or ZERO_MAC
        tag = entry.ethernet_tag
        addr = entry.address or "0.0.0.0/32"
        if mac == BROADCAST_MAC:
            return family, f"2-{peer_address}:{iid}-{tag}-{mac},0.0.0.0"
        if mac != ZERO_MAC:
            return family, f"2-0:0-{tag}-{mac},{addr.partition('/')[0]}"
        return family, f"5-0:0-{tag}-{_prefix(addr, ':' in addr)}"
    return family, f"0-{peer_address}:{iid}-0.0.0.0,{entry.group or '255.255.255.255'},{entry.source or '0.0.0.0'}"


# ---- control node -> agent --------------------------------------------------------


def item_id_for(family: str, key: str) -> str:
    """The `item id` / `retract id` the agent expects for a table key."""
    if family in ("inet", "inet6"):
        return key
    if family == "evpn":
        t, _rd, tag, tail = key.split("-", 3)
        if t == "2":
            mac, _, ip = tail.partition(",")
            base = f"{mac},{ip}/{'128' if ':' in ip else '32'}"
        else:
            base = f"{ZERO_MAC},{tail}"
        return base if tag == "0" else f"{tag}-{base}"
    # ermvpn "0-<rd>-0.0.0.0,<group>,<source>" -> "<rd>:<group>,<source>"
    _t, rd, tail = key.split("-", 2)
    _rid, _, gs = tail.partition(",")
    return f"{rd}:{gs}"


def _nh(p: Path, vn: str) -> NextHop:
    encap = p.encap or (("gre",) if p.label else ())
    return NextHop(address=p.next_hop, mac=p.router_mac, label=p.label, l3_label=p.l3_label, encap=encap, virtual_network=vn, tags=p.tags)


def advertise(rib: Rib, table: RouteTable, key: str, peer: str) -> tuple[str, RouteEntry | None] | None:
    """What ``peer`` should hold for ``key``: (id, entry), (id, None) = retract,
    or None when the route is none of this peer's business (another agent's flood route)."""
    family = table.family
    afi, safi = AFI_SAFI[family]
    ident = item_id_for(family, key)
    flood = is_flood_key(family, key)
    if flood and rib.flood_owner.get((table.name, key)) != peer:
        return None
    route = table.routes.get(key)
    paths = ecmp_paths(route.paths) if route else []
    if not paths:
        return ident, None
    best = paths[0]

    def vn_of(p: Path) -> str:
        if p.origin_vn:
            return rib.vn_of_origin(p.origin_vn)
        src = rib.tables.get(p.primary_table) if p.primary_table else table
        return rib.instance_vn(src.instance) if src is not None else "unresolved"

    seen: set[tuple[str, int]] = set()
    nhs = []
    for p in paths:
        if (p.next_hop, p.label) not in seen:
            seen.add((p.next_hop, p.label))
            nhs.append(_nh(p, vn_of(p)))
    common = dict(
        afi=afi, safi=safi, next_hops=tuple(nhs), local_pref=best.local_pref, med=best.med,
        sequence=best.sequence, sticky=best.sticky, security_groups=best.security_groups,
        virtual_network=nhs[0].virtual_network,
    )
    if family in ("inet", "inet6"):
        return ident, RouteEntry(address=key, communities=best.communities, **common)
    if family == "evpn":
        _t, _rd, tag, _tail = key.split("-", 3)
        mac, _, address = ident.split("-", 1)[-1].partition(",")
        olist = ()
        if flood:
            olist = tuple(
                _nh(r.paths[0], "") for k, r in sorted(table.routes.items())
                if k != key and is_flood_key(family, k) and r.paths and r.paths[0].feasible
            )
        return ident, RouteEntry(mac=mac, address=address, ethernet_tag=int(tag), etree_leaf=best.etree_leaf, olist=olist, **common)
    group, _, source = ident.rpartition(":")[2].partition(",")
    olist = tuple(
        NextHop(address=r.paths[0].next_hop, label=r.paths[0].label, encap=r.paths[0].encap)
        for k, r in sorted(table.routes.items())
        if k != key and r.paths and r.paths[0].feasible
    )
    own = NextHop(address=best.next_hop, label=best.label, encap=best.encap)
    common["next_hops"] = (own,)
    return ident, RouteEntry(group=group, source=source, olist=olist, source_label=best.label, **common)
