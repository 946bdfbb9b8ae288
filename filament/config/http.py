"""The config API over HTTP (aiohttp): thin handlers over ConfigService.

Error bodies are plain text (what `vnc_api` and the CLI expect); success bodies are
JSON or empty. Every write answers with `X-Filament-Revision`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import orjson
from aiohttp import web

from filament.config import actions
from filament.config.errors import ApiError, BadRequest, NotFound
from filament.config.listing import list_objects
from filament.config.openapi import openapi_document
from filament.config.service import ConfigService
from filament.config.watch import AppliedBarrier, WatchHub

log = logging.getLogger(__name__)

MAX_REQUEST_SIZE = 1024000
_TRAILING_COMMA = re.compile(rb',(\s*[}\]])')
_JSON = "application/json"
TEXT = "text/html; charset=UTF-8"


def _json(data: Any, rev: int | None = None, status: int = 200) -> web.Response:
    headers = {"X-Filament-Revision": str(rev)} if rev is not None else None
    return web.Response(body=orjson.dumps(data), status=status, content_type=_JSON,
                        headers=headers)


def _empty(rev: int | None = None) -> web.Response:
    headers = {"X-Filament-Revision": str(rev)} if rev is not None else None
    return web.Response(body=b"", status=200, headers=headers)


def _error(status: int, message: str) -> web.Response:
    return web.Response(text=message, status=status, headers={"Content-Type": TEXT})


def _strip_trailing_commas(raw: bytes) -> bytes:
    """Drop a comma directly before } or ] when it is outside strings."""
    out, i, n, in_str = bytearray(), 0, len(raw), False
    while i < n:
        c = raw[i]
        if in_str:
            out.append(c)
            if c == 0x5C and i + 1 < n:          # backslash escape
                out.append(raw[i + 1])
                i += 2
                continue
            if c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
            out.append(c)
        elif c == 0x2C:
            j = i + 1
            while j < n and raw[j] in b" \t\r\n":
                j += 1
            if j < n and raw[j] in b"}]":
                i += 1
                continue
            out.append(c)
        else:
            out.append(c)
        i += 1
    return bytes(out)


async def read_body(request: web.Request) -> Any:
    """The JSON body, or None when the content type is not application/json."""
    ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype != _JSON:
        return None
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return orjson.loads(_strip_trailing_commas(raw))
    except orjson.JSONDecodeError:
        try:
            json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            pos = f" at line {exc.lineno} column {exc.colno}" \
                if isinstance(exc, json.JSONDecodeError) else ""
            raise BadRequest(f"Invalid JSON in request body{pos}: {detail}") from None
        raise BadRequest("Invalid JSON in request body") from None


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _hdrs(request: web.Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()
            if k.lower() in ("x-project-id", "x-tenant-name", "x-contrail-useragent")}


class ConfigApp:
    """Routes of the config API bound to one ConfigService."""

    def __init__(self, service: ConfigService, *, max_request_size: int = MAX_REQUEST_SIZE,
                 bookmark_interval: float = 5.0):
        self.svc = service
        self.hub = WatchHub(service, bookmark_interval=bookmark_interval)
        self.barrier = AppliedBarrier()
        self.max_request_size = max_request_size
        self.app = web.Application(client_max_size=max_request_size + 1,
                                   middlewares=[self._errors])
        self.app["config"] = self
        self.app.on_shutdown.append(self.hub.shutdown)
        self._routes()

    @web.middleware
    async def _errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"Request body larger than {self.max_request_size} bytes")
        except web.HTTPNotFound:
            return _error(404, f"Not found: {request.path!r}")
        except web.HTTPMethodNotAllowed:
            return _error(405, "Method not allowed.")
        except web.HTTPException:
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            return _error(500, "Internal Server Error")

    def _routes(self) -> None:
        r = self.app.router
        r.add_get("/", self.homepage)
        r.add_get("/openapi.json", self.openapi)
        r.add_post("/fqname-to-id", self.fqname_to_id)
        r.add_post("/id-to-fqname", self.id_to_fqname)
        r.add_post("/ref-update", self.ref_update)
        r.add_post("/ref-relax-for-delete", self.ref_relax)
        r.add_get("/prop-collection-get", self.prop_get)
        r.add_post("/prop-collection-update", self.prop_update)
        r.add_post("/list-bulk-collection", self.list_bulk)
        r.add_post("/useragent-kv", self.useragent_kv)
        r.add_post("/set-tag", self.set_tag)
        r.add_post("/chown", self.chown)
        r.add_post("/chmod", self.chmod)
        r.add_get("/aaa-mode", self.aaa_mode)
        r.add_put("/aaa-mode", self.aaa_mode)
        r.add_get("/obj-perms", self.obj_perms)
        r.add_get("/watch", self.hub.handle)
        r.add_post("/filament/applied", self.applied_post)
        r.add_get("/filament/applied", self.applied_get)
        r.add_get("/metrics", self.metrics)
        r.add_post("/virtual-network/{uuid}/ip-alloc", self.ip_alloc)
        r.add_post("/virtual-network/{uuid}/ip-free", self.ip_free)
        r.add_post("/virtual-network/{uuid}/subnet-ip-count", self.subnet_ip_count)
        r.add_route("*", "/{collection:[A-Za-z0-9_-]+s}", self.collection)
        r.add_route("*", "/{type:[A-Za-z0-9_-]+}/{uuid}", self.resource)

    # --- CRUD ----------------------------------------------------------------------------
    def _type_from_collection(self, request: web.Request) -> str:
        name = request.match_info["collection"][:-1]
        rt = self.svc.schema.resources.get(name)
        if rt is None:
            raise NotFound(f"Not found: {request.path!r}")
        return rt.name

    async def collection(self, request: web.Request) -> web.Response:
        type_ = self._type_from_collection(request)
        if request.method == "POST":
            body = await read_body(request)
            if body is None:
                raise BadRequest(f"Bad Request, no JSON body (Content-Type must be {_JSON})")
            obj, rev = self.svc.create(type_, body, _hdrs(request))
            return _json({type_: self.svc.render.summary(obj, _base(request))}, rev)
        if request.method == "GET":
            return _json(list_objects(self.svc, type_, dict(request.query), _base(request)))
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])

    async def resource(self, request: web.Request) -> web.Response:
        type_ = request.match_info["type"]
        if type_ not in self.svc.schema.resources:
            raise NotFound(f"Not found: {request.path!r}")
        uuid = request.match_info["uuid"]
        base = _base(request)
        if request.method == "GET":
            obj = self.svc.read(type_, uuid)
            q = request.query
            etag = f'"{obj.props["id_perms"]["last_modified"]}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            fields = {f for f in q.get("fields", "").split(",") if f} if "fields" in q else None
            href_base = None if "exclude_hrefs" in q else base
            body = self.svc.render.full(
                obj, href_base, fields=fields,
                back_refs="exclude_back_refs" not in q, children="exclude_children" not in q)
            resp = _json({type_: body})
            resp.headers["ETag"] = etag
            return resp
        if request.method == "PUT":
            body = await read_body(request)
            rev = self.svc.update(type_, uuid, body, _hdrs(request))
            if rev is None:
                return _empty()
            return _json({type_: {"uuid": uuid, "href": f"{base}/{type_}/{uuid}"}}, rev)
        if request.method == "DELETE":
            rev = self.svc.delete(type_, uuid, base, _hdrs(request))
            return _empty(rev)
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "PUT", "DELETE"])

    # --- homepage / openapi --------------------------------------------------------------
    async def homepage(self, request: web.Request) -> web.Response:
        return _json(homepage(self.svc, _base(request)))

    async def openapi(self, request: web.Request) -> web.Response:
        return _json(openapi_document(self.svc.schema))

    # --- actions -------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> Any:
        body = await read_body(request)
        if body is None:
            raise BadRequest(f"Bad Request, no JSON body (Content-Type must be {_JSON})")
        return body

    async def fqname_to_id(self, request):
        return _json(actions.fqname_to_id(self.svc, await self._body(request)))

    async def id_to_fqname(self, request):
        return _json(actions.id_to_fqname(self.svc, await self._body(request)))

    async def ref_update(self, request):
        res, rev = actions.ref_update(self.svc, await self._body(request), _hdrs(request))
        return _json(res, rev)

    async def ref_relax(self, request):
        res, rev = actions.ref_relax_for_delete(self.svc, await self._body(request))
        return _json(res, rev)

    async def prop_get(self, request):
        return _json(actions.prop_collection_get(self.svc, dict(request.query)))

    async def prop_update(self, request):
        return _empty(actions.prop_collection_update(self.svc, await self._body(request)))

    async def list_bulk(self, request):
        b = await self._body(request)
        if not isinstance(b, dict) or not b.get("type"):
            raise BadRequest("Bad Request, type must be given")
        type_ = self.svc.resource(str(b["type"])).name
        q = {k: v for k, v in b.items() if k != "type" and v is not None}
        return _json(list_objects(self.svc, type_, q, _base(request)))

    async def useragent_kv(self, request):
        res, rev = actions.useragent_kv(self.svc, await self._body(request))
        return _empty(rev) if res is None else _json(res)

    async def set_tag(self, request):
        res, rev = actions.set_tag(self.svc, await self._body(request))
        return _json(res, rev)

    async def chown(self, request):
        res, rev = actions.chown(self.svc, await self._body(request))
        return _json(res, rev)

    async def chmod(self, request):
        res, rev = actions.chmod(self.svc, await self._body(request))
        return _json(res, rev)

    async def aaa_mode(self, request):
        if request.method == "PUT":
            b = await self._body(request)
            if not isinstance(b, dict) or b.get("aaa-mode") not in ("no-auth", "cloud-admin",
                                                                    "rbac"):
                raise BadRequest("aaa-mode: must be no-auth, cloud-admin or rbac")
            if b["aaa-mode"] != "no-auth":
                raise BadRequest("aaa-mode: only no-auth is supported by this server")
        return _json({"aaa-mode": "no-auth"})

    async def obj_perms(self, request):
        return _json({"token_info": None, "is_cloud_admin_role": True,
                      "is_global_read_only_role": False, "permissions": "RWX"})

    async def ip_alloc(self, request):
        res, rev = actions.ip_alloc(self.svc, request.match_info["uuid"],
                                    await read_body(request))
        return _json(res, rev)

    async def ip_free(self, request):
        return _empty(actions.ip_free(self.svc, request.match_info["uuid"],
                                      await self._body(request)))

    async def subnet_ip_count(self, request):
        return _json(actions.subnet_ip_count(self.svc, request.match_info["uuid"],
                                             await self._body(request)))

    # --- barrier and metrics -------------------------------------------------------------
    async def applied_post(self, request):
        b = await self._body(request)
        role, name, rev = b.get("role"), b.get("name"), b.get("revision")
        if not isinstance(role, str) or not role:
            raise BadRequest("role: must be a non-empty string")
        if not isinstance(rev, int) or isinstance(rev, bool) or rev < 0:
            raise BadRequest("revision: must be a non-negative integer")
        self.barrier.publish(role, str(name or role), rev)
        return _json({"role": role, "revision": self.barrier.revision(role)})

    async def applied_get(self, request):
        q = request.query
        role = q.get("role")
        if not role:
            raise BadRequest("role: must be given")
        try:
            want = int(q["revision"]) if "revision" in q else None
            timeout = float(q.get("timeout", "10"))
        except ValueError:
            raise BadRequest("revision/timeout: must be numbers") from None
        got = await self.barrier.wait(role, want, min(timeout, 300.0))
        if want is not None and got < want:
            return _error(504, f"{role} has applied revision {got}, not yet {want}")
        return _json({"role": role, "revision": got, "names": self.barrier.names(role)})

    async def metrics(self, request):
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        from filament.config.metrics import REGISTRY, observe
        observe(self.svc, self.hub)
        return web.Response(body=generate_latest(REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})


ACTION_LINKS = [
    ("prop-collection-get", "/prop-collection-get", "GET"),
    ("prop-collection-update", "/prop-collection-update", "POST"),
    ("ref-update", "/ref-update", "POST"),
    ("ref-relax-for-delete", "/ref-relax-for-delete", "POST"),
    ("name-to-id", "/fqname-to-id", "POST"),
    ("id-to-name", "/id-to-fqname", "POST"),
    ("useragent-keyvalue", "/useragent-kv", "POST"),
    ("database-check", "/db-check", "POST"),
    ("fetch-records", "/fetch-records", "POST"),
    ("start-profile", "/start-profile", "POST"),
    ("stop-profile", "/stop-profile", "POST"),
    ("list-bulk-collection", "/list-bulk-collection", "POST"),
    ("obj-perms", "/obj-perms", "GET"),
    ("chown", "/chown", "POST"),
    ("chmod", "/chmod", "POST"),
    ("aaa-mode", "/aaa-mode", "PUT"),
    ("obj-cache", "/obj-cache", "GET"),
    ("obj-cache", "/obj-cache", "POST"),
    ("execute-job", "/execute-job", "POST"),
    ("abort-job", "/abort-job", "POST"),
    ("amqp-publish", "/amqp-publish", "POST"),
    ("amqp-request", "/amqp-request", "POST"),
    ("hbs-get", "/hbs-get", "POST"),
    ("watch", "/watch", "GET"),
    ("virtual-network-ip-alloc", "/virtual-network/%s/ip-alloc", "POST"),
    ("virtual-network-ip-free", "/virtual-network/%s/ip-free", "POST"),
    ("virtual-network-subnet-ip-count", "/virtual-network/%s/subnet-ip-count", "POST"),
    ("set-tag", "/set-tag", "POST"),
    ("security-policy-draft", "/security-policy-draft", "POST"),
]


def homepage(svc: ConfigService, base: str) -> dict:
    links = [{"link": {"rel": "documentation", "href": f"{base}/documentation/index.html",
                       "name": "documentation", "method": "GET"}},
             {"link": {"rel": "root", "href": f"{base}/config-root", "name": "config-root",
                       "method": None}}]
    names = sorted(svc.schema.resources)
    links += [{"link": {"rel": "collection", "href": f"{base}/{n}s", "name": n,
                        "method": None}} for n in names]
    links += [{"link": {"rel": "resource-base", "href": f"{base}/{n}", "name": n,
                        "method": None}} for n in names]
    links += [{"link": {"rel": "action", "href": f"{base}{path}", "name": name,
                        "method": method}} for name, path, method in ACTION_LINKS]
    return {"href": base, "links": links}
