"""Bad input over HTTP: always a 4xx naming the culprit, and the store untouched."""

from __future__ import annotations

import json
import uuid as uuidlib
from dataclasses import dataclass, field

import pytest
import requests

pytestmark = pytest.mark.integration
JSON = "application/json"
TYPES = ["project", "virtual-network", "network-ipam", "instance-ip",
         "virtual-machine-interface", "network-policy", "routing-instance"]
SUFFIX = uuidlib.uuid4().hex[:8]
PROJ = ["default-domain", f"bad-{SUFFIX}"]


def _post(url, path, body, ctype=JSON):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(url + path, data=data, headers={"Content-Type": ctype}, timeout=10)


@pytest.fixture(scope="module")
def world(api_server):
    """A project with an IPAM, a VN with a subnet, a VMI and one instance-ip."""
    u, made = api_server, []

    def mk(type_, body):
        r = _post(u, f"/{type_}s", {type_: body})
        assert r.status_code == 200, r.text
        made.append((type_, r.json()[type_]["uuid"]))
        return r.json()[type_]

    w = {"project": mk("project", {"fq_name": PROJ, "parent_type": "domain"})}
    w["ipam"] = mk("network-ipam", {"fq_name": PROJ + ["ipam"], "parent_type": "project"})
    w["vn"] = mk("virtual-network", {
        "fq_name": PROJ + ["vn"], "parent_type": "project",
        "network_ipam_refs": [{"to": PROJ + ["ipam"], "attr": {"ipam_subnets": [
            {"subnet": {"ip_prefix": "10.77.0.0", "ip_prefix_len": 24}}]}}]})
    w["vmi"] = mk("virtual-machine-interface", {
        "fq_name": PROJ + ["vmi"], "parent_type": "project",
        "virtual_network_refs": [{"to": PROJ + ["vn"]}]})
    w["iip"] = mk("instance-ip", {"fq_name": [f"iip-{SUFFIX}"],
                                  "virtual_network_refs": [{"to": PROJ + ["vn"]}],
                                  "instance_ip_address": "10.77.0.10"})
    yield w
    for type_, uuid in reversed(made):
        requests.delete(f"{u}/{type_}/{uuid}", timeout=10)


def revision(url: str) -> int:
    """The store's current revision, from the `synced` event of a short watch."""
    with requests.get(url + "/watch", params={"types": "tag-type"}, stream=True,
                      timeout=10) as r:
        for line in r.iter_lines():
            ev = json.loads(line)
            if ev["op"] == "synced":
                return ev["rev"]
    raise AssertionError("watch ended without synced")


def snapshot(url: str) -> tuple[int, dict]:
    dump = {t: requests.get(f"{url}/{t}s", params={"detail": "True"}, timeout=10).json()
            for t in TYPES}
    return revision(url), dump


@dataclass
class Case:
    id: str
    method: str
    path: str
    body: object = None
    status: int = 400
    names: list[str] = field(default_factory=list)
    ctype: str = JSON
    absent: tuple[str, list[str]] | None = None    # (type, fq_name) that must not exist


def vn(name, **props):
    return {"virtual-network": {"fq_name": PROJ + [name], "parent_type": "project", **props}}


def subnet(prefix, plen):
    return [{"to": PROJ + ["ipam"], "attr": {"ipam_subnets": [
        {"subnet": {"ip_prefix": prefix, "ip_prefix_len": plen}}]}}]


CASES = [
    Case("malformed-json", "POST", "/virtual-networks",
         b'{"virtual-network": {"fq_name": ["default-domain" "x"]}}',
         names=["Invalid JSON", "line 1 column"]),
    Case("malformed-json-multiline", "POST", "/virtual-networks",
         b'{\n  "virtual-network": {\n    "fq_name": [\n      1 2\n    ]}}',
         names=["line 4 column"]),
    Case("truncated-json", "POST", "/virtual-networks", b'{"virtual-network": {',
         names=["Invalid JSON", "line 1"]),
    Case("unknown-collection", "POST", "/no-such-things", {"no-such-thing": {}}, status=404,
         names=["/no-such-things"]),
    Case("unknown-collection-get", "GET", "/no-such-things", status=404,
         names=["/no-such-things"]),
    Case("unknown-field", "POST", "/virtual-networks", vn("u1", no_such_field=1),
         names=["no_such_field"], absent=("virtual-network", PROJ + ["u1"])),
    Case("string-for-bool", "POST", "/virtual-networks", vn("t1", flood_unknown_unicast="yes"),
         names=["flood_unknown_unicast"], absent=("virtual-network", PROJ + ["t1"])),
    Case("string-for-int", "POST", "/virtual-networks",
         vn("t2", virtual_network_properties={"vxlan_network_identifier": "abc"}),
         names=["virtual_network_properties.vxlan_network_identifier"],
         absent=("virtual-network", PROJ + ["t2"])),
    Case("int-out-of-range", "POST", "/virtual-networks", vn("t3", mac_aging_time=100000),
         names=["mac_aging_time"], absent=("virtual-network", PROJ + ["t3"])),
    Case("bad-enum", "POST", "/virtual-networks",
         vn("e1", virtual_network_properties={"forwarding_mode": "l4"}),
         names=["forwarding_mode", "l4"], absent=("virtual-network", PROJ + ["e1"])),
    Case("bad-cidr", "POST", "/virtual-networks",
         vn("c1", network_ipam_refs=subnet("10.1.0.300", 24)),
         names=["network_ipam_refs[0].attr.ipam_subnets[0].subnet", "10.1.0.300/24"], absent=("virtual-network", PROJ + ["c1"])),
    Case("bad-prefix-len", "POST", "/virtual-networks",
         vn("c2", network_ipam_refs=subnet("10.1.0.0", 33)),
         names=["network_ipam_refs[0].attr.ipam_subnets[0].subnet", "/33"], absent=("virtual-network", PROJ + ["c2"])),
    Case("bad-ip", "POST", "/instance-ips",
         {"instance-ip": {"fq_name": [f"badip-{SUFFIX}"], "instance_ip_address": "10.77.0.999",
                          "virtual_network_refs": [{"to": PROJ + ["vn"]}]}},
         names=["instance_ip_address", "10.77.0.999"], absent=("instance-ip", [f"badip-{SUFFIX}"])),
    Case("bad-mac", "POST", "/virtual-machine-interfaces",
         {"virtual-machine-interface": {
             "fq_name": PROJ + ["m1"], "parent_type": "project",
             "virtual_network_refs": [{"to": PROJ + ["vn"]}],
             "virtual_machine_interface_mac_addresses": {"mac_address": ["zz:01:02:03:04:05"]}}},
         names=["mac_address", "zz:01:02:03:04:05"],
         absent=("virtual-machine-interface", PROJ + ["m1"])),
    Case("missing-parent", "POST", "/virtual-networks",
         {"virtual-network": {"fq_name": ["default-domain", f"nope-{SUFFIX}", "x"],
                              "parent_type": "project"}},
         status=404, names=[f"nope-{SUFFIX}"],
         absent=("virtual-network", ["default-domain", f"nope-{SUFFIX}", "x"])),
    # several parent types possible and none exists by that name: the type must be given
    Case("missing-parent-type", "POST", "/virtual-machine-interfaces",
         {"virtual-machine-interface": {"fq_name": ["default-domain", f"nope-{SUFFIX}", "m2"],
                                        "virtual_network_refs": [{"to": PROJ + ["vn"]}]}},
         names=["Missing parent type", "project"],
         absent=("virtual-machine-interface", ["default-domain", f"nope-{SUFFIX}", "m2"])),
    Case("ref-to-missing", "POST", "/virtual-networks",
         vn("r1", network_policy_refs=[{"to": PROJ + ["missing-pol"]}]),
         names=["missing-pol"], absent=("virtual-network", PROJ + ["r1"])),
    Case("ref-to-missing-uuid", "POST", "/virtual-networks",
         vn("r2", network_policy_refs=[{"uuid": "00000000-0000-4000-8000-0000000000bb"}]),
         names=["00000000-0000-4000-8000-0000000000bb"], absent=("virtual-network", PROJ + ["r2"])),
    Case("fq-name-clash", "POST", "/virtual-networks", vn("vn"), status=409,
         names=[str(PROJ + ["vn"]), "already exists"]),
    Case("duplicate-address", "POST", "/instance-ips",
         {"instance-ip": {"fq_name": [f"dup-{SUFFIX}"], "instance_ip_address": "10.77.0.10",
                          "virtual_network_refs": [{"to": PROJ + ["vn"]}]}},
         status=409, names=["10.77.0.10"], absent=("instance-ip", [f"dup-{SUFFIX}"])),
    Case("wrong-content-type", "POST", "/virtual-networks", vn("ct1"), ctype="text/plain",
         names=["Content-Type"], absent=("virtual-network", PROJ + ["ct1"])),
    Case("body-too-large", "POST", "/virtual-networks",
         vn("big1", display_name="x" * 1_100_000), status=413, names=["larger than"],
         absent=("virtual-network", PROJ + ["big1"])),
]


def _resolve(case: Case, world: dict) -> tuple[str, object]:
    path = case.path.format(**{k: v["uuid"] for k, v in world.items()})
    return path, case.body


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_rejected_and_changes_nothing(api_server, world, case):
    before = snapshot(api_server)
    path, body = _resolve(case, world)
    if case.method == "POST":
        r = _post(api_server, path, body, case.ctype)
    else:
        r = requests.request(case.method, api_server + path, timeout=10)
    assert r.status_code == case.status, r.text
    assert 400 <= r.status_code < 500
    assert r.headers["Content-Type"].startswith("text/")
    for name in case.names:
        assert name in r.text, r.text
    assert snapshot(api_server) == before
    if case.absent:
        type_, fq = case.absent
        r = _post(api_server, "/fqname-to-id", {"type": type_, "fq_name": fq})
        assert r.status_code == 404


PUT_CASES = [
    ("put-string-for-bool", "vn", {"flood_unknown_unicast": "no"}, 400,
     ["flood_unknown_unicast"]),
    ("put-unknown-field", "vn", {"bogus_field": 1}, 400, ["bogus_field"]),
    ("put-bad-enum", "vn", {"virtual_network_properties": {"rpf": "sometimes"}}, 400,
     ["rpf", "sometimes"]),
    ("put-system-id", "vn", {"virtual_network_network_id": 999}, 403,
     ["virtual network ID"]),
    ("put-ref-to-missing", "vn", {"network_policy_refs": [{"to": PROJ + ["nope"]}]}, 400,
     ["nope"]),
    ("put-change-address", "iip", {"instance_ip_address": "10.77.0.11"}, 400,
     ["Instance IP Address can not be changed"]),
    ("put-malformed", "vn", b'{"virtual-network": {"display_name": }}', 400, ["line 1 column"]),
]


@pytest.mark.parametrize("key,body,status,names", [c[1:] for c in PUT_CASES],
                         ids=[c[0] for c in PUT_CASES])
def test_bad_update_is_rejected_and_changes_nothing(api_server, world, key, body, status, names):
    type_ = {"vn": "virtual-network", "iip": "instance-ip"}[key]
    before = snapshot(api_server)
    data = body if isinstance(body, bytes) else json.dumps({type_: body})
    r = requests.put(f"{api_server}/{type_}/{world[key]['uuid']}", data=data,
                     headers={"Content-Type": JSON}, timeout=10)
    assert r.status_code == status, r.text
    for name in names:
        assert name in r.text, r.text
    assert snapshot(api_server) == before


DELETE_CASES = [
    ("delete-referred-ipam", "network-ipam", "ipam", ["still referred", "/virtual-network/"]),
    ("delete-referred-vn", "virtual-network", "vn", ["still referred"]),
    ("delete-project-with-children", "project", "project", ["children still present"]),
]


@pytest.mark.parametrize("type_,key,names", [c[1:] for c in DELETE_CASES],
                         ids=[c[0] for c in DELETE_CASES])
def test_delete_with_dependents_is_refused(api_server, world, type_, key, names):
    before = snapshot(api_server)
    r = requests.delete(f"{api_server}/{type_}/{world[key]['uuid']}", timeout=10)
    assert r.status_code == 409, r.text
    for name in names:
        assert name in r.text, r.text
    assert snapshot(api_server) == before


def test_trailing_comma_is_accepted(api_server, world):
    body = ('{"virtual-network": {"fq_name": ["%s", "%s", "tc",], "parent_type": "project",'
            ' "display_name": "a,]",}}' % tuple(PROJ)).encode()
    r = _post(api_server, "/virtual-networks", body)
    assert r.status_code == 200, r.text
    uuid = r.json()["virtual-network"]["uuid"]
    try:
        got = requests.get(f"{api_server}/virtual-network/{uuid}", timeout=10).json()
        assert got["virtual-network"]["display_name"] == "a,]"
    finally:
        requests.delete(f"{api_server}/virtual-network/{uuid}", timeout=10)
