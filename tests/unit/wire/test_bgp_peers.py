"""bgp-router config objects → BGP neighbor configs (pure; lives here until tests/unit/control exists)."""

from __future__ import annotations

from filament.control.bgp_peers import bgp_peer_configs
from filament.wire.bgp import EVPN, IPV4_UNICAST, IPV4_VPN, IPV6_VPN, RTC

FQ = ["default-domain", "default-project", "ip-fabric", "__default__"]


def router(name, address, asn=64512, rtype="control-node", refs=(), **params):
    return {
        "uuid": f"u-{name}", "fq_name": FQ + [name],
        "bgp_router_parameters": {"address": address, "identifier": address, "autonomous_system": asn, "router_type": rtype, **params},
        "bgp_router_refs": [{"to": FQ + [r], "uuid": f"u-{r}", "attr": attr} for r, attr in refs],
    }


def objects(*routers):
    return {"bgp-router": {r["uuid"]: r for r in routers}}


def test_control_nodes_mesh_automatically():
    objs = objects(router("cn1", "198.18.0.1"), router("cn2", "198.18.0.2"), router("cn3", "198.18.0.3"))
    peers = bgp_peer_configs(objs, "cn1")
    assert [(p.name, p.address, p.peer_asn, p.local_asn, p.router_id) for p in peers] == [
        ("cn2", "198.18.0.2", 64512, 64512, "198.18.0.1"), ("cn3", "198.18.0.3", 64512, 64512, "198.18.0.1")]
    assert set(peers[0].families) == {RTC, IPV4_VPN, EVPN, IPV6_VPN}
    assert peers[0].hold_time == 90 and peers[0].port == 179 and peers[0].local_address == "198.18.0.1"


def test_router_peer_from_either_direction_with_session_attributes():
    sess = {"session": [{"attributes": [{"hold_time": 30, "passive": True, "address_families": {"family": ["inet-vpn", "e-vpn"]},
                                         "auth_data": {"key_type": "md5", "key_items": [{"key_id": 0, "key": "s3cret"}]}}]}]}
    mx = router("mx1", "198.18.1.1", asn=65001, rtype="router", port=1179, refs=[("cn1", sess)])
    objs = objects(router("cn1", "198.18.0.1"), mx)
    (p,) = bgp_peer_configs(objs, "cn1")
    assert (p.name, p.peer_asn, p.hold_time, p.passive, p.port, p.md5_key) == ("mx1", 65001, 30, True, 1179, "s3cret")
    assert p.families == (IPV4_VPN, EVPN) and not p.ibgp


def test_router_defaults_to_inet_and_inet_vpn_and_admin_down_is_skipped():
    objs = objects(router("cn1", "198.18.0.1", refs=[("r1", None), ("r2", None)]),
                   router("r1", "198.18.1.1", rtype="router"), router("r2", "198.18.1.2", rtype="router", admin_down=True))
    (p,) = bgp_peer_configs(objs, "cn1")
    assert p.name == "r1" and p.families == (IPV4_UNICAST, IPV4_VPN)


def test_no_own_router_means_no_peers():
    assert bgp_peer_configs(objects(router("cn2", "198.18.0.2")), "cn1") == []
    assert bgp_peer_configs({}, "cn1") == []
