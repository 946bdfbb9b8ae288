"""Which BGP neighbors config asks for (pure): bgp-router objects → BgpPeerConfig.

As in the original, the control node finds its own bgp-router by hostname (the last
fq_name part). Its neighbors are the bgp-routers linked to it by a bgp-router ref in
either direction, plus every other ``control-node`` router: control nodes form an
iBGP full mesh automatically. Session attributes on the link override the remote
router's parameters (hold time, families, passive).
"""

from __future__ import annotations

from filament.control.bgp_session import BgpPeerConfig
from filament.wire.bgp.common import FAMILY_BY_NAME, IPV4_UNICAST, IPV4_VPN, Family

CONTROL_NODE_FAMILIES = ("route-target", "inet-vpn", "e-vpn", "inet6-vpn")
NEIGHBOR_DEFAULT_FAMILIES = ("inet", "inet-vpn")
DEFAULT_HOLD_TIME = 90


def _families(names) -> tuple[Family, ...]:
    return tuple(FAMILY_BY_NAME[n] for n in names if n in FAMILY_BY_NAME)


def _params(obj: dict) -> dict:
    return obj.get("bgp_router_parameters") or {}


def _session_attrs(ref: dict) -> dict:
    for sess in ((ref.get("attr") or {}).get("session") or []):
        for attrs in sess.get("attributes") or []:
            return attrs
    return {}


def bgp_peer_configs(objects: dict[str, dict[str, dict]], hostname: str, *, default_asn: int = 64512) -> list[BgpPeerConfig]:
    """The neighbors of the bgp-router named ``hostname`` (none if it has no bgp-router)."""
    routers = objects.get("bgp-router") or {}
    me_uuid = next((u for u, o in routers.items() if (o.get("fq_name") or [""])[-1] == hostname), None)
    if me_uuid is None:
        return []
    me = _params(routers[me_uuid])
    local_asn = me.get("local_autonomous_system") or me.get("autonomous_system") or default_asn
    my_families = _families(((me.get("address_families") or {}).get("family")) or CONTROL_NODE_FAMILIES)
    gr_helper = _gr_helper(objects)
    links: dict[str, dict] = {}
    for ref in routers[me_uuid].get("bgp_router_refs") or []:
        links[ref.get("uuid", "")] = _session_attrs(ref)
    for u, o in routers.items():
        for ref in o.get("bgp_router_refs") or []:
            if ref.get("uuid") == me_uuid:
                links.setdefault(u, _session_attrs(ref))
    if me.get("router_type", "control-node") == "control-node":
        for u, o in routers.items():
            if u != me_uuid and _params(o).get("router_type", "control-node") == "control-node":
                links.setdefault(u, {})
    out = []
    for u, attrs in sorted(links.items()):
        peer = routers.get(u)
        if peer is None:
            continue
        p = _params(peer)
        if p.get("admin_down") or attrs.get("admin_down") or not p.get("address"):
            continue
        is_cn = p.get("router_type", "control-node") == "control-node"
        names = ((attrs.get("address_families") or {}).get("family")
                 or (p.get("address_families") or {}).get("family")
                 or (CONTROL_NODE_FAMILIES if is_cn else NEIGHBOR_DEFAULT_FAMILIES))
        families = tuple(f for f in _families(names) if f in my_families or f == IPV4_UNICAST and not is_cn) or (IPV4_VPN,)
        auth = attrs.get("auth_data") or p.get("auth_data") or {}
        keys = [k.get("key", "") for k in auth.get("key_items") or [] if k.get("key")]
        out.append(BgpPeerConfig(
            name=(peer.get("fq_name") or [u])[-1],
            address=p["address"],
            peer_asn=p.get("autonomous_system") or default_asn,
            local_asn=local_asn,
            router_id=me.get("identifier") or me.get("address") or "0.0.0.0",
            families=families,
            hold_time=attrs.get("hold_time") or p.get("hold_time") or me.get("hold_time") or DEFAULT_HOLD_TIME,
            port=p.get("port") or 179,
            local_address=me.get("address", ""),
            passive=bool(attrs.get("passive")),
            peer_router_id=p.get("identifier") or p["address"],
            md5_key=keys[0] if keys else "",
            gr_helper=gr_helper,
        ))
    return out


def _gr_helper(objects: dict[str, dict[str, dict]]) -> bool:
    """GR helper toward BGP neighbors: on unless global-system-config's
    graceful_restart_parameters set both ``enable`` and ``bgp_helper_enable`` and one is false."""
    gsc = next(iter((objects.get("global-system-config") or {}).values()), {}) or {}
    grp = gsc.get("graceful_restart_parameters") or {}
    if grp.get("enable") is None or grp.get("bgp_helper_enable") is None:
        return True
    return bool(grp["enable"]) and bool(grp["bgp_helper_enable"])
