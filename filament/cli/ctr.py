"""`filament ctr …`: the control node's introspect pages, printed the way ist.py prints them."""

from __future__ import annotations

import ipaddress
import textwrap
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from datetime import datetime

from filament.cli import CliError


def register(subparsers) -> None:
    p = subparsers.add_parser("ctr", help="control node introspect (like ist.py ctr)")
    p.add_argument("--host", default="127.0.0.1", help="introspect host (default %(default)s)")
    p.add_argument("--port", type=int, default=8083, help="introspect port (default %(default)s)")
    p.add_argument("--max-width", type=int, default=50, help="table column width (default %(default)s)")
    sub = p.add_subparsers(dest="ctr_command", metavar="COMMAND")
    p.set_defaults(handler=lambda a: (p.print_help(), 2)[1])

    s = sub.add_parser("status", help="node status")
    s.add_argument("-d", "--detail", action="store_true")
    s.set_defaults(handler=cmd_status)

    s = sub.add_parser("nei", help="BGP/XMPP neighbours")
    s.add_argument("search", nargs="?", default="")
    s.add_argument("-t", "--type", choices=["BGP", "XMPP"], default="")
    s.set_defaults(handler=cmd_nei)

    s = sub.add_parser("ri", help="routing instances")
    s.add_argument("search", nargs="?", default="")
    s.set_defaults(handler=cmd_ri)

    route = sub.add_parser("route", help="routes")
    rsub = route.add_subparsers(dest="route_command", metavar="COMMAND")
    route.set_defaults(handler=lambda a: (route.print_help(), 2)[1])
    s = rsub.add_parser("summary", help="route summary per table")
    s.add_argument("search", nargs="?", default="")
    s.set_defaults(handler=cmd_route_summary)
    s = rsub.add_parser("tables", help="routing table names")
    s.add_argument("search", nargs="?", default="")
    s.set_defaults(handler=cmd_route_tables)
    s = rsub.add_parser("show", help="routes (like 'show route')")
    s.add_argument("address", nargs="?", default="", help="address or prefix text to look up")
    s.add_argument("-t", "--table", default="")
    s.add_argument("-v", "--vrf", default="")
    s.add_argument("-P", "--prefix", default="", help="prefix regex (server-side)")
    s.add_argument("-f", "--family", choices=["inet", "inet6", "evpn", "ermvpn", "rtarget", "l3vpn", "all"], default="all")
    s.add_argument("-p", "--protocol", default="all")
    s.add_argument("-s", "--source", default="all")
    s.add_argument("-d", "--detail", action="store_true")
    s.set_defaults(handler=cmd_route_show)

    ifmap = sub.add_parser("ifmap", help="config (IFMap) tables and clients")
    isub = ifmap.add_subparsers(dest="ifmap_command", metavar="COMMAND")
    ifmap.set_defaults(handler=lambda a: (ifmap.print_help(), 2)[1])
    s = isub.add_parser("table", help="config tables, or the nodes of one table")
    s.add_argument("name", nargs="?", default="")
    s.set_defaults(handler=cmd_ifmap_table)
    s = isub.add_parser("client", help="agents receiving config, or one agent's nodes")
    s.add_argument("client", nargs="?", default="")
    s.set_defaults(handler=cmd_ifmap_client)
    s = isub.add_parser("node", help="config nodes matching a search string")
    s.add_argument("search", nargs="?", default="")
    s.set_defaults(handler=cmd_ifmap_node)
    s = isub.add_parser("link", help="config links sent to agents")
    s.add_argument("search", nargs="?", default="")
    s.set_defaults(handler=cmd_ifmap_link)


# ---- fetching / printing --------------------------------------------------------


def fetch(args, path: str) -> ET.Element:
    url = f"http://{args.host}:{args.port}/{path}"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise CliError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise CliError(f"cannot reach control node introspect at {args.host}:{args.port}: {getattr(exc, 'reason', exc)}") from None
    try:
        return ET.fromstring(body.split(b"?>", 1)[1] if body.startswith(b"<?xml-stylesheet") else body)
    except ET.ParseError as exc:
        raise CliError(f"{url}: bad XML: {exc}") from None


def _q(s: str) -> str:
    return urllib.request.quote(s, safe="")


def _cell(el: ET.Element | None) -> str:
    if el is None:
        return "non-exist"
    if el.text and el.text.strip():
        return el.text
    items = [e.text or "" for e in el.iter("element")]
    if items:
        return "\n".join(items)
    return "n/a"


def print_table(fields: list[str], rows: list[list[str]], max_width: int) -> None:
    """A prettytable-style table (left aligned, long cells wrapped), as ist.py prints."""
    wrapped = []
    for row in rows:
        cells = []
        for c in row:
            lines = []
            for part in str(c).split("\n"):
                lines += textwrap.wrap(part, max_width) or [""]
            cells.append(lines)
        wrapped.append(cells)
    widths = [max([len(f)] + [len(line) for r in wrapped for line in r[i]]) for i, f in enumerate(fields)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(sep)
    print("| " + " | ".join(f.ljust(w) for f, w in zip(fields, widths)) + " |")
    print(sep)
    for cells in wrapped:
        height = max(len(c) for c in cells)
        for i in range(height):
            print("| " + " | ".join((c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, widths)) + " |")
    print(sep)


def table_of(args, root: ET.Element, tag: str, fields: list[str]) -> None:
    rows = [[_cell(item.find(f)) for f in fields] for item in root.iter(tag)]
    print_table(fields, rows, args.max_width)


# ---- commands ---------------------------------------------------------------------


def cmd_status(args) -> None:
    root = fetch(args, "Snh_SandeshUVECacheReq?tname=NodeStatus")
    ps = next(root.iter("ProcessStatus"), None)
    if ps is None:
        raise CliError("no NodeStatus in the response")
    print(f"module_id: {ps.findtext('module_id')}")
    print(f"state: {ps.findtext('state')}")
    desc = ps.findtext("description") or ""
    print(f"description: {desc}" if desc else "description")
    rows = []
    for ci in ps.iter("ConnectionInfo"):
        addrs = "\n".join("  " + (e.text or "") for e in ci.iter("element"))
        rows.append([ci.findtext("type") or "", ci.findtext("name") or "", addrs, ci.findtext("status") or "", ci.findtext("description") or "n/a"])
    print_table(["type", "name", "server_addrs", "status", "description"], rows, args.max_width)


def cmd_nei(args) -> None:
    root = fetch(args, "Snh_BgpNeighborReq?search_string=" + _q(args.search))
    fields = ["peer", "peer_address", "peer_asn", "encoding", "peer_type", "state", "send_state", "flap_count", "flap_time"]
    rows = []
    for item in root.iter("BgpNeighborResp"):
        if args.type and item.findtext("encoding") != args.type:
            continue
        rows.append([_cell(item.find(f)) for f in fields])
    print_table(fields, rows, args.max_width)


def cmd_ri(args) -> None:
    root = fetch(args, "Snh_ShowRoutingInstanceReq?search_string=" + _q(args.search))
    table_of(args, root, "ShowRoutingInstance", ["name", "vn_index", "vxlan_id", "import_target", "export_target"])


def cmd_route_summary(args) -> None:
    root = fetch(args, "Snh_ShowRouteSummaryReq?search_string=" + _q(args.search))
    table_of(args, root, "ShowRouteTableSummary", ["name", "prefixes", "paths", "primary_paths", "secondary_paths", "infeasible_paths"])


def cmd_route_tables(args) -> None:
    root = fetch(args, "Snh_ShowRouteSummaryReq?search_string=" + _q(args.search))
    for t in root.iter("ShowRouteTableSummary"):
        print(f"name: {t.findtext('name')}")


def _age(now: datetime, stamp: str) -> str:
    try:
        return str(now - datetime.strptime(stamp, "%Y-%b-%d %H:%M:%S.%f")).replace(",", "")
    except ValueError:
        return "n/a"


def _covers(address: str, prefix: str, table: str) -> bool:
    if address in prefix:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if table.endswith("l3vpn.0") or table.endswith("l3vpn-inet6.0"):
        prefix = prefix.split(":", 2)[-1] if ip.version == 4 else ":".join(prefix.split(":")[2:])
    elif not (table.endswith("inet.0") or table.endswith("inet6.0")):
        return False
    try:
        return ip in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def _path_line(now: datetime, p: ET.Element, detail: bool) -> str:
    encap = [e.text for e in p.findall("tunnel_encap/list/element")]
    line = (
        f"    [{p.findtext('protocol')}|{p.findtext('source') or None}] age: {_age(now, p.findtext('last_modified') or '')}, "
        f"localpref: {p.findtext('local_preference')}, nh: {p.findtext('next_hop')}, encap: {encap}, "
        f"label: {p.findtext('label')}, AS path: {p.findtext('as_path') or None}"
    )
    if detail:
        comms = [e.text for e in p.findall("communities/list/element")]
        line += (
            f"\n        primary table: {p.findtext('primary_table') or None}, origin vn: {p.findtext('origin_vn')}, "
            f"origin_vn_path: {[e.text for e in p.findall('origin_vn_path/list/element')]}"
            f"\n        communities: {comms}\n        last modified: {p.findtext('last_modified')}"
        )
    return line


def cmd_route_show(args) -> None:
    family = "" if args.family == "all" else args.family
    q = f"Snh_ShowRouteReq?routing_table={_q(args.table)}&routing_instance={_q(args.vrf)}&prefix={_q(args.prefix)}"
    q += "&longer_match=&shorter_match=&count=&start_routing_table=&start_routing_instance=&start_prefix="
    q += f"&source=&protocol=&family={_q(family)}"
    root = fetch(args, q)
    now = datetime.utcnow()
    for t in root.iter("ShowRouteTable"):
        name = t.findtext("routing_table_name") or ""
        lines = []
        for r in t.iter("ShowRoute"):
            prefix = r.findtext("prefix") or ""
            if args.address and not _covers(args.address, prefix, name):
                continue
            paths = [p for p in r.iter("ShowRoutePath")
                     if (args.protocol == "all" or (p.findtext("protocol") or "").split(" ")[0] == args.protocol)
                     and (args.source == "all" or p.findtext("source") == args.source)]
            if not paths:
                continue
            stamp = r.findtext("last_modified") or ""
            lines.append(f"\n{prefix}, age: {_age(now, stamp)}, last_modified: {stamp}")
            lines += [_path_line(now, p, args.detail) for p in paths]
        if args.address and not lines:
            continue
        print(
            f"\n{name}: {t.findtext('prefixes')} destinations, {t.findtext('paths')} routes "
            f"({t.findtext('primary_paths')} primary, {t.findtext('secondary_paths')} secondary, "
            f"{t.findtext('infeasible_paths')} infeasible)"
        )
        for line in lines:
            print(line)


def cmd_ifmap_table(args) -> None:
    if args.name:
        root = fetch(args, "Snh_IFMapTableShowReq?table_name=" + _q(args.name))
        table_of(args, root, "IFMapNodeShowInfo", ["node_name", "interests", "advertised"])
    else:
        root = fetch(args, "Snh_IFMapNodeTableListShowReq")
        table_of(args, root, "IFMapNodeTableListShowEntry", ["table_name", "size"])


def cmd_ifmap_client(args) -> None:
    if args.client:
        root = fetch(args, "Snh_IFMapPerClientNodesShowReq?client_index_or_name=" + _q(args.client))
        table_of(args, root, "IFMapPerClientNodesShowInfo", ["node_name", "sent"])
    else:
        root = fetch(args, "Snh_IFMapXmppClientInfoShowReq")
        table_of(args, root, "IFMapXmppClientInfo", ["client_name", "client_index", "msgs_sent", "nodes_sent", "links_sent"])


def cmd_ifmap_node(args) -> None:
    root = fetch(args, "Snh_IFMapTableShowReq?table_name=&search_string=" + _q(args.search))
    for n in root.iter("node_name"):
        print(f"node_name: {n.text}")


def cmd_ifmap_link(args) -> None:
    root = fetch(args, "Snh_IFMapLinkTableShowReq?search_string=" + _q(args.search))
    for lk in root.iter("IFMapLinkShowInfo"):
        print(f"metadata: {lk.findtext('metadata')}\nleft: {lk.findtext('left')}\nright: {lk.findtext('right')}")
