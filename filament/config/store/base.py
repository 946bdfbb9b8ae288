"""The store interface: objects, tombstones and small key/values under one revision.

A backend commits a `WriteSet` atomically and returns the new global revision
(previous + 1). It knows nothing of resource semantics: bodies are opaque bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredObject:
    uuid: str
    type: str
    mod_rev: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Tombstone:
    rev: int
    uuid: str
    type: str
    fq_name: str


@dataclass(slots=True)
class WriteSet:
    puts: list[tuple[str, str, bytes]] = field(default_factory=list)        # uuid, type, body
    deletes: list[tuple[str, str, str]] = field(default_factory=list)       # uuid, type, fq_name
    kv_puts: list[tuple[str, str, bytes]] = field(default_factory=list)     # ns, key, value
    kv_deletes: list[tuple[str, str]] = field(default_factory=list)         # ns, key

    def __bool__(self) -> bool:
        return bool(self.puts or self.deletes or self.kv_puts or self.kv_deletes)


@dataclass(slots=True)
class Snapshot:
    revision: int
    compacted: int                       # tombstones at or below this revision are gone
    objects: list[StoredObject]
    tombstones: list[Tombstone]
    kv: dict[tuple[str, str], bytes]


class Store(Protocol):
    def load(self) -> Snapshot:
        """Everything, as of the current revision (used once at start-up)."""

    def commit(self, ws: WriteSet) -> int:
        """Apply `ws` atomically; return the new revision."""

    def compact(self, keep_tombstones: int) -> int:
        """Drop all but the newest `keep_tombstones` tombstones; return the floor."""

    def close(self) -> None: ...
