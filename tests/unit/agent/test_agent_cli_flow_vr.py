"""`filament flow` parsers (conntrack, nft JSON) and `filament vr` formatting."""

from __future__ import annotations

from filament.cli.flow import dropped, format_flows, parse_conntrack, rule_names
from filament.cli.vr import format_intf, format_routes, format_vrfs
from filament.datapath import nft
from filament.datapath.state import table_for_vni

CT = (
    "ipv4     2 tcp      6 431999 ESTABLISHED src=100.64.1.11 dst=100.64.1.12 sport=40000 dport=8080 "
    "src=100.64.1.12 dst=100.64.1.11 sport=8080 dport=40000 [ASSURED] mark=%d zone=6 use=1\n"
    "ipv4     2 udp      17 29 src=198.18.0.1 dst=198.18.0.2 sport=5555 dport=4789 [UNREPLIED] "
    "src=198.18.0.2 dst=198.18.0.1 sport=4789 dport=5555 mark=0 use=1\n"
    "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n"
) % nft.rule_id("rule-tcp-8080")

RULESET = {"nftables": [
    {"metainfo": {}},
    {"set": {"name": "dropped", "elem": [
        {"elem": {"val": {"concat": ["100.64.1.11", "100.64.1.12", "icmp", table_for_vni(5),
                                     nft.rule_id("default-deny sg ingress tapw2")]}, "expires": 100}}]}},
    {"rule": {"chain": "sg-in-tapw2", "comment": "rule-tcp-8080", "expr": []}},
    {"rule": {"chain": "sg-in-tapw2", "comment": "default-deny sg ingress tapw2", "expr": []}},
]}


def test_conntrack_lines():
    flows = parse_conntrack(CT)
    assert [(f["proto"], f["dport"], f["zone"], f["state"]) for f in flows] == [
        ("tcp", "8080", 6, "ESTABLISHED"), ("udp", "4789", 0, "")]
    assert flows[0]["flags"] == ["ASSURED"] and rule_names(RULESET)[flows[0]["mark"]] == "rule-tcp-8080"


def test_dropped_set_names_rule_and_zone():
    (d,) = dropped(RULESET)
    assert (d["src"], d["dst"], d["proto"], d["zone"]) == ("100.64.1.11", "100.64.1.12", "icmp", nft.zone_for_vni(5))
    assert rule_names(RULESET)[d["mark"]] == "default-deny sg ingress tapw2"
    row = {**d, "action": "drop", "rule": "default-deny sg ingress tapw2", "instance": "d:p:red:red"}
    assert "drop   default-deny sg ingress tapw2" in format_flows([row])


def test_vr_formats():
    intf = format_intf([{"index": 3, "name": "tapw1", "active": "Active", "ip_addr": "100.64.1.11",
                         "mac_addr": "02:00:00:00:01:11", "vrf_name": "d:p:red:red",
                         "acls": [{"stage": "sg", "direction": "ingress", "rules": ["a", "b"]}]}])
    assert "tapw1" in intf and "sg/ingress:2" in intf
    vrfs = format_vrfs([{"name": "d:p:red:red", "vni": 5, "table": 0x10005, "local": True, "routes": 2}])
    assert "0x10005" in vrfs and "yes" in vrfs
    rt = format_routes("d:p:red:red", [{"prefix": "100.64.1.12/32", "kind": "unicast",
                                        "next_hops": [{"dev": "flvx5", "via": "198.18.0.2"}]},
                                       {"prefix": "0.0.0.0/0", "kind": "unreachable", "next_hops": []}])
    assert "via 198.18.0.2 dev flvx5" in rt and "unreachable" in rt
