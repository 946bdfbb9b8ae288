"""The config API over raw HTTP: homepage, defaults, query params, PUT/DELETE rules,
the watch feed and the applied barrier."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from filament.schema import load_schema

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}


def post(url, path, body):
    return requests.post(url + path, data=json.dumps(body), headers=JSON, timeout=10)


def create(url, cleanup, type_, body):
    r = post(url, f"/{type_}s", {type_: body})
    assert r.status_code == 200, r.text
    obj = r.json()[type_]
    cleanup.add(type_, obj["uuid"])
    return obj


def read(url, type_, uuid, **params):
    r = requests.get(f"{url}/{type_}/{uuid}", params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()[type_]


def by_fq(url, type_, fq):
    r = post(url, "/fqname-to-id", {"type": type_, "fq_name": fq})
    assert r.status_code == 200, r.text
    return read(url, type_, r.json()["uuid"])


@pytest.fixture
def proj(api_server, cleanup, uid):
    return create(api_server, cleanup, "project",
                  {"fq_name": ["default-domain", f"http-{uid}"], "parent_type": "domain"})


def vn_body(proj, name, **props):
    return {"fq_name": proj["fq_name"] + [name], "parent_type": "project", **props}


# --- homepage and schema ---------------------------------------------------------------

def test_homepage_links(api_server):
    page = requests.get(api_server + "/", timeout=10).json()
    base = page["href"]
    links = [x["link"] for x in page["links"]]
    assert all(x["href"].startswith(base) for x in links)
    types = set(load_schema().resources)
    assert len(types) >= 121
    coll = {x["name"]: x["href"] for x in links if x["rel"] == "collection"}
    res = {x["name"]: x["href"] for x in links if x["rel"] == "resource-base"}
    assert set(coll) == types and set(res) == types
    assert all(coll[t] == f"{base}/{t}s" and res[t] == f"{base}/{t}" for t in types)
    actions = {x["name"]: (x["href"][len(base):], x["method"])
               for x in links if x["rel"] == "action"}
    assert actions["name-to-id"] == ("/fqname-to-id", "POST")
    assert actions["id-to-name"] == ("/id-to-fqname", "POST")
    assert actions["useragent-keyvalue"] == ("/useragent-kv", "POST")
    assert actions["virtual-network-ip-alloc"] == ("/virtual-network/%s/ip-alloc", "POST")
    for name in ("ref-update", "ref-relax-for-delete", "prop-collection-get",
                 "prop-collection-update", "list-bulk-collection", "chown", "chmod", "watch"):
        assert actions[name][0] == f"/{name}"


def test_openapi_document(api_server):
    doc = requests.get(api_server + "/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] and doc["info"]["version"]
    comps = doc["components"]["schemas"]
    # OpenAPI 3 component keys: ^[a-zA-Z0-9.\-_]+$
    bad = [k for k in comps if not re.fullmatch(r"[A-Za-z0-9.\-_]+", k)]
    assert not bad, bad[:5]
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(comps), sorted(refs - set(comps))[:5]
    for rt in load_schema().resources.values():
        assert {"get", "post"} <= set(doc["paths"][f"/{rt.plural}"])
        assert {"get", "put", "delete"} <= set(doc["paths"][f"/{rt.name}/{{uuid}}"])
    for path in doc["paths"].values():
        for op in path.values():
            if isinstance(op, dict) and "responses" in op:
                assert all(re.fullmatch(r"\d{3}|default", c) for c in op["responses"])


# --- defaults (vnc-api.md §9) ----------------------------------------------------------

DP = ["default-domain", "default-project"]


def test_default_objects(api_server):
    u = api_server
    assert by_fq(u, "domain", ["default-domain"])
    assert by_fq(u, "project", DP)
    assert by_fq(u, "network-ipam", DP + ["default-network-ipam"])
    ipf = by_fq(u, "virtual-network", DP + ["ip-fabric"])
    assert ipf["virtual_network_network_id"] == 2 and ipf["is_provider_network"] is True
    assert by_fq(u, "virtual-network", DP + ["__link_local__"])["virtual_network_network_id"] == 3
    assert by_fq(u, "virtual-network", DP + ["default-virtual-network"])[
        "virtual_network_network_id"] == 1
    gsc = by_fq(u, "global-system-config", ["default-global-system-config"])
    assert gsc["autonomous_system"] == 64512
    assert by_fq(u, "global-vrouter-config",
                 ["default-global-system-config", "default-global-vrouter-config"])
    assert by_fq(u, "security-group", DP + ["__no_rule__"])["security_group_id"] == 8000001
    tts = requests.get(u + "/tag-types", params={"detail": "True"}, timeout=10).json()["tag-types"]
    ids = {t["tag-type"]["name"]: t["tag-type"]["tag_type_id"] for t in tts}
    want = ["label", "application", "tier", "deployment", "site", "neutron_fwaas", "neutron_tag"]
    assert all(ids[n] == f"0x{i:04x}" for i, n in enumerate(want))


# --- read and list query params --------------------------------------------------------

def test_read_query_params(api_server, proj, cleanup, uid):
    u = api_server
    ipam_fq = DP + ["default-network-ipam"]
    vn = create(u, cleanup, "virtual-network", vn_body(proj, f"vn-{uid}", network_ipam_refs=[
        {"to": ipam_fq, "attr": {"ipam_subnets": [
            {"subnet": {"ip_prefix": "10.5.0.0", "ip_prefix_len": 24}}]}}]))
    full = read(u, "virtual-network", vn["uuid"])
    assert full["routing_instances"] and full["name"] == f"vn-{uid}"
    assert full["href"].startswith(u) and full["parent_href"].startswith(u)
    p = read(u, "project", proj["uuid"])
    assert vn["uuid"] in {c["uuid"] for c in p["virtual_networks"]}
    nochild = read(u, "virtual-network", vn["uuid"], exclude_children="True")
    assert "routing_instances" not in nochild
    ipam = read(u, "network-ipam", full["network_ipam_refs"][0]["uuid"])
    assert vn["uuid"] in {b["uuid"] for b in ipam["virtual_network_back_refs"]}
    ipam_nb = read(u, "network-ipam", ipam["uuid"], exclude_back_refs="True")
    assert "virtual_network_back_refs" not in ipam_nb
    few = read(u, "virtual-network", vn["uuid"], fields="virtual_network_network_id")
    assert set(few) >= {"uuid", "fq_name", "id_perms", "perms2", "virtual_network_network_id"}
    assert "network_ipam_refs" not in few and "routing_instances" not in few
    nohref = read(u, "virtual-network", vn["uuid"], exclude_hrefs="")
    assert "href" not in nohref and "parent_href" not in nohref
    assert "href" not in json.dumps(nohref["network_ipam_refs"])


def test_list_pagination_and_bulk(api_server, proj, cleanup, uid):
    u = api_server
    made = [create(u, cleanup, "virtual-network", vn_body(proj, f"p{i}-{uid}"))["uuid"]
            for i in range(5)]
    seen, marker = [], None
    for _ in range(10):
        params = {"parent_id": proj["uuid"], "page_limit": 2}
        if marker:
            params["page_marker"] = marker
        page = requests.get(u + "/virtual-networks", params=params, timeout=10).json()
        assert set(page) == {"virtual-networks", "marker"}
        assert len(page["virtual-networks"]) <= 2
        seen += [x["uuid"] for x in page["virtual-networks"]]
        marker = page["marker"]
        if not page["virtual-networks"] or marker is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    bulk = post(u, "/list-bulk-collection", {"type": "virtual_network",
                                             "obj_uuids": ",".join(made[:3]), "detail": True})
    assert bulk.status_code == 200, bulk.text
    items = bulk.json()["virtual-networks"]
    assert [x["virtual-network"]["uuid"] for x in items] == made[:3]
    cnt = post(u, "/list-bulk-collection", {"type": "virtual-network",
                                            "parent_id": proj["uuid"], "count": True})
    assert cnt.json() == {"virtual-networks": {"count": 5}}


# --- PUT and DELETE --------------------------------------------------------------------

def test_put_merge_semantics(api_server, proj, cleanup, uid):
    u = api_server
    pol = create(u, cleanup, "network-policy",
                 {"fq_name": proj["fq_name"] + [f"pol-{uid}"], "parent_type": "project"})
    vn = create(u, cleanup, "virtual-network", vn_body(
        proj, f"vn-{uid}", flood_unknown_unicast=True, router_external=False,
        network_policy_refs=[{"to": pol["fq_name"], "attr": {"sequence": {"major": 0, "minor": 0}}}]))
    path = f"{u}/virtual-network/{vn['uuid']}"
    r = requests.put(path, data=json.dumps({"virtual-network": {"flood_unknown_unicast": None,
                                                                "display_name": "x"}}),
                     headers=JSON, timeout=10)
    assert r.status_code == 200 and r.json()["virtual-network"]["uuid"] == vn["uuid"]
    got = read(u, "virtual-network", vn["uuid"])
    assert "flood_unknown_unicast" not in got and got["display_name"] == "x"
    assert got["router_external"] is False and len(got["network_policy_refs"]) == 1
    r = requests.put(path, data=json.dumps({"virtual-network": {"network_policy_refs": []}}),
                     headers=JSON, timeout=10)
    assert r.status_code == 200
    got = read(u, "virtual-network", vn["uuid"])
    assert "network_policy_refs" not in got or got["network_policy_refs"] == []
    before = got["id_perms"]["last_modified"]
    for body in (b"", b'{"virtual-network": {}}'):
        r = requests.put(path, data=body, headers=JSON, timeout=10)
        assert (r.status_code, r.content) == (200, b"")
    assert read(u, "virtual-network", vn["uuid"])["id_perms"]["last_modified"] == before


def test_delete_rules(api_server, proj, cleanup, uid):
    u = api_server
    ipam = create(u, cleanup, "network-ipam",
                  {"fq_name": proj["fq_name"] + [f"ipam-{uid}"], "parent_type": "project"})
    vn = create(u, cleanup, "virtual-network", vn_body(proj, f"vn-{uid}", network_ipam_refs=[
        {"to": ipam["fq_name"], "attr": {"ipam_subnets": [
            {"subnet": {"ip_prefix": "10.6.0.0", "ip_prefix_len": 24}}]}}]))
    pool = create(u, cleanup, "floating-ip-pool",
                  {"fq_name": vn["fq_name"] + ["pool"], "parent_type": "virtual-network"})
    r = requests.delete(f"{u}/network-ipam/{ipam['uuid']}", timeout=10)
    assert r.status_code == 409
    assert r.text.startswith("Delete when resource still referred: [")
    assert f"/virtual-network/{vn['uuid']}" in r.text
    r = requests.delete(f"{u}/virtual-network/{vn['uuid']}", timeout=10)
    assert r.status_code == 409
    assert r.text == f"Delete when children still present: ['{u}/floating-ip-pool/{pool['uuid']}']"
    ri = read(u, "virtual-network", vn["uuid"])["routing_instances"][0]
    r = requests.delete(f"{u}/routing-instance/{ri['uuid']}", timeout=10)
    assert r.status_code == 409 and "Cannot modify system resource" in r.text
    missing = "00000000-0000-4000-8000-0000000000aa"
    r = requests.delete(f"{u}/virtual-network/{missing}", timeout=10)
    assert (r.status_code, r.text) == (404, f"ID {missing} does not exist")
    r = requests.delete(f"{u}/network-ipam/{vn['uuid']}", timeout=10)
    assert (r.status_code, r.text) == (404, f"No network-ipam object found for id {vn['uuid']}")
    # the derived routing instance goes with its VN
    assert requests.delete(f"{u}/floating-ip-pool/{pool['uuid']}", timeout=10).status_code == 200
    r = requests.delete(f"{u}/virtual-network/{vn['uuid']}", timeout=10)
    assert (r.status_code, r.content) == (200, b"")
    assert requests.get(f"{u}/routing-instance/{ri['uuid']}", timeout=10).status_code == 404


def test_revision_header_increases(api_server, proj, cleanup, uid):
    u = api_server
    revs = []
    for i in range(3):
        r = post(u, "/virtual-networks", {"virtual-network": vn_body(proj, f"r{i}-{uid}")})
        assert r.status_code == 200
        cleanup.add("virtual-network", r.json()["virtual-network"]["uuid"])
        revs.append(int(r.headers["X-Filament-Revision"]))
    r = requests.put(f"{u}/virtual-network/{cleanup.made[-1][1]}", headers=JSON, timeout=10,
                     data=json.dumps({"virtual-network": {"display_name": "y"}}))
    revs.append(int(r.headers["X-Filament-Revision"]))
    r = requests.delete(f"{u}/virtual-network/{cleanup.made[-1][1]}", timeout=10)
    revs.append(int(r.headers["X-Filament-Revision"]))
    assert revs == sorted(set(revs))


# --- watch -----------------------------------------------------------------------------

class Watch:
    """A `GET /watch` stream read line by line with a deadline."""

    def __init__(self, url: str, **params):
        self.resp = requests.get(url + "/watch", params=params, stream=True, timeout=10)
        assert self.resp.status_code == 200
        assert self.resp.headers["Content-Type"].startswith("application/x-ndjson")
        self.lines = self.resp.iter_lines()

    def next(self) -> dict:
        return json.loads(next(self.lines))

    def until(self, pred, timeout: float = 10.0) -> tuple[dict, list[dict]]:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            ev = self.next()
            seen.append(ev)
            if pred(ev):
                return ev, seen
        raise AssertionError(f"no matching event in {timeout}s; saw {seen[-5:]}")

    def close(self):
        self.resp.close()


def test_watch_list_then_stream_and_resume(api_server, proj, cleanup, uid):
    u = api_server
    w = Watch(u, types="virtual-network")
    try:
        first = w.next()
        assert first["op"] == "reset"
        synced, listed = w.until(lambda e: e["op"] == "synced")
        assert all(e["op"] == "put" and e["type"] == "virtual-network" for e in listed[:-1])
        assert "ip-fabric" in {e["object"]["name"] for e in listed[:-1]}
        a = create(u, cleanup, "virtual-network", vn_body(proj, f"a-{uid}"))
        put_a, _ = w.until(lambda e: e.get("uuid") == a["uuid"])
        assert put_a["op"] == "put" and put_a["rev"] > synced["rev"]
        assert put_a["object"]["fq_name"] == a["fq_name"] and "href" not in put_a["object"]
        b = create(u, cleanup, "virtual-network", vn_body(proj, f"b-{uid}"))
        put_b, _ = w.until(lambda e: e.get("uuid") == b["uuid"])
        assert requests.delete(f"{u}/virtual-network/{a['uuid']}", timeout=10).status_code == 200
        gone, _ = w.until(lambda e: e.get("uuid") == a["uuid"])
        assert gone["op"] == "delete" and gone["fq_name"] == a["fq_name"]
    finally:
        w.close()
    # resume after a's put: only b's put and a's delete, no reset
    w = Watch(u, types="virtual-network", since=put_a["rev"])
    try:
        _, events = w.until(lambda e: e["op"] == "synced")
        assert [e["op"] for e in events if e["op"] == "reset"] == []
        mine = [(e["op"], e["uuid"]) for e in events if e.get("uuid") in (a["uuid"], b["uuid"])]
        assert sorted(mine) == sorted([("put", b["uuid"]), ("delete", a["uuid"])])
        assert all(e["rev"] > put_a["rev"] for e in events if e["op"] in ("put", "delete"))
    finally:
        w.close()


def test_applied_barrier(api_server, uid):
    u, role = api_server, f"role-{uid}"
    r = post(u, "/filament/applied", {"role": role, "name": "one", "revision": 7})
    assert r.status_code == 200 and r.json()["revision"] == 7
    r = requests.get(u + "/filament/applied", params={"role": role, "revision": 7}, timeout=10)
    assert r.status_code == 200 and r.json()["revision"] == 7
    r = requests.get(u + "/filament/applied", params={"role": role}, timeout=10)
    assert r.json()["revision"] == 7
    t0 = time.monotonic()
    r = requests.get(u + "/filament/applied", params={"role": role, "revision": 8,
                                                      "timeout": "0.3"}, timeout=10)
    assert r.status_code == 504 and time.monotonic() - t0 < 5
    assert post(u, "/filament/applied", {"role": role, "revision": "x"}).status_code == 400


def test_action_endpoints_wire_shapes(api_server, proj, cleanup, uid):
    u = api_server
    vn = create(u, cleanup, "virtual-network", vn_body(proj, f"vn-{uid}"))
    pol = create(u, cleanup, "network-policy",
                 {"fq_name": proj["fq_name"] + [f"pol-{uid}"], "parent_type": "project"})
    r = post(u, "/id-to-fqname", {"uuid": vn["uuid"]})
    assert r.json() == {"fq_name": vn["fq_name"], "type": "virtual-network"}
    r = post(u, "/fqname-to-id", {"type": "virtual_network", "fq_name": vn["fq_name"]})
    assert r.json() == {"uuid": vn["uuid"]}
    r = post(u, "/fqname-to-id", {"type": "virtual-network", "fq_name": vn["fq_name"] + ["x"]})
    assert (r.status_code, r.text) == (404, f"Name {vn['fq_name'] + ['x']!r} not found")
    r = post(u, "/ref-update", {"type": "virtual_network", "uuid": vn["uuid"],
                                "ref-type": "network_policy", "ref-fq-name": pol["fq_name"],
                                "operation": "add", "attr": None})
    assert r.status_code == 200 and r.json() == {"uuid": vn["uuid"]}
    refs = read(u, "virtual-network", vn["uuid"])["network_policy_refs"]
    assert [(x["uuid"], x["attr"]) for x in refs] == [(pol["uuid"], None)]
    r = post(u, "/ref-update", {"type": "virtual-network", "uuid": vn["uuid"],
                                "ref-type": "network-policy", "ref-uuid": pol["uuid"],
                                "operation": "MOVE"})
    assert r.status_code == 400
    r = requests.get(u + "/prop-collection-get",
                     params={"uuid": vn["uuid"], "fields": "display_name"}, timeout=10)
    assert r.status_code == 400 and "display_name" in r.text
    r = post(u, "/useragent-kv", {"operation": "FROB", "key": "k"})
    assert r.status_code == 404 and "FROB" in r.text
    r = requests.get(u + "/aaa-mode", timeout=10)
    assert r.json() == {"aaa-mode": "no-auth"}
    r = requests.patch(f"{u}/virtual-network/{vn['uuid']}", timeout=10)
    assert (r.status_code, r.text) == (405, "Method not allowed.")
    r = requests.get(u + "/no/such/path/here", timeout=10)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/")


def test_create_identity_rules(api_server, proj, cleanup, uid):
    u = api_server
    given = "5b0c4c2e-6f0a-4d55-9d7e-0a1b2c3d4e5f"
    body = vn_body(proj, f"given-{uid}", uuid=given)
    r = post(u, "/virtual-networks", {"virtual-network": body})
    if r.status_code == 200:
        cleanup.add("virtual-network", given)
    assert r.status_code == 200 and r.json()["virtual-network"]["uuid"] == given
    r = post(u, "/virtual-networks", {"virtual-network": vn_body(proj, f"other-{uid}", uuid=given)})
    assert r.status_code == 409 and given in r.text
    r = post(u, "/virtual-networks", {"virtual-network": vn_body(proj, f"bad-{uid}", uuid="xyz")})
    assert r.status_code == 400 and "xyz" in r.text
    r = post(u, "/virtual-networks", {"virtual-network": vn_body(proj, f"a:b-{uid}")})
    assert r.status_code == 400 and "invalid chars" in r.text
    r = post(u, "/virtual-networks", {"virtual-network": {"parent_type": "project"}})
    assert (r.status_code, r.text) == (400, "Bad Request, no fq_name in POST body")
    r = post(u, "/virtual-networks", {"virtual-network": vn_body(proj, f"ro-{uid}",
                                                                is_provider_network=True)})
    assert r.status_code == 400
    got = read(u, "virtual-network", given)
    assert got["display_name"] == f"given-{uid}" and got["name"] == f"given-{uid}"


def test_list_filters_and_presence_flags(api_server, proj, cleanup, uid):
    u = api_server
    a = create(u, cleanup, "virtual-network", vn_body(proj, f"a-{uid}", router_external=True))
    create(u, cleanup, "virtual-network", vn_body(proj, f"b-{uid}", router_external=False))
    q = {"parent_id": proj["uuid"]}
    r = requests.get(u + "/virtual-networks", timeout=10,
                     params={**q, "filters": "router_external==true"}).json()
    assert [x["uuid"] for x in r["virtual-networks"]] == [a["uuid"]]
    r = requests.get(u + "/virtual-networks", timeout=10,
                     params={**q, "filters": 'display_name=="a-%s",display_name=="b-%s"' % (uid, uid),
                             "count": "True"}).json()
    assert r == {"virtual-networks": {"count": 2}}
    r = requests.get(u + "/virtual-networks", timeout=10,
                     params={**q, "filters": "router_external==true,no_such_prop==1"}).json()
    assert r == {"virtual-networks": []}
    r = requests.get(u + "/virtual-networks", timeout=10, params={**q, "filters": "garbage"})
    assert r.status_code == 400
    r = requests.get(u + "/virtual-networks", timeout=10,
                     params={"parent_fq_name_str": ":".join(proj["fq_name"]), "count": "True"})
    assert r.json() == {"virtual-networks": {"count": 2}}
    got = read(u, "virtual-network", a["uuid"], exclude_children="false")
    assert "routing_instances" not in got                  # presence-only flag

