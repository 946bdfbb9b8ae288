"""Translation between control-node paths and BGP routes (pure).

VPN-table keys use the introspect prefix formats (reference §9); paths carry route
targets, encapsulations, security groups, router MAC and MAC mobility, which travel
as extended communities. EVPN label fields hold the raw VNI when the encapsulation
is VXLAN (RFC 8365) and an MPLS label (``label << 4 | BoS``) otherwise. IPv4/IPv6
unicast routes live in the master instance's ``inet.0`` / ``inet6.0`` keyed by prefix.

Reflection is per route, so the per-UPDATE work is split from the per-route work:
``path_template`` reads an UPDATE's attributes once, ``path_for_nlri`` makes each
route's path from it; ``attributes_for`` is memoised and hands out one tuple per
attribute set (the session groups routes into UPDATEs by that tuple).
"""

from __future__ import annotations

from functools import lru_cache

from filament.control.path import Path, router_id_int
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import LocalPref, Med, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.attr.pmsi import INGRESS_REPLICATION, PmsiTunnel
from filament.wire.bgp.common import (
    EVPN, IPV4_UNICAST, IPV4_VPN, IPV6_UNICAST, IPV6_VPN, RTC, Family, RouteDistinguisher, ip_bytes,
)
from filament.wire.xmpp.model import BROADCAST_MAC
from filament.wire.bgp.nlri.evpn import ESI_ZERO, InclusiveMulticast, IpPrefixRoute, MacIpAdvertisement
from filament.wire.bgp.nlri.ip import IpPrefix
from filament.wire.bgp.nlri.rtc import RtMembership
from filament.wire.bgp.nlri.vpn import VpnPrefix

TABLE_FAMILY = {"bgp.l3vpn.0": IPV4_VPN, "bgp.l3vpn-inet6.0": IPV6_VPN, "bgp.evpn.0": EVPN, "bgp.rtarget.0": RTC,
                "inet.0": IPV4_UNICAST, "inet6.0": IPV6_UNICAST}
UNICAST_FAMILIES = frozenset({IPV4_UNICAST, IPV6_UNICAST})
FAMILY_TABLE = {v: k for k, v in TABLE_FAMILY.items()}


def nlri_for(table: str, key: str, path: Path, *, ethernet_tag: int | None = None):
    """The NLRI for a VPN-table key, or None when the key is not a BGP route.

    EVPN: ``ethernet_tag`` (when not None) replaces the key's tag (vlan-aware: the VNI,
    vlan-based: 0). An agent's broadcast route (type 2, MAC ff:…) becomes the VTEP's
    inclusive multicast route (type 3, originator = its next hop, RFC 7432 §11)."""
    fam = TABLE_FAMILY.get(table)
    if fam in UNICAST_FAMILIES:
        return IpPrefix(key)
    if fam in (IPV4_VPN, IPV6_VPN):
        admin, num, prefix = key.split(":", 2)
        return VpnPrefix(RouteDistinguisher.parse(f"{admin}:{num}"), prefix, (path.label,))
    if fam == EVPN:
        rtype, rd, rest = key.split("-", 2)
        tag, _, tail = rest.partition("-")
        if ethernet_tag is not None:
            tag = str(ethernet_tag)
        label = _evpn_label(path.label, path.encap)
        if rtype == "2" and tail.startswith(BROADCAST_MAC + ","):
            return InclusiveMulticast(RouteDistinguisher.parse(rd), int(tag), path.next_hop)
        if rtype == "2":
            mac, _, ip = tail.partition(",")
            return MacIpAdvertisement(RouteDistinguisher.parse(rd), ESI_ZERO, int(tag), mac, "" if ip == "0.0.0.0" else ip, label)
        if rtype == "3":
            return InclusiveMulticast(RouteDistinguisher.parse(rd), int(tag), tail)
        if rtype == "5":
            return IpPrefixRoute(RouteDistinguisher.parse(rd), ESI_ZERO, int(tag), tail, "", label)
        return None
    if fam == RTC:
        if key == str(RtMembership()):
            return RtMembership()
        asn, _, target = key.partition(":")
        return RtMembership(int(asn), ExtCommunity.route_target(target))
    return None


def _evpn_label(label: int, encap) -> int:
    return label if "vxlan" in encap else (label << 4) | 1


def _from_evpn_label(raw: int, encap) -> int:
    return raw if "vxlan" in encap else raw >> 4


def attributes_for(path: Path, *, local_asn: int, ibgp: bool, evpn: bool = False, vn_index: int = 0,
                   pmsi: bool = False) -> tuple:
    """Path attributes (without MP_REACH / NEXT_HOP) to advertise ``path``. AS_PATH: the
    path's own (empty for routes from agents), with ``local_asn`` prepended toward eBGP.
    ``vn_index``: the index of the network the path was originated in (0: unknown), sent
    as the origin-VN community; a learned path keeps the origin VN it came with.
    ``pmsi``: add the PMSI tunnel attribute of an inclusive multicast route (ingress
    replication to the next hop, label = the VNI or MPLS label).

    Equal inputs give the same tuple object (memoised), so callers may group by identity."""
    attrs = _attributes(
        path.origin, path.as_path, path.med, path.local_pref, path.route_targets, path.origin_vn, path.encap,
        path.security_groups, path.tags, path.router_mac, path.sequence if evpn else 0, path.sticky if evpn else False,
        local_asn, ibgp, vn_index,
    )
    if pmsi:
        attrs += (PmsiTunnel(INGRESS_REPLICATION, _evpn_label(path.label, path.encap), ip_bytes(path.next_hop)),)
    return attrs


@lru_cache(maxsize=4096)
def _attributes(origin: int, as_path: tuple, med: int, local_pref: int, route_targets: tuple, origin_vn: str,
                encap: tuple, security_groups: tuple, tags: tuple, router_mac: str, sequence: int, sticky: bool,
                local_asn: int, ibgp: bool, vn_index: int) -> tuple:
    ext = [ExtCommunity.route_target(rt) for rt in route_targets]
    if origin_vn:
        asn, _, idx = origin_vn.partition(":")
        ext.append(ExtCommunity.vendor("originvn", int(asn), int(idx)))
    elif vn_index:
        ext.append(ExtCommunity.vendor("originvn", local_asn, vn_index))
    ext += [ExtCommunity.encapsulation(e) for e in encap if e in _ENCAPS]
    ext += [ExtCommunity.vendor("secgroup", local_asn, sg) for sg in security_groups]
    ext += [ExtCommunity.vendor("tag", local_asn, t) for t in tags]
    if router_mac:
        ext.append(ExtCommunity.router_mac(router_mac))
    if sequence or sticky:
        ext.append(ExtCommunity.mac_mobility(sequence, sticky))
    path = AsPath(as_path)
    attrs: list = [Origin(origin), path if ibgp else path.prepend(local_asn)]
    if med:
        attrs.append(Med(med))
    if ibgp:
        attrs.append(LocalPref(local_pref))
    if ext:
        attrs.append(ExtCommunities(tuple(ext)))
    return tuple(attrs)


_ENCAPS = {"gre", "vxlan", "nvgre", "mpls", "mpls-o-gre", "vxlan-gpe", "udp", "native"}


def path_from_bgp(peer: str, peer_router_id: str, family: Family, nlri, next_hop: str, attributes,
                  *, local_asn: int = 0, now: float = 0.0) -> tuple[str, str, Path]:
    """(table, key, path) for a route learned from a BGP neighbor."""
    return path_for_nlri(path_template(peer, peer_router_id, attributes, local_asn=local_asn, now=now), family, nlri, next_hop)


def path_template(peer: str, peer_router_id: str, attributes, *, local_asn: int = 0, now: float = 0.0) -> dict:
    """The fields every route of one UPDATE shares (``Path`` keyword arguments).
    ``local_asn`` (when not 0) in the AS_PATH marks the paths ``AsPathLooped`` (infeasible,
    RFC 4271 §9.1.2)."""
    by_type = {type(a): a for a in attributes}
    ext = by_type.get(ExtCommunities)
    comms = [str(c) for c in ext.communities] if ext else []
    encap = tuple(c.split(":", 1)[1] for c in comms if c.startswith("encapsulation:"))
    sgs = tuple(int(c.rsplit(":", 1)[1]) for c in comms if c.startswith("secgroup:"))
    mac = next((c.split(":", 1)[1] for c in comms if c.startswith("rtrmac:")), "")
    mob = next((c for c in comms if c.startswith("mobility:")), "")
    origin_vn = next((c.split(":", 1)[1] for c in comms if c.startswith("originvn:")), "")
    as_path = by_type.get(AsPath)
    lp = by_type.get(LocalPref)
    med = by_type.get(Med)
    origin = by_type.get(Origin)
    looped = bool(local_asn and as_path and local_asn in as_path.asns())
    return dict(
        peer=peer, protocol="BGP", encap=encap,
        local_pref=lp.value if lp else 100, med=med.value if med else 0,
        sequence=int(mob.rsplit(":", 1)[1]) if mob else 0, sticky=mob.startswith("mobility:sticky"),
        as_path_len=as_path.path_length() if as_path else 0, as_path=as_path.segments if as_path else (),
        origin=origin.value if origin else 0,
        security_groups=sgs, route_targets=tuple(c for c in comms if c.startswith("target:")),
        router_mac=mac, origin_vn=origin_vn, router_id=router_id_int(peer_router_id),
        flags=frozenset({"AsPathLooped"}) if looped else frozenset(), last_modified=now,
    )


def path_for_nlri(template: dict, family: Family, nlri, next_hop: str) -> tuple[str, str, Path]:
    """(table, key, path) for one route of an UPDATE whose shared fields are ``template``."""
    if type(nlri) is VpnPrefix:
        rd = str(nlri.rd)
        return FAMILY_TABLE[family], f"{rd}:{nlri.prefix}", Path(
            **template, next_hop=next_hop, label=nlri.labels[0] if nlri.labels else 0, source_rd=rd)
    if type(nlri) is IpPrefix:
        return FAMILY_TABLE[family], nlri.prefix, Path(**template, next_hop=next_hop)
    label = 0
    if isinstance(nlri, (MacIpAdvertisement, IpPrefixRoute)):
        label = _from_evpn_label(nlri.label, template["encap"])
    return FAMILY_TABLE[family], str(nlri), Path(
        **template, next_hop=next_hop, label=label, source_rd=str(nlri.rd) if hasattr(nlri, "rd") else "")
