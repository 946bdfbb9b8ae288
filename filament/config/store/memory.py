"""In-memory store for unit tests: same contract as SQLite, no durability."""

from __future__ import annotations

from filament.config.store.base import Snapshot, StoredObject, Tombstone, WriteSet


class MemoryStore:
    def __init__(self) -> None:
        self.revision = 0
        self.compacted = 0
        self.objects: dict[str, StoredObject] = {}
        self.tombstones: list[Tombstone] = []
        self.kv: dict[tuple[str, str], bytes] = {}

    def load(self) -> Snapshot:
        return Snapshot(self.revision, self.compacted, list(self.objects.values()),
                        list(self.tombstones), dict(self.kv))

    def commit(self, ws: WriteSet) -> int:
        rev = self.revision + 1
        for uuid, type_, fq in ws.deletes:
            self.objects.pop(uuid, None)
            self.tombstones.append(Tombstone(rev, uuid, type_, fq))
        for uuid, type_, body in ws.puts:
            self.objects[uuid] = StoredObject(uuid, type_, rev, body)
        for ns, key in ws.kv_deletes:
            self.kv.pop((ns, key), None)
        for ns, key, value in ws.kv_puts:
            self.kv[(ns, key)] = value
        self.revision = rev
        return rev

    def compact(self, keep_tombstones: int) -> int:
        if len(self.tombstones) > keep_tombstones:
            drop = self.tombstones[: len(self.tombstones) - keep_tombstones]
            self.compacted = drop[-1].rev
            self.tombstones = self.tombstones[len(drop):]
        return self.compacted

    def close(self) -> None:
        pass
