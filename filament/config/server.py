"""Running the config API: build the service on a store and serve it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from aiohttp import web

from filament.config.http import ConfigApp
from filament.config.service import ConfigService
from filament.config.store import open_store

log = logging.getLogger(__name__)


@dataclass
class ApiOptions:
    host: str = "0.0.0.0"
    port: int = 8082
    store: str = "sqlite:/var/lib/filament/config.db"
    durable: bool = False


class ConfigApiServer:
    """The config API role: `await start()`, then `port` is the bound port."""

    def __init__(self, options: ApiOptions):
        self.options = options
        self.service: ConfigService | None = None
        self.app: ConfigApp | None = None
        self._runner: web.AppRunner | None = None
        self.port = options.port

    async def start(self) -> None:
        url = self.options.store
        if url.startswith("sqlite:") or "/" in url:
            from filament.config.store.sqlite import SqliteStore
            path = url[len("sqlite:"):] if url.startswith("sqlite:") else url
            store = SqliteStore(path, durable=self.options.durable)
        else:
            store = open_store(url)
        self.service = ConfigService(store)
        self.service.start()
        self.app = ConfigApp(self.service)
        self._runner = web.AppRunner(self.app.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port,
                           reuse_address=True, backlog=1024)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.port = sock.getsockname()[1]
        log.info("config API listening on %s:%d (store %s, revision %d)", self.options.host,
                 self.port, self.options.store, self.service.graph.revision)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.options.host in ("0.0.0.0", "::") else self.options.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.service is not None:
            self.service.graph.store.close()


def default_data_dir() -> str:
    return os.environ.get("FILAMENT_DATA_DIR", "/var/lib/filament")
