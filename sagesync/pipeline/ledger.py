"""The ledger: one SQLite file per state folder that remembers every record crossing the border.

It is the local queue and what makes reruns safe (DESIGN.md §4):

    exported -> queued -> sent -> confirmed
       queued -> held                  validation failed, or a person put it on hold
       sent -> rejected -> queued      next cycle, attempts + 1; at max_attempts -> needs_attention
       sent/confirmed + Magento changed -> amended (never resent automatically)

A document is written into a delivered file at most once: a batch is first recorded as
`writing` with the files it will write and the records in each, then the files are written and
renamed into place, then the batch and its records are marked `sent` in one transaction. A
crash anywhere in between is repaired by `recover` before the next batch: what reached the
folder is recorded as sent, the rest stays queued.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PENDING = ("exported", "queued", "held", "rejected")
DONE = ("sent", "confirmed", "amended")

# Each entry moves the schema one version up; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE records (
        entity_type TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        store_id INTEGER NOT NULL,
        increment_id TEXT,
        order_id INTEGER,
        order_increment_id TEXT,
        content_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        held_by TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        export_checkpoint TEXT,
        batch_id INTEGER,
        file TEXT,
        sent_run INTEGER,
        sage_ref TEXT,
        sage_invoice_ref TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (entity_type, entity_id, store_id)
    );
    CREATE INDEX records_state ON records (state);
    CREATE INDEX records_order ON records (order_increment_id);
    CREATE INDEX records_reference ON records (increment_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        run_id TEXT,
        entity_type TEXT, entity_id INTEGER, store_id INTEGER,
        event TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX events_record ON events (entity_type, entity_id, store_id);
    CREATE TABLE accounts (
        customer_key TEXT PRIMARY KEY,
        account_ref TEXT NOT NULL UNIQUE,
        origin TEXT NOT NULL,
        delivered_batch INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE batches (
        batch_id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        state TEXT NOT NULL,
        plan TEXT NOT NULL,
        created_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        command TEXT NOT NULL,
        flow TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        exit_code INTEGER,
        summary TEXT
    );
    CREATE TABLE bookmarks (
        flow TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE pushed (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        previous_value TEXT,
        pushed_at TEXT NOT NULL,
        run_id TEXT,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE files (
        sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT,
        processed_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE triggers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity_type TEXT NOT NULL,
        entity_id INTEGER NOT NULL,
        source TEXT NOT NULL,
        body_sha256 TEXT NOT NULL,
        received_at TEXT NOT NULL,
        consumed_run TEXT
    );
    CREATE INDEX triggers_pending ON triggers (consumed_run);
    """,
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, order=True)
class RecordKey:
    """Entity type + Magento entity id + store: the identity of a record in the ledger."""

    entity_type: str
    entity_id: int
    store_id: int

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_id}@{self.store_id}"

    @classmethod
    def parse(cls, text: str) -> RecordKey:
        """`invoice:12@1` (or `invoice:12`, store 0 then unknown) as printed by status/trace."""
        kind, _, rest = text.partition(":")
        number, _, store = rest.partition("@")
        if not kind or not number.isdigit() or (store and not store.isdigit()):
            raise ValueError(text)
        return cls(kind, int(number), int(store) if store else -1)


@dataclass(frozen=True)
class Exported:
    """A record as an export saw it."""

    key: RecordKey
    increment_id: str
    order_id: int
    order_increment_id: str
    content_hash: str


@dataclass(frozen=True)
class BatchPlan:
    """What a batch will deliver: files (final paths) and the records and accounts in them."""

    files: list[str]
    records: list[tuple[RecordKey, str, str]]  # key, content hash, file
    accounts: list[str]  # customer keys whose account rows go in this batch
    accounts_file: str | None = None


@dataclass(frozen=True)
class RecordRow:
    """One ledger row, as status, trace and the fix-up commands show it."""

    key: RecordKey
    increment_id: str | None
    order_increment_id: str | None
    state: str
    held_by: str | None
    attempts: int
    last_error: str | None
    batch_id: int | None
    file: str | None
    sage_ref: str | None
    sage_invoice_ref: str | None
    updated_at: str


_ROW_COLUMNS = ("entity_type, entity_id, store_id, increment_id, order_increment_id, state, "
                "held_by, attempts, last_error, batch_id, file, sage_ref, sage_invoice_ref, "
                "updated_at")


def _row(values: Sequence[Any]) -> RecordRow:
    return RecordRow(RecordKey(values[0], values[1], values[2]), *values[3:])


class Ledger:
    """Explicit access to the ledger tables; every change is one transaction with its events."""

    def __init__(self, path: Path, run_id: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.run_id = run_id
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as db:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _event(self, db: sqlite3.Connection, key: RecordKey, event: str, detail: str) -> None:
        db.execute("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, event, "
                   "detail) VALUES (?,?,?,?,?,?,?)",
                   (_now(), self.run_id, key.entity_type, key.entity_id, key.store_id, event,
                    detail))

    def _states(self, keys: Iterable[RecordKey]) -> dict[RecordKey, tuple[str, str, str | None]]:
        """state, content hash, held_by of each known key (looked up through a temp table)."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (t TEXT, i INTEGER, s INTEGER)")
        db.execute("DELETE FROM wanted")
        db.executemany("INSERT INTO wanted VALUES (?,?,?)",
                       [(k.entity_type, k.entity_id, k.store_id) for k in keys])
        rows = db.execute("SELECT r.entity_type, r.entity_id, r.store_id, r.state, "
                          "r.content_hash, r.held_by FROM records r JOIN wanted w "
                          "ON r.entity_type=w.t AND r.entity_id=w.i AND r.store_id=w.s")
        return {RecordKey(t, i, s): (state, h, by) for t, i, s, state, h, by in rows}

    # Runs and bookmarks -------------------------------------------------------------------
    def start_run(self, command: str, flow: str = "orders") -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO runs (run_id, command, flow, started_at) VALUES (?,?,?,?)",
                       (self.run_id or "", command, flow, _now()))

    def finish_run(self, exit_code: int, summary: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET finished_at=?, exit_code=?, summary=? WHERE seq = "
                       "(SELECT max(seq) FROM runs WHERE run_id=?)",
                       (_now(), exit_code, json.dumps(summary, default=str), self.run_id or ""))

    def runs_since(self, seq: int) -> int:
        return int(self.db.execute("SELECT count(*) FROM runs WHERE seq > ? AND "
                                   "command IN ('run', 'import-sage')", (seq,)).fetchone()[0])

    def current_run_seq(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(seq), 0) FROM runs").fetchone()[0])

    def last_run(self, flow: str, *, successful: bool) -> dict[str, Any] | None:
        condition = "exit_code IN (0, 1)" if successful else "finished_at IS NOT NULL"
        row = self.db.execute(f"SELECT run_id, command, started_at, finished_at, exit_code "
                              f"FROM runs WHERE flow=? AND {condition} ORDER BY seq DESC LIMIT 1",
                              (flow,)).fetchone()
        if row is None:
            return None
        return dict(zip(("run_id", "command", "started_at", "finished_at", "exit_code"), row,
                        strict=True))

    def bookmark(self, flow: str) -> str | None:
        row = self.db.execute("SELECT value FROM bookmarks WHERE flow=?", (flow,)).fetchone()
        return row[0] if row else None

    def set_bookmark(self, flow: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO bookmarks VALUES (?,?,?) ON CONFLICT DO UPDATE SET "
                       "value=excluded.value, updated_at=excluded.updated_at",
                       (flow, value, _now()))

    # Accounts -----------------------------------------------------------------------------
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

    # Export and transform -----------------------------------------------------------------
    def register_exported(self, records: Sequence[Exported], checkpoint: str) -> list[RecordKey]:
        """Record what an export saw. Returns the keys that became `amended`: changed in
        Magento after they were sent. A re-exported pending record points at the new data."""
        known = self._states(r.key for r in records)
        amended: list[RecordKey] = []
        now = _now()
        with self.transaction() as db:
            for record in records:
                key = record.key
                previous = known.get(key)
                if previous is None:
                    db.execute(
                        "INSERT INTO records (entity_type, entity_id, store_id, increment_id, "
                        "order_id, order_increment_id, content_hash, state, export_checkpoint, "
                        "created_at, updated_at) VALUES (?,?,?,?,?,?,?, 'exported', ?, ?, ?)",
                        (key.entity_type, key.entity_id, key.store_id, record.increment_id,
                         record.order_id, record.order_increment_id, record.content_hash,
                         checkpoint, now, now))
                    self._event(db, key, "exported", checkpoint)
                    continue
                state, old_hash, held_by = previous
                if old_hash == record.content_hash and state in DONE:
                    continue
                if state in ("sent", "confirmed"):
                    db.execute("UPDATE records SET state='amended', updated_at=? WHERE "
                               "entity_type=? AND entity_id=? AND store_id=?",
                               (now, key.entity_type, key.entity_id, key.store_id))
                    self._event(db, key, "amended", "changed in Magento after it was sent; "
                                "not resent (correct it in Sage)")
                    amended.append(key)
                    continue
                if state == "amended":
                    continue
                new_state = "exported" if state == "held" and held_by == "validation" and \
                    old_hash != record.content_hash else state
                db.execute("UPDATE records SET content_hash=?, export_checkpoint=?, state=?, "
                           "updated_at=? WHERE entity_type=? AND entity_id=? AND store_id=?",
                           (record.content_hash, checkpoint, new_state, now, key.entity_type,
                            key.entity_id, key.store_id))
                if old_hash != record.content_hash:
                    self._event(db, key, "changed", f"new content in {checkpoint}")
        return amended

    def pending_elsewhere(self, checkpoint: str, kinds: Sequence[str]
                          ) -> dict[str, list[RecordKey]]:
        """Pending records whose latest data is in an earlier export checkpoint, by checkpoint.

        This is what makes the ledger a queue: a record exported during a Sage outage is
        delivered by a later run even if Magento never changes it again."""
        marks = ",".join("?" * len(kinds))
        rows = self.db.execute(
            f"SELECT export_checkpoint, entity_type, entity_id, store_id FROM records WHERE "
            f"state IN ('exported','queued','rejected') AND entity_type IN ({marks}) AND "
            f"export_checkpoint IS NOT NULL AND export_checkpoint != ?",
            (*kinds, checkpoint))
        found: dict[str, list[RecordKey]] = {}
        for ckpt, t, i, s in rows:
            found.setdefault(ckpt, []).append(RecordKey(t, i, s))
        return found

    def mark_transformed(self, ready: Sequence[tuple[RecordKey, str]],
                         held: Sequence[tuple[RecordKey, str, str]]) -> None:
        """Ready documents join the queue; invalid ones are held with their reason.

        A record a person put on hold stays held; sent or amended records are not touched."""
        known = self._states([k for k, _ in ready] + [k for k, _, _ in held])
        now = _now()
        with self.transaction() as db:
            for key, _hash in ready:
                state = known.get(key, ("", "", None))
                if state[0] in ("exported", "rejected") or (state[0] == "held"
                                                          and state[2] == "validation"):
                    db.execute("UPDATE records SET state='queued', held_by=NULL, "
                               "last_error=CASE WHEN state='rejected' THEN last_error END, "
                               "updated_at=? WHERE entity_type=? AND entity_id=? AND "
                               "store_id=?", (now, key.entity_type, key.entity_id, key.store_id))
                    self._event(db, key, "queued", "")
            for key, _hash, reason in held:
                state = known.get(key, ("", "", None))
                if state[0] in ("exported", "queued", "rejected", "held") and \
                        state[2] != "person":
                    db.execute("UPDATE records SET state='held', held_by='validation', "
                               "last_error=?, updated_at=? WHERE entity_type=? AND entity_id=? "
                               "AND store_id=?",
                               (reason, now, key.entity_type, key.entity_id, key.store_id))
                    if state[0] != "held":
                        self._event(db, key, "held", reason)

    # Import -------------------------------------------------------------------------------
    def states_of(self, keys: Iterable[RecordKey]) -> dict[RecordKey, tuple[str, str]]:
        return {k: (s, h) for k, (s, h, _) in self._states(keys).items()}

    def hold_for_validation(self, key: RecordKey, reason: str) -> None:
        """A document that broke a Sage file rule at render time."""
        self.mark_transformed([], [(key, "", reason)])

    def begin_batch(self) -> int:
        """Open a batch; its plan is recorded before any file is written (crash anchor)."""
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO batches (run_id, state, plan, created_at) "
                                "VALUES (?, 'writing', '{}', ?)", (self.run_id or "", _now()))
            return int(cursor.lastrowid or 0)

    def set_plan(self, batch_id: int, plan: BatchPlan) -> None:
        payload = {"files": plan.files,
                   "records": [[k.entity_type, k.entity_id, k.store_id, h, f]
                               for k, h, f in plan.records],
                   "accounts": plan.accounts, "accounts_file": plan.accounts_file}
        with self.transaction() as db:
            db.execute("UPDATE batches SET plan=? WHERE batch_id=?",
                       (json.dumps(payload), batch_id))

    def finish_batch(self, batch_id: int, delivered: set[str]) -> int:
        """Files are durable: mark the batch and every record in a delivered file as sent, in
        one transaction. Records planned for a file that never arrived stay queued."""
        row = self.db.execute("SELECT plan FROM batches WHERE batch_id=?", (batch_id,)).fetchone()
        plan = json.loads(row[0])
        now = _now()
        seq = self.current_run_seq()
        sent = 0
        with self.transaction() as db:
            for etype, eid, store, content_hash, file in plan.get("records", []):
                if file not in delivered:
                    continue
                key = RecordKey(etype, eid, store)
                db.execute("UPDATE records SET state='sent', batch_id=?, file=?, "
                           "content_hash=?, sent_run=?, last_error=NULL, updated_at=? "
                           "WHERE entity_type=? AND entity_id=? AND store_id=?",
                           (batch_id, file, content_hash, seq, now, etype, eid, store))
                self._event(db, key, "sent", f"batch {batch_id}: {Path(file).name}")
                sent += 1
            if plan.get("accounts_file") in delivered:
                db.executemany("UPDATE accounts SET delivered_batch=? WHERE customer_key=?",
                               [(batch_id, k) for k in plan.get("accounts", [])])
            db.execute("UPDATE batches SET state='delivered', finished_at=? WHERE batch_id=?",
                       (now, batch_id))
        return sent

    def unfinished_batches(self) -> list[tuple[int, dict[str, Any]]]:
        rows = self.db.execute("SELECT batch_id, plan FROM batches WHERE state='writing' "
                               "ORDER BY batch_id")
        return [(int(b), json.loads(p)) for b, p in rows]

    def ensure_records(self, docs: Sequence[tuple[RecordKey, str, str, int, str]]) -> None:
        """Make sure records exist for documents from a checkpoint the ledger never saw
        (a transform run with --dry-run); they enter the queue as queued."""
        known = self._states(k for k, *_ in docs)
        now = _now()
        with self.transaction() as db:
            for key, content_hash, increment, order_id, order_increment in docs:
                if key in known:
                    continue
                db.execute(
                    "INSERT INTO records (entity_type, entity_id, store_id, increment_id, "
                    "order_id, order_increment_id, content_hash, state, created_at, updated_at) "
                    "VALUES (?,?,?,?,?,?,?, 'queued', ?, ?)",
                    (key.entity_type, key.entity_id, key.store_id, increment, order_id,
                     order_increment, content_hash, now, now))
                self._event(db, key, "queued", "from a checkpoint made without the ledger")

    # Confirmation -------------------------------------------------------------------------
    def sent_by_reference(self, transaction_kinds: dict[str, tuple[str, ...]]
                          ) -> dict[tuple[str, str], list[RecordKey]]:
        """(Sage type, reference) -> sent or confirmed records, to match a Sage export."""
        found: dict[tuple[str, str], list[RecordKey]] = {}
        rows = self.db.execute("SELECT entity_type, entity_id, store_id, increment_id FROM "
                               "records WHERE state IN ('sent','confirmed','rejected')")
        for t, i, s, inc in rows:
            for sage_type, kinds in transaction_kinds.items():
                if t in kinds:
                    found.setdefault((sage_type, inc or ""), []).append(RecordKey(t, i, s))
        return found

    def confirm(self, key: RecordKey, sage_ref: str | None, invoice_ref: str | None) -> bool:
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE records SET state='confirmed', sage_ref=coalesce(?, sage_ref), "
                "sage_invoice_ref=coalesce(?, sage_invoice_ref), last_error=NULL, updated_at=? "
                "WHERE entity_type=? AND entity_id=? AND store_id=? AND state IN "
                "('sent','confirmed','rejected')",
                (sage_ref or None, invoice_ref or None, _now(), key.entity_type, key.entity_id,
                 key.store_id)).rowcount
            if changed:
                self._event(db, key, "confirmed", f"Sage {sage_ref or '?'}"
                            + (f", invoice {invoice_ref}" if invoice_ref else ""))
        return bool(changed)

    def reject(self, key: RecordKey, error: str, max_attempts: int) -> str | None:
        """Sage refused it: back to the queue, or to a person after max_attempts."""
        row = self.db.execute("SELECT state, attempts FROM records WHERE entity_type=? AND "
                              "entity_id=? AND store_id=?",
                              (key.entity_type, key.entity_id, key.store_id)).fetchone()
        if row is None or row[0] not in ("sent", "rejected"):
            return None
        attempts = row[1] + 1
        state = "needs_attention" if attempts >= max_attempts else "rejected"
        with self.transaction() as db:
            db.execute("UPDATE records SET state=?, attempts=?, last_error=?, updated_at=? "
                       "WHERE entity_type=? AND entity_id=? AND store_id=?",
                       (state, attempts, error, _now(), key.entity_type, key.entity_id,
                        key.store_id))
            self._event(db, key, state, f"attempt {attempts}: {error}")
        return state

    # Fix-up commands ----------------------------------------------------------------------
    def find(self, key: RecordKey) -> RecordRow | None:
        if key.store_id >= 0:
            where, params = "entity_type=? AND entity_id=? AND store_id=?", \
                (key.entity_type, key.entity_id, key.store_id)
        else:
            where, params = "entity_type=? AND entity_id=?", (key.entity_type, key.entity_id)
        rows = self.db.execute(f"SELECT {_ROW_COLUMNS} FROM records WHERE {where}",
                               params).fetchall()
        return _row(rows[0]) if len(rows) == 1 else None

    def rows(self, states: Sequence[str] | None = None, order_increment: str | None = None,
             limit: int | None = None, increment_id: str | None = None) -> list[RecordRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if increment_id is not None:
            clauses.append("increment_id = ?")
            params.append(increment_id)
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(states)
        if order_increment is not None:
            clauses.append("(order_increment_id = ? OR (entity_type='order' AND "
                           "increment_id = ?))")
            params.extend([order_increment, order_increment])
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        tail = f" LIMIT {int(limit)}" if limit else ""
        return [_row(r) for r in self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM records {where} ORDER BY entity_type, entity_id{tail}",
            params)]

    def events(self, key: RecordKey) -> list[tuple[str, str, str]]:
        return [(a, e, d or "") for a, e, d in self.db.execute(
            "SELECT at, event, detail FROM events WHERE entity_type=? AND entity_id=? AND "
            "store_id=? ORDER BY id", (key.entity_type, key.entity_id, key.store_id))]

    def set_state(self, key: RecordKey, allowed_from: Sequence[str], state: str,
                  event: str, detail: str, *, held_by: str | None = None,
                  reset_attempts: bool = False) -> bool:
        with self.transaction() as db:
            changed = db.execute(
                f"UPDATE records SET state=?, held_by=?, updated_at=?"
                f"{', attempts=0' if reset_attempts else ''} WHERE entity_type=? AND "
                f"entity_id=? AND store_id=? AND state IN ({','.join('?' * len(allowed_from))})",
                (state, held_by, _now(), key.entity_type, key.entity_id, key.store_id,
                 *allowed_from)).rowcount
            if changed:
                self._event(db, key, event, detail)
        return bool(changed)

    def counts_by_state(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM records GROUP BY state"))

    def oldest_pending(self) -> str | None:
        row = self.db.execute("SELECT min(created_at) FROM records WHERE state IN "
                              "('exported','queued','held','rejected','needs_attention')")
        return row.fetchone()[0]

    # Sage -> Magento ---------------------------------------------------------------------
    def pushed(self, kind: str) -> dict[str, str]:
        """key -> last value pushed to Magento, for the diff and the guard."""
        return dict(self.db.execute("SELECT key, value FROM pushed WHERE kind=?", (kind,)))

    def previous_pushed(self, kind: str) -> dict[str, str]:
        """key -> the value before the last push, what a rollback sends back."""
        return dict(self.db.execute("SELECT key, previous_value FROM pushed WHERE kind=? AND "
                                    "previous_value IS NOT NULL", (kind,)))

    def record_pushed(self, kind: str, values: dict[str, str]) -> None:
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO pushed VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT DO UPDATE SET "
                "previous_value=pushed.value, value=excluded.value, "
                "pushed_at=excluded.pushed_at, run_id=excluded.run_id "
                "WHERE pushed.value != excluded.value",
                [(kind, k, v, now, self.run_id) for k, v in values.items()])

    def file_seen(self, sha256: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT name, outcome FROM files WHERE sha256=?",
                              (sha256,)).fetchone()
        return (row[0], row[1]) if row else None

    def record_file(self, sha256: str, name: str, outcome: str, detail: str = "") -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO files VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                       "outcome=excluded.outcome, detail=excluded.detail, "
                       "processed_at=excluded.processed_at",
                       (sha256, name, outcome, detail, _now()))

    # Webhook triggers ---------------------------------------------------------------------
    def add_triggers(self, ids: Sequence[tuple[str, int]], source: str, body_sha256: str
                     ) -> int:
        """Entity ids a verified webhook named; a replayed body adds nothing."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM triggers WHERE body_sha256=?",
                          (body_sha256,)).fetchone():
                return 0
            db.executemany("INSERT INTO triggers (entity_type, entity_id, source, body_sha256, "
                           "received_at) VALUES (?,?,?,?,?)",
                           [(t, i, source, body_sha256, _now()) for t, i in ids])
        return len(ids)

    def pending_triggers(self) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for entity, number in self.db.execute("SELECT entity_type, entity_id FROM triggers "
                                              "WHERE consumed_run IS NULL"):
            found.setdefault(entity, set()).add(number)
        return found

    def consume_triggers(self) -> None:
        with self.transaction() as db:
            db.execute("UPDATE triggers SET consumed_run=? WHERE consumed_run IS NULL",
                       (self.run_id or "",))

    def unconfirmed_for(self, runs: int) -> list[RecordRow]:
        """Sent records still unconfirmed after `runs` later delivery runs."""
        seq = self.current_run_seq()
        rows = self.db.execute(
            f"SELECT {_ROW_COLUMNS} FROM records r WHERE state='sent' AND sent_run IS NOT NULL "
            "AND (SELECT count(*) FROM runs WHERE seq > r.sent_run AND seq <= ? AND command IN "
            "('run','import-sage')) >= ?", (seq, runs))
        return [_row(r) for r in rows]
