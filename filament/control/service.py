"""ControlNodeService: wires the XMPP server, the BGP speaker, the config watch and introspect."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path as FsPath

from aiohttp import web

from filament.control import config_view
from filament.control.bgp_bridge import BgpBridge
from filament.control.bgp_peers import bgp_peer_configs
from filament.control.introspect import Introspect
from filament.control.node import ControlNode, ControlOptions
from filament.control.rib import InstanceConfig
from filament.control.xmpp_session import XmppSession

log = logging.getLogger("filament.control")


def _local_ip() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("198.18.0.1", 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


class ControlNodeService:
    """The control node role. ``api_url`` None runs on static config (``config_file``:
    JSON ``{"objects": {type: {uuid: obj}}}`` or ``{"instances": [...]}``)."""

    def __init__(
        self,
        api_url: str | None,
        *,
        host: str = "0.0.0.0",
        xmpp_port: int = 5269,
        introspect_port: int = 8083,
        name: str = "control",
        config_file: str | None = None,
        options: ControlOptions | None = None,
        bgp_port: int | None = 179,
    ):
        self.api_url = api_url
        self.host = host
        self.xmpp_port = xmpp_port
        self.introspect_port = introspect_port
        self.config_file = config_file
        self.bgp_port = bgp_port
        opts = options or ControlOptions()
        opts.name = name
        if opts.router_id == "0.0.0.0":
            opts.router_id = host if host not in ("0.0.0.0", "::", "") else _local_ip()
        self.node = ControlNode(opts)
        self.node.api_url = api_url or ""
        self.bgp = BgpBridge(self.node)
        self.node.bgp = self.bgp
        self._server: asyncio.AbstractServer | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self._client = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.bgp_port is not None:
            try:
                await self.bgp.speaker.listen(self.host, self.bgp_port)
                self.bgp_port = self.bgp.speaker.port
            except OSError as exc:  # e.g. 179 taken or not permitted: we can still dial out
                log.warning("bgp: cannot listen on %s:%d (%s); outbound sessions only", self.host, self.bgp_port, exc)
        if self.config_file:
            self._load_static(self.config_file)
            await self.apply_bgp_config(self.node.objects)
        elif not self.api_url:
            self.node.config_connected = True  # nothing to wait for
        self._server = await loop.create_server(lambda: XmppSession(self.node), self.host, self.xmpp_port, reuse_address=True, backlog=4096)
        self.xmpp_port = self._server.sockets[0].getsockname()[1]
        self._runner = web.AppRunner(Introspect(self.node).app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.introspect_port, reuse_address=True)
        await site.start()
        self.introspect_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks.append(asyncio.create_task(self._ticker(), name="control-tick"))
        if self.api_url:
            self._tasks.append(asyncio.create_task(self._watch_config(), name="control-config"))
        log.info("control node %s: xmpp on %s:%d, bgp on :%s, introspect on :%d",
                 self.node.opts.name, self.host, self.xmpp_port, self.bgp_port, self.introspect_port)

    async def apply_bgp_config(self, objects: dict[str, dict[str, dict]]) -> None:
        """Make the BGP sessions match the bgp-router objects (level-triggered)."""
        await self.bgp.reconcile(bgp_peer_configs(objects, self.node.opts.name, default_asn=self.node.rib.asn))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._tasks.clear()
        await self.bgp.speaker.close()
        if self._server is not None:
            self._server.close()
            for sess in list(self.node.sessions):
                sess.close("control node stopping")
            await self._server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    def _load_static(self, path: str) -> None:
        data = json.loads(FsPath(path).read_text())
        if "objects" in data:
            self.node.apply_config(data["objects"], data.get("revision"))
        for inst in data.get("instances", []):
            self.node.configure_instances({
                inst["name"]: InstanceConfig(
                    inst["name"], frozenset(inst.get("import", [])), frozenset(inst.get("export", [])),
                    inst.get("virtual_network", ""), inst.get("vn_index", 0), inst.get("vxlan_id", 0),
                    frozenset(inst.get("connections", [])),
                )
            } | {n: i.config for n, i in self.node.rib.instances.items() if i.config})
        self.node.config_connected = True

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.node.tick()
            except Exception:  # noqa: BLE001 - keep ticking
                log.exception("control node tick failed")

    async def _watch_config(self) -> None:
        from filament.config.client import ConfigClient, Informer

        self._client = ConfigClient(self.api_url)
        informer = Informer(self._client, config_view.WATCHED_TYPES)

        async def on_events(batch):
            self.node.config_connected = True
            self.node.apply_config(informer.objects_by_type, informer.revision)
            try:
                await self.apply_bgp_config(informer.objects_by_type)
            except Exception:  # noqa: BLE001 - a bad bgp-router must not stop the config watch
                log.exception("bgp: applying bgp-router config failed")
            if informer.revision is not None:
                try:
                    await self._client.publish_applied("control", self.node.opts.name, informer.revision)
                except Exception as exc:  # noqa: BLE001 - the barrier is best effort
                    log.debug("publish_applied failed: %s", exc)

        await informer.run(on_events)
