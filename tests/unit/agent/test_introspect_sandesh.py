"""Agent introspect: the Sandesh XML pages read with ist.py's own XPaths, positional
parameters, the multi-part table dumps, and JSON by Accept / ?format=json / /json/."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from lxml import etree

from filament.agent.desired import desired_state
from filament.agent.introspect import Pages, introspect_app, positional, render_xml
from filament.agent.ports import parse_port
from filament.agent.service import AgentOptions, AgentService
from filament.agent.view import (AclAddress, AclEntry, AgentView, Host, MacIpRoute, Network, PathNextHop, Port, RouteIn,
                                 SecurityGroup, Subnet)
from filament.datapath.model import ModelDatapath

VRF = "default-domain:p:red:red"
BLUE = "default-domain:p:blue:blue"
U1, U2, U3 = ("00000000-0000-0000-0000-00000000000%d" % i for i in (1, 2, 3))
VM = "00000000-0000-0000-0000-0000000000aa"
SG = "default-domain:p:web"


def body(uuid, ifname, ip, mac, vn="00000000-0000-0000-0000-0000000000b1"):
    return {"id": uuid, "instance-id": VM, "vn-id": vn, "vm-project-id": "", "display-name": "vm-a",
            "ip-address": ip, "ip6-address": "", "type": 0, "system-name": ifname, "mac-address": mac,
            "rx-vlan-id": -1, "tx-vlan-id": -1}


@pytest.fixture
def svc(tmp_path):
    s = AgentService(AgentOptions("cn1", "198.18.0.1", "ul0", 1600, ports_dir=str(tmp_path)), ModelDatapath)
    acl = (AclEntry("rule-1", "pass", "1", AclAddress("network", "default-domain:p:red"), AclAddress("any")),)
    nets = {VRF: Network(VRF, 7, (Subnet("100.64.1.0/24", "100.64.1.1"),), "00000000-0000-0000-0000-0000000000b1", acl),
            BLUE: Network(BLUE, 8, (Subnet("100.64.1.0/24", "100.64.1.1"),), "00000000-0000-0000-0000-0000000000b2")}
    ports = {U1: Port(U1, "tap1", "02:00:00:00:00:01", "100.64.1.11", VRF, VM, (SG,)),
             U2: Port(U2, "tap2", "02:00:00:00:00:02", "100.64.1.11", VRF, VM)}  # same IP: U1 wins
    routes = {VRF: {"100.64.1.12/32": RouteIn("100.64.1.12/32", (PathNextHop("198.18.0.2", 7),)),
                    "100.64.1.11/32": RouteIn("100.64.1.11/32", (PathNextHop("198.18.0.1", 7),))}}
    sgs = {SG: SecurityGroup(SG, 8000001, (AclEntry("in-1", "pass", "6", AclAddress("prefix", "0.0.0.0/0"), AclAddress("any"),
                                                    dst_ports=(22, 22)),), ())}
    evpn = {VRF: {"100.64.1.21": MacIpRoute("100.64.1.21", "02:00:00:00:21:21", PathNextHop("198.18.0.9", 7))}}
    s.view = AgentView(Host("198.18.0.1", "ul0", 1600, "cn1"), nets, ports, routes, sgs, evpn)
    s.desired = desired_state(s.view)
    s.records = {u: parse_port(body(u, f"tap{u[-1]}", "100.64.1.11", f"02:00:00:00:00:0{u[-1]}")) for u in (U1, U2)}
    s.records[U3] = parse_port(body(U3, "tap3", "100.64.1.13", "02:00:00:00:00:03", vn="00000000-0000-0000-0000-0000000000ff"))
    yield s
    s._pool.shutdown()


def xml(responses):
    return etree.fromstring(render_xml(responses).encode())


def test_itf_page_has_ist_columns_and_says_why_a_port_is_inactive(svc):
    root = xml(Pages(svc).itf_xml())
    assert root.tag == "__ItfResp_list" and root.get("type") == "slist"
    rows = {r.findtext("name"): r for r in root.xpath("//ItfSandeshData")}
    assert set(rows) == {"tap1", "tap2", "tap3"}
    for col in ("index", "name", "active", "mac_addr", "ip_addr", "mdata_ip_addr", "vm_name", "vn_name"):
        assert rows["tap1"].find(col) is not None, col
    assert rows["tap1"].findtext("active") == "Active" and rows["tap1"].findtext("vn_name") == "default-domain:p:red"
    assert rows["tap1"].findtext("policy") == "Enable" and rows["tap1"].xpath("sg_uuid_list/list/element/text()") == [SG]
    assert rows["tap2"].findtext("active") == f"Inactive: IP 100.64.1.11 already used by port {U1} in {VRF}"
    assert "virtual network 00000000-0000-0000-0000-0000000000ff unknown" in rows["tap3"].findtext("active")
    # the data response says more=true, the Pagination closing the dump says false
    assert root.xpath("ItfResp/more/text()") == ["true"] and root.xpath("Pagination/more/text()") == ["false"]
    assert root.xpath("//PageReqData/table_size/text()") == ["3"]


def test_itf_filters_are_positional_like_ist(svc):
    args, as_json = positional("name=&type=&uuid=&vn=&mac=02:00:00:00:00:02&ipv4_address=", (
        "name", "type", "uuid", "vn", "mac", "ipv4_address"))
    assert args == {"mac": "02:00:00:00:00:02"} and not as_json
    assert [r.findtext("name") for r in xml(Pages(svc).itf_xml(**args)).xpath("//ItfSandeshData")] == ["tap2"]
    assert positional("x=tap1&format=json", ("name",)) == ({"name": "tap1"}, True)


def test_vrf_and_vn_pages(svc):
    rows = xml(Pages(svc).vrf_xml()).xpath("//VrfSandeshData")
    assert [r.findtext("name") for r in rows] == [BLUE, VRF]
    red = rows[1]
    for col in ("name", "ucindex", "mcindex", "brindex", "evpnindex", "vxlan_id", "vn"):
        assert red.find(col) is not None, col
    assert (red.findtext("ucindex"), red.findtext("vxlan_id"), red.findtext("vn")) == ("7", "7", "default-domain:p:red")
    vn = xml(Pages(svc).vn_xml(name="red")).xpath("//VnSandeshData")
    assert len(vn) == 1 and vn[0].xpath("ipam_data//gateway/text()") == ["100.64.1.1"]


def test_route_page_paths_as_ist_reads_them(svc):
    root = xml(Pages(svc).route_xml(vrf_index="7"))
    by_prefix = {f"{r.findtext('src_ip')}/{r.findtext('src_plen')}": r for r in root.xpath("//RouteUcSandeshData")}
    assert {"100.64.1.11/32", "100.64.1.12/32", "100.64.1.1/32", "0.0.0.0/0"} <= set(by_prefix)
    remote = by_prefix["100.64.1.12/32"].xpath(".//PathSandeshData")[0]
    nh = remote.xpath("nh/NhSandeshData")[0]
    assert (nh.findtext("type"), nh.findtext("tunnel_type"), nh.findtext("dip"), nh.findtext("sip")) == \
        ("tunnel", "VXLAN", "198.18.0.2", "198.18.0.1")
    assert remote.findtext("vxlan_id") == "7" and remote.findtext("label") == "7"
    # a host behind an L2VNI switch (EVPN MAC/IP route): a VXLAN tunnel to the switch's VTEP
    host = by_prefix["100.64.1.21/32"]
    assert host.xpath(".//NhSandeshData/type/text()") == ["tunnel"] and host.findtext("intf_route_type") == ""
    assert host.xpath(".//NhSandeshData/dip/text()") == ["198.18.0.9"]
    local = by_prefix["100.64.1.11/32"].xpath(".//PathSandeshData")[0]
    assert local.findtext("peer") == "LocalVmPort"
    lnh = local.xpath("nh/NhSandeshData")[0]
    assert (lnh.findtext("type"), lnh.findtext("itf"), lnh.findtext("mac")) == ("interface", "tap1", "02:00:00:00:00:01")
    for path in root.xpath("//PathSandeshData"):  # what ist.py's showRoute_VR dereferences
        assert path.xpath("path_preference_data/PathPreferenceSandeshData/preference")
        assert path.find("active_label") is not None and path.find("nh/NhSandeshData/nh_index") is not None
    assert by_prefix["0.0.0.0/0"].xpath(".//NhSandeshData/type/text()") == ["discard"]
    one = xml(Pages(svc).route_xml(vrf_index="7", src_ip="100.64.1.12", prefix_len="32")).xpath("//RouteUcSandeshData")
    assert len(one) == 1
    assert xml(Pages(svc).route_xml(vrf_index=VRF)).xpath("count(//RouteUcSandeshData)") == len(by_prefix)
    assert xml(Pages(svc).route_xml(vrf_index="0")).xpath("//RouteUcSandeshData") == []


def test_acl_sg_xmpp_status_pages(svc):
    acls = {a.findtext("name"): a for a in xml(Pages(svc).acl_xml()).xpath("//AclSandeshData")}
    assert set(acls) == {VRF, f"{SG}:ingress-access-control-list", f"{SG}:egress-access-control-list"}
    ace = acls[VRF].xpath(".//AceSandeshData")[0]
    assert (ace.findtext("uuid"), ace.findtext("src"), ace.findtext("src_type"), ace.xpath(".//action/text()")) == \
        ("rule-1", "default-domain:p:red", "vn", ["pass"])
    assert [a.findtext("name") for a in xml(Pages(svc).acl_xml(uuid="in-1")).xpath("//AclSandeshData")] == \
        [f"{SG}:ingress-access-control-list"]
    sg = xml(Pages(svc).sg_xml()).xpath("//SgSandeshData")
    assert [(s.findtext("sg_name"), s.findtext("sg_id")) for s in sg] == [(SG, "8000001")]
    root = xml(Pages(svc).uve_xml(tname="NodeStatus"))
    assert root.tag == "NodeStatusUVE" and root.findtext(".//ProcessStatus/module_id") == "contrail-vrouter-agent"
    assert xml(Pages(svc).xmpp_xml()).tag == "AgentXmppConnectionStatus"


async def test_http_xml_by_default_json_on_request(svc):
    server = TestServer(introspect_app(svc), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{server.port}"
            async with http.get(f"{base}/Snh_ItfReq?name=tap1") as r:
                assert r.status == 200 and r.content_type == "text/xml"
                text = await r.text()
            assert text.startswith('<?xml-stylesheet type="text/xsl" href="/universal_parse.xsl"?><__ItfResp_list')
            assert [e.text for e in etree.fromstring(text.encode()).xpath("//ItfSandeshData/name")] == ["tap1"]
            for url, headers in ((f"{base}/Snh_ItfReq?name=tap1", {"Accept": "application/json"}),
                                 (f"{base}/Snh_ItfReq?name=tap1&format=json", {}), (f"{base}/json/Snh_ItfReq?name=tap1", {})):
                async with http.get(url, headers=headers) as r:
                    assert [i["name"] for i in (await r.json())["interfaces"]] == ["tap1"], url
            async with http.get(f"{base}/Snh_Inet4UcRouteReq", params={"vrf": VRF},
                                headers={"Accept": "application/json"}) as r:
                got = await r.json()
            assert got["vrf"] == VRF and "100.64.1.12/32" in {x["prefix"] for x in got["routes"]}
            async with http.get(f"{base}/json/Snh_SgListReq") as r:
                assert (await r.json())["SgListResp"]["sg_list"][0]["sg_id"] == 8000001
            async with http.get(f"{base}/Snh_NoSuchReq") as r:
                assert r.status == 404 and "NoSuchReq" in await r.text()
            async with http.get(f"{base}/Snh_AgentStatus") as r:
                assert (await r.json())["name"] == "cn1"
    finally:
        await server.close()
