"""`filament vr intf | vrf | route -v <vrf>`: the agent's interfaces, routing instances and
routes, printed from its introspect (:8085; the JSON form of the Sandesh pages)."""

from __future__ import annotations

import json

from filament.cli import CliError


def _get(agent: str, path: str) -> dict:
    import urllib.parse
    import urllib.request

    url = urllib.parse.quote(f"http://{agent}/{path}", safe=":/?=&")
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)
    except ValueError:
        raise CliError(f"agent introspect at {agent} did not answer JSON for {path}") from None
    except OSError as exc:
        raise CliError(f"cannot reach agent introspect at {agent}: {exc}") from None


def format_intf(interfaces: list[dict]) -> str:
    lines = [f"{'Index':<7}{'Name':<16}{'State':<10}{'IP':<17}{'MAC':<19}{'VRF':<30}ACLs"]
    for i in interfaces:
        acls = ", ".join(f"{a['stage']}/{a['direction']}:{len(a['rules'])}" for a in i.get("acls", [])) or "-"
        lines.append(f"{i['index']:<7}{i['name']:<16}{i['active']:<10}{i['ip_addr']:<17}{i['mac_addr']:<19}"
                     f"{i['vrf_name'] or '-':<30}{acls}")
    return "\n".join(lines)


def format_vrfs(vrfs: list[dict]) -> str:
    lines = [f"{'Name':<40}{'VNI':<8}{'Table':<10}{'Local':<7}Routes"]
    for v in vrfs:
        lines.append(f"{v['name']:<40}{v['vni']:<8}{v['table']:<#10x}{'yes' if v['local'] else 'no':<7}{v['routes']}")
    return "\n".join(lines)


def format_routes(vrf: str, routes: list[dict]) -> str:
    lines = [f"Routing instance {vrf}", f"{'Prefix':<20}{'Kind':<13}Next hops"]
    for r in routes:
        nhs = ", ".join(f"via {h['via']} dev {h['dev']}" if h["via"] else f"dev {h['dev']}" for h in r["next_hops"])
        lines.append(f"{r['prefix']:<20}{r['kind']:<13}{nhs or '-'}")
    return "\n".join(lines)


def _main(args) -> int:
    if args.what == "intf":
        out = format_intf(_get(args.agent, "Snh_ItfReq").get("interfaces", []))
    elif args.what == "vrf":
        out = format_vrfs(_get(args.agent, "Snh_VrfListReq").get("vrfs", []))
    else:
        if not args.vrf:
            raise CliError("route needs -v <vrf>")
        out = format_routes(args.vrf, _get(args.agent, f"Snh_Inet4UcRouteReq?vrf={args.vrf}").get("routes", []))
    print(out)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("vr", help="vRouter interfaces, routing instances, routes (agent introspect)")
    p.add_argument("what", choices=("intf", "vrf", "route"))
    p.add_argument("-v", "--vrf", help="routing instance (for route)")
    p.add_argument("--agent", default="127.0.0.1:8085", help="agent introspect host:port")
    p.set_defaults(handler=_main)
