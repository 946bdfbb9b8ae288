"""SQLite (WAL) store: the embedded default.

One SQLite transaction per `commit`, so a write either is there whole after a
crash or not at all. `synchronous=NORMAL` keeps every committed transaction
across a process crash (kill -9); `durable=True` (synchronous=FULL) also across
a power loss, at the price of an fsync per commit.
"""

from __future__ import annotations

import os
import sqlite3

from filament.config.store.base import Snapshot, StoredObject, Tombstone, WriteSet

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    uuid TEXT PRIMARY KEY, type TEXT NOT NULL, mod_rev INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (
    rev INTEGER NOT NULL, uuid TEXT NOT NULL, type TEXT NOT NULL, fq_name TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_rev ON tombstones (rev);
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key));
INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0);
"""


class SqliteStore:
    def __init__(self, path: str, *, durable: bool = False):
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.db.execute("PRAGMA foreign_keys=OFF")
        self.db.executescript(_DDL)
        self.revision = self._meta("revision")

    def _meta(self, key: str) -> int:
        return self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0]

    def load(self) -> Snapshot:
        db = self.db
        objects = [StoredObject(u, t, r, b) for u, t, r, b in
                   db.execute("SELECT uuid, type, mod_rev, body FROM objects ORDER BY mod_rev")]
        tombs = [Tombstone(r, u, t, f) for r, u, t, f in
                 db.execute("SELECT rev, uuid, type, fq_name FROM tombstones ORDER BY rev")]
        kv = {(n, k): v for n, k, v in db.execute("SELECT ns, key, value FROM kv")}
        self.revision = self._meta("revision")
        return Snapshot(self.revision, self._meta("compacted"), objects, tombs, kv)

    def commit(self, ws: WriteSet) -> int:
        rev = self.revision + 1
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if ws.deletes:
                db.executemany("DELETE FROM objects WHERE uuid=?", [(d[0],) for d in ws.deletes])
                db.executemany("INSERT INTO tombstones VALUES (?, ?, ?, ?)",
                               [(rev, u, t, f) for u, t, f in ws.deletes])
            if ws.puts:
                db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                               [(u, t, rev, b) for u, t, b in ws.puts])
            if ws.kv_deletes:
                db.executemany("DELETE FROM kv WHERE ns=? AND key=?", ws.kv_deletes)
            if ws.kv_puts:
                db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", ws.kv_puts)
            db.execute("UPDATE meta SET value=? WHERE key='revision'", (rev,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.revision = rev
        return rev

    def compact(self, keep_tombstones: int) -> int:
        db = self.db
        row = db.execute("SELECT rev FROM tombstones ORDER BY rev DESC LIMIT 1 OFFSET ?",
                         (keep_tombstones,)).fetchone()
        if row is None:
            return self._meta("compacted")
        floor = row[0]
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM tombstones WHERE rev <= ?", (floor,))
        db.execute("UPDATE meta SET value=max(value, ?) WHERE key='compacted'", (floor,))
        db.execute("COMMIT")
        return self._meta("compacted")

    def close(self) -> None:
        self.db.close()
