"""The interface every datapath backend implements."""

from __future__ import annotations

from typing import Protocol

from filament.datapath.state import DatapathState, Op


class DatapathError(Exception):
    """One operation failed (the kernel refused it, a device is missing...).

    ``obj`` names what it was about so the caller can log it and carry on."""

    def __init__(self, op: Op, message: str, errno: int = 0):
        super().__init__(f"{op}: {message}")
        self.op = op
        self.errno = errno


class Datapath(Protocol):
    """Backends are synchronous and single-threaded; the agent calls them from one
    worker thread (netlink must not run on the asyncio loop)."""

    def observe(self) -> DatapathState:
        """Everything this backend owns right now (recognised by name prefix, table
        range, ifalias), whoever created it: the input to the orphan sweep."""
        ...

    def apply(self, op: Op) -> None:
        """Apply one operation; raise ``DatapathError`` if it cannot be done."""
        ...

    def close(self) -> None: ...
