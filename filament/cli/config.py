"""`filament config ls|cat|rm|types`: look at the config API from a shell."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request

from filament.cli import CliError

DEFAULT_API = os.environ.get("FILAMENT_API", "http://127.0.0.1:8082")


def register(sub) -> None:
    p = sub.add_parser("config", help="list and show config objects through the API")
    p.add_argument("--api", default=DEFAULT_API, help=f"config API URL (default {DEFAULT_API})")
    cs = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    ls = cs.add_parser("ls", help="list objects of a type")
    ls.add_argument("type", help="resource type, e.g. virtual-network")
    ls.add_argument("-f", "--filter", action="append", default=[],
                    help="property filter name=value (repeatable)")
    ls.add_argument("-P", "--parent", default=None, help="parent uuid")
    ls.set_defaults(handler=cmd_ls)
    cat = cs.add_parser("cat", help="show one object as JSON")
    cat.add_argument("type")
    cat.add_argument("ref", help="uuid or fq_name (a:b:c)")
    cat.set_defaults(handler=cmd_cat)
    rm = cs.add_parser("rm", help="delete one object")
    rm.add_argument("type")
    rm.add_argument("ref", help="uuid or fq_name (a:b:c)")
    rm.set_defaults(handler=cmd_rm)
    types = cs.add_parser("types", help="list resource types and their counts")
    types.set_defaults(handler=cmd_types)
    p.set_defaults(handler=lambda a: p.print_help() or 2)


def _call(api: str, method: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise CliError(f"{exc.code}: {exc.read().decode(errors='replace')}") from None
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach the config API at {api}: {exc.reason}") from None
    return json.loads(raw) if raw else None


def _uuid(api: str, type_: str, ref: str) -> str:
    if len(ref) == 36 and ref.count("-") == 4:
        return ref
    return _call(api, "POST", "/fqname-to-id", {"type": type_, "fq_name": ref.split(":")})["uuid"]


def cmd_ls(args) -> None:
    q = {"fields": "display_name"}
    if args.filter:
        parts = []
        for f in args.filter:
            if "=" not in f:
                raise CliError(f"filter {f!r} is not name=value")
            k, v = f.split("=", 1)
            try:
                json.loads(v)
            except ValueError:
                v = json.dumps(v)
            parts.append(f"{k}=={v}")
        q["filters"] = ",".join(parts)
    if args.parent:
        q["parent_id"] = args.parent
    res = _call(args.api, "GET", f"/{args.type}s?" + urllib.parse.urlencode(q))
    rows = [(i["uuid"], ":".join(i["fq_name"]), str(i.get("display_name", "")))
            for i in res[f"{args.type}s"]]
    width = max([len("fq_name")] + [len(r[1]) for r in rows])
    print(f"{'uuid':36}  {'fq_name':{width}}  display_name")
    for u, fq, dn in rows:
        print(f"{u:36}  {fq:{width}}  {dn}")


def cmd_cat(args) -> None:
    uuid = _uuid(args.api, args.type, args.ref)
    print(json.dumps(_call(args.api, "GET", f"/{args.type}/{uuid}")[args.type], indent=2))


def cmd_rm(args) -> None:
    uuid = _uuid(args.api, args.type, args.ref)
    _call(args.api, "DELETE", f"/{args.type}/{uuid}")
    print(f"deleted {args.type} {uuid}")


def cmd_types(args) -> None:
    home = _call(args.api, "GET", "/")
    for link in home["links"]:
        if link["link"]["rel"] == "collection":
            name = link["link"]["name"]
            n = _call(args.api, "GET", f"/{name}s?count=True")[f"{name}s"]["count"]
            if n:
                print(f"{name:40} {n}")
