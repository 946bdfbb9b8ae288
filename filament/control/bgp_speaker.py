"""The BGP listener: inbound connections are matched to configured neighbors by address."""

from __future__ import annotations

import asyncio
import logging

from filament.control.bgp_session import BgpHandler, BgpPeerConfig, BgpSession
from filament.wire.bgp import Notification, encode_message
from filament.wire.bgp import errors as E

log = logging.getLogger("filament.control.bgp")


class BgpSpeaker:
    """Owns the sessions, keyed by neighbor address; ``reconcile`` makes them match config."""

    def __init__(self, handler: BgpHandler):
        self.handler = handler
        self.sessions: dict[str, BgpSession] = {}
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def listen(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._on_connection, host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def reconcile(self, configs: list[BgpPeerConfig]) -> None:
        """Start sessions for new neighbors, restart changed ones, stop removed ones."""
        want = {c.address: c for c in configs}
        for addr, sess in list(self.sessions.items()):
            if want.get(addr) != sess.config:
                del self.sessions[addr]
                await sess.stop()
        for addr, cfg in want.items():
            if addr not in self.sessions:
                sess = self.sessions[addr] = BgpSession(cfg, self.handler)
                sess.start()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for sess in list(self.sessions.values()):
            await sess.stop("speaker stopping")
        self.sessions.clear()
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        sess = self.sessions.get(peer[0] if peer else "")
        if sess is None:
            log.info("bgp: refused connection from unconfigured %s", peer)
            writer.write(encode_message(Notification(E.CEASE, E.CONNECTION_REJECTED)))
            writer.close()
            return
        await sess.accept(reader, writer)
