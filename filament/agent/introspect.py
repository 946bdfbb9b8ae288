"""Agent introspect (JSON) on :8085: interfaces, VRFs, routes per VRF — what
`filament vr …` and `filament vif --list` print."""

from __future__ import annotations

import asyncio

from aiohttp import web

from filament.datapath.state import VROUTER_MAC, table_for_vni


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
            "type": "Virtual", "mac_addr": rec.mac, "hw_addr": VROUTER_MAC, "ip_addr": port.ip if port else rec.ip,
            "vrf_name": port.vrf if port else "", "vrf": table_for_vni(net.vni) - table_for_vni(0) if net else -1,
            "active": "Active" if vif else "Inactive", "mtu": vif.mtu if vif else 0,
            "flags": "PL3L2D" if vif else "", "stats": stats.get(rec.ifname, {}),
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


def introspect_app(svc) -> web.Application:
    app = web.Application()

    async def itf(request):
        stats = {}
        link_stats = getattr(svc.backend, "link_stats", None)
        if link_stats is not None:
            stats = await asyncio.get_running_loop().run_in_executor(svc._pool, link_stats)
        return web.json_response({"interfaces": interfaces(svc, stats)})

    async def vrf_list(request):
        return web.json_response({"vrfs": vrfs(svc)})

    async def route_list(request):
        vrf = request.query.get("vrf") or request.query.get("x") or ""
        return web.json_response({"vrf": vrf, "routes": routes(svc, vrf)})

    async def status(request):
        return web.json_response({
            "name": svc.opts.name, "generation": svc.generation, "applied_generation": svc.applied_generation,
            "failed": [str(f) for f in svc.last_pass.failed],
            "sessions": [{"peer": s.peer, "up": s.up.is_set(), "eor": s.eor.is_set()} for s in svc.sessions],
        })

    app.router.add_get("/Snh_ItfReq", itf)
    app.router.add_get("/Snh_VrfListReq", vrf_list)
    app.router.add_get("/Snh_Inet4UcRouteReq", route_list)
    app.router.add_get("/Snh_AgentStatus", status)
    return app
