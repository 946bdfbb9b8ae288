"""Run a block of the calling thread inside a network namespace (``setns`` and back).

The datapath thread programs a compute host's namespace while the agent's sockets stay
in its own: netlink goes through pyroute2's namespaced socket, and what has no netlink
call here — ``/proc/sys/net`` writes, the nftables library's socket — is done with the
thread switched into the namespace for the duration of a ``with`` block (two system
calls, instead of an ``ip netns exec`` process of a few milliseconds).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno as _errno
import os
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/var/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns: {os.strerror(code)}")


class Netns:
    """A named namespace (``ip netns`` name) held open by fd; ``None``: the current one."""

    def __init__(self, name: str | None):
        self.name = name
        self._fd: int | None = None
        if name:
            try:
                self._fd = os.open(os.path.join(NETNS_RUN_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise OSError(_errno.ENOENT, f"network namespace {name} does not exist") from None

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """The calling thread is in the namespace inside the block (nothing to do for None)."""
        if self._fd is None:
            yield
            return
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(self._fd)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
