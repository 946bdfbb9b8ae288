"""The BGP listener: inbound connections are matched to configured neighbors by address."""

from __future__ import annotations

import asyncio
import logging
import socket

from filament.control.bgp_md5 import set_md5
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
        self._md5: dict[str, str] = {}  # peer address -> key set on the listening sockets

    async def listen(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._on_connection, host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def reconcile(self, configs: list[BgpPeerConfig]) -> None:
        """Start sessions for new neighbors, restart changed ones, stop removed ones."""
        want = {c.address: c for c in configs}
        self._apply_md5({a: c.md5_key for a, c in want.items() if c.md5_key})
        for addr, sess in list(self.sessions.items()):
            if want.get(addr) != sess.config:
                del self.sessions[addr]
                await sess.stop()
        for addr, cfg in want.items():
            if addr not in self.sessions:
                sess = self.sessions[addr] = BgpSession(cfg, self.handler)
                sess.start()

    def _apply_md5(self, keys: dict[str, str]) -> None:
        """Make the listening sockets require exactly these peers' TCP-MD5 keys."""
        if self._server is None:
            self._md5 = {}
            return
        for addr in set(self._md5) | set(keys):
            if self._md5.get(addr) == keys.get(addr):
                continue
            for sock in self._server.sockets:
                if (sock.family == socket.AF_INET6) == (":" in addr):
                    try:
                        set_md5(sock, addr, keys.get(addr, ""))
                    except OSError as exc:  # e.g. removing a key that was never set
                        if keys.get(addr):
                            log.warning("bgp: cannot set TCP-MD5 for %s: %s", addr, exc)
        self._md5 = dict(keys)

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
