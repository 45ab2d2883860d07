"""The ledger: one SQLite file per state folder that remembers every record crossing the border.

It is what makes reruns safe. A document is written into a delivered file at most once: a batch
is first recorded as `writing` with the keys it will carry, then its files are written and
renamed into place, then the batch and its records are marked `sent` in one transaction. A crash
anywhere in between is repaired by `recover()` before the next batch (DESIGN.md §4).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    entity_type TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    store_id INTEGER NOT NULL,
    increment_id TEXT,
    order_increment_id TEXT,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    batch_id INTEGER,
    file TEXT,
    sage_ref TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id, store_id)
);
CREATE INDEX IF NOT EXISTS records_state ON records (state);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    entity_type TEXT, entity_id INTEGER, store_id INTEGER,
    event TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS accounts (
    customer_key TEXT PRIMARY KEY,
    account_ref TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    delivered_batch INTEGER,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    state TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RecordKey:
    """Entity type + Magento entity id + store: the identity of a record in the ledger."""

    entity_type: str
    entity_id: int
    store_id: int

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_id}@{self.store_id}"


@dataclass(frozen=True)
class BatchPlan:
    """What a batch will deliver: files (final paths) and the records and accounts in them."""

    files: list[str]
    records: list[tuple[RecordKey, str, str, str, str]]  # key, hash, file, increment, order inc
    accounts: list[str]  # customer keys whose account rows go in this batch
    accounts_file: str | None = None


class Ledger:
    """Thin, explicit access to the ledger tables; every write is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # Accounts -------------------------------------------------------------------------------
    def account_refs(self) -> dict[str, str]:
        """customer key -> account reference, for every account sagesync has allocated."""
        return dict(self.db.execute("SELECT customer_key, account_ref FROM accounts"))

    def add_accounts(self, allocations: Iterable[tuple[str, str, str]]) -> None:
        """Remember new (customer key, account ref, origin) allocations, so they stay stable."""
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO accounts VALUES (?, ?, ?, NULL, ?)",
                           [(k, r, o, _now()) for k, r, o in allocations])

    def delivered_accounts(self) -> set[str]:
        rows = self.db.execute("SELECT customer_key FROM accounts "
                               "WHERE delivered_batch IS NOT NULL")
        return {r[0] for r in rows}

    # Records --------------------------------------------------------------------------------
    def record_states(self, keys: Iterable[RecordKey]) -> dict[RecordKey, tuple[str, str]]:
        """State and content hash of the given records that the ledger knows."""
        found: dict[RecordKey, tuple[str, str]] = {}
        for key in keys:
            row = self.db.execute(
                "SELECT state, content_hash FROM records WHERE entity_type=? AND entity_id=? "
                "AND store_id=?", (key.entity_type, key.entity_id, key.store_id)).fetchone()
            if row:
                found[key] = (row[0], row[1])
        return found

    def mark_amended(self, key: RecordKey, new_hash: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE records SET state='amended', updated_at=? WHERE entity_type=? "
                       "AND entity_id=? AND store_id=? AND state IN ('sent','confirmed')",
                       (_now(), key.entity_type, key.entity_id, key.store_id))
            self._event(db, key, "amended", f"content changed after sending (hash {new_hash})")

    def hold(self, key: RecordKey, content_hash: str, reason: str, increment_id: str,
             order_increment_id: str) -> None:
        """A record that failed validation: kept with its reason until a person acts."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO records (entity_type, entity_id, store_id, increment_id, "
                "order_increment_id, content_hash, state, last_error, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?, 'held', ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET state='held', last_error=excluded.last_error, "
                "content_hash=excluded.content_hash, updated_at=excluded.updated_at "
                "WHERE records.state NOT IN ('sent','confirmed','amended')",
                (key.entity_type, key.entity_id, key.store_id, increment_id, order_increment_id,
                 content_hash, reason, _now(), _now()))
            self._event(db, key, "held", reason)

    # Batches --------------------------------------------------------------------------------
    def begin_batch(self, run_id: str) -> int:
        """Open a batch; its plan is recorded before any file is written (crash anchor)."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO batches (run_id, state, plan, created_at) VALUES (?, 'writing', ?, ?)",
                (run_id, "{}", _now()))
            return int(cursor.lastrowid or 0)

    def set_plan(self, batch_id: int, plan: BatchPlan) -> None:
        payload = {"files": plan.files,
                   "records": [[k.entity_type, k.entity_id, k.store_id, h, f, inc, oinc]
                               for k, h, f, inc, oinc in plan.records],
                   "accounts": plan.accounts, "accounts_file": plan.accounts_file}
        with self.transaction() as db:
            db.execute("UPDATE batches SET plan=? WHERE batch_id=?",
                       (json.dumps(payload), batch_id))

    def finish_batch(self, batch_id: int, delivered: set[str]) -> None:
        """Files are durable: mark the batch and every record in a delivered file as sent,
        atomically. Records planned for a file that never arrived stay queued."""
        row = self.db.execute("SELECT plan FROM batches WHERE batch_id=?", (batch_id,)).fetchone()
        plan = json.loads(row[0])
        now = _now()
        with self.transaction() as db:
            for etype, eid, store, content_hash, file, inc, oinc in plan.get("records", []):
                if file not in delivered:
                    continue
                db.execute(
                    "INSERT INTO records (entity_type, entity_id, store_id, increment_id, "
                    "order_increment_id, content_hash, state, batch_id, file, created_at, "
                    "updated_at) VALUES (?,?,?,?,?,?, 'sent', ?, ?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET state='sent', batch_id=excluded.batch_id, "
                    "file=excluded.file, content_hash=excluded.content_hash, last_error=NULL, "
                    "updated_at=excluded.updated_at",
                    (etype, eid, store, inc, oinc, content_hash, batch_id, file, now, now))
                self._event(db, RecordKey(etype, eid, store), "sent", f"batch {batch_id}: {file}")
            if plan.get("accounts_file") in delivered:
                db.executemany("UPDATE accounts SET delivered_batch=? WHERE customer_key=?",
                               [(batch_id, k) for k in plan.get("accounts", [])])
            db.execute("UPDATE batches SET state='delivered', finished_at=? WHERE batch_id=?",
                       (now, batch_id))

    def abandon_batch(self, batch_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE batches SET state='abandoned', finished_at=? WHERE batch_id=?",
                       (_now(), batch_id))

    def unfinished_batches(self) -> list[tuple[int, dict[str, object]]]:
        rows = self.db.execute("SELECT batch_id, plan FROM batches WHERE state='writing' "
                               "ORDER BY batch_id")
        return [(int(b), json.loads(p)) for b, p in rows]

    def counts_by_state(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM records GROUP BY state"))

    def _event(self, db: sqlite3.Connection, key: RecordKey, event: str, detail: str) -> None:
        db.execute("INSERT INTO events (at, entity_type, entity_id, store_id, event, detail) "
                   "VALUES (?,?,?,?,?,?)",
                   (_now(), key.entity_type, key.entity_id, key.store_id, event, detail))
