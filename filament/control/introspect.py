"""Introspect on :8083: the original's Sandesh pages (XML) and the same data as JSON.

``GET /Snh_<Request>?…`` answers XML (parameters positional, as Sandesh does);
``Accept: application/json`` or the ``/json/Snh_<Request>`` path answers JSON.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from aiohttp import web

from filament.control.node import ControlNode
from filament.control.path import ecmp_paths
from filament.wire.sandesh import L, S, response_xml, timestamp
from filament.control.table import family_of

REQUESTS: dict[str, tuple[list[str], str]] = {}


def request(name: str, *fields: str):
    def deco(fn):
        REQUESTS[name] = (list(fields), fn.__name__)
        return fn

    return deco


def _search(pattern: str):
    if not pattern:
        return lambda s: True
    try:
        rx = re.compile(pattern)
    except re.error:
        return lambda s: pattern in s
    return lambda s: rx.search(s) is not None


class Introspect:
    def __init__(self, node: ControlNode):
        self.node = node

    # ---- status -------------------------------------------------------------------

    @request("SandeshUVECacheReq", "tname")
    def uve(self, tname: str = "") -> S:
        n = self.node
        api = S("ConnectionInfo", [
            ("type", "string", "ApiServer"), ("name", "string", "filament-api"),
            ("server_addrs", "list", L("string", [n.api_url or "static"])),
            ("status", "string", "Up" if n.config_connected else "Down"),
            ("description", "string", f"revision {n.config_revision}" if n.config_connected else ""),
        ])
        ps = S("ProcessStatus", [
            ("module_id", "string", "filament-control"), ("instance_id", "string", "0"),
            ("state", "string", "Functional" if n.config_connected else "Non-Functional"),
            ("connection_infos", "list", L("struct", [api])),
            ("description", "string", "" if n.config_connected else "config API not connected"),
        ])
        data = S("NodeStatus", [("name", "string", n.opts.name), ("process_status", "list", L("struct", [ps]))])
        return S("NodeStatusUVE", [("data", "struct", data)])

    # ---- neighbours ---------------------------------------------------------------

    def _neighbor(self, p) -> S:
        sess = p.session
        tables = sorted(t for inst in self.node.rib.membership.get(p.name, {}) for t in
                        ([x.name for x in self.node.rib.instances[inst].tables.values()] if inst in self.node.rib.instances else []))
        send_state = "in sync" if sess is not None and not sess.pending else ("not in sync" if sess is not None else "not advertising")
        return S("BgpNeighborResp", [
            ("instance_name", "string", ""), ("peer", "string", p.name, ' link="BgpNeighborReq"'),
            ("deleted", "bool", False),
            ("peer_address", "string", p.address, ' link="BgpNeighborReq"'), ("peer_id", "string", p.address),
            ("peer_asn", "u32", 0), ("encoding", "string", p.kind), ("peer_type", "string", "internal"),
            ("state", "string", p.state), ("send_state", "string", send_state),
            ("local_address", "string", self.node.opts.router_id), ("local_asn", "u32", self.node.rib.asn),
            ("negotiated_hold_time", "u16", int(self.node.opts.hold_time)),
            ("configured_hold_time", "u32", int(self.node.opts.hold_time)),
            ("primary_path_count", "u32", len(self.node.rib.peer_paths(p.name))),
            ("auth_type", "string", "NIL"),
            ("flap_count", "u64", p.flap_count), ("flap_time", "string", timestamp(p.flap_time)),
            ("routing_tables", "list", L("struct", [S("BgpNeighborRoutingTable", [("name", "string", t), ("current_state", "string", "subscribed")]) for t in tables])),
            ("rx_proto_stats", "struct", S("PeerProtoStats", [(k, "u64", v) for k, v in p.rx.items()])),
            ("tx_proto_stats", "struct", S("PeerProtoStats", [(k, "u64", v) for k, v in p.tx.items()])),
        ])

    def _bgp_neighbor(self, sess) -> S:
        from filament.control.bgp_routes import FAMILY_TABLE

        cfg, neg, st = sess.config, sess.negotiated, sess.stats
        if not sess.established:
            send_state = "not advertising"
        else:
            send_state = "in sync" if not sess.pending else "not in sync"
        tables = sorted(FAMILY_TABLE[f] for f in neg.families if f in FAMILY_TABLE) if sess.established else []
        return S("BgpNeighborResp", [
            ("instance_name", "string", ""), ("peer", "string", cfg.name, ' link="BgpNeighborReq"'),
            ("deleted", "bool", False),
            ("peer_address", "string", cfg.address, ' link="BgpNeighborReq"'),
            ("peer_id", "string", neg.peer_router_id or cfg.peer_router_id),
            ("peer_asn", "u32", cfg.peer_asn), ("encoding", "string", "BGP"),
            ("peer_type", "string", "internal" if cfg.ibgp else "external"),
            ("state", "string", sess.state), ("send_state", "string", send_state),
            ("local_address", "string", sess.local_next_hop), ("local_asn", "u32", cfg.local_asn),
            ("negotiated_hold_time", "u16", neg.hold_time if sess.established else 0),
            ("configured_hold_time", "u32", cfg.hold_time),
            ("primary_path_count", "u32", len(self.node.rib.peer_paths(cfg.name))),
            ("auth_type", "string", "MD5" if cfg.md5_key else "NIL"),
            ("flap_count", "u64", st.flaps), ("flap_time", "string", timestamp(st.flap_time)),
            ("last_error", "string", st.last_error),
            ("routing_tables", "list", L("struct", [S("BgpNeighborRoutingTable", [("name", "string", t), ("current_state", "string", "active")]) for t in tables])),
            ("rx_proto_stats", "struct", S("PeerProtoStats", [(k, "u64", v) for k, v in st.rx.items()])),
            ("tx_proto_stats", "struct", S("PeerProtoStats", [(k, "u64", v) for k, v in st.tx.items()])),
        ])

    @request("BgpNeighborReq", "search_string")
    def neighbors(self, search_string: str = "") -> S:
        """BGP neighbors first, then XMPP peers, each sorted by name (as the original)."""
        match = _search(search_string)
        bgp = self.node.bgp.sessions() if self.node.bgp is not None else []
        out = [self._bgp_neighbor(s) for s in sorted(bgp, key=lambda s: s.config.name)
               if match(s.config.name) or match(s.config.address)]
        out += [self._neighbor(p) for _, p in sorted(self.node.peers.items()) if match(p.name) or match(p.address)]
        return S("BgpNeighborListResp", [("neighbors", "list", L("struct", out))])

    REQUESTS["ShowBgpNeighborSummaryReq"] = (["search_string"], "neighbors")

    @request("ShowXmppConnectionReq")
    def xmpp_connections(self) -> S:
        out = []
        for name, p in sorted(self.node.peers.items()):
            out.append(S("ShowXmppConnection", [
                ("name", "string", name), ("deleted", "bool", False), ("remote_endpoint", "string", p.address),
                ("local_endpoint", "string", self.node.opts.router_id), ("state", "string", p.state),
                ("last_event", "string", ""), ("receive_queue_size", "u32", 0),
                ("flap_count", "u64", p.flap_count), ("flap_time", "string", timestamp(p.flap_time)),
            ]))
        return S("ShowXmppConnectionResp", [("connections", "list", L("struct", out))])

    # ---- routing ------------------------------------------------------------------

    def _tables(self):
        return sorted(self.node.rib.tables.values(), key=lambda t: t.name)

    @request("ShowRouteSummaryReq", "search_string")
    def route_summary(self, search_string: str = "") -> S:
        match = _search(search_string)
        rows = []
        for t in self._tables():
            if not match(t.name):
                continue
            s = t.summary()
            rows.append(S("ShowRouteTableSummary", [
                ("name", "string", s["name"]), ("prefixes", "u64", s["prefixes"]), ("paths", "u64", s["paths"]),
                ("primary_paths", "u64", s["primary_paths"]), ("secondary_paths", "u64", s["secondary_paths"]),
                ("infeasible_paths", "u64", s["infeasible_paths"]), ("stale_paths", "u64", s["stale_paths"]),
                ("llgr_stale_paths", "u64", s["llgr_stale_paths"]), ("walk_requests", "u64", 0),
                ("walk_completes", "u64", 0), ("walk_cancels", "u64", 0), ("pending_updates", "u64", 0),
                ("listeners", "u32", len(self.node.rib.listeners.get(t.name, ()))), ("deleted", "bool", False),
                ("deleted_at", "string", ""),
            ]))
        return S("ShowRouteSummaryResp", [("tables", "list", L("struct", rows))])

    def _path(self, t, p, best_key) -> S:
        vn = self.node.rib.instance_vn(self.node.rib.tables[p.primary_table].instance if p.primary_table in self.node.rib.tables else t.instance)
        proto = p.protocol + (f" ({p.sub_protocol})" if p.sub_protocol else "")
        flags = sorted(p.flags) or ["None"]
        return S("ShowRoutePath", [
            ("protocol", "string", proto), ("last_modified", "string", timestamp(p.last_modified)),
            ("local_preference", "u32", p.local_pref), ("med", "u32", p.med), ("local_as", "u32", self.node.rib.asn),
            ("peer_as", "u32", 0), ("peer_router_id", "string", ""),
            ("source", "string", p.peer), ("as_path", "string", ""), ("as4_path", "string", ""),
            ("next_hop", "string", p.next_hop), ("label", "u32", p.label), ("origin", "string", "igp"),
            ("replicated", "bool", bool(p.primary_table)), ("primary_table", "string", p.primary_table),
            ("secondary_tables", "list", L("string", [])),
            ("communities", "list", L("string", [*p.route_targets, *(f"encapsulation:{e}" for e in p.encap), *(f"secgroup:{self.node.rib.asn}:{g}" for g in p.security_groups)])),
            ("origin_vn", "string", vn), ("flags", "list", L("string", flags)),
            ("tunnel_encap", "list", L("string", list(p.encap))), ("sequence_no", "string", str(p.sequence)),
            ("origin_vn_path", "list", L("string", [])), ("source_rd", "string", p.source_rd),
            ("ecmp", "bool", p.ecmp_key() == best_key),
        ])

    @request("ShowRouteReq", "routing_table", "routing_instance", "prefix", "longer_match", "shorter_match",
             "count", "start_routing_table", "start_routing_instance", "start_prefix", "source", "protocol", "family")
    def routes(self, routing_table="", routing_instance="", prefix="", longer_match="", shorter_match="", count="",
               start_routing_table="", start_routing_instance="", start_prefix="", source="", protocol="", family="") -> S:
        match = _search(prefix)
        limit = int(count) if str(count).isdigit() and int(count) > 0 else 0
        out = []
        for t in self._tables():
            if routing_table and t.name != routing_table:
                continue
            if routing_instance and t.instance != routing_instance:
                continue
            if family and family_of(t.name) != family:
                continue
            routes = []
            for key in sorted(t.routes):
                if prefix and not match(key):
                    continue
                r = t.routes[key]
                paths = [p for p in r.paths if (not source or p.peer == source) and (not protocol or p.protocol == protocol)]
                if not paths:
                    continue
                best = ecmp_paths(r.paths)
                bk = best[0].ecmp_key() if best else None
                routes.append(S("ShowRoute", [
                    ("prefix", "string", key), ("last_modified", "string", timestamp(r.last_modified)),
                    ("paths", "list", L("struct", [self._path(t, p, bk) for p in paths])),
                ]))
                if limit and len(routes) >= limit:
                    break
            if prefix and not routes:
                continue
            s = t.summary()
            out.append(S("ShowRouteTable", [
                ("routing_instance", "string", t.instance), ("routing_table_name", "string", t.name),
                ("deleted", "bool", False), ("deleted_at", "string", ""),
                ("prefixes", "u64", s["prefixes"]), ("paths", "u64", s["paths"]),
                ("primary_paths", "u64", s["primary_paths"]), ("secondary_paths", "u64", s["secondary_paths"]),
                ("infeasible_paths", "u64", s["infeasible_paths"]), ("stale_paths", "u64", s["stale_paths"]),
                ("llgr_stale_paths", "u64", s["llgr_stale_paths"]),
                ("routes", "list", L("struct", routes)),
            ]))
        return S("ShowRouteResp", [("tables", "list", L("struct", out))])

    @request("ShowRoutingInstanceReq", "search_string")
    def instances(self, search_string: str = "") -> S:
        match = _search(search_string)
        rib = self.node.rib
        out = []
        for name in sorted(rib.instances):
            if not match(name):
                continue
            inst = rib.instances[name]
            c = inst.config
            peers = [S("ShowRoutingInstanceMembership", [("peer", "string", p), ("ribout_registered", "bool", True),
                                                         ("ribin_registered", "bool", True),
                                                         ("instance_id", "i32", m[name].instance_id if m[name].instance_id is not None else -1)])
                     for p, m in sorted(rib.membership.items()) if name in m]
            out.append(S("ShowRoutingInstance", [
                ("name", "string", name), ("virtual_network", "string", c.virtual_network if c else ""),
                ("vn_index", "i32", c.vn_index if c else 0), ("vxlan_id", "i32", c.vxlan_id if c else 0),
                ("import_target", "list", L("string", sorted(inst.effective_imports))),
                ("export_target", "list", L("string", sorted(inst.exports))),
                ("always_subscribe", "bool", False), ("allow_transit", "bool", False), ("deleted", "bool", False),
                ("deleted_at", "string", ""), ("routing_policies", "list", L("string", [])),
                ("peers", "list", L("struct", peers)),
            ]))
        return S("ShowRoutingInstanceResp", [("instances", "list", L("struct", out))])

    # ---- IFMap (config) ------------------------------------------------------------

    def _clients_of(self) -> dict[tuple[str, str], list[int]]:
        names = sorted(self.node.sent_config)
        out: dict[tuple[str, str], list[int]] = {}
        for i, name in enumerate(names):
            for key in self.node.sent_config[name].nodes:
                out.setdefault(key, []).append(i)
        return out

    @request("IFMapNodeTableListShowReq")
    def ifmap_tables(self) -> S:
        rows = [S("IFMapNodeTableListShowEntry", [("table_name", "string", t), ("size", "u32", len(objs))])
                for t, objs in sorted(self.node.objects.items())]
        return S("IFMapNodeTableListShowResp", [("table_list", "list", L("struct", rows))])

    @request("IFMapTableShowReq", "table_name", "search_string")
    def ifmap_table(self, table_name: str = "", search_string: str = "") -> S:
        from filament.control.config_view import fq

        match = _search(search_string)
        interests = self._clients_of()
        rows = []
        for t, objs in sorted(self.node.objects.items()):
            if table_name and t != table_name:
                continue
            for obj in sorted(objs.values(), key=fq):
                name = f"{t}:{fq(obj)}"
                if not match(name):
                    continue
                who = ",".join(map(str, interests.get((t, fq(obj)), [])))
                rows.append(S("IFMapNodeShowInfo", [
                    ("node_name", "string", name), ("interests", "string", who), ("advertised", "string", who),
                    ("dbentryflags", "string", ""), ("last_modified", "string", ""),
                ]))
        return S("IFMapTableShowResp", [("ifmap_db", "list", L("struct", rows))])

    @request("IFMapXmppClientInfoShowReq")
    def ifmap_clients(self) -> S:
        rows = []
        for i, name in enumerate(sorted(self.node.sent_config)):
            g = self.node.sent_config[name]
            rows.append(S("IFMapXmppClientInfo", [
                ("client_name", "string", name), ("client_index", "i32", i),
                ("msgs_sent", "u64", self.node.peers[name].tx.get("update", 0) if name in self.node.peers else 0),
                ("nodes_sent", "u64", len(g.nodes)), ("links_sent", "u64", len(g.links)),
            ]))
        return S("IFMapXmppClientInfoShowResp", [("client_stats", "list", L("struct", rows))])

    @request("IFMapPerClientNodesShowReq", "client_index_or_name")
    def ifmap_client_nodes(self, client_index_or_name: str = "") -> S:
        names = sorted(self.node.sent_config)
        name = names[int(client_index_or_name)] if client_index_or_name.isdigit() and int(client_index_or_name) < len(names) else client_index_or_name
        g = self.node.sent_config.get(name)
        rows = [S("IFMapPerClientNodesShowInfo", [("node_name", "string", f"{t}:{n}"), ("sent", "bool", True)])
                for t, n in sorted(g.nodes)] if g else []
        return S("IFMapPerClientNodesShowResp", [("node_db", "list", L("struct", rows))])

    @request("IFMapLinkTableShowReq", "search_string", "metadata")
    def ifmap_links(self, search_string: str = "", metadata: str = "") -> S:
        match = _search(search_string)
        links = set()
        for g in self.node.sent_config.values():
            links |= g.links
        rows = []
        for lk in sorted(links, key=lambda x: (x.metadata, x.left, x.right)):
            left, right = f"{lk.left[0]}:{lk.left[1]}", f"{lk.right[0]}:{lk.right[1]}"
            if (metadata and lk.metadata != metadata) or not (match(left) or match(right) or match(lk.metadata)):
                continue
            rows.append(S("IFMapLinkShowInfo", [("metadata", "string", lk.metadata), ("left", "string", left), ("right", "string", right)]))
        return S("IFMapLinkTableShowResp", [("ifmap_db", "list", L("struct", rows))])

    # ---- HTTP -------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/json/{req}", self._handle_json)
        app.router.add_get("/{req}", self._handle)
        return app

    async def _index(self, request: web.Request) -> web.Response:
        links = "".join(f'<a href="Snh_{n}">{n}</a><br/>' for n in sorted(REQUESTS))
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")

    def _call(self, req: str, query: str) -> S:
        if not req.startswith("Snh_") or req[4:] not in REQUESTS:
            raise web.HTTPNotFound(text=f"unknown request {req}")
        fields, method = REQUESTS[req[4:]]
        args = {}
        if query:
            for i, pair in enumerate(query.split("&")):
                if i >= len(fields):
                    break
                _, _, value = pair.partition("=")
                if value:
                    args[fields[i]] = unquote(value.replace("+", " "))
        return getattr(self, method)(**args)

    async def _handle(self, request: web.Request) -> web.Response:
        s = self._call(request.match_info["req"], request.query_string)
        if "application/json" in request.headers.get("Accept", ""):
            return web.json_response({s.name: s.to_json()})
        return web.Response(text=response_xml(s), content_type="text/xml")

    async def _handle_json(self, request: web.Request) -> web.Response:
        s = self._call(request.match_info["req"], request.query_string)
        return web.json_response({s.name: s.to_json()})
