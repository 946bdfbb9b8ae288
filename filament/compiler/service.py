"""The compiler role: list + watch the config API, compile, converge, publish.

One asyncio task follows the API (`Informer`: list, then watch from the last
revision, resuming after a disconnect); each batch goes to the incremental
`Engine`. A second task reconciles: it diffs the desired entries the batch touched
(or everything, at start and every `resync` seconds) against the API's objects and
writes the difference, retrying with backoff on errors. When everything up to
revision R is compiled and written, it publishes R as `applied` for role
`compiler` (`GET /filament/applied?role=compiler&revision=R` then returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from filament.compiler import route_target as rt
from filament.compiler.core import Engine
from filament.compiler.intent import INTENT_TYPES
from filament.compiler.model import Problem, fq_str
from filament.compiler.network_policy import Options
from filament.compiler.reconcile import MANAGED_REFS, OWNED_TYPES, Actual, Op, plan
from filament.config.client import ApiError, ConfigClient, Informer

log = logging.getLogger("filament.compiler")

WATCHED = tuple(dict.fromkeys((*INTENT_TYPES, *OWNED_TYPES, *MANAGED_REFS)))
ROLE = "compiler"


class CompilerService:
    def __init__(self, api_url: str, *, name: str = "compiler", resync: float = 60.0,
                 options: Options | None = None):
        self.api_url = api_url
        self.name = name
        self.resync = resync
        self.options = options or Options()
        self.client = ConfigClient(api_url, user_agent=f"filament-{name}")
        self.informer = Informer(self.client, WATCHED)
        self.engine = Engine(options=self.options)
        self.actual = Actual()
        self.problems: list[Problem] = []
        self.applied = 0
        self._keys: set[tuple] | None = set()     # None = diff everything
        self._wake = asyncio.Event()
        self._written = 0                          # highest revision of our own writes
        self._failed: dict[tuple, Any] = {}        # key -> desired value the API refused
        self._tasks: list[asyncio.Task] = []
        self._started = False

    # --- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self.informer.run(self._on_events), name="compiler-watch"),
                       asyncio.create_task(self._reconcile_loop(), name="compiler-reconcile"),
                       asyncio.create_task(self._resync_loop(), name="compiler-resync")]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.client.close()

    # --- following the API ----------------------------------------------------------
    async def _on_events(self, batch: list[dict]) -> None:
        if any(ev.get("op") == "reset" for ev in batch) or not self._started:
            self._rebuild()
            self._started = True
        else:
            intent_events = []
            for ev in batch:
                type_ = ev.get("type")
                if type_ in OWNED_TYPES or type_ in MANAGED_REFS:
                    self._track_actual(ev)
                if type_ in INTENT_TYPES:
                    intent_events.append(ev)
            if intent_events:
                self.engine.apply(intent_events)
        if self._keys is not None:
            self._keys |= self.engine.take_touched()
        else:
            self.engine.take_touched()
        self._report_problems()
        self._wake.set()

    def _rebuild(self) -> None:
        """(Re)start from the informer's cache: after the first list or a reset."""
        cache = self.informer.objects_by_type
        gsc = next(iter(cache.get("global-system-config", {}).values()), {})
        asn = int(gsc.get("autonomous_system") or 64512)
        allocations = dict(self.engine.allocator.by_owner) or rt.recover(
            cache.get("route-target", {}).values(), asn, bool(gsc.get("enable_4byte_as")))
        self.engine = Engine(allocations, self.options)
        self.engine.apply({"op": "put", "type": t, "uuid": u, "object": o}
                          for t in INTENT_TYPES for u, o in cache.get(t, {}).items())
        self.engine.take_touched()
        self.actual = Actual.from_cache(cache)
        self._keys = None
        log.info("compiler: compiled %d objects at revision %s (%d route targets allocated)",
                 sum(len(cache.get(t, {})) for t in INTENT_TYPES), self.informer.revision,
                 len(self.engine.allocator.by_owner))

    def _track_actual(self, ev: dict) -> None:
        type_ = ev["type"]
        if ev["op"] == "put":
            obj = ev.get("object") or {}
            fq = fq_str(obj.get("fq_name") or [])
            self.actual.put(type_, obj)
        else:
            fq = fq_str(ev.get("fq_name") or [])
            self.actual.delete(type_, fq)
        if self._keys is None:
            return
        if type_ in OWNED_TYPES:
            self._keys.add(("obj", type_, fq))
        for field in MANAGED_REFS.get(type_, ()):
            self._keys.add(("refs", type_, fq, field))

    def _report_problems(self) -> None:
        problems = self.engine.problem_list()
        old, new = set(self.problems), set(problems)
        for p in sorted(new - old, key=str):
            log.warning("compiler: %s", p)
        for p in sorted(old - new, key=str):
            log.info("compiler: resolved: %s", p)
        self.problems = problems

    # --- converging ---------------------------------------------------------------
    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            self._keys = None
            self._failed.clear()
            self._wake.set()

    async def _reconcile_loop(self) -> None:
        backoff = 0.1
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._started:
                continue
            revision = self.informer.revision or 0
            if revision < self._written:
                continue          # our own writes have not come back yet: the cache is stale
            keys, self._keys = self._keys, set()
            ops = [op for op in plan(self.engine.desired, self.actual, keys)
                   if self._failed.get(op.key, object()) != self.engine.desired.get(op.key)]
            retry = await self._apply(ops)
            if ops:
                self._written = max(self._written, self.client.last_revision)
            if retry:
                self._keys = (self._keys | {op.key for op in retry}) if self._keys is not None else None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._wake.set()
                continue
            backoff = 0.1
            await self._publish(revision)

    async def _apply(self, ops: list[Op]) -> list[Op]:
        """Write the plan; returns the ops to retry (transient errors)."""
        retry = []
        for op in ops:
            try:
                if op.kind == "create":
                    await self.client.create(op.type, op.body)
                elif op.kind == "update":
                    await self.client.update(op.type, op.uuid, op.body)
                else:
                    await self.client.delete(op.type, op.uuid)
                self._failed.pop(op.key, None)
            except ApiError as exc:
                if op.kind == "delete" and exc.status == 404:
                    continue
                if exc.status in (404, 409) or exc.status >= 500:
                    log.info("compiler: %s: %s (will retry)", op, exc)
                    retry.append(op)
                else:
                    log.error("compiler: %s refused: %s", op, exc)
                    self._failed[op.key] = self.engine.desired.get(op.key)
            except (OSError, asyncio.TimeoutError) as exc:
                log.warning("compiler: %s: %s (will retry)", op, exc)
                retry.append(op)
            except Exception as exc:   # aiohttp errors: the API is away
                if exc.__class__.__module__.startswith("aiohttp"):
                    log.warning("compiler: %s: %s (will retry)", op, exc)
                    retry.append(op)
                else:
                    raise
        return retry

    async def _publish(self, revision: int) -> None:
        if revision <= self.applied:
            return
        try:
            await self.client.publish_applied(ROLE, self.name, revision)
            self.applied = revision
        except (ApiError, OSError) as exc:
            log.warning("compiler: cannot publish applied revision %s: %s", revision, exc)
            self._wake.set()
