"""AgentService: XMPP session(s), port store + port API, the pure calculation, and a
reconciler that runs the (synchronous, netlink) backend in one worker thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass, field

from aiohttp import web

from filament.agent import config as agent_config
from filament.agent.desired import advertisement, desired_state
from filament.agent.ports import (
    BINDING,
    PortError,
    PortRecord,
    PortStore,
    local_ports,
    parse_port,
    parse_vm_binding,
    port_item,
    port_state,
    vm_cfg,
    vm_items,
)
from filament.agent.reconcile import PassResult, converge
from filament.agent.view import AgentView, Host
from filament.agent.xmpp_client import ControlSession, inet_routes, mac_ip_routes
from filament.datapath.state import DatapathState

log = logging.getLogger("filament.agent")


@dataclass
class AgentOptions:
    name: str
    vtep: str
    underlay_dev: str
    underlay_mtu: int = 1500
    controls: list[tuple[str, int]] = field(default_factory=list)
    xmpp_source: str | None = None
    port_api: tuple[str, int] = ("127.0.0.1", 9091)
    introspect: tuple[str, int] | None = None  # ("127.0.0.1", 8085)
    ports_dir: str = "/var/lib/filament/ports"
    resync_interval: float = 10.0
    sync_timeout: float = 30.0  # first reconcile waits for a control node's EoR this long


class AgentService:
    def __init__(self, opts: AgentOptions, backend_factory):
        self.opts = opts
        self.host = Host(opts.vtep, opts.underlay_dev, opts.underlay_mtu, opts.name)
        self.store = PortStore(opts.ports_dir)
        self.records: dict[str, PortRecord] = {}
        self.sessions = [ControlSession(opts.name, h, p, self._changed, source=opts.xmpp_source) for h, p in opts.controls]
        self._backend_factory = backend_factory
        self.backend = None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="datapath")
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._runner: web.AppRunner | None = None
        self.view = AgentView(self.host)
        self.desired = DatapathState()
        self.generation = 0  # bumped on every recompute
        self.applied_generation = 0
        self.last_pass = PassResult()
        self._applied = asyncio.Condition()

    # ---- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.backend = await loop.run_in_executor(self._pool, self._backend_factory)
        self.records = self.store.load()
        log.info("agent %s: %d ports restored from %s", self.opts.name, len(self.records), self.opts.ports_dir)
        app = web.Application()
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.opts.port_api[0], self.opts.port_api[1], reuse_address=True)
        await site.start()
        self.port_api_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.introspect_port = 0
        if self.opts.introspect is not None:
            from filament.agent.introspect import introspect_app

            self._irunner = web.AppRunner(introspect_app(self), access_log=None)
            await self._irunner.setup()
            isite = web.TCPSite(self._irunner, self.opts.introspect[0], self.opts.introspect[1], reuse_address=True)
            await isite.start()
            self.introspect_port = isite._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for s in self.sessions:
            s.start()
        self._tasks.append(asyncio.create_task(self._reconciler(), name="agent-reconcile"))
        self._changed()
        log.info("agent %s: port API on %s:%d", self.opts.name, self.opts.port_api[0], self.port_api_port)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for s in self.sessions:
            await s.stop()
        if self._runner:
            await self._runner.cleanup()
        if getattr(self, "_irunner", None):
            await self._irunner.cleanup()
        if self.backend is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, self.backend.close)
        self._pool.shutdown(wait=True)

    # ---- calculation -------------------------------------------------------------

    def _changed(self) -> None:
        self._wake.set()

    def _session(self) -> ControlSession | None:
        """The session whose config and routes are used: the first one up."""
        return next((x for x in self.sessions if x.up.is_set()), self.sessions[0] if self.sessions else None)

    def compute(self) -> AgentView:
        s = self._session()
        db = s.effective_config() if s else agent_config.ConfigDB()
        tables = s.effective_routes() if s else {}
        nets = agent_config.networks(db)
        vmis = agent_config.vmis(db)
        return AgentView(self.host, nets, local_ports(self.records, vmis, nets), inet_routes(tables),
                         agent_config.security_groups(db), mac_ip_routes(tables))

    def _publish(self, view: AgentView) -> None:
        vrfs, wanted = advertisement(view)
        for s in self.sessions:
            s.wanted_vrfs = set(vrfs)
            s.sync_subscriptions()
            s.set_published(wanted)

    def in_sync(self) -> bool:
        """Reconciling (and so sweeping) before the control node has sent everything
        would tear down a restarted agent's working datapath: wait for an EoR first."""
        return not self.sessions or any(s.eor.is_set() for s in self.sessions)

    async def _reconciler(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.opts.sync_timeout
        while not self.in_sync() and loop.time() < deadline:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(0.5, max(0.01, deadline - loop.time())))
            except asyncio.TimeoutError:
                pass
        if not self.in_sync():
            log.warning("no control node EoR after %.0fs: reconciling with what we have", self.opts.sync_timeout)
        self._wake.set()
        converged: DatapathState | None = None  # what the datapath was last converged to
        resync_at = loop.time()  # the first pass always observes (and sweeps)
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, resync_at - loop.time()))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            self.view = self.compute()
            self.desired = desired_state(self.view)
            self.generation += 1
            gen = self.generation
            self._publish(self.view)
            if self.desired == converged and loop.time() < resync_at:
                # a wake-up that changes nothing in the datapath (a route echo, config of
                # another host...): observing again would only confirm the last pass
                await self._mark_applied(gen)
                continue
            try:
                self.last_pass = await loop.run_in_executor(self._pool, converge, self.backend, self.desired)
            except Exception:
                log.exception("reconcile pass failed")
                converged, resync_at = None, loop.time() + 1.0  # retry in a second, not in a loop
                continue
            converged = None if self.last_pass.failed else self.desired
            resync_at = loop.time() + self.opts.resync_interval
            await self._mark_applied(gen)
            if self.last_pass.failed:
                loop.call_later(1.0, self._wake.set)  # retry with a little delay

    async def _mark_applied(self, gen: int) -> None:
        async with self._applied:
            self.applied_generation = gen
            self._applied.notify_all()

    async def wait_applied(self, timeout: float = 10.0) -> None:
        """Wait until the datapath reflects every change seen so far (a barrier for tests)."""
        self._wake.set()
        await asyncio.sleep(0)
        target = self.generation + 1
        async with self._applied:
            await asyncio.wait_for(self._applied.wait_for(lambda: self.applied_generation >= target), timeout)

    # ---- port API (the original's REST on 9091) ----------------------------------

    def add_ports(self, body) -> None:
        """``POST /port``: one port or an array, validated all or none."""
        items = body if isinstance(body, list) else [body]
        self._bind([parse_port(b) for b in items])

    def bind_vm(self, body) -> None:
        """``POST /vm`` (CNI): bind a config VMI to an OS interface."""
        self._bind([parse_vm_binding(body)])

    def _bind(self, recs: list[PortRecord]) -> None:
        names = {r.ifname: r.uuid for r in self.records.values()}
        for r in recs:
            other = names.get(r.ifname)
            if other and other != r.uuid:
                raise PortError(f"interface {r.ifname} is already bound to port {other}")
            names[r.ifname] = r.uuid
        for r in recs:
            self.store.save(r)
            self.records[r.uuid] = r
            if r.type in (0, 2):
                for s in self.sessions:
                    s.subscribe_vm(r.instance)
            log.info("port %s added on %s", r.uuid, r.ifname)
        self._changed()

    def delete_port(self, uuid: str) -> None:
        rec = self.records.pop(uuid, None)
        self.store.delete(rec if rec is not None else uuid)
        if rec is not None:
            log.info("port %s deleted", uuid)
        self._changed()

    def delete_vm(self, vm_uuid: str) -> None:
        """``DELETE /vm/<vm-uuid>``: drop the VM's CNI bindings."""
        for rec in [r for r in self.records.values() if r.instance == vm_uuid and r.type == BINDING]:
            self.delete_port(rec.uuid)

    def _configured(self) -> set[str]:
        return {v.port for v in self.desired.vifs}

    def vif_errors(self) -> dict[str, str]:
        """Interface name -> why the last pass could not configure its vif."""
        out = {}
        for exc in self.last_pass.failed:
            op = getattr(exc, "op", None)
            if op is not None and op.kind == "vifs":
                out[op.obj.name] = str(exc).split(": ", 1)[-1]
        return out

    def port_info(self, uuid: str) -> dict | None:
        rec = self.records.get(uuid)
        if rec is None:
            return None
        return dict(port_item(rec, self.view), active=port_state(rec, self.view, self._configured(), self.vif_errors()))

    def ports_info(self) -> list[dict]:
        return [self.port_info(u) for u in sorted(self.records)]

    def vm_info(self, vm_uuid: str, vmi_uuid: str = "") -> list[dict]:
        return vm_items(self.records, self.view, self._configured(), vm_uuid, vmi_uuid)

    def vm_config(self, vm_name: str) -> list[dict] | None:
        s = self._session()
        return vm_cfg(s.effective_config() if s else agent_config.ConfigDB(), self.view, vm_name)

    def _routes(self, app: web.Application) -> None:
        def err(code: int, msg: str) -> web.Response:
            return web.json_response({"error": "{ " + msg + " }"}, status=code)

        def not_found() -> web.Response:
            return err(404, "Not Found")

        async def body_of(request: web.Request):
            try:
                return await request.json()
            except ValueError:
                raise PortError("invalid JSON") from None

        async def post_port(request: web.Request):
            try:
                self.add_ports(await body_of(request))
            except PortError as exc:
                return err(500, str(exc))
            return web.json_response({})

        async def delete_port(request: web.Request):
            self.delete_port(request.match_info["uuid"])
            return web.json_response({})

        async def get_port(request: web.Request):
            info = self.port_info(request.match_info["uuid"])
            return web.json_response(info) if info else not_found()

        async def get_ports(request: web.Request):
            return web.json_response(self.ports_info())

        async def sync_ports(request: web.Request):
            return web.json_response({})

        async def post_vm(request: web.Request):
            try:
                self.bind_vm(await body_of(request))
            except PortError as exc:
                return err(500, str(exc))
            return web.json_response({})

        async def delete_vm(request: web.Request):
            self.delete_vm(request.match_info["vm"])
            return web.json_response({})

        async def get_vm(request: web.Request):
            items = self.vm_info(request.match_info["vm"], request.match_info.get("vmi", ""))
            return web.json_response(items) if items else not_found()

        async def get_vm_cfg(request: web.Request):
            items = self.vm_config(request.match_info["name"])
            return web.json_response(items) if items else not_found()

        async def unknown(request: web.Request):
            return web.json_response({"error": "Unknown Request"}, status=404)

        u = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # lowercase only, as the original
        app.router.add_post("/port", post_port)
        app.router.add_delete(f"/port/{{uuid:{u}}}", delete_port)
        app.router.add_get(f"/port/{{uuid:{u}}}", get_port)
        app.router.add_get("/ports", get_ports)
        app.router.add_post("/syncports", sync_ports)
        app.router.add_post("/vm", post_vm)
        app.router.add_delete(f"/vm/{{vm:{u}}}", delete_vm)
        app.router.add_get(f"/vm/{{vm:{u}}}", get_vm)
        app.router.add_get(f"/vm/{{vm:{u}}}/{{vmi:{u}}}", get_vm)
        app.router.add_get("/vm-cfg/{name}", get_vm_cfg)
        app.router.add_route("*", "/{tail:.*}", unknown)
