"""The change feed (`GET /watch`) and the "applied" barrier.

Watchers subscribe before the snapshot is taken, so no commit can fall between
the list and the stream. Each subscriber has a bounded queue; one that falls too
far behind is disconnected (it reconnects with `since` and catches up from the
objects' revisions: level-triggered, nothing is lost).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from filament.config.errors import BadRequest

if TYPE_CHECKING:
    from filament.config.graph import Obj
    from filament.config.service import ConfigService

log = logging.getLogger(__name__)
QUEUE_LIMIT = 10000          # commits a watcher may lag behind before it is dropped
CHUNK = 500                  # objects per write during a list


class _Subscriber:
    def __init__(self, types: frozenset[str] | None):
        self.types = types
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False


class WatchHub:
    def __init__(self, service: ConfigService, *, bookmark_interval: float = 5.0):
        self.svc = service
        self.subs: set[_Subscriber] = set()
        self.bookmark_interval = bookmark_interval
        service.graph.listeners.append(self._on_commit)

    def _on_commit(self, rev: int, written: list[Obj], deleted: list[Obj]) -> None:
        if not self.subs:
            return
        render = self.svc.render.watch_object
        lines_all: list[tuple[str, bytes]] | None = None
        for sub in list(self.subs):
            if sub.overflowed:
                continue
            if lines_all is None:
                lines_all = [(o.type, orjson.dumps({"op": "delete", "rev": rev, "type": o.type,
                                                     "uuid": o.uuid, "fq_name": o.fq_name}))
                             for o in deleted]
                lines_all += [(o.type, orjson.dumps({"op": "put", "rev": rev, "type": o.type,
                                                      "uuid": o.uuid, "object": render(o)}))
                              for o in written]
            lines = [ln for t, ln in lines_all if sub.types is None or t in sub.types]
            if not lines:
                continue
            try:
                sub.queue.put_nowait((rev, b"\n".join(lines) + b"\n"))
            except asyncio.QueueFull:
                sub.overflowed = True
                log.warning("watcher fell %d commits behind; disconnecting it", QUEUE_LIMIT)

    async def shutdown(self, app: web.Application | None = None) -> None:
        """End every open stream now, so a graceful stop need not wait for them."""
        for sub in list(self.subs):
            sub.overflowed = True
            try:
                sub.queue.put_nowait((0, b""))
            except asyncio.QueueFull:
                pass

    def _snapshot(self, types: frozenset[str] | None, since: int | None) -> tuple[int, list[bytes]]:
        g = self.svc.graph
        rev = g.revision
        render = self.svc.render.watch_object
        out: list[bytes] = []
        type_list = sorted(types) if types is not None else sorted(g.by_type)
        if since is None or since < g.compacted or since > rev:
            out.append(orjson.dumps({"op": "reset", "rev": rev}))
            since = None
        for t in type_list:
            for o in g.by_type.get(t, {}).values():
                if since is None or o.mod_rev > since:
                    out.append(orjson.dumps({"op": "put", "rev": o.mod_rev, "type": o.type,
                                             "uuid": o.uuid, "object": render(o)}))
        if since is not None:
            for trev, uuid, t, fq in g.tombstones:
                if trev > since and (types is None or t in types) and uuid not in g.objs:
                    out.append(orjson.dumps({"op": "delete", "rev": trev, "type": t,
                                             "uuid": uuid, "fq_name": fq}))
        out.append(orjson.dumps({"op": "synced", "rev": rev}))
        return rev, out

    async def handle(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        types = None
        if q.get("types"):
            names = []
            for t in q["types"].split(","):
                rt = self.svc.schema.resource(t.strip())
                if rt is None:
                    raise BadRequest(f"types: unknown resource type {t.strip()!r}")
                names.append(rt.name)
            types = frozenset(names)
        since = None
        if q.get("since") not in (None, ""):
            try:
                since = int(q["since"])
            except ValueError:
                raise BadRequest(f"since: {q['since']!r} is not a revision") from None
        sub = _Subscriber(types)
        self.subs.add(sub)
        try:
            resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson",
                                               "Cache-Control": "no-cache"})
            await resp.prepare(request)
            sent, lines = self._snapshot(types, since)
            for i in range(0, len(lines), CHUNK):
                await resp.write(b"\n".join(lines[i:i + CHUNK]) + b"\n")
            del lines
            while not sub.overflowed:
                try:
                    rev, data = await asyncio.wait_for(sub.queue.get(), self.bookmark_interval)
                except asyncio.TimeoutError:
                    await resp.write(orjson.dumps({"op": "bookmark",
                                                   "rev": self.svc.graph.revision}) + b"\n")
                    continue
                if rev <= sent:
                    continue
                sent = rev
                await resp.write(data)
            return resp
        except ConnectionResetError:
            # The watcher went away: the normal end of a stream, not an error to log.
            log.debug("watcher %s disconnected", request.remote)
            return resp
        finally:
            self.subs.discard(sub)


class AppliedBarrier:
    """Last revision each instance of each role reports as fully processed."""

    def __init__(self) -> None:
        self._applied: dict[str, dict[str, int]] = {}
        self._changed = asyncio.Event()

    def publish(self, role: str, name: str, revision: int) -> None:
        names = self._applied.setdefault(role, {})
        names[name] = max(revision, names.get(name, 0))
        self._changed.set()
        self._changed = asyncio.Event()

    def revision(self, role: str) -> int:
        return max(self._applied.get(role, {}).values(), default=0)

    def names(self, role: str) -> dict[str, int]:
        return dict(self._applied.get(role, {}))

    async def wait(self, role: str, revision: int | None, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while revision is not None and self.revision(role) < revision:
            left = deadline - loop.time()
            if left <= 0:
                break
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), left)
            except asyncio.TimeoutError:
                break
        return self.revision(role)
