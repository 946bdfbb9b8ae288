"""TCP-MD5 signatures for BGP sessions (RFC 2385) via Linux ``TCP_MD5SIG``.

The key is per peer address and lives on the socket: on the listening socket (so the
kernel accepts only signed SYNs from that peer) and on a dialing socket before
``connect``. An empty key removes it.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

TCP_MD5SIG = getattr(socket, "TCP_MD5SIG", 14)
MAX_KEY = 80  # TCP_MD5SIG_MAXKEYLEN


def md5sig(peer: str, key: str) -> bytes:
    """``struct tcp_md5sig`` for ``peer`` (IPv4 or IPv6) and ``key``."""
    raw = key.encode()
    if len(raw) > MAX_KEY:
        raise ValueError(f"TCP-MD5 key longer than {MAX_KEY} bytes")
    ip = ipaddress.ip_address(peer)
    if ip.version == 4:
        addr = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + ip.packed
    else:
        addr = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 0, 0) + ip.packed + struct.pack("=I", 0)
    addr = addr.ljust(128, b"\0")
    return addr + struct.pack("=BBHI", 0, 0, len(raw), 0) + raw.ljust(MAX_KEY, b"\0")


def set_md5(sock: socket.socket, peer: str, key: str) -> None:
    """Require (``key``) or stop requiring ('') TCP-MD5 for ``peer`` on ``sock``."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig(peer, key))
