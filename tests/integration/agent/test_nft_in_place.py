"""Applying a ruleset change in place (map entries and per-vif chains) leaves the kernel
with exactly what loading the new ruleset whole does (incremental == recompute), for a
sequence of port and security-group changes on one host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from filament.agent.desired import desired_state
from filament.agent.view import AclAddress, AclEntry, AgentView, Host, Network, Port, SecurityGroup, Subnet
from filament.datapath import nft
from filament.datapath.state import Op

from netns import Lab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft"),
]

RED = Network("d:p:red:red", 5, (Subnet("100.64.1.0/24", "100.64.1.1"),))
BLUE = Network("d:p:blue:blue", 6, (Subnet("100.64.2.0/24", "100.64.2.1"),))
HOST = Host("198.18.0.1", "ul0", 1600)


def group(*ports: int) -> SecurityGroup:
    return SecurityGroup("d:p:web", 8000001, ingress=tuple(
        AclEntry(f"tcp-{p}", "pass", "6", src=AclAddress("prefix", "0.0.0.0/0"), dst_ports=(p, p)) for p in ports))


def port(i: int, sg: bool, vrf: str = RED.vrf) -> Port:
    return Port(f"p{i}", f"tap{i}", f"02:00:00:00:01:{i:02x}", f"100.64.1.{10 + i}", vrf,
                security_groups=("d:p:web",) if sg else ())


STEPS = [  # (ports, the group's TCP ports)
    ([port(1, True)], (80,)),
    ([port(1, True), port(2, False)], (80,)),            # an open port next to it
    ([port(1, True), port(2, False), port(3, True)], (80,)),
    ([port(1, True), port(3, True)], (80, 443)),         # a port gone, the group's rules changed
    ([port(3, True), port(2, True)], (443,)),            # a port leaves, one joins the group
    ([port(3, True), port(2, False, BLUE.vrf)], (443,)),  # a port changes network: a whole reload
    ([port(3, False)], (443,)),                          # no ACL left
]


def kernel_ruleset(ns: str) -> dict:
    """Both owned tables as comparable data: no handles, set/map entries sorted."""
    out = {}
    for family in nft.FAMILIES:
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "table", family, nft.TABLE],
                           capture_output=True, text=True, check=True)
        items = json.loads(r.stdout)["nftables"]

        def clean(x):
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items() if k != "handle"}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x
        rules: dict[str, list] = {}
        objects = {}
        for item in items:
            (kind, body), = item.items()
            body = clean(body)
            if kind == "rule":
                rules.setdefault(body["chain"], []).append(body)
            elif kind in ("chain", "map", "set"):
                if "elem" in body:
                    body["elem"] = sorted(json.dumps(e, sort_keys=True) for e in body["elem"])
                objects[(kind, body["name"])] = body
        out[family] = (objects, rules)
    return out


def test_in_place_updates_equal_whole_loads():
    from filament.datapath.linux import LinuxDatapath

    lab = Lab("nftip")
    dps = []
    try:
        inc, whole = lab.ns("inc"), lab.ns("whole")
        a, b = LinuxDatapath(inc), LinuxDatapath(whole)
        dps += [a, b]
        in_place = 0
        for ports, tcp in STEPS:
            sg = group(*tcp)
            want = desired_state(AgentView(HOST, {RED.vrf: RED, BLUE.vrf: BLUE}, {p.uuid: p for p in ports}, {},
                                           {sg.name: sg})).filter
            before = a._loaded
            a.apply(Op("add", "filter", want))
            in_place += before is not None and before.base == want.ruleset.base
            b.apply(Op("del", "filter", want))  # a fresh whole load every step
            b.apply(Op("add", "filter", want))
            assert kernel_ruleset(inc) == kernel_ruleset(whole), (ports, tcp)
        assert in_place >= 4  # most steps were applied in place
    finally:
        for dp in dps:
            dp.close()
        lab.close()
