"""Agent introspect on :8085: the original agent's Sandesh pages (XML, what ist.py and
the original's tools read) and the same data as JSON.

``GET /Snh_<Request>?…`` answers XML; parameters are positional, as Sandesh does (the
n-th ``key=value`` fills the request's n-th field, the key is ignored). Table dumps are
multi-part (``<__<Resp>_list type="slist">``: the data response, then a ``Pagination``
response with everything on one page), as the original agent sends them. JSON:
``Accept: application/json``, ``?format=json`` or the ``/json/Snh_<Request>`` path;
``ItfReq``, ``VrfListReq`` and ``Inet4UcRouteReq`` keep Filament's own JSON shapes
(what `filament vr`, `vif` and `flow` read), the others are ``{<Resp>: <fields>}``.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

from aiohttp import web

from filament.agent.desired import vif_flags
from filament.agent.ports import port_state
from filament.agent.view import AclAddress, AclEntry
from filament.wire.sandesh import STYLESHEET, L, S, response_xml
from filament.datapath.state import VROUTER_MAC, VXLAN_PREFIX, table_for_vni

MODULE_ID = "contrail-vrouter-agent"

# Request name -> (positional fields, builder of the XML responses, builder of the JSON body)
REQUESTS: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "ItfReq": (("name", "type", "uuid", "vn", "mac", "ipv4_address", "ipv6_address", "parent_uuid",
                "ip_active", "ip6_active", "l2_active"), "itf_xml", "itf_json"),
    "VrfListReq": (("name",), "vrf_xml", "vrf_json"),
    "VnListReq": (("name", "uuid"), "vn_xml", None),
    "Inet4UcRouteReq": (("vrf_index", "src_ip", "prefix_len", "stale"), "route_xml", "route_json"),
    "AclReq": (("uuid",), "acl_xml", None),
    "SgListReq": (("name",), "sg_xml", None),
    "AgentXmppConnectionStatusReq": ((), "xmpp_xml", None),
    "SandeshUVECacheReq": (("tname",), "uve_xml", None),
}


# ---- Filament JSON (filament vr / vif / flow) ---------------------------------------


def interfaces(svc, stats: dict[str, dict]) -> list[dict]:
    view = svc.view
    configured = {v.port: v for v in svc.desired.vifs}
    out = []
    for i, rec in enumerate(sorted(svc.records.values(), key=lambda r: r.ifname), start=3):
        port = view.ports.get(rec.uuid)
        net = view.networks.get(port.vrf) if port else None
        vif = configured.get(rec.uuid)
        out.append({
            "index": i, "name": rec.ifname, "uuid": rec.uuid, "vm": rec.instance, "vm_name": rec.name,
            "type": "Virtual", "mac_addr": port.mac if port else rec.mac, "hw_addr": VROUTER_MAC,
            "ip_addr": port.ip if port else rec.ip,
            "vrf_name": port.vrf if port else "", "vrf": table_for_vni(net.vni) - table_for_vni(0) if net else -1,
            "active": "Active" if vif else "Inactive", "mtu": vif.mtu if vif else 0,
            "flags": vif_flags(view, port) if vif and port else "", "stats": stats.get(rec.ifname, {}),
            "acls": [{"stage": a.stage, "direction": a.direction, "rules": [r.uuid for r in a.rules]}
                     for a in svc.desired.filter.acls if a.vif == rec.ifname],
        })
    return out


def vrfs(svc) -> list[dict]:
    out = []
    for name, net in sorted(svc.view.networks.items()):
        routes = svc.view.routes.get(name, {})
        out.append({"name": name, "vni": net.vni, "table": table_for_vni(net.vni),
                    "local": any(p.vrf == name for p in svc.view.ports.values()), "ucindex": net.vni,
                    "routes": len(routes)})
    return out


def routes(svc, vrf: str) -> list[dict]:
    net = svc.view.networks.get(vrf)
    if net is None:
        return []
    table = table_for_vni(net.vni)
    out = []
    for r in sorted(svc.desired.routes):
        if r.table != table:
            continue
        out.append({"prefix": r.prefix, "kind": r.kind,
                    "next_hops": [{"dev": nh.dev, "via": nh.via} for nh in r.nexthops]})
    return out


# ---- Sandesh responses -------------------------------------------------------------


def _pagination(table: str, size: int) -> S:
    page = f"begin:0,end:{max(size - 1, 0)},table:{table},"
    data = S("PageReqData", [
        ("prev_page", "string", ""), ("next_page", "string", ""), ("first_page", "string", page),
        ("all", "string", page), ("table_size", "u32", size), ("entries", "string", f"0-{max(size - 1, 0)}/{size}"),
    ])
    return S("Pagination", [("req", "struct", data)])


def _mac_ip_vtep(desired, dev: str, ip: str) -> str:
    """The VTEP behind a MAC/IP route ``<ip>/32 dev flvx<VNI>``: neighbour MAC -> fdb dst."""
    mac = next((n.mac for n in desired.neighbours if (n.dev, n.ip) == (dev, ip)), "")
    return next((f.dst for f in desired.fdbs if (f.dev, f.mac) == (dev, mac)), "")


def _vrf_of_index(svc, index: str) -> str:
    """A VRF given by index (= its VNI, our ucindex) or by name."""
    if index.isdigit():
        return next((name for name, n in svc.view.networks.items() if n.vni == int(index)), "")
    return index


class Pages:
    """The request handlers: each returns the responses of one request (pure reads of
    the agent's current view, desired state, port records and sessions)."""

    def __init__(self, svc, stats: dict[str, dict] | None = None):
        self.svc = svc
        self.stats = stats or {}

    # ItfReq ----------------------------------------------------------------------

    def _itf_rows(self, name="", type="", uuid="", vn="", mac="", ipv4_address="", **_) -> list[tuple[dict, S]]:
        """(Filament JSON row, ItfSandeshData) of every interface the filters match."""
        svc = self.svc
        configured = {v.port for v in svc.desired.vifs}
        errors = svc.vif_errors() if hasattr(svc, "vif_errors") else {}
        acl_vifs = {a.vif for a in svc.desired.filter.acls}
        rows = []
        for row in interfaces(svc, self.stats):
            rec = svc.records[row["uuid"]]
            net = svc.view.networks.get(row["vrf_name"])
            port = svc.view.ports.get(rec.uuid)
            vn_name = row["vrf_name"].rsplit(":", 1)[0] if row["vrf_name"] else ""
            if ((name and name not in row["name"]) or (uuid and uuid != row["uuid"]) or (vn and vn not in vn_name)
                    or (mac and mac.lower() != row["mac_addr"]) or (ipv4_address and ipv4_address != row["ip_addr"])):
                continue
            active = port_state(rec, svc.view, configured, errors)
            up = "Active" if active == "Active" else "Inactive"
            rows.append((row, S("ItfSandeshData", [
                ("index", "u32", row["index"]), ("name", "string", row["name"]), ("uuid", "string", row["uuid"]),
                ("vrf_name", "string", row["vrf_name"] or "--ERROR--"), ("active", "string", active),
                ("ipv4_active", "string", up), ("l2_active", "string", up), ("ip6_active", "string", "Inactive"),
                ("dhcp_service", "string", "Disable"), ("dns_service", "string", "Disable"),
                ("type", "string", "vport"), ("label", "i32", net.vni if net else -1),
                ("l2_label", "i32", net.vni if net else -1), ("vxlan_id", "i32", net.vni if net else 0),
                ("vn_name", "string", vn_name), ("vm_uuid", "string", rec.instance), ("vm_name", "string", rec.name),
                ("ip_addr", "string", row["ip_addr"]), ("mac_addr", "string", row["mac_addr"]),
                ("policy", "string", "Enable" if row["name"] in acl_vifs else "Disable"),
                ("fip_list", "list", L("struct", [])), ("mdata_ip_addr", "string", "0.0.0.0"),
                ("mtu", "u32", row["mtu"]),
                ("sg_uuid_list", "list", L("string", list(port.security_groups) if port else [])),
                ("vm_project_uuid", "string", rec.raw.get("vm-project-id", "")),
                ("os_ifindex", "i32", -1), ("vmi_type", "string", "Virtual Machine"),
            ])))
        return rows

    def itf_xml(self, **q) -> list[S]:
        rows = [s for _, s in self._itf_rows(**q)]
        return [S("ItfResp", [("itf_list", "list", L("struct", rows))]), _pagination("db.interface.0", len(rows))]

    def itf_json(self, **q) -> dict:
        return {"interfaces": [row for row, _ in self._itf_rows(**q)]}

    # VrfListReq / VnListReq --------------------------------------------------------

    def vrf_xml(self, name="", **_) -> list[S]:
        rows = []
        for v in vrfs(self.svc):
            if name and name not in v["name"]:
                continue
            idx = v["ucindex"]
            rows.append(S("VrfSandeshData", [
                ("name", "string", v["name"]), ("ucindex", "u32", idx), ("mcindex", "u32", idx),
                ("l2index", "u32", idx), ("source", "string", "Config; "), ("uc6index", "u32", idx),
                ("vn", "string", v["name"].rsplit(":", 1)[0]), ("table_label", "u32", 0),
                ("vxlan_id", "u32", v["vni"]), ("evpnindex", "u32", idx), ("brindex", "u32", idx),
                ("mplsindex", "u32", idx), ("RD", "string", f"{self.svc.host.vtep}:{idx}"),
                ("mac_aging_time", "u32", 300), ("layer2_control_word", "bool", False),
                ("forwarding_vrf", "string", ""), ("table", "u32", v["table"]),
            ]))
        return [S("VrfListResp", [("vrf_list", "list", L("struct", rows))]), _pagination("db.vrf.0", len(rows))]

    def vrf_json(self, name="", **_) -> dict:
        return {"vrfs": [v for v in vrfs(self.svc) if not name or name in v["name"]]}

    def vn_xml(self, name="", uuid="", **_) -> list[S]:
        rows = []
        for vrf, net in sorted(self.svc.view.networks.items()):
            vn = vrf.rsplit(":", 1)[0]
            if (name and name not in vn) or (uuid and uuid != net.uuid):
                continue
            ipam = [S("VnIpamData", [
                ("ip_prefix", "string", s.prefix.split("/")[0]), ("prefix_len", "u32", int(s.prefix.split("/")[1])),
                ("gateway", "string", s.gateway), ("ipam_name", "string", ""), ("dhcp_enable", "string", "false"),
            ]) for s in net.subnets]
            rows.append(S("VnSandeshData", [
                ("name", "string", vn), ("uuid", "string", net.uuid), ("vrf_name", "string", vrf),
                ("acl_uuid", "string", ""), ("ipam_data", "list", L("struct", ipam)),
                ("layer2_forwarding", "bool", False), ("ipv4_forwarding", "bool", True),
                ("enable_rpf", "bool", True), ("bridging", "bool", False), ("vxlan_id", "i32", net.vni),
                ("policy", "string", "Enable" if net.acl is not None else "Disable"),
            ]))
        return [S("VnListResp", [("vn_list", "list", L("struct", rows))]), _pagination("db.vn.0", len(rows))]

    # Inet4UcRouteReq ---------------------------------------------------------------

    def _nh(self, type_: str, **kw) -> S:
        f = [("type", "string", type_), ("ref_count", "u32", 1), ("valid", "string", "true"),
             ("policy", "string", kw.pop("policy", "disabled"))]
        for k in ("sip", "dip", "tunnel_type", "mac", "itf", "vrf"):
            if k in kw:
                f.append((k, "string", kw[k]))
        f.append(("nh_index", "u32", kw.get("nh_index", 0)))
        return S("NhSandeshData", f)

    def _path(self, nh: S, peer: str, label: int, vni: int, vn: str, sgs: list[str], preference: int) -> S:
        pref = S("PathPreferenceSandeshData", [("sequence", "u32", 0), ("preference", "u32", preference),
                                              ("ecmp", "bool", False), ("wait_for_traffic", "bool", False)])
        return S("PathSandeshData", [
            ("nh", "struct", nh), ("label", "u32", label), ("vxlan_id", "u32", vni), ("peer", "string", peer),
            ("dest_vn_list", "list", L("string", [vn] if vn else [])), ("unresolved", "string", "false"),
            ("sg_list", "list", L("string", sgs)), ("supported_tunnel_type", "string", "VXLAN"),
            ("active_tunnel_type", "string", "VXLAN"), ("stale", "bool", False),
            ("path_preference_data", "struct", pref), ("active_label", "u32", label),
            ("communities", "list", L("string", [])), ("inactive", "bool", False), ("origin_vn", "string", vn),
        ])

    def route_rows(self, vrf_index="", src_ip="", prefix_len="", **_) -> list[S]:
        svc = self.svc
        vrf = _vrf_of_index(svc, vrf_index)
        net = svc.view.networks.get(vrf)
        if net is None:
            return []
        vn = vrf.rsplit(":", 1)[0]
        table = table_for_vni(net.vni)
        by_ifname = {p.ifname: p for p in svc.view.ports.values()}
        acl_vifs = {a.vif for a in svc.desired.filter.acls}
        control = next((s.host for s in svc.sessions if s.up.is_set()), "")
        rows = []
        for i, r in enumerate(sorted(svc.desired.routes)):
            if r.table != table:
                continue
            ip, plen = r.prefix.split("/")
            if src_ip and (ip != src_ip or (prefix_len and prefix_len != plen)):
                continue
            paths = []
            for nh in r.nexthops:
                if r.kind == "local":
                    paths.append(self._path(self._nh("receive", itf=nh.dev, vrf=vrf), "Local", 0, 0, vn, [], 100))
                elif nh.via or nh.dev.startswith(VXLAN_PREFIX):
                    # the route's VNI is the VXLAN device's (flvx<VNI>): label and vxlan_id; a
                    # MAC/IP (EVPN) route has no via: its VTEP is the fdb entry of its neighbour
                    vni = int(nh.dev[4:]) if nh.dev[4:].isdigit() else net.vni
                    dip = nh.via or _mac_ip_vtep(svc.desired, nh.dev, ip)
                    paths.append(self._path(self._nh("tunnel", sip=svc.host.vtep, dip=dip, tunnel_type="VXLAN",
                                                     vrf=vrf, nh_index=i), control, vni, vni, vn, [], 100))
                else:
                    port = by_ifname.get(nh.dev)
                    policy = "enabled" if nh.dev in acl_vifs else "disabled"
                    paths.append(self._path(self._nh("interface", itf=nh.dev, mac=port.mac if port else "",
                                                     policy=policy, vrf=vrf, nh_index=i),
                                            "LocalVmPort", net.vni, net.vni, vn,
                                            list(port.security_groups) if port else [], 200))
            if r.kind == "unreachable":
                paths.append(self._path(self._nh("discard", vrf=vrf), "Local", 0, 0, "", [], 0))
            rows.append(S("RouteUcSandeshData", [
                ("src_ip", "string", ip), ("src_plen", "u32", int(plen)), ("src_vrf", "string", vrf),
                ("path_list", "list", L("struct", paths)), ("multicast", "bool", False),
                ("intf_route_type", "string", "interface" if r.kind == "unicast" and not any(
                    n.via or n.dev.startswith(VXLAN_PREFIX) for n in r.nexthops) else ""),
            ]))
        return rows

    def route_xml(self, **q) -> list[S]:
        rows = self.route_rows(**q)
        return [S("Inet4UcRouteResp", [("route_list", "list", L("struct", rows))]),
                _pagination("db.uc.route.0", len(rows))]

    def route_json(self, vrf_index="", **_) -> dict:
        vrf = _vrf_of_index(self.svc, vrf_index)
        return {"vrf": vrf, "routes": routes(self.svc, vrf)}

    # AclReq / SgListReq -------------------------------------------------------------

    def _acls(self) -> list[tuple[str, tuple[AclEntry, ...]]]:
        out = []
        for vrf, net in sorted(self.svc.view.networks.items()):
            if net.acl is not None:
                out.append((vrf, net.acl))  # the policy ACL's fq-name is <vn>:<vn-name>, as the VRF's
        for name, sg in sorted(self.svc.view.security_groups.items()):
            out.append((f"{name}:egress-access-control-list", sg.egress))
            out.append((f"{name}:ingress-access-control-list", sg.ingress))
        return out

    @staticmethod
    def _side(a: AclAddress) -> tuple[str, str]:
        kinds = {"any": "any", "local": "local", "network": "vn", "group": "sg", "prefix": "ip", "none": "none"}
        return a.value or "any", kinds.get(a.kind, a.kind)

    def acl_xml(self, uuid="", **_) -> list[S]:
        rows = []
        for name, entries in self._acls():
            if uuid and uuid not in name and not any(e.uuid == uuid for e in entries):
                continue
            aces = []
            for i, e in enumerate(entries):
                (src, st), (dst, dt) = self._side(e.src), self._side(e.dst)
                aces.append(S("AceSandeshData", [
                    ("ace_id", "string", str(i + 1)), ("rule_type", "string", "Terminal"),
                    ("src", "string", src), ("dst", "string", dst), ("proto", "string", e.protocol),
                    ("src_port", "string", f"{e.src_ports[0]}-{e.src_ports[1]}"),
                    ("dst_port", "string", f"{e.dst_ports[0]}-{e.dst_ports[1]}"),
                    ("action_l", "list", L("struct", [S("ActionStr", [("action", "string", e.action)])])),
                    ("uuid", "string", e.uuid), ("src_type", "string", st), ("dst_type", "string", dt),
                ]))
            rows.append(S("AclSandeshData", [
                ("uuid", "string", name), ("ref_count", "u32", 1), ("name", "string", name),
                ("dynamic_acl", "bool", False), ("entries", "list", L("struct", aces)),
            ]))
        return [S("AclResp", [("acl_list", "list", L("struct", rows))]), _pagination("db.acl.0", len(rows))]

    def sg_xml(self, name="", **_) -> list[S]:
        rows = [S("SgSandeshData", [
            ("sg_name", "string", n), ("sg_id", "u32", sg.id),
            ("ingress_acl_uuid", "string", f"{n}:ingress-access-control-list"),
            ("egress_acl_uuid", "string", f"{n}:egress-access-control-list"),
            ("ingress_rules", "u32", len(sg.ingress)), ("egress_rules", "u32", len(sg.egress)),
        ]) for n, sg in sorted(self.svc.view.security_groups.items()) if not name or name in n]
        return [S("SgListResp", [("sg_list", "list", L("struct", rows))]), _pagination("db.sg.0", len(rows))]

    # sessions and status --------------------------------------------------------------

    def xmpp_xml(self, **_) -> list[S]:
        rows = []
        for i, s in enumerate(self.svc.sessions):
            rows.append(S("AgentXmppData", [
                ("controller_ip", "string", s.host), ("state", "string", "Established" if s.up.is_set() else "Down"),
                ("peer_name", "string", "network-control@contrailsystems.com"),
                ("peer_address", "string", s.peer), ("cfg_controller", "string", "Yes" if s is self.svc._session() else "No"),
                ("mcast_controller", "string", "No"), ("last_state", "string", "Established" if s.up.is_set() else "Active"),
                ("flap_count", "u32", max(0, s.sessions - 1)), ("flap_time", "string", ""),
                ("xmpp_auth_type", "string", "NIL"), ("end_of_rib", "bool", s.eor.is_set()),
            ]))
        return [S("AgentXmppConnectionStatus", [("peer", "list", L("struct", rows))])]

    def uve_xml(self, tname="", **_) -> list[S]:
        svc = self.svc
        infos, down = [], []
        for s in svc.sessions:
            up = s.up.is_set()
            if not up:
                down.append(f"control-node:{s.peer}")
            infos.append(S("ConnectionInfo", [
                ("type", "string", "XMPP"), ("name", "string", f"control-node:{s.host}"),
                ("server_addrs", "list", L("string", [s.peer])), ("status", "string", "Up" if up else "Down"),
                ("description", "string", "OpenSent" if not up else "Established"),
            ]))
        failed = len(svc.last_pass.failed)
        state = "Functional" if not down and svc.in_sync() else "Non-Functional"
        why = (f"{', '.join(down)} connection down" if down else "") or ("" if svc.in_sync() else "no End-of-RIB yet")
        if failed:
            why = (why + "; " if why else "") + f"{failed} datapath operations refused"
        ps = S("ProcessStatus", [
            ("module_id", "string", MODULE_ID), ("instance_id", "string", "0"), ("state", "string", state),
            ("connection_infos", "list", L("struct", infos)), ("description", "string", why),
        ])
        data = S("NodeStatus", [("name", "string", svc.opts.name), ("process_status", "list", L("struct", [ps]))])
        return [S("NodeStatusUVE", [("data", "struct", data)])]


def render_xml(responses: list[S]) -> str:
    """One response: the single-part document; several: the multi-part ``slist``
    wrapper, ``more=true`` on all but the last."""
    if len(responses) == 1:
        return response_xml(responses[0])
    last_more = '<more type="bool" identifier="0">false</more>'
    parts = []
    for i, s in enumerate(responses):
        xml = response_xml(s)[len(STYLESHEET):]
        if i < len(responses) - 1:
            end = f"{last_more}</{s.name}>"
            xml = xml[: -len(end)] + f'<more type="bool" identifier="0">true</more></{s.name}>'
        parts.append(xml)
    first = responses[0].name
    return f'{STYLESHEET}<__{first}_list type="slist">{"".join(parts)}</__{first}_list>'


def positional(query: str, fields: tuple[str, ...]) -> tuple[dict[str, str], bool]:
    """Sandesh parameters: the n-th pair fills the n-th field (keys ignored); also
    whether ``format=json`` was asked (that pair is not a parameter)."""
    args: dict[str, str] = {}
    as_json = False
    pairs = [p for p in query.split("&") if p] if query else []
    i = 0
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key == "format" and value == "json":
            as_json = True
            continue
        if i < len(fields) and value:
            args[fields[i]] = unquote(value.replace("+", " "))
        i += 1
    return args, as_json


def introspect_app(svc) -> web.Application:
    app = web.Application()

    async def stats() -> dict[str, dict]:
        link_stats = getattr(svc.backend, "link_stats", None)
        if link_stats is None:
            return {}
        return await asyncio.get_running_loop().run_in_executor(svc._pool, link_stats)

    async def handle(request: web.Request, force_json: bool = False) -> web.Response:
        req = request.match_info["req"]
        name = req[4:] if req.startswith("Snh_") else ""
        if name not in REQUESTS:
            raise web.HTTPNotFound(text=f"unknown request {req}")
        fields, xml_fn, json_fn = REQUESTS[name]
        args, as_json = positional(request.query_string, fields)
        if name == "Inet4UcRouteReq" and "vrf" in request.query:  # ?vrf=<name>, as filament vr sends it
            args["vrf_index"] = request.query["vrf"]
        pages = Pages(svc, await stats() if name == "ItfReq" else None)
        if force_json or as_json or "application/json" in request.headers.get("Accept", ""):
            if json_fn:
                return web.json_response(getattr(pages, json_fn)(**args))
            rs = getattr(pages, xml_fn)(**args)
            return web.json_response({rs[0].name: rs[0].to_json()})
        return web.Response(text=render_xml(getattr(pages, xml_fn)(**args)), content_type="text/xml")

    async def json_page(request: web.Request) -> web.Response:
        return await handle(request, force_json=True)

    async def status(request):
        return web.json_response({
            "name": svc.opts.name, "generation": svc.generation, "applied_generation": svc.applied_generation,
            "failed": [str(f) for f in svc.last_pass.failed],
            "sessions": [{"peer": s.peer, "up": s.up.is_set(), "eor": s.eor.is_set()} for s in svc.sessions],
        })

    async def index(request):
        links = "".join(f'<a href="Snh_{n}">{n}</a><br/>' for n in sorted(REQUESTS))
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")

    app.router.add_get("/", index)
    app.router.add_get("/Snh_AgentStatus", status)  # Filament's own (JSON): generations, sessions
    app.router.add_get("/json/{req}", json_page)
    app.router.add_get("/{req}", handle)
    return app
