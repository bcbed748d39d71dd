"""The registry: one SQLite file, one row per storage, passwords sealed with Fernet.

Every write is one transaction (WAL journal), so a crash loses nothing committed. Rows keep
the password-free access info in clear (for listing) and the passwords sealed apart.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import re
import sqlite3
import threading
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from drivers.access_info import AccessInfo

from .crypto import SecretBox

SCHEMA = """
CREATE TABLE IF NOT EXISTS storages (
    id            TEXT PRIMARY KEY,
    vendor        TEXT NOT NULL,
    model         TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    access_public TEXT NOT NULL,
    secrets       TEXT NOT NULL,
    storage       TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active',
    epoch         INTEGER NOT NULL DEFAULT 0,
    session_state TEXT NOT NULL DEFAULT 'connecting',
    display_name  TEXT,
    sync_started  REAL,
    sessions      TEXT,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS storages_serial ON storages(vendor, model, serial_number);
CREATE TABLE IF NOT EXISTS alerts (
    sequence_number INTEGER PRIMARY KEY AUTOINCREMENT,
    storage_id      TEXT,
    alert_name      TEXT NOT NULL,
    cleared         INTEGER NOT NULL DEFAULT 0,
    occur_time      INTEGER NOT NULL,
    body            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_storage ON alerts(storage_id, alert_name, cleared);
CREATE TABLE IF NOT EXISTS resources (
    id         TEXT PRIMARY KEY,
    storage_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS resources_kind ON resources(kind, storage_id);
CREATE TABLE IF NOT EXISTS support (
    storage_id TEXT NOT NULL,
    method     TEXT NOT NULL,
    summary    TEXT NOT NULL,
    synced_at  REAL NOT NULL,
    PRIMARY KEY (storage_id, method)
);
CREATE TABLE IF NOT EXISTS collection (
    storage_id    TEXT PRIMARY KEY,
    last_end      INTEGER,
    windows_lost  INTEGER NOT NULL DEFAULT 0,
    lost_through  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS windows (
    storage_id TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL,
    reason     TEXT,
    PRIMARY KEY (storage_id, start_ms)
);
"""


_FIELD = re.compile(r"^[a-z][a-z_]{0,63}$")


def iso(epoch: Optional[float]) -> Optional[str]:
    """Delfin's timestamp text (UTC, microseconds): 2026-11-30T12:57:36.123456."""
    if not epoch:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass(frozen=True)
class Query:
    """A list request as Delfin reads it: exact-match filters, sort keys, limit, offset, marker."""

    filters: dict[str, str] = field(default_factory=dict)
    sort: tuple[tuple[str, str], ...] = (("created_at", "desc"),)
    limit: int = 1000
    offset: int = 0
    marker: Optional[str] = None


class Registry:
    def __init__(self, path: str, box: SecretBox) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._box = box
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(storages)")}
            for name, decl in (("epoch", "INTEGER NOT NULL DEFAULT 0"),       # registries written
                               ("session_state", "TEXT NOT NULL DEFAULT 'connecting'"),  # before these
                               ("display_name", "TEXT"), ("sync_started", "REAL"), ("sessions", "TEXT")):
                if name not in columns:
                    self._db.execute(f"ALTER TABLE storages ADD COLUMN {name} {decl}")
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(resources)")}
            for name in ("created_at", "updated_at"):
                if name not in columns:
                    self._db.execute(f"ALTER TABLE resources ADD COLUMN {name} REAL NOT NULL DEFAULT 0")
            if "lost_through" not in {r[1] for r in self._db.execute("PRAGMA table_info(collection)")}:
                self._db.execute("ALTER TABLE collection ADD COLUMN lost_through INTEGER NOT NULL DEFAULT 0")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back whole."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _active(self, db: sqlite3.Connection, storage_id: str) -> bool:
        return db.execute("SELECT 1 FROM storages WHERE id=? AND status='active'", (storage_id,)).fetchone() is not None

    def _tx(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._transaction() as db:
            return db.execute(sql, args)

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- storages ----------------------------------------------------------------------------
    def add(self, storage_id: str, access: AccessInfo, storage: dict[str, Any], epoch: int = 1,
            display_name: Optional[str] = None) -> None:
        now = time.time()
        self._tx("INSERT INTO storages (id, vendor, model, serial_number, endpoint, access_public,"
                 " secrets, storage, epoch, display_name, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                 (storage_id, access.vendor, access.model, str(storage["serial_number"]),
                  access.endpoint(), json.dumps(access.public()), self._box.seal(access.secrets()),
                  json.dumps(storage, default=str), epoch, display_name, now, now))

    def epoch(self, storage_id: str) -> Optional[int]:
        """The committed session epoch: the owner that confirmed the highest one wins."""
        row = self.get(storage_id)
        return row["epoch"] if row else None

    @contextlib.contextmanager
    def owner_writes(self, storage_id: str) -> Iterator[Optional[int]]:
        """The committed epoch, held while the caller writes a report it checked against it: a
        commit of a higher epoch (``raise_epoch``) waits for the block to end, so a report read
        as the owner's is never written after a newer owner was committed."""
        with self._lock:
            yield self.epoch(storage_id)

    def raise_epoch(self, storage_id: str, epoch: int) -> None:
        """Commit ``epoch`` once its owner confirmed its connect (never lowers it)."""
        self._tx("UPDATE storages SET epoch=MAX(epoch, ?) WHERE id=?", (int(epoch), storage_id))

    def set_session_state(self, storage_id: str, state: str) -> None:
        """The last state a storage actor reported (``auth_failed`` survives a restart)."""
        self._tx("UPDATE storages SET session_state=? WHERE id=?", (state, storage_id))

    def set_sessions(self, storage_id: str, handles: list[str]) -> None:
        """The storage actor's open session handles (tokens), sealed like passwords."""
        sealed = self._box.seal({"handles": json.dumps(sorted(handles))}) if handles else None
        self._tx("UPDATE storages SET sessions=? WHERE id=?", (sealed, storage_id))

    def sessions(self, storage_id: str) -> list[str]:
        row = self.get(storage_id)
        if row is None or not row["sessions"]:
            return []
        return list(json.loads(self._box.open(row["sessions"])["handles"]))

    def update_access(self, storage_id: str, access: AccessInfo, storage: Optional[dict] = None) -> None:
        sets = "access_public=?, secrets=?, endpoint=?, updated_at=?"
        args: list[Any] = [json.dumps(access.public()), self._box.seal(access.secrets()),
                           access.endpoint(), time.time()]
        if storage is not None:
            sets += ", storage=?"
            args.append(json.dumps(storage, default=str))
        self._tx(f"UPDATE storages SET {sets} WHERE id=?", (*args, storage_id))

    def update_storage(self, storage_id: str, storage: dict) -> None:
        self._tx("UPDATE storages SET storage=?, updated_at=? WHERE id=?",
                 (json.dumps(storage, default=str), time.time(), storage_id))

    def tombstone(self, storage_id: str) -> None:
        self._tx("UPDATE storages SET status='deleting', updated_at=? WHERE id=?", (time.time(), storage_id))

    def delete(self, storage_id: str) -> None:
        with self._transaction() as db:
            for table, key in (("storages", "id"), ("windows", "storage_id"), ("collection", "storage_id"),
                               ("resources", "storage_id"), ("support", "storage_id")):
                db.execute(f"DELETE FROM {table} WHERE {key}=?", (storage_id,))

    def get(self, storage_id: str, include_deleting: bool = False) -> Optional[sqlite3.Row]:
        rows = self._query("SELECT * FROM storages WHERE id=?", (storage_id,))
        if not rows or (rows[0]["status"] != "active" and not include_deleting):
            return None
        return rows[0]

    def rows(self, include_deleting: bool = False) -> list[sqlite3.Row]:
        where = "" if include_deleting else " WHERE status='active'"
        return self._query(f"SELECT * FROM storages{where} ORDER BY created_at")

    def find_endpoint(self, endpoint: str) -> Optional[str]:
        rows = self._query("SELECT id FROM storages WHERE endpoint=? AND status='active'", (endpoint,))
        return rows[0]["id"] if rows else None

    def find_serial(self, vendor: str, model: str, serial: str) -> Optional[str]:
        rows = self._query("SELECT id FROM storages WHERE vendor=? AND model=? AND serial_number=?"
                           " AND status='active'", (vendor, model, serial))
        return rows[0]["id"] if rows else None

    def access_info(self, storage_id: str) -> Optional[AccessInfo]:
        """The full access info, passwords unsealed (only for logging in)."""
        row = self.get(storage_id)
        if row is None:
            return None
        data = json.loads(row["access_public"])
        for block, password in self._box.open(row["secrets"]).items():
            data[block]["password"] = password
        data["storage_id"] = storage_id
        return AccessInfo.from_stored(data)

    @staticmethod
    def storage_dict(row: sqlite3.Row) -> dict[str, Any]:
        """The storage as the array reported it, under the display name given at registration,
        with Delfin's sync status and timestamps."""
        out = {**json.loads(row["storage"]), "id": row["id"],
               "sync_status": "SYNCING" if row["sync_started"] is not None else "SYNCED",
               "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}
        if row["display_name"]:
            out["name"] = row["display_name"]
        return out

    @staticmethod
    def public_access(row: sqlite3.Row) -> dict[str, Any]:
        """Delfin's access-info view: every block (null when absent), never a password."""
        data = json.loads(row["access_public"])
        return {"storage_id": row["id"], "vendor": data.get("vendor"), "model": data.get("model"),
                **{b: data.get(b) for b in ("rest", "ssh", "cli", "smis")},
                "extra_attributes": data.get("extra_attributes") or {},
                "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}

    # -- last sync snapshot (the HTTP collections answer from it while an array is down) ---------
    def save_snapshot(self, storage_id: str, rows: dict[str, list[tuple[str, dict]]],
                      support: dict[str, dict]) -> None:
        """Replace the rows of every synced kind and the support summary, in one transaction,
        and mark the sync finished. ``rows``: kind -> [(row id, row)]. Kinds that failed keep
        their old rows. A row keeps its ``created_at``; ``updated_at`` moves when it changed."""
        now = time.time()
        with self._transaction() as db:
            if not self._active(db, storage_id):     # removed meanwhile: keep nothing
                return
            for kind, items in rows.items():
                old = {r["id"]: (r["body"], r["created_at"], r["updated_at"]) for r in db.execute(
                    "SELECT id, body, created_at, updated_at FROM resources WHERE storage_id=? AND kind=?",
                    (storage_id, kind))}
                db.execute("DELETE FROM resources WHERE storage_id=? AND kind=?", (storage_id, kind))
                fresh = []
                for rid, row in items:
                    body = json.dumps(row, default=str)
                    before = old.get(rid)
                    created = before[1] if before else now
                    updated = before[2] if before and before[0] == body else now
                    fresh.append((rid, storage_id, kind, body, created, updated))
                db.executemany("INSERT OR REPLACE INTO resources (id, storage_id, kind, body, created_at, updated_at)"
                               " VALUES (?,?,?,?,?,?)", fresh)
            db.executemany("INSERT OR REPLACE INTO support (storage_id, method, summary, synced_at) VALUES (?,?,?,?)",
                           [(storage_id, m, json.dumps(sm), now) for m, sm in support.items()])
            db.execute("UPDATE storages SET sync_started=NULL, updated_at=? WHERE id=?", (now, storage_id))

    def start_sync(self, storage_id: str, expiration_s: float) -> bool:
        """Mark a sync started; False when one started less than ``expiration_s`` ago is still on."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT sync_started FROM storages WHERE id=? AND status='active'",
                             (storage_id,)).fetchone()
            if row is None or (row[0] is not None and now - row[0] < expiration_s):
                return False
            db.execute("UPDATE storages SET sync_started=? WHERE id=?", (now, storage_id))
            return True

    def resources(self, kind: str, storage_id: Optional[str] = None, rid: Optional[str] = None) -> list[dict]:
        """Rows of one kind (optionally of one storage, or one row), oldest first."""
        sql, args = "SELECT * FROM resources WHERE kind=?", [kind]
        if storage_id is not None:
            sql += " AND storage_id=?"
            args.append(storage_id)
        if rid is not None:
            sql += " AND id=?"
            args.append(rid)
        return [self.resource_dict(r) for r in self._query(sql + " ORDER BY rowid", tuple(args))]

    @staticmethod
    def resource_dict(row: sqlite3.Row) -> dict[str, Any]:
        return {**json.loads(row["body"]), "id": row["id"], "storage_id": row["storage_id"],
                "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}

    # -- Delfin's list queries: filters, sort keys and directions, limit, offset, marker ---------
    def query_storages(self, q: "Query") -> list[dict[str, Any]]:
        columns = {"id": "id", "created_at": "created_at", "updated_at": "updated_at",
                   "name": "COALESCE(display_name, json_extract(storage, '$.name'))"}
        rows = self._select("storages", "storage", "status='active'", (), columns, q)
        return [self.storage_dict(r) for r in rows]

    def query_resources(self, kind: str, q: "Query") -> list[dict[str, Any]]:
        columns = {"id": "id", "storage_id": "storage_id", "created_at": "created_at", "updated_at": "updated_at"}
        return [self.resource_dict(r) for r in self._select("resources", "body", "kind=?", (kind,), columns, q)]

    def _select(self, table: str, body: str, where: str, args: tuple, columns: dict[str, str],
                q: "Query") -> list[sqlite3.Row]:
        """One filtered, ordered page. Field names come from fixed lists (the caller checked
        them against Delfin's search options and the row model): safe to put into SQL."""
        def field(key: str) -> str:
            if not _FIELD.match(key):
                raise ValueError(f"bad field {key!r}")
            return columns.get(key) or f"json_extract({body}, '$.{key}')"
        sql_where, params = where, list(args)
        for key, value in q.filters.items():
            sql_where += f" AND CAST({field(key)} AS TEXT) = ?"
            params.append(str(value))
        order = ", ".join(f"{field(k)} {'DESC' if d == 'desc' else 'ASC'}" for k, d in q.sort) or "rowid"
        base = f"FROM {table} WHERE {sql_where} ORDER BY {order}, rowid"
        offset = q.offset
        if q.marker is not None:
            ids = [r[0] for r in self._query(f"SELECT id {base}", tuple(params))]
            if q.marker not in ids:
                raise KeyError(q.marker)
            offset += ids.index(q.marker) + 1
        return self._query(f"SELECT * {base} LIMIT ? OFFSET ?", (*params, q.limit, offset))

    def support(self, storage_id: str) -> dict[str, dict]:
        rows = self._query("SELECT method, summary, synced_at FROM support WHERE storage_id=?", (storage_id,))
        return {r["method"]: {**json.loads(r["summary"]), "synced_at": r["synced_at"]} for r in rows}

    # -- collection windows (durable, so a restart or an outage loses no window) ---------------
    def collection_state(self, storage_id: str) -> dict[str, Any]:
        rows = self._query("SELECT last_end, windows_lost FROM collection WHERE storage_id=?", (storage_id,))
        pending = self._query("SELECT start_ms, end_ms, reason FROM windows WHERE storage_id=? ORDER BY start_ms",
                              (storage_id,))
        return {"last_end": rows[0]["last_end"] if rows else None,
                "windows_lost": rows[0]["windows_lost"] if rows else 0,
                "pending": [(r["start_ms"], r["end_ms"], r["reason"]) for r in pending]}

    def record_collection(self, storage_id: str, last_end: int, pending: list[tuple[int, int, str]],
                          lost: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """Replace the pending set and advance the high-water mark in one transaction; count the
        lost windows not counted before and return them. A report arrives at least once and
        maybe late (its sender timed out and sent a newer one): an older high-water mark
        changes nothing, and a window ending at or before ``lost_through`` was counted already
        (a storage loses its windows oldest first)."""
        with self._transaction() as db:
            if not self._active(db, storage_id):
                return []
            row = db.execute("SELECT last_end, lost_through FROM collection WHERE storage_id=?",
                             (storage_id,)).fetchone()
            through = row["lost_through"] if row else 0
            new = [w for w in lost if w[1] > through]
            if row is None:
                db.execute("INSERT INTO collection (storage_id, last_end, windows_lost, lost_through)"
                           " VALUES (?,?,?,?)", (storage_id, last_end, 0, 0))
            if new:
                db.execute("UPDATE collection SET windows_lost=windows_lost+?, lost_through=? WHERE storage_id=?",
                           (len(new), max(w[1] for w in new), storage_id))
            if row is not None and row["last_end"] is not None and last_end < row["last_end"]:
                return new                        # a late report: the newer state stays
            db.execute("UPDATE collection SET last_end=? WHERE storage_id=?", (last_end, storage_id))
            db.execute("DELETE FROM windows WHERE storage_id=?", (storage_id,))
            db.executemany("INSERT INTO windows (storage_id, start_ms, end_ms, reason) VALUES (?,?,?,?)",
                           [(storage_id, s, e, r) for s, e, r in pending])
            return new

    # -- alerts ------------------------------------------------------------------------------
    def add_alert(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            cur = self._tx("INSERT INTO alerts (storage_id, alert_name, occur_time, body) VALUES (?,?,?,?)",
                           (body.get("storage_id"), body["alert_name"], body["occur_time"], json.dumps(body)))
            return {**body, "sequence_number": str(cur.lastrowid)}

    def has_open_alert(self, storage_id: str, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM alerts WHERE storage_id=? AND alert_name=? AND cleared=0 LIMIT 1",
                                (storage_id, name)))

    def clear_alerts(self, storage_id: str, names: tuple[str, ...]) -> int:
        marks = ",".join("?" * len(names))
        cur = self._tx(f"UPDATE alerts SET cleared=1 WHERE storage_id=? AND cleared=0 AND alert_name IN ({marks})",
                       (storage_id, *names))
        return cur.rowcount

    def alerts(self, storage_id: Optional[str] = None, begin_time: Optional[int] = None,
               end_time: Optional[int] = None, open_only: bool = False) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM alerts WHERE 1=1", []
        if storage_id is not None:
            sql += " AND storage_id=?"
            args.append(storage_id)
        if begin_time is not None:
            sql += " AND occur_time>=?"
            args.append(int(begin_time))
        if end_time is not None:
            sql += " AND occur_time<=?"
            args.append(int(end_time))
        if open_only:
            sql += " AND cleared=0"
        return list(self._iter_alerts(self._query(sql + " ORDER BY sequence_number", tuple(args))))

    @staticmethod
    def _iter_alerts(rows: list[sqlite3.Row]) -> Iterator[dict[str, Any]]:
        for r in rows:
            yield {**json.loads(r["body"]), "sequence_number": str(r["sequence_number"]),
                   "cleared": bool(r["cleared"])}

    def close(self) -> None:
        with self._lock:
            self._db.close()
