"""Config store backends behind one interface (see base.Store)."""

from filament.config.store.base import Store, StoredObject, Tombstone, WriteSet
from filament.config.store.memory import MemoryStore
from filament.config.store.sqlite import SqliteStore


def open_store(url: str) -> Store:
    """`memory:` or `sqlite:<path>` (a bare path means sqlite)."""
    if url in ("memory", "memory:"):
        return MemoryStore()
    if url.startswith("sqlite:"):
        url = url[len("sqlite:"):]
    return SqliteStore(url)


__all__ = ["MemoryStore", "SqliteStore", "Store", "StoredObject", "Tombstone", "WriteSet",
           "open_store"]
