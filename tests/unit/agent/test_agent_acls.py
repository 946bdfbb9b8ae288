"""ACLs from config to per-vif chains: table-driven, judged by which packets a small
evaluator of the desired ``VifAcl``s lets through (behaviour, not nft text)."""

from __future__ import annotations

import ipaddress

import pytest

from filament.agent.config import ConfigDB, acl_entries, networks, security_groups, vmis
from filament.agent.desired import desired_state, port_acls
from filament.agent.view import AclAddress, AclEntry, AgentView, Host, Network, Port, SecurityGroup, Subnet
from filament.datapath import nft
from filament.wire.xmpp.model import ConfigLink, ConfigNode, ConfigUpdate

H = Host("198.18.0.1", "ul0", 1600)
RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
BLUE = Network("d:p:blue:blue", 6, (Subnet("100.64.2.0/24", "100.64.2.1"),))
ANYP = AclAddress("prefix", "0.0.0.0/0")
WEB = SecurityGroup("d:p:web", 8000001,
                    ingress=(AclEntry("tcp80", "pass", "6", src=ANYP, dst_ports=(80, 80)),
                             AclEntry("from-web", "pass", src=AclAddress("group", "8000001"))),
                    egress=(AclEntry("out-any", "pass"),))
SSH = SecurityGroup("d:p:ssh", 8000002, ingress=(AclEntry("ssh", "pass", "6", src=AclAddress("prefix", "10.0.0.0/8"),
                                                          dst_ports=(22, 22)),))
P1 = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", RED.vrf, security_groups=("d:p:web",))
P2 = Port("p2", "tap2", "02:00:00:00:00:12", "100.64.1.12", RED.vrf, security_groups=("d:p:web",))
P3 = Port("p3", "tap3", "02:00:00:00:00:13", "100.64.1.13", RED.vrf)


def _match(rule, direction, proto, src, dst, dport, sport=40000):
    if rule.protocol not in ("any", proto):
        return False
    if rule.dport != (0, 65535) and proto in ("6", "17") and not rule.dport[0] <= dport <= rule.dport[1]:
        return False
    if rule.sport != (0, 65535) and proto in ("6", "17") and not rule.sport[0] <= sport <= rule.sport[1]:
        return False
    remote = src if direction == "ingress" else dst
    return not rule.remote or any(ipaddress.IPv4Address(remote) in ipaddress.IPv4Network(p) for p in rule.remote)


def verdict(acls, vif_in, vif_out, proto, src, dst, dport=0, sport=40000):
    """(action, rule) for a new flow entering from ``vif_in`` and leaving by ``vif_out``."""
    last = "-"
    chains = [a for a in acls if a.vif == vif_in and a.direction == "egress"]
    chains += [a for a in acls if a.vif == vif_out and a.direction == "ingress"]
    for acl in sorted(chains, key=lambda a: (a.direction != "egress", a.stage != "policy")):
        rule = next((r for r in acl.rules if _match(r, acl.direction, proto, src, dst, dport, sport)), None)
        if rule is None:
            return "drop", nft.default_deny(acl)
        if rule.action != "pass":
            return "drop", rule.uuid
        last = rule.uuid
    return "pass", last


def acls_of(ports, groups=(WEB, SSH), nets=(RED, BLUE)):
    v = AgentView(H, {n.vrf: n for n in nets}, {p.uuid: p for p in ports}, {}, {g.name: g for g in groups})
    return desired_state(v).filter.acls


POLICY = (AclEntry("red-blue-tcp", "pass", "6", AclAddress("network", "d:p:red"), AclAddress("network", "d:p:blue")),
          AclEntry("blue-red-any", "pass", "any", AclAddress("network", "d:p:blue"), AclAddress("network", "d:p:red")),
          AclEntry("deny-rest", "deny"))
RED_POL = Network(RED.vrf, 5, RED.subnets, acl=POLICY)

CASES = {
    # (ports, groups, nets, vif_in, vif_out, proto, src, dst, dport) -> (action, rule)
    "no group, no policy: open": ([P3], (WEB,), (RED,), "x", "tap3", "1", "100.64.9.9", "100.64.1.13", 0, ("pass", "-")),
    "group without icmp rule: default deny": ([P1], (WEB,), (RED,), "x", "tap1", "1", "100.64.9.9", "100.64.1.11", 0,
                                              ("drop", "default-deny sg ingress tap1")),
    "tcp 80 allowed": ([P1], (WEB,), (RED,), "x", "tap1", "6", "100.64.9.9", "100.64.1.11", 80, ("pass", "tcp80")),
    "tcp 81 denied": ([P1], (WEB,), (RED,), "x", "tap1", "6", "100.64.9.9", "100.64.1.11", 81,
                      ("drop", "default-deny sg ingress tap1")),
    "remote group member allowed": ([P1, P2], (WEB,), (RED,), "tap2", "tap1", "1", "100.64.1.12", "100.64.1.11", 0,
                                    ("pass", "from-web")),
    "egress any": ([P1], (WEB,), (RED,), "tap1", "x", "17", "100.64.1.11", "8.8.8.8", 53, ("pass", "out-any")),
    "group not in config: fail closed": ([P1], (), (RED,), "tap1", "x", "6", "100.64.1.11", "8.8.8.8", 80,
                                         ("drop", "default-deny sg egress tap1")),
    "policy red->blue tcp": ([P3], (), (RED_POL, BLUE), "tap3", "x", "6", "100.64.1.13", "100.64.2.5", 443,
                             ("pass", "red-blue-tcp")),
    "policy red->blue udp denied": ([P3], (), (RED_POL, BLUE), "tap3", "x", "17", "100.64.1.13", "100.64.2.5", 53,
                                    ("drop", "deny-rest")),
    "policy blue->red any": ([P3], (), (RED_POL, BLUE), "x", "tap3", "17", "100.64.2.5", "100.64.1.13", 53,
                             ("pass", "blue-red-any")),
    "policy names an unknown network: nothing matches it": (
        [P3], (), (RED_POL,), "tap3", "x", "6", "100.64.1.13", "100.64.2.5", 443, ("drop", "deny-rest")),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_acl_verdicts(case):
    ports, groups, nets, vin, vout, proto, src, dst, dport, want = CASES[case]
    assert verdict(acls_of(ports, groups, nets), vin, vout, proto, src, dst, dport) == want


def test_group_order_and_union():
    p = Port("p1", "tap1", "02:00:00:00:00:11", "100.64.1.11", RED.vrf, security_groups=("d:p:web", "d:p:ssh"))
    acls = acls_of([p])
    assert verdict(acls, "x", "tap1", "6", "10.1.1.1", "100.64.1.11", 22) == ("pass", "ssh")
    assert verdict(acls, "x", "tap1", "6", "100.64.9.9", "100.64.1.11", 22)[0] == "drop"


def test_render_names_every_rule_with_counter_and_comment():
    v = AgentView(H, {RED.vrf: RED}, {"p1": P1}, {}, {WEB.name: WEB})
    text = desired_state(v).filter.text
    rules = [line.strip() for line in text.splitlines() if "comment" in line]
    for acl in port_acls(v, P1):
        for r in acl.rules:
            assert any(f'comment "{r.uuid}"' in line and "counter" in line for line in rules)
        assert any(f'comment "{nft.default_deny(acl)}"' in line and "@dropped" in line for line in rules)
    assert all("counter" in line for line in rules)
    assert "ct state established,related" in text


def test_rule_ids_are_stable_and_nonzero():
    assert nft.rule_id("tcp80") == nft.rule_id("tcp80") != nft.rule_id("tcp81")
    assert all(0 < nft.rule_id(str(i)) < 2**31 for i in range(200))


def uid(n):
    return {"uuid": {"uuid_mslong": str(n >> 64), "uuid_lslong": str(n & (2**64 - 1))}}


def test_config_delivers_groups_and_policy():
    sg_fq, vn_fq, vmi_fq = "d:p:web", "d:p:red", "d:p:vmi1"
    ingress = {"acl_rule": [
        {"match_condition": {"protocol": "6", "src_address": {"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}},
                             "dst_address": {}, "src_port": {"start_port": 0, "end_port": 65535},
                             "dst_port": {"start_port": 80, "end_port": 80}, "ethertype": "IPv4"},
         "action_list": {"simple_action": "pass"}, "rule_uuid": "r-80"},
        {"match_condition": {"protocol": "any", "src_address": {"security_group": "8000001"}, "dst_address": {},
                             "src_port": {"start_port": 0, "end_port": -1}, "dst_port": {"start_port": 0, "end_port": -1},
                             "ethertype": "IPv6"},
         "action_list": {"simple_action": "pass"}, "rule_uuid": "r-v6"},
    ]}
    policy = {"acl_rule": {"match_condition": {"protocol": "icmp", "src_address": {"virtual_network": "any"},
                                               "dst_address": {"virtual_network": "local"}},
                           "action_list": {"simple_action": "deny"}}}
    d = ConfigDB()
    d.apply(ConfigUpdate((
        ("update", ConfigNode("security-group", sg_fq, {"security_group_id": "8000001"})),
        ("update", ConfigNode("access-control-list", f"{sg_fq}:ingress-access-control-list",
                              {"access_control_list_entries": ingress})),
        ("update", ConfigNode("virtual-network", vn_fq, {"virtual_network_network_id": "5"})),
        ("update", ConfigNode("access-control-list", f"{vn_fq}:red", {"access_control_list_entries": policy,
                                                                        "id_perms": uid(7)})),
        ("update", ConfigNode("virtual-machine-interface", vmi_fq, {"id_perms": uid(3)})),
        ("update", ConfigLink(("virtual-machine-interface", vmi_fq), ("security-group", sg_fq), "vmi-sg")),
        ("update", ConfigLink(("virtual-machine-interface", vmi_fq), ("virtual-network", vn_fq), "vmi-vn")),
        ("update", ConfigLink(("virtual-network", vn_fq), ("access-control-list", f"{vn_fq}:red"), "vn-acl")),
    )))
    sg = security_groups(d)[sg_fq]
    assert sg.id == 8000001 and sg.egress == ()
    assert sg.ingress[0] == AclEntry("r-80", "pass", "6", ANYP, AclAddress("any"), (0, 65535), (80, 80))
    assert sg.ingress[1].ethertype == "IPv6" and sg.ingress[1].dst_ports == (0, 65535)
    net = networks(d)["d:p:red:red"]
    assert net.acl == (AclEntry("00000000-0000-0000-0000-000000000007/0", "deny", "1", AclAddress("any"),
                                AclAddress("local", "local")),)
    assert vmis(d)["00000000-0000-0000-0000-000000000003"].security_groups == (sg_fq,)
    # a network without an ACL has no policy (open), not an empty one (closed)
    d.apply(ConfigUpdate((("delete", ConfigNode("access-control-list", f"{vn_fq}:red", {})),)))
    assert networks(d)["d:p:red:red"].acl is None


@pytest.mark.parametrize("raw,want", [
    ({"protocol": "udp"}, "17"), ({"protocol": "17"}, "17"), ({"protocol": "bogus"}, "none"), ({}, "any"),
])
def test_protocols(raw, want):
    e = acl_entries({"access_control_list_entries": {"acl_rule": [{"match_condition": raw,
                                                                   "action_list": {"simple_action": "pass"}}]}})
    assert e[0].protocol == want


def _rule(src, dst, dport=(80, 80), direction="<>", action="pass"):
    return {"match_condition": {"protocol": "tcp", "src_address": src, "dst_address": dst,
                                "src_port": {"start_port": 0, "end_port": 65535},
                                "dst_port": {"start_port": dport[0], "end_port": dport[1]}},
            "action_list": {"simple_action": action}, "rule_uuid": "r", "direction": direction}


def test_bidirectional_entries_get_their_reverse():
    red, blue = {"virtual_network": "d:p:red"}, {"virtual_network": "d:p:blue"}
    [fwd, rev] = acl_entries({"access_control_list_entries": {"acl_rule": [_rule(red, blue)]}})
    assert (fwd.src, fwd.dst, fwd.src_ports, fwd.dst_ports) == (AclAddress("network", "d:p:red"),
                                                                AclAddress("network", "d:p:blue"), (0, 65535), (80, 80))
    assert (rev.src, rev.dst, rev.src_ports, rev.dst_ports) == (fwd.dst, fwd.src, (80, 80), (0, 65535))
    assert rev.uuid == fwd.uuid and rev.action == "pass"
    # one way: no reverse; symmetric: the reverse would be the same match, so none
    assert len(acl_entries({"access_control_list_entries": {"acl_rule": [_rule(red, blue, direction=">")]}})) == 1
    assert len(acl_entries({"access_control_list_entries": {"acl_rule": [_rule(red, red, (0, 65535))]}})) == 1


def test_bidirectional_deny_blocks_the_reverse_direction():
    """The compiler's implicit `red <> blue deny` must also stop blue -> red on red's side
    (before the final any -> any pass)."""
    rules = [_rule({"virtual_network": "d:p:red"}, {"virtual_network": "d:p:blue"}),
             _rule({"virtual_network": "d:p:red"}, {"virtual_network": "d:p:blue"}, (0, 65535), action="deny"),
             _rule({"virtual_network": "any"}, {"virtual_network": "any"}, (0, 65535), ">")]
    rules[1]["rule_uuid"] = "deny-pair"
    rules[2]["rule_uuid"] = "any-any"
    acl = acl_entries({"access_control_list_entries": {"acl_rule": rules}})
    red = Network(RED.vrf, 5, RED.subnets, acl=acl)
    blue = Network(BLUE.vrf, 6, BLUE.subnets, acl=acl)
    p_blue = Port("pb", "tapb", "02:00:00:00:00:21", "100.64.2.21", BLUE.vrf)
    acls = acls_of([P3, p_blue], (), (red, blue))
    assert verdict(acls, "tap3", "tapb", "6", "100.64.1.13", "100.64.2.21", 80) == ("pass", "r")
    assert verdict(acls, "tapb", "tap3", "6", "100.64.2.21", "100.64.1.13", 22, 80) == ("pass", "r")  # reverse
    assert verdict(acls, "tapb", "tap3", "6", "100.64.2.21", "100.64.1.13", 80) == ("drop", "deny-pair")
    assert verdict(acls, "tap3", "tapb", "6", "100.64.1.13", "100.64.2.21", 22) == ("drop", "deny-pair")
    assert verdict(acls, "tap3", "x", "6", "100.64.1.13", "8.8.8.8", 22) == ("pass", "any-any")


def test_group_rule_matches_members_on_other_hosts_by_route_community():
    """A group-id rule matches local members and every route carrying the group's id
    (the control node passes the publishing agent's security-group ids through)."""
    from filament.agent.view import PathNextHop, RouteIn

    def route(prefix, *sgs):
        return RouteIn(prefix, (PathNextHop("198.18.0.2", 5),), sgs)

    routes = {RED.vrf: {"100.64.1.21/32": route("100.64.1.21/32", 8000001),
                        "100.64.1.22/32": route("100.64.1.22/32"),
                        "100.64.1.23/32": route("100.64.1.23/32", 8000002, 8000001)},
              BLUE.vrf: {"100.64.2.24/32": route("100.64.2.24/32", 8000001)}}
    v = AgentView(H, {RED.vrf: RED, BLUE.vrf: BLUE}, {"p1": P1}, routes, {WEB.name: WEB})
    acls = desired_state(v).filter.acls
    for src in ("100.64.1.21", "100.64.1.23", "100.64.2.24"):
        assert verdict(acls, "x", "tap1", "1", src, "100.64.1.11") == ("pass", "from-web"), src
    assert verdict(acls, "x", "tap1", "1", "100.64.1.22", "100.64.1.11") == ("drop", "default-deny sg ingress tap1")
    # the member leaves (its route goes): fail closed again
    v2 = AgentView(H, v.networks, v.ports, {RED.vrf: {}}, v.security_groups)
    assert verdict(desired_state(v2).filter.acls, "x", "tap1", "1", "100.64.1.21", "100.64.1.11")[0] == "drop"
