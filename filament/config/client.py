"""Async client of the config API, used by every other role (the informer pattern).

`ConfigClient` wraps the VNC REST calls the roles need plus Filament's watch and
barrier endpoints; `Informer` keeps a local cache by listing, then watching from a
revision, and reconnects from the last revision it saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json"}


class ApiError(Exception):
    """The API answered with an error status; `message` is its body text."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ConfigClient:
    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None,
                 user_agent: str = "filament"):
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self._headers = {"X-Contrail-Useragent": user_agent}
        self.last_revision = 0

    async def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                json_serialize=lambda o: orjson.dumps(o).decode(),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, body: Any = None,
                      params: dict | None = None) -> Any:
        sess = await self._sess()
        data = orjson.dumps(body) if body is not None else None
        headers = dict(self._headers)
        if data is not None:
            headers.update(JSON_HEADERS)
        async with sess.request(method, self.base_url + path, data=data, params=params,
                                headers=headers) as resp:
            text = await resp.read()
            rev = resp.headers.get("X-Filament-Revision")
            if rev:
                self.last_revision = max(self.last_revision, int(rev))
            if resp.status not in (200, 202):
                raise ApiError(resp.status, text.decode(errors="replace"))
            return orjson.loads(text) if text else None

    # --- VNC calls -------------------------------------------------------------------
    async def create(self, type_: str, body: dict) -> dict:
        res = await self.request("POST", f"/{type_}s", {type_: body})
        return res[type_]

    async def read(self, type_: str, uuid: str, **query: str) -> dict:
        res = await self.request("GET", f"/{type_}/{uuid}", params=query or None)
        return res[type_]

    async def update(self, type_: str, uuid: str, body: dict) -> None:
        await self.request("PUT", f"/{type_}/{uuid}", {type_: body})

    async def delete(self, type_: str, uuid: str) -> None:
        await self.request("DELETE", f"/{type_}/{uuid}")

    async def list(self, type_: str, *, detail: bool = False, **query: str) -> list[dict]:
        params = {k: str(v) for k, v in query.items()}
        if detail:
            params["detail"] = "True"
        res = await self.request("GET", f"/{type_}s", params=params)
        items = res[f"{type_}s"]
        return [i[type_] for i in items] if detail else items

    async def fqname_to_id(self, type_: str, fq_name: Iterable[str]) -> str:
        res = await self.request("POST", "/fqname-to-id", {"type": type_, "fq_name": list(fq_name)})
        return res["uuid"]

    async def ref_update(self, type_: str, uuid: str, ref_type: str, ref_uuid: str,
                         op: str, attr: Any = None) -> None:
        await self.request("POST", "/ref-update", {
            "type": type_, "uuid": uuid, "ref-type": ref_type, "ref-uuid": ref_uuid,
            "ref-fq-name": None, "operation": op, "attr": attr})

    # --- Filament endpoints ----------------------------------------------------------
    async def publish_applied(self, role: str, name: str, revision: int) -> None:
        await self.request("POST", "/filament/applied",
                           {"role": role, "name": name, "revision": revision})

    async def wait_applied(self, role: str, revision: int, timeout: float = 10.0) -> int:
        res = await self.request("GET", "/filament/applied", params={
            "role": role, "revision": str(revision), "timeout": str(timeout)})
        return res["revision"]

    async def watch_chunks(self, types: Iterable[str] | None = None,
                           since: int | None = None) -> AsyncIterator[list[dict]]:
        """Yield lists of raw watch events, one list per chunk read off the socket."""
        sess = await self._sess()
        params = {}
        if types:
            params["types"] = ",".join(types)
        if since is not None:
            params["since"] = str(since)
        async with sess.get(self.base_url + "/watch", params=params,
                            headers=self._headers) as resp:
            if resp.status != 200:
                raise ApiError(resp.status, (await resp.read()).decode(errors="replace"))
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                *lines, buf = buf.split(b"\n")
                events = [orjson.loads(line) for line in lines if line.strip()]
                if events:
                    yield events

    async def watch(self, types: Iterable[str] | None = None,
                    since: int | None = None) -> AsyncIterator[dict]:
        """Yield raw watch events (see docs/design/config-api.md) until the stream ends."""
        async for events in self.watch_chunks(types, since):
            for ev in events:
                yield ev


Callback = Callable[[list[dict]], Awaitable[None]]


class Informer:
    """A cache of some object types kept current by list + watch.

    `run(on_events)` never returns on its own: it applies each batch of events to
    `objects_by_type` and then awaits `on_events(batch)`. The first batch is the
    whole list up to `synced` (a consistent cut); after that each batch is what
    arrived in one read, which the server writes per committed transaction. After a disconnect it resumes with
    `since=revision`; a `reset` clears the cache (a full list follows).
    """

    def __init__(self, client: ConfigClient, types: Iterable[str] | None = None,
                 *, retry_delay: float = 0.5):
        self.client = client
        self.types = list(types) if types else None
        self.objects_by_type: dict[str, dict[str, dict]] = {t: {} for t in (self.types or [])}
        self.revision: int | None = None
        self.synced = asyncio.Event()
        self._retry_delay = retry_delay

    def get(self, type_: str, uuid: str) -> dict | None:
        return self.objects_by_type.get(type_, {}).get(uuid)

    def _apply(self, ev: dict) -> None:
        op = ev["op"]
        if op == "reset":
            for objs in self.objects_by_type.values():
                objs.clear()
        elif op == "put":
            self.objects_by_type.setdefault(ev["type"], {})[ev["uuid"]] = ev["object"]
        elif op == "delete":
            self.objects_by_type.get(ev["type"], {}).pop(ev["uuid"], None)
        if "rev" in ev:
            self.revision = ev["rev"] if self.revision is None else max(self.revision, ev["rev"])

    async def run(self, on_events: Callback) -> None:
        delay = self._retry_delay
        while True:
            try:
                batch: list[dict] = []
                listing = True
                async for events in self.client.watch_chunks(self.types, self.revision):
                    for ev in events:
                        self._apply(ev)
                        batch.append(ev)
                        if ev["op"] == "reset":
                            listing = True
                        elif ev["op"] == "synced":
                            listing = False
                            self.synced.set()
                    # During the initial list a batch ends at `synced`; afterwards at
                    # every chunk, so a live change reaches the callback at once.
                    if batch and not listing:
                        await on_events(batch)
                        batch = []
                        delay = self._retry_delay
                if batch:
                    await on_events(batch)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("watch of %s interrupted: %s; resuming from revision %s",
                            self.client.base_url, exc, self.revision)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
