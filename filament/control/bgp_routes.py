"""Translation between control-node paths and BGP routes (pure).

VPN-table keys use the introspect prefix formats (reference §9); paths carry route
targets, encapsulations, security groups, router MAC and MAC mobility, which travel
as extended communities. EVPN label fields hold the raw VNI when the encapsulation
is VXLAN (RFC 8365) and an MPLS label (``label << 4 | BoS``) otherwise.
"""

from __future__ import annotations

from filament.control.path import Path, router_id_int
from filament.wire.bgp.attr.as_path import AsPath
from filament.wire.bgp.attr.basic import LocalPref, Med, Origin
from filament.wire.bgp.attr.ext_communities import ExtCommunities, ExtCommunity
from filament.wire.bgp.attr.pmsi import INGRESS_REPLICATION, PmsiTunnel
from filament.wire.bgp.common import EVPN, IPV4_VPN, IPV6_VPN, RTC, Family, RouteDistinguisher, ip_bytes
from filament.wire.xmpp.model import BROADCAST_MAC
from filament.wire.bgp.nlri.evpn import ESI_ZERO, InclusiveMulticast, IpPrefixRoute, MacIpAdvertisement
from filament.wire.bgp.nlri.rtc import RtMembership
from filament.wire.bgp.nlri.vpn import VpnPrefix

TABLE_FAMILY = {"bgp.l3vpn.0": IPV4_VPN, "bgp.l3vpn-inet6.0": IPV6_VPN, "bgp.evpn.0": EVPN, "bgp.rtarget.0": RTC}
FAMILY_TABLE = {v: k for k, v in TABLE_FAMILY.items()}


def nlri_for(table: str, key: str, path: Path, *, ethernet_tag: int | None = None):
    """The NLRI for a VPN-table key, or None when the key is not a BGP route.

    EVPN: ``ethernet_tag`` (when not None) replaces the key's tag (vlan-aware: the VNI,
    vlan-based: 0). An agent's broadcast route (type 2, MAC ff:…) becomes the VTEP's
    inclusive multicast route (type 3, originator = its next hop, RFC 7432 §11)."""
    fam = TABLE_FAMILY.get(table)
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
    """Path attributes (without MP_REACH) to advertise ``path``. ``vn_index``: the index of
    the network the path was originated in (0: unknown), sent as the origin-VN community;
    a learned path keeps the origin VN it came with. ``pmsi``: add the PMSI tunnel
    attribute of an inclusive multicast route (ingress replication to the next hop,
    label = the VNI or MPLS label)."""
    ext = [ExtCommunity.route_target(rt) for rt in path.route_targets]
    if path.origin_vn:
        asn, _, idx = path.origin_vn.partition(":")
        ext.append(ExtCommunity.vendor("originvn", int(asn), int(idx)))
    elif vn_index:
        ext.append(ExtCommunity.vendor("originvn", local_asn, vn_index))
    ext += [ExtCommunity.encapsulation(e) for e in path.encap if e in _ENCAPS]
    ext += [ExtCommunity.vendor("secgroup", local_asn, sg) for sg in path.security_groups]
    ext += [ExtCommunity.vendor("tag", local_asn, t) for t in path.tags]
    if path.router_mac:
        ext.append(ExtCommunity.router_mac(path.router_mac))
    if evpn and (path.sequence or path.sticky):
        ext.append(ExtCommunity.mac_mobility(path.sequence, path.sticky))
    attrs: list = [Origin(path.origin), AsPath(() if ibgp else ((2, (local_asn,)),))]
    if path.med:
        attrs.append(Med(path.med))
    if ibgp:
        attrs.append(LocalPref(path.local_pref))
    if ext:
        attrs.append(ExtCommunities(tuple(ext)))
    if pmsi:
        attrs.append(PmsiTunnel(INGRESS_REPLICATION, _evpn_label(path.label, path.encap), ip_bytes(path.next_hop)))
    return tuple(attrs)


_ENCAPS = {"gre", "vxlan", "nvgre", "mpls", "mpls-o-gre", "vxlan-gpe", "udp", "native"}


def path_from_bgp(peer: str, peer_router_id: str, family: Family, nlri, next_hop: str, attributes) -> tuple[str, str, Path]:
    """(table, key, path) for a route learned from a BGP neighbor."""
    by_type = {type(a): a for a in attributes}
    ext = by_type.get(ExtCommunities)
    comms = [str(c) for c in ext.communities] if ext else []
    encap = tuple(c.split(":", 1)[1] for c in comms if c.startswith("encapsulation:"))
    sgs = tuple(int(c.rsplit(":", 1)[1]) for c in comms if c.startswith("secgroup:"))
    mac = next((c.split(":", 1)[1] for c in comms if c.startswith("rtrmac:")), "")
    mob = next((c for c in comms if c.startswith("mobility:")), "")
    origin_vn = next((c.split(":", 1)[1] for c in comms if c.startswith("originvn:")), "")
    label = 0
    if isinstance(nlri, VpnPrefix):
        label = nlri.labels[0] if nlri.labels else 0
    elif isinstance(nlri, (MacIpAdvertisement, IpPrefixRoute)):
        label = _from_evpn_label(nlri.label, encap)
    as_path = by_type.get(AsPath)
    lp = by_type.get(LocalPref)
    med = by_type.get(Med)
    origin = by_type.get(Origin)
    path = Path(
        peer=peer, protocol="BGP", next_hop=next_hop, label=label, encap=encap,
        local_pref=lp.value if lp else 100, med=med.value if med else 0,
        sequence=int(mob.rsplit(":", 1)[1]) if mob else 0, sticky=mob.startswith("mobility:sticky"),
        as_path_len=as_path.path_length() if as_path else 0, origin=origin.value if origin else 0,
        security_groups=sgs, route_targets=tuple(c for c in comms if c.startswith("target:")),
        source_rd=str(nlri.rd) if hasattr(nlri, "rd") else "", router_mac=mac, origin_vn=origin_vn,
        router_id=router_id_int(peer_router_id),
    )
    return FAMILY_TABLE[family], str(nlri), path
