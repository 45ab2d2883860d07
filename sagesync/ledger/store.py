"""The ledger store: one SQLite connection, every change one transaction with its events.

The record states and the batch protocol are described in the package docstring.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sagesync.ledger.outcomes import TransformOutcomes
from sagesync.ledger.records import (
    BatchPlan,
    Exported,
    Push,
    RecordKey,
    RecordRow,
    Registration,
)
from sagesync.ledger.schema import DONE, MIGRATIONS, SKIPPED, VOID
from sagesync.model import holds
from sagesync.model.holds import Hold


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OrderAnswer(NamedTuple):
    """One answer of Sage's (an `ack` event) to tell the record's Magento order."""

    event_id: int
    event: str  # confirmed, rejected, needs_attention, receivable
    detail: str  # "Sage 101, invoice 5001", "attempt 2: <Sage's error>" or "paid: ..."
    key: RecordKey
    order_id: int
    order_increment_id: str
    increment_id: str
    sage_reference: str  # "SI:000000002"
    interrupted: bool  # a crash came between marking it sending and recording it posted


class _Known(NamedTuple):
    state: str
    content_hash: str
    held_by: str | None
    grand_total: str | None
    magento_state: str | None
    sage_reference: str | None
    last_error: str | None
    hash_scheme: int


def _cancellation(record: Exported) -> str:
    when = f" at {record.changed_at} UTC" if record.changed_at else ""
    return f"cancelled in Magento{when} (state {record.magento_state})"


def _cancelled_reason(record: Exported, sent_as: str | None) -> str:
    """Why a cancelled record is void, or what a person must undo in Sage (sent_as is the
    Sage type:reference it was delivered as, None when it never reached Sage)."""
    cancelled = _cancellation(record)
    if sent_as is None:
        return f"{cancelled} before it was sent: void, never delivered to Sage"
    kind, _, reference = sent_as.partition(":")
    what = f"{kind} {reference}" if reference else "it"
    undo = "an invoice (SI)" if kind == "SC" else "a credit note (SC)"
    return (f"{cancelled} after it was sent: Sage still has {what} for "
            f"{record.grand_total or '?'}; reverse it in Sage with {undo}, then `sagesync "
            "resolve` it")


def uncertain_reason(batch_id: int, file: str, references: Sequence[str]) -> str:
    """What a person checks in Sage for a file that may or may not have reached it."""
    return uncertain_hold(batch_id, file, references).message


def uncertain_hold(batch_id: int, file: str, references: Sequence[str]) -> Hold:
    """uncertain_reason, with its cause (model.holds.may_have_reached_sage)."""
    by_type: dict[str, list[str]] = {}
    for reference in references:
        kind, _, number = reference.rpartition(":")
        by_type.setdefault(kind or "?", []).append(number)
    shown = ", ".join(f"{kind} " + (" ".join(sorted(numbers)) if len(numbers) <= 20 else
                                    f"{min(numbers)}..{max(numbers)}")
                      for kind, numbers in sorted(by_type.items()))
    return holds.may_have_reached_sage(batch_id=batch_id, file=Path(file).name,
                                       references=shown, documents=len(references))


def _amended_reason(old_total: str | None, new_total: str) -> str:
    if old_total and new_total and old_total != new_total:
        difference = f"grand total {old_total} -> {new_total}"
    else:
        difference = f"grand total unchanged ({new_total or '?'}); other fields changed"
    return (f"changed in Magento after it was sent: {difference}; not resent, correct it in "
            "Sage")


_ROW_COLUMNS = ("entity_type, entity_id, store_id, increment_id, order_increment_id, state, "
                "held_by, attempts, last_error, batch_id, file, sage_ref, sage_invoice_ref, "
                "updated_at")


def _stored_hold(code: str | None, params: str | None, reason: str | None,
                 held_by: str | None) -> Hold:
    """A held or needs-attention row's cause: as stored; for a row from before the catalogue
    (no code), a person's hold, else what its reason's words tell."""
    if code is not None:
        return Hold.stored(code, params, reason or "")
    if held_by == "person":
        return holds.held_by_person()
    return holds.recognise(reason or "")


def _row(values: Sequence[Any]) -> RecordRow:
    return RecordRow(RecordKey(values[0], values[1], values[2]), *values[3:])


_T = TypeVar("_T")
_MISSING = ("", "", None)  # the state, hash and holder of a key the ledger does not know


# The records of the keys in the temporary table `wanted` (Ledger._want), aliased r and w.
_JOIN_WANTED = "JOIN wanted w ON r.entity_type=w.t AND r.entity_id=w.i AND r.store_id=w.s"


def _chunks(records: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """The records in lists of at most `size` (itertools.batched, before Python 3.12)."""
    iterator = iter(records)
    while part := list(islice(iterator, size)):
        yield part


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

    @classmethod
    def read_only(cls, path: Path, run_id: str | None = None) -> Ledger:
        """The ledger for a dry run: lookups see it as it is, and a write fails instead of
        changing it. A missing ledger, or one an older sagesync wrote, is read from an
        in-memory copy at the current schema; the file itself is never created or migrated."""
        ledger = cls.__new__(cls)
        ledger.path, ledger.run_id = path, run_id
        source = None
        if path.exists():
            source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                                     isolation_level=None)
            version = source.execute("PRAGMA user_version").fetchone()[0]
            if version == len(MIGRATIONS):
                ledger.db = source
                return ledger
        ledger.db = sqlite3.connect(":memory:", isolation_level=None)
        if source is not None:
            source.backup(ledger.db)
            source.close()
        ledger._migrate()  # in memory only: whatever is written there is dropped on close
        return ledger

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

    def _events(self, db: sqlite3.Connection, events: Sequence[tuple[RecordKey, str, str]]
                ) -> None:
        """Many events in one statement, in the order given (the order they happened)."""
        if events:
            at = _now()
            db.executemany("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, "
                           "event, detail) VALUES (?,?,?,?,?,?,?)",
                           [(at, self.run_id, key.entity_type, key.entity_id, key.store_id,
                             event, detail) for key, event, detail in events])

    def _by_key(self, keys: Iterable[RecordKey], columns: str, where: str = ""
                ) -> Iterator[tuple[RecordKey, list[Any]]]:
        """`columns` of the record of each of `keys` the ledger knows (and that `where`
        admits): one join through the temporary table `wanted`, not a query per key. The
        table is filled when the first row is asked for; the callers take every row at once."""
        self._want(keys)
        for t, i, s, *rest in self.db.execute(
                f"SELECT r.entity_type, r.entity_id, r.store_id, {columns} FROM records r "
                f"{_JOIN_WANTED} {where}"):
            yield RecordKey(t, i, s), rest

    def _states(self, keys: Iterable[RecordKey]) -> dict[RecordKey, tuple[str, str, str | None]]:
        """state, content hash, held_by of each known key (looked up through a temp table)."""
        return {key: (state, h, by) for key, (state, h, by)
                in self._by_key(keys, "r.state, r.content_hash, r.held_by")}

    def _want(self, keys: Iterable[tuple[str, int, int]]) -> None:
        """Fill the temp table `wanted` with keys (numbered from 0 in `n`, in the order
        given), for a join instead of one query per key."""
        db = self.db
        own = not db.in_transaction  # one transaction for the inserts, not one per key
        if own:
            db.execute("BEGIN")
        try:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted "
                       "(n INTEGER PRIMARY KEY, t TEXT, i INTEGER, s INTEGER)")
            db.execute("DELETE FROM wanted")
            db.executemany("INSERT INTO wanted VALUES (?,?,?,?)",
                           ((n, *key) for n, key in enumerate(keys)))
        finally:
            if own:
                db.execute("COMMIT")

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

    def run_history(self, limit: int) -> list[dict[str, Any]]:
        """The latest `limit` runs, newest first, each with the batches it opened."""
        rows = self.db.execute(
            "SELECT seq, run_id, command, flow, started_at, finished_at, exit_code, summary "
            "FROM runs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        names = ("seq", "run_id", "command", "flow", "started_at", "finished_at", "exit_code",
                 "summary")
        runs = [dict(zip(names, row, strict=True)) for row in rows]
        batches: dict[str, list[dict[str, Any]]] = {}
        for batch_id, run_id, state, plan in self.db.execute(
                "SELECT batch_id, run_id, state, plan FROM batches WHERE run_id IN "
                f"({','.join('?' * len(runs))}) ORDER BY batch_id",
                [r["run_id"] for r in runs]):
            files = json.loads(plan or "{}").get("files", [])
            batches.setdefault(run_id, []).append(
                {"batch_id": batch_id, "state": state, "files": len(files)})
        for run in runs:
            run["summary"] = json.loads(run["summary"]) if run["summary"] else {}
            run["batches"] = batches.get(run["run_id"], [])
        return runs

    def catalog_activity(self, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
        """Sage -> Magento at a glance, for `status`: the latest push of each kind (items it
        changed, rolled back or not), the latest catalog runs the price guard or Magento
        refused (exit 1, their summary's `refused`), and the latest watched files
        quarantined."""
        pushes = [dict(zip(("kind", "push_id", "pushed_at", "rolled_back_at", "items"), row,
                           strict=True)) for row in self.db.execute(
            "SELECT p.kind, p.push_id, p.pushed_at, p.rolled_back_at, "
            "(SELECT count(*) FROM pushed WHERE pushed.push_id = p.push_id) FROM pushes p "
            "WHERE p.push_id IN (SELECT max(push_id) FROM pushes GROUP BY kind) ORDER BY kind")]
        refused = []
        for run_id, command, at, summary in self.db.execute(
                "SELECT run_id, command, finished_at, summary FROM runs WHERE flow='catalog' "
                "AND exit_code=1 ORDER BY seq DESC LIMIT ?", (limit,)):
            why = json.loads(summary or "{}").get("refused")
            if why:
                refused.append({"run_id": run_id, "command": command, "at": at, "why": why})
        quarantined = [dict(zip(("name", "at", "why"), row, strict=True)) for row in
                       self.db.execute("SELECT name, at, detail FROM watch_files WHERE "
                                       "outcome='quarantined' ORDER BY id DESC LIMIT ?",
                                       (limit,))]
        return {"last_pushes": pushes, "refused": refused, "quarantined": quarantined}

    def checkpoints_in_use(self) -> set[str]:
        """The export checkpoints that still hold the latest data of a record not yet in Sage
        (queued, held, rejected, needing a person): the next transform reads them, so
        housekeeping must keep them."""
        marks = ",".join("?" * len(DONE))
        return {row[0] for row in self.db.execute(
            f"SELECT DISTINCT export_checkpoint FROM records WHERE export_checkpoint IS NOT "
            f"NULL AND state NOT IN ({marks}, 'void')", DONE)}

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

    def last_run_of(self, commands: Sequence[str], *, successful: bool
                    ) -> dict[str, Any] | None:
        """The latest finished run of one of `commands` (successful: exit 0 or 1, held)."""
        condition = "exit_code IN (0, 1)" if successful else "finished_at IS NOT NULL"
        marks = ",".join("?" * len(commands))
        row = self.db.execute(f"SELECT run_id, command, started_at, finished_at, exit_code "
                              f"FROM runs WHERE command IN ({marks}) AND {condition} "
                              "ORDER BY seq DESC LIMIT 1", tuple(commands)).fetchone()
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

    # Order comments -----------------------------------------------------------------------
    def answers_to_tell(self, limit: int = 500, *, receivables_only: bool = False
                        ) -> list[OrderAnswer]:
        """Sage's answers not yet told to Magento, oldest first: confirmations and
        rejections (`ack`) and receivables changes (`receivable`) of records whose Magento
        order is known, after the bookmark a ledger from before this feature starts at, and
        those a crash left `sending`."""
        since = int(self.bookmark("order_comments") or 0)
        events = ("e.event='receivable'" if receivables_only else
                  "(e.event IN ('confirmed', 'receivable') OR (e.event IN ('rejected', "
                  "'needs_attention') AND e.detail LIKE 'attempt %'))")
        rows = self.db.execute(
            "SELECT e.id, e.event, e.detail, r.entity_type, r.entity_id, r.store_id, "
            "r.order_id, r.order_increment_id, r.increment_id, r.sage_reference, "
            "c.state FROM events e JOIN records r ON r.entity_type=e.entity_type AND "
            "r.entity_id=e.entity_id AND r.store_id=e.store_id "
            "LEFT JOIN order_comments c ON c.event_id = e.id "
            "WHERE e.id > ? AND r.order_id IS NOT NULL AND (c.state IS NULL OR "
            f"c.state='sending') AND {events} ORDER BY e.id LIMIT ?",
            (since, limit)).fetchall()
        return [OrderAnswer(event_id, event, detail or "", RecordKey(t, i, st), order_id,
                            order_increment or "", increment or "", reference or "",
                            state == "sending")
                for (event_id, event, detail, t, i, st, order_id, order_increment, increment,
                     reference, state) in rows]

    def telling(self, answer: OrderAnswer) -> None:
        """About to post the comment: a crash from here on is settled by its marker."""
        with self.transaction() as db:
            db.execute("INSERT INTO order_comments VALUES (?,?,'sending',NULL,?) "
                       "ON CONFLICT DO NOTHING", (answer.event_id, answer.order_id, _now()))

    def told(self, answer: OrderAnswer, state: str, detail: str = "") -> None:
        """`posted` (Magento has the comment) or `failed` (Magento refused it: `detail`)."""
        with self.transaction() as db:
            db.execute("INSERT INTO order_comments VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE "
                       "SET state=excluded.state, detail=excluded.detail, at=excluded.at",
                       (answer.event_id, answer.order_id, state, detail or None, _now()))
            self._event(db, answer.key, "told_magento" if state == "posted"
                        else "magento_refused_comment", detail or f"order {answer.order_id}")

    # Accounts -----------------------------------------------------------------------------
    def account_refs(self) -> dict[str, str]:
        """customer key -> account reference, for every account sagesync has allocated."""
        return dict(self.db.execute("SELECT customer_key, account_ref FROM accounts"))

    def add_accounts(self, allocations: Iterable[tuple[str, str, str]], *,
                     approved: bool = True) -> None:
        """Remember new (customer key, account ref, origin) allocations, so they stay stable;
        not `approved` ones wait for `approve_account` (review mode)."""
        now = _now()
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO accounts (customer_key, account_ref, origin, "
                           "delivered_batch, created_at, approved_at) "
                           "VALUES (?, ?, ?, NULL, ?, ?)",
                           [(k, r, o, now, now if approved else None)
                            for k, r, o in allocations])

    def unapproved_accounts(self) -> set[str]:
        """Account references waiting for a person's approval (review mode)."""
        return {r for (r,) in self.db.execute(
            "SELECT account_ref FROM accounts WHERE approved_at IS NULL")}

    def remember_sage_account(self, key: str, ref: str) -> bool:
        """A customer matched to an account Sage already has (its customer export, by
        e-mail): later documents post to it, and it is never written to Sage as new."""
        now = _now()
        with self.transaction() as db:
            return bool(db.execute(
                "INSERT OR IGNORE INTO accounts (customer_key, account_ref, origin, "
                "delivered_batch, created_at, approved_at) VALUES (?, ?, 'sage', 0, ?, ?)",
                (key, ref, now, now)).rowcount)

    def adopt_sage_account(self, key: str, ref: str, how: str) -> list[RecordKey]:
        """Sage's customer export names this customer's account (matched by e-mail): it
        replaces an account sagesync generated that is still awaiting approval and was never
        written to Sage (whose held documents go back to the queue, to post to Sage's
        account); a customer without one gets it. Callers check the customer has no other
        account first."""
        now = _now()
        with self.transaction() as db:
            old = db.execute("SELECT account_ref FROM accounts WHERE customer_key=? AND "
                             "approved_at IS NULL AND delivered_batch IS NULL",
                             (key,)).fetchone()
            if old is not None:
                db.execute("UPDATE accounts SET account_ref=?, origin='sage', "
                           "delivered_batch=0, approved_at=? WHERE customer_key=?",
                           (ref, now, key))
        if old is None:
            self.remember_sage_account(key, ref)
            return []
        return self.approve_account(old[0], how)[1]

    def accounts_overview(self, only_waiting: bool = False, ref: str | None = None
                          ) -> list[dict[str, Any]]:
        """Each account (or the one `ref`): its customer, origin, approval, documents waiting
        for it, and what the last customer push from Sage set (JSON, or None)."""
        where = [*(["a.approved_at IS NULL"] if only_waiting else []),
                 *(["a.account_ref = ?"] if ref is not None else [])]
        rows = self.db.execute(
            "SELECT a.customer_key, a.account_ref, a.origin, a.approved_at, "
            "a.delivered_batch, (SELECT count(*) FROM records r WHERE r.state='held' AND "
            "r.hold_code='account_awaiting_approval' AND "
            "json_extract(r.hold_params, '$.account_ref') = a.account_ref), "
            "p.value, p.pushed_at FROM accounts a LEFT JOIN pushed p ON p.kind='customers' "
            "AND p.key = a.customer_key "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY a.account_ref", () if ref is None else (ref,)).fetchall()
        names = ("customer", "account", "origin", "approved_at", "delivered_batch", "waiting",
                 "pushed", "pushed_at")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def approve_account(self, ref: str, how: str) -> tuple[bool, list[RecordKey]]:
        """Approve an account awaiting review, and send its held documents back to the
        queue (the next transform checks them again). (was it waiting, records released)"""
        now = _now()
        with self.transaction() as db:
            waiting = bool(db.execute("UPDATE accounts SET approved_at=? WHERE account_ref=? "
                                      "AND approved_at IS NULL", (now, ref)).rowcount)
            waiting = waiting or bool(db.execute(
                "SELECT 1 FROM records WHERE state='held' AND "
                "hold_code='account_awaiting_approval' AND "
                "json_extract(hold_params, '$.account_ref') = ? LIMIT 1", (ref,)).fetchone())
            rows = db.execute(
                "SELECT entity_type, entity_id, store_id FROM records WHERE state='held' AND "
                "hold_code='account_awaiting_approval' AND "
                "json_extract(hold_params, '$.account_ref') = ?", (ref,)).fetchall()
            keys = [RecordKey(t, i, st) for t, i, st in rows]
            db.executemany("UPDATE records SET state='exported', held_by=NULL, hold_code=NULL, "
                           "hold_params=NULL, updated_at=? WHERE entity_type=? AND "
                           "entity_id=? AND store_id=?",
                           [(now, k.entity_type, k.entity_id, k.store_id) for k in keys])
            self._events(db, [(k, "account_approved", f"account {ref} approved: {how}")
                              for k in keys])
        return waiting, keys

    def delivered_accounts(self) -> set[str]:
        rows = self.db.execute("SELECT customer_key FROM accounts "
                               "WHERE delivered_batch IS NOT NULL")
        return {r[0] for r in rows}

    # Export and transform -----------------------------------------------------------------
    def register_exported(self, records: Iterable[Exported], checkpoint: str, *,
                          chunk: int = 10_000) -> Registration:
        """Record what an export saw, cancelled documents included. Returns what became
        `amended` (changed or cancelled in Magento after it was sent) and what became `void`.

        A pending record cancelled in Magento becomes `void` and is never delivered; a
        re-exported pending record points at the new data; one held or needing attention whose
        Magento data changed is validated again, so its old reason never lingers. The records
        are taken `chunk` at a time, all in one transaction, so memory does not grow with the
        export."""
        result = Registration()
        now = _now()
        with self.transaction() as db:
            for part in _chunks(records, chunk):
                self._register_part(db, part, checkpoint, now, result)
        return result

    def _register_part(self, db: sqlite3.Connection, records: list[Exported], checkpoint: str,
                       now: str, result: Registration) -> None:
        """register_exported for one chunk of records, inside its transaction."""
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        events: list[tuple[RecordKey, str, str]] = []

        adopted: list[tuple[Any, ...]] = []

        def flush(db: sqlite3.Connection) -> None:
            if adopted:
                db.executemany("UPDATE records SET content_hash=?, hash_scheme=2 WHERE "
                               "entity_type=? AND entity_id=? AND store_id=?", adopted)
                adopted.clear()
            if inserts:
                self._insert_exported(db, inserts)
                inserts.clear()
            if updates:
                db.executemany(
                    "UPDATE records SET content_hash=?, hash_scheme=2, export_checkpoint=?, "
                    "grand_total=?, magento_state=?, updated_at=?, "
                    "state=CASE WHEN ? THEN 'exported' ELSE state END, "
                    "held_by=CASE WHEN ? THEN NULL ELSE held_by END, "
                    "last_error=CASE WHEN ? THEN NULL ELSE last_error END, "
                    "hold_code=CASE WHEN ? THEN NULL ELSE hold_code END, "
                    "hold_params=CASE WHEN ? THEN NULL ELSE hold_params END, "
                    "attempts=CASE WHEN ? AND state='needs_attention' THEN 0 "
                    "ELSE attempts END "
                    "WHERE entity_type=? AND entity_id=? AND store_id=?", updates)
                updates.clear()

        # looked up inside the transaction: the temp-table inserts share its one commit
        known = self._known(r.key for r in records)
        for record in records:
            key = record.key
            where = (key.entity_type, key.entity_id, key.store_id)
            previous = known.get(key)
            if previous is None:
                state = VOID if record.cancelled else "exported"
                reason = _cancelled_reason(record, None) if record.cancelled else None
                inserts.append(  # its event is written with it (_insert_exported)
                    (*where, record.increment_id, record.order_id,
                     record.order_increment_id, record.content_hash, state, reason,
                     checkpoint, record.grand_total, record.magento_state, now, now))
                continue  # a document cancelled before sagesync ever queued it: no news
            state, old_hash, held_by = previous.state, previous.content_hash, \
                previous.held_by
            if state == VOID:
                continue
            if record.cancelled:
                if previous.magento_state == record.magento_state:
                    continue  # the cancellation is already recorded
                sent = state in DONE
                cause: Hold | None = None
                if state == "needs_attention":  # Sage may hold it: a person decides
                    new_state = state
                    cause = holds.cancelled_needing_attention(
                        changed_at=record.changed_at, magento_state=record.magento_state,
                        earlier=previous.last_error or "see its history")
                    reason = cause.message
                else:
                    new_state = "amended" if sent else VOID
                    reason = _cancelled_reason(record, (previous.sage_reference or "")
                                               if sent else None)
                flush(db)
                db.execute("UPDATE records SET state=?, held_by=NULL, last_error=?, "
                           "hold_code=?, hold_params=?, "
                           "magento_state=?, updated_at=? WHERE entity_type=? AND "
                           "entity_id=? AND store_id=?",
                           (new_state, reason, cause and cause.code,
                            cause and cause.params_json(), record.magento_state, now,
                            *where))
                events.append((key, "cancelled" if new_state == state else new_state,
                               reason))
                (result.voided if new_state == VOID else result.amended).append(
                    (key, reason))
                continue
            changed = old_hash != record.content_hash
            if state in DONE:
                if changed and previous.hash_scheme < 2:  # hashed with Magento's state
                    adopted.append((record.content_hash, *where))
                elif changed and state != "amended":
                    reason = _amended_reason(previous.grand_total, record.grand_total)
                    flush(db)
                    db.execute("UPDATE records SET state='amended', last_error=?, "
                               "hold_code=NULL, hold_params=NULL, "
                               "magento_state=?, updated_at=? WHERE entity_type=? AND "
                               "entity_id=? AND store_id=?",
                               (reason, record.magento_state, now, *where))
                    events.append((key, "amended", reason))
                    result.amended.append((key, reason))
                continue
            revalidate = changed and (state in ("needs_attention", SKIPPED) or (
                state == "held" and held_by == "validation"))
            updates.append((record.content_hash, checkpoint, record.grand_total,
                            record.magento_state, now, revalidate, revalidate, revalidate,
                            revalidate, revalidate, revalidate, *where))
            if changed:
                events.append((key, "changed", f"new content in {checkpoint}"
                               + ("; validated again" if revalidate else "")))
        flush(db)
        self._events(db, events)

    def _insert_exported(self, db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """New records (register_exported's rows), each with its event (its state, and why it
        is void or else the checkpoint), the events made by SQLite from the rows inserted, not
        bound from Python again (at 185,733 records 0.1 s against some 0.6).

        Inside the transaction nobody else inserts, and SQLite gives a new row the rowid after
        the largest, so the new rows are those above the largest before. Where that does not
        hold (a table that reached the largest rowid, where SQLite picks them at random), the
        events are bound one by one as before."""
        before = db.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]
        db.executemany(
            "INSERT INTO records (entity_type, entity_id, store_id, increment_id, order_id, "
            "order_increment_id, content_hash, state, last_error, export_checkpoint, "
            "grand_total, magento_state, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        if self._inserted_after(db, before, len(rows)):
            db.execute("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, "
                       "event, detail) SELECT ?, ?, entity_type, entity_id, store_id, state, "
                       "coalesce(last_error, export_checkpoint) FROM records WHERE rowid > ? "
                       "ORDER BY rowid", (_now(), self.run_id, before))
        else:
            self._events(db, [(RecordKey(*row[:3]), row[7], row[8] or row[9])
                              for row in rows])

    @staticmethod
    def _inserted_after(db: sqlite3.Connection, before: int, count: int) -> bool:
        """Whether the last `count` records inserted are exactly those of rowids above
        `before`."""
        found = db.execute("SELECT count(*), coalesce(max(rowid), 0) FROM records "
                           "WHERE rowid > ?", (before,)).fetchone()
        return bool(found == (count, before + count))

    def _newest_ids(self, kinds: Iterable[str]) -> dict[str, int]:
        """The largest entity id the ledger holds of each of these types (none: left out)."""
        found = {}
        for kind in kinds:
            newest = self.db.execute("SELECT max(entity_id) FROM records WHERE entity_type=?",
                                     (kind,)).fetchone()[0]
            if newest is not None:
                found[kind] = int(newest)
        return found

    def _known(self, keys: Iterable[RecordKey]) -> dict[RecordKey, _Known]:
        """What register_exported compares an exported record with (its own loop, not
        _by_key's: it is asked for every exported record, and the generator cost 0.1 to 0.2 s
        at 185,733). A key above the largest id the ledger holds of its type is new and not
        looked up: Magento numbers its documents upwards, so most of an export is (the lookup
        of 185,733 new ones took 0.4 s)."""
        keys = list(keys)
        newest = self._newest_ids({k.entity_type for k in keys})
        keys = [k for k in keys if k.entity_id <= newest.get(k.entity_type, -1)]
        if not keys:
            return {}
        self._want(keys)
        rows = self.db.execute("SELECT r.entity_type, r.entity_id, r.store_id, r.state, "
                               "r.content_hash, r.held_by, r.grand_total, r.magento_state, "
                               f"r.sage_reference, r.last_error, r.hash_scheme FROM records r "
                               f"{_JOIN_WANTED}")
        return {RecordKey(t, i, st): _Known(*rest) for t, i, st, *rest in rows}

    def pending_elsewhere(self, checkpoint: str, kinds: Sequence[str]
                          ) -> dict[str, list[RecordKey]]:
        """Pending records whose latest data is in an earlier export checkpoint, by checkpoint.

        This is what makes the ledger a queue: a record exported during a Sage outage is
        delivered by a later run even if Magento never changes it again. Records held by
        validation are validated again too, so a fixed recipe releases them by itself."""
        marks = ",".join("?" * len(kinds))
        rows = self.db.execute(
            f"SELECT export_checkpoint, entity_type, entity_id, store_id FROM records WHERE "
            f"(state IN ('exported','queued','rejected') OR (state='held' AND "
            f"held_by='validation')) AND entity_type IN ({marks}) AND "
            f"export_checkpoint IS NOT NULL AND export_checkpoint != ?",
            (*kinds, checkpoint))
        found: dict[str, list[RecordKey]] = {}
        for ckpt, t, i, s in rows:
            found.setdefault(ckpt, []).append(RecordKey(t, i, s))
        return found

    def mark_transformed(self, ready: Iterable[tuple[RecordKey, str, str]],
                         held: Iterable[tuple[RecordKey, str, Hold | str]],
                         skipped: Iterable[tuple[RecordKey, str, str]] = (), *,
                         chunk: int = 10_000) -> None:
        """Ready documents (key, content hash, Sage type:reference) join the queue and claim
        their reference; invalid ones are held with their reason, a Hold (its code and params
        stored beside the message) or text (an `unspecified` one); a changed reason is a new
        event. Ones with nothing to post (a zero total under the recipe's rule) are
        `skipped` with theirs. A record a person put on hold stays held; sent, amended and
        void records are not touched. One transaction; each of the three is read once, as it
        comes (a generator will do), `chunk` records at a time, so memory does not grow with
        them. A key is in one of the three at most (the transform gives each document one
        outcome)."""
        now = _now()
        with self.transaction() as db:
            for part in _chunks(skipped, chunk):
                self._mark_skipped(db, part, now)
            for part in _chunks(ready, chunk):
                self._mark_ready(db, part, now)
            for held_part in _chunks(held, chunk):
                self._mark_held(db, held_part, now)

    def mark_outcomes(self, outcomes: TransformOutcomes,
                      held: Iterable[tuple[RecordKey, str, Hold | str]], *,
                      chunk: int = 10_000) -> None:
        """mark_transformed for a transform's outcomes file (see ledger.outcomes): the same
        changes and events, but the ready records are read by SQLite from the file, attached
        for the transaction, not turned into Python objects and back."""
        if sqlite3.sqlite_version_info < (3, 33):  # no UPDATE ... FROM: record by record
            self.mark_transformed(outcomes.ready(), held, outcomes.skipped(), chunk=chunk)
            return
        self.db.execute("ATTACH DATABASE ? AS outcomes", (str(outcomes.path),))
        try:
            now = _now()
            with self.transaction() as db:
                for part in _chunks(outcomes.skipped(), chunk):
                    self._mark_skipped(db, part, now)
                self._ready_in(db)
                db.execute("INSERT INTO ready_in (t, i, s, ref) SELECT entity_type, entity_id, "
                           "store_id, nullif(reference, '') FROM outcomes.ready ORDER BY rowid")
                self._queue_ready_in(db, now)
                for held_part in _chunks(held, chunk):
                    self._mark_held(db, held_part, now)
        finally:
            self.db.execute("DETACH DATABASE outcomes")

    def _mark_skipped(self, db: sqlite3.Connection, skipped: list[tuple[RecordKey, str, str]],
                      now: str) -> None:
        known = self._states(k for k, _, _ in skipped)  # inside the transaction: one commit
        changes: list[tuple[Any, ...]] = []
        events: list[tuple[RecordKey, str, str]] = []
        for key, _hash, reason in skipped:
            state = known.get(key, _MISSING)
            if state[0] in ("exported", "queued", "rejected", "skipped") or (
                    state[0] == "held" and state[2] == "validation"):
                changes.append((reason, now, key.entity_type, key.entity_id, key.store_id))
                if state[0] != "skipped":
                    events.append((key, "skipped", reason))
        db.executemany("UPDATE records SET state='skipped', held_by=NULL, last_error=?, "
                       "hold_code=NULL, hold_params=NULL, "
                       "updated_at=? WHERE entity_type=? AND entity_id=? AND "
                       "store_id=?", changes)
        self._events(db, events)

    def _mark_ready(self, db: sqlite3.Connection, ready: list[tuple[RecordKey, str, str]],
                    now: str) -> None:
        if sqlite3.sqlite_version_info >= (3, 33):  # UPDATE ... FROM
            self._queue(db, ready, now)
            return
        known = self._states(k for k, _, _ in ready)
        changes: list[tuple[Any, ...]] = []
        events: list[tuple[RecordKey, str, str]] = []
        for key, _hash, reference in ready:
            state = known.get(key, _MISSING)
            if state[0] in ("exported", "rejected", "queued") or (
                    state[0] == "held" and state[2] == "validation"):
                changes.append((reference or None, now, key.entity_type, key.entity_id,
                                key.store_id))
                if state[0] != "queued":
                    events.append((key, "queued", ""))
        db.executemany("UPDATE records SET state='queued', held_by=NULL, "
                       "sage_reference=?, last_error=CASE WHEN state='rejected' "
                       "THEN last_error END, hold_code=CASE WHEN state='rejected' "
                       "THEN hold_code END, hold_params=CASE WHEN state='rejected' "
                       "THEN hold_params END, updated_at=? WHERE entity_type=? AND "
                       "entity_id=? AND store_id=?", changes)
        self._events(db, events)

    def _queue(self, db: sqlite3.Connection, ready: list[tuple[RecordKey, str, str]],
               now: str) -> None:
        """`_mark_ready` in three statements over a temporary table, not three per record:
        the same records move, with the same events in the same order (each key given once,
        as the transform gives each document one outcome; were one given twice, the last
        reference would win)."""
        self._ready_in(db)
        db.executemany("INSERT INTO ready_in (t, i, s, ref) VALUES (?,?,?,?)",
                       [(k.entity_type, k.entity_id, k.store_id, reference or None)
                        for k, _, reference in ready])
        self._queue_ready_in(db, now)

    @staticmethod
    def _ready_in(db: sqlite3.Connection) -> None:
        """The empty temp table `ready_in`: the records to queue, each with its reference."""
        db.execute("CREATE TEMP TABLE IF NOT EXISTS ready_in "
                   "(seq INTEGER PRIMARY KEY, t TEXT, i INTEGER, s INTEGER, ref TEXT)")
        db.execute("DELETE FROM ready_in")

    def _queue_ready_in(self, db: sqlite3.Connection, now: str) -> None:
        """The records of `ready_in` join the queue, with their events in its order."""
        db.execute("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, event, "
                   "detail) SELECT ?, ?, r.t, r.i, r.s, 'queued', '' FROM ready_in r "
                   "JOIN records c ON c.entity_type=r.t AND c.entity_id=r.i AND c.store_id=r.s "
                   "WHERE c.state IN ('exported', 'rejected') "
                   "OR (c.state='held' AND c.held_by='validation') ORDER BY r.seq",
                   (_now(), self.run_id))
        db.execute("UPDATE records SET state='queued', held_by=NULL, sage_reference=r.ref, "
                   "last_error=CASE WHEN records.state='rejected' THEN last_error END, "
                   "hold_code=CASE WHEN records.state='rejected' THEN hold_code END, "
                   "hold_params=CASE WHEN records.state='rejected' THEN hold_params END, "
                   "updated_at=? FROM (SELECT t, i, s, ref FROM ready_in WHERE seq IN "
                   "(SELECT max(seq) FROM ready_in GROUP BY t, i, s)) r "
                   "WHERE records.entity_type=r.t AND records.entity_id=r.i "
                   "AND records.store_id=r.s AND (records.state IN "
                   "('exported', 'rejected', 'queued') OR (records.state='held' "
                   "AND records.held_by='validation'))", (now,))

    def _mark_held(self, db: sqlite3.Connection,
                   held: list[tuple[RecordKey, str, Hold | str]], now: str) -> None:
        known = self._states(k for k, _, _ in held)
        events: list[tuple[RecordKey, str, str]] = []
        for key, _hash, given in held:
            state = known.get(key, _MISSING)
            if state[0] in ("exported", "queued", "rejected", "held") and \
                    state[2] != "person":
                hold = holds.as_hold(given)
                reason, code, params = hold.message, hold.code, hold.params_json()
                where = (key.entity_type, key.entity_id, key.store_id)
                changed = db.execute(
                    "UPDATE records SET state='held', held_by='validation', last_error=?, "
                    "hold_code=?, hold_params=?, "
                    "updated_at=? WHERE entity_type=? AND entity_id=? AND store_id=? AND "
                    "NOT (state='held' AND last_error IS ?)",
                    (reason, code, params, now, *where, reason)).rowcount
                if changed:
                    events.append((key, "held", reason))
                else:  # the same words: no news, but the cause may be new (an old row)
                    db.execute("UPDATE records SET hold_code=?, hold_params=? WHERE "
                               "entity_type=? AND entity_id=? AND store_id=? AND "
                               "state='held' AND held_by='validation' AND "
                               "(hold_code IS NOT ? OR hold_params IS NOT ?)",
                               (code, params, *where, code, params))
        self._events(db, events)

    def reference_owners(self, references: set[str]) -> dict[str, RecordKey]:
        """Which record already claimed each Sage type:reference (void ones gave it up)."""
        found: dict[str, RecordKey] = {}
        refs = sorted(references)
        for start in range(0, len(refs), 500):
            chunk = refs[start:start + 500]
            rows = self.db.execute(
                f"SELECT sage_reference, entity_type, entity_id, store_id FROM records WHERE "
                f"state != 'void' AND sage_reference IN ({','.join('?' * len(chunk))})", chunk)
            for ref, t, i, st in rows:
                found.setdefault(ref, RecordKey(t, i, st))
        return found

    # Import -------------------------------------------------------------------------------
    def states_in_order(self, types: Sequence[str], ids: Sequence[int], stores: Sequence[int]
                        ) -> tuple[list[str | None], list[str | None]]:
        """The state and content hash of each record given as three columns, in their order
        (None for one the ledger does not know): the import asks a window of documents at a
        time, as columns, so no key object is made per document."""
        states: list[str | None] = [None] * len(types)
        hashes: list[str | None] = [None] * len(types)
        if self._states_by_range(types, ids, stores, states, hashes):
            return states, hashes
        self._want(zip(types, ids, stores, strict=True))
        for n, state, content_hash in self.db.execute(
                f"SELECT w.n, r.state, r.content_hash FROM records r {_JOIN_WANTED}"):
            states[n], hashes[n] = state, content_hash
        return states, hashes

    def _states_by_range(self, types: Sequence[str], ids: Sequence[int], stores: Sequence[int],
                         states: list[str | None], hashes: list[str | None]) -> bool:
        """states_in_order for a window of one entity type whose ids lie close together (a
        checkpoint is in id order, so nearly every window is): one range read of the
        records' key, no temporary table of keys. False, having filled nothing, for any
        other window."""
        if not types or types[0] is None or any(t != types[0] for t in types):
            return False
        at = {key: n for n, key in enumerate(zip(ids, stores, strict=True))}
        if len(at) < len(types) or None in ids:  # a key twice, or none: the general way
            return False
        low, high = min(ids), max(ids)
        if high - low >= 2 * len(ids) + 100:  # sparse: the range would read more than it finds
            return False
        for entity_id, store_id, state, content_hash in self.db.execute(
                "SELECT entity_id, store_id, state, content_hash FROM records WHERE "
                "entity_type=? AND entity_id BETWEEN ? AND ?", (types[0], low, high)):
            n = at.get((entity_id, store_id))
            if n is not None:
                states[n], hashes[n] = state, content_hash
        return True

    def hold_for_validation(self, key: RecordKey, reason: Hold | str) -> None:
        """A document that broke a Sage file rule at render time (text: `unspecified`)."""
        self.mark_transformed([], [(key, "", reason)])

    def begin_batch(self) -> int:
        """Open a batch; its plan is recorded before any file is written (crash anchor)."""
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO batches (run_id, state, plan, created_at) "
                                "VALUES (?, 'writing', '{}', ?)", (self.run_id or "", _now()))
            return int(cursor.lastrowid or 0)

    def set_plan(self, batch_id: int, plan: BatchPlan) -> None:
        """The batch's files and accounts, and one `batch_records` row per record in plan
        order, in one transaction. The records are read once, as they come (a generator keeps
        a batch of any size out of memory)."""
        payload = {"files": plan.files, "accounts": plan.accounts,
                   "accounts_file": plan.accounts_file}
        rows = ((batch_id, seq, k.entity_type, k.entity_id, k.store_id, h, f)
                for seq, (k, h, f) in enumerate(plan.records))
        with self.transaction() as db:
            db.execute("UPDATE batches SET plan=? WHERE batch_id=?",
                       (json.dumps(payload), batch_id))
            db.executemany("INSERT INTO batch_records (batch_id, seq, entity_type, entity_id, "
                           "store_id, content_hash, file) VALUES (?,?,?,?,?,?,?)", rows)

    def _plan(self, batch_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT plan FROM batches WHERE batch_id=?", (batch_id,)).fetchone()
        return dict(json.loads(row[0]))

    def _planned(self, batch_id: int, plan: dict[str, Any], chunk: int = 10_000
                 ) -> Iterator[tuple[str, int, int, str, str]]:
        """(entity type, entity id, store, content hash, file) of each planned record, in plan
        order, `chunk` rows read at a time; a plan from before `batch_records` from its list."""
        if "records" in plan:
            yield from (tuple(record) for record in plan["records"])
            return
        cursor = self.db.execute("SELECT entity_type, entity_id, store_id, content_hash, file "
                                 "FROM batch_records WHERE batch_id=? ORDER BY seq", (batch_id,))
        while rows := cursor.fetchmany(chunk):
            yield from rows

    def planned_counts(self, batch_id: int) -> dict[str, int]:
        """How many records the batch's plan puts in each file."""
        plan = self._plan(batch_id)
        if "records" in plan:
            counts: dict[str, int] = {}
            for *_, file in plan["records"]:
                counts[file] = counts.get(file, 0) + 1
            return counts
        return dict(self.db.execute("SELECT file, count(*) FROM batch_records WHERE "
                                    "batch_id=? GROUP BY file", (batch_id,)))

    def finish_batch(self, batch_id: int, delivered: set[str],
                     uncertain: Collection[str] = (), *, chunk: int = 10_000) -> int:
        """Files are durable: mark the batch and every record in a delivered file as sent, in
        one transaction (the records read and updated `chunk` at a time). Records planned for a
        file that never arrived stay queued. Records in an `uncertain` file (renamed into
        place, then gone before the journal knew: it may be in Sage) need a person, since
        resending could post them twice."""
        plan = self._plan(batch_id)
        now = _now()
        seq = self.current_run_seq()
        sent = 0
        doubtful: dict[str, list[RecordKey]] = {}
        names: dict[str, str] = {}
        with self.transaction() as db:
            updates: list[tuple[Any, ...]] = []
            events: list[tuple[RecordKey, str, str]] = []

            def flush() -> None:
                db.executemany("UPDATE records SET state='sent', batch_id=?, file=?, "
                               "content_hash=?, sent_run=?, last_error=NULL, hold_code=NULL, "
                               "hold_params=NULL, updated_at=? "
                               "WHERE entity_type=? AND entity_id=? AND store_id=?", updates)
                self._events(db, events)
                updates.clear()
                events.clear()

            # record by record: a plan from before `batch_records`, or an SQLite older than
            # UPDATE ... FROM (3.33)
            if "records" in plan or sqlite3.sqlite_version_info < (3, 33):
                for etype, eid, store, content_hash, file in self._planned(batch_id, plan):
                    if file in uncertain:
                        doubtful.setdefault(file, []).append(RecordKey(etype, eid, store))
                    if file not in delivered:
                        continue
                    updates.append((batch_id, file, content_hash, seq, now, etype, eid, store))
                    name = names.get(file) or names.setdefault(file, Path(file).name)
                    events.append((RecordKey(etype, eid, store), "sent",
                                   f"batch {batch_id}: {name}"))
                    sent += 1
                    if len(updates) >= chunk:
                        flush()
                flush()
            else:
                sent = self._send_planned(db, batch_id, delivered, seq, now)
                wanted = sorted(uncertain)
                for etype, eid, store, file in db.execute(
                        "SELECT entity_type, entity_id, store_id, file FROM batch_records "
                        f"WHERE batch_id=? AND file IN ({','.join('?' * len(wanted))}) "
                        "ORDER BY seq", (batch_id, *wanted)):
                    doubtful.setdefault(file, []).append(RecordKey(etype, eid, store))
            for file, keys in doubtful.items():
                references = [db.execute(
                    "SELECT coalesce(sage_reference, increment_id) FROM records WHERE "
                    "entity_type=? AND entity_id=? AND store_id=?",
                    (k.entity_type, k.entity_id, k.store_id)).fetchone()[0] or "" for k in keys]
                hold = uncertain_hold(batch_id, file, references)
                reason = hold.message
                for key in keys:
                    db.execute("UPDATE records SET state='needs_attention', batch_id=?, file=?, "
                               "last_error=?, hold_code=?, hold_params=?, updated_at=? WHERE "
                               "entity_type=? AND entity_id=? AND store_id=?",
                               (batch_id, file, reason, hold.code, hold.params_json(), now,
                                key.entity_type, key.entity_id, key.store_id))
                    self._event(db, key, "needs_attention", reason)
            accounts_file = plan.get("accounts_file")
            if accounts_file in delivered or accounts_file in uncertain:
                db.executemany("UPDATE accounts SET delivered_batch=? WHERE customer_key=?",
                               [(batch_id, k) for k in plan.get("accounts", [])])
            db.execute("UPDATE batches SET state='delivered', finished_at=? WHERE batch_id=?",
                       (now, batch_id))
        return sent

    def _send_planned(self, db: sqlite3.Connection, batch_id: int, delivered: set[str],
                      seq: int, now: str) -> int:
        """Every record the batch planned into a delivered file is sent, and says so in an
        event, in plan order: two statements over the plan, not one per record."""
        db.execute("CREATE TEMP TABLE IF NOT EXISTS delivered_files "
                   "(file TEXT PRIMARY KEY, name TEXT)")
        db.execute("DELETE FROM delivered_files")
        db.executemany("INSERT INTO delivered_files VALUES (?,?)",
                       [(file, Path(file).name) for file in sorted(delivered)])
        sent = db.execute("SELECT count(*) FROM batch_records p JOIN delivered_files d "
                          "ON d.file = p.file WHERE p.batch_id=?", (batch_id,)).fetchone()[0]
        db.execute(
            "UPDATE records SET state='sent', batch_id=p.batch_id, file=p.file, "
            "content_hash=p.content_hash, sent_run=?, last_error=NULL, hold_code=NULL, "
            "hold_params=NULL, updated_at=? FROM batch_records p JOIN delivered_files d "
            "ON d.file = p.file WHERE p.batch_id=? AND records.entity_type=p.entity_type "
            "AND records.entity_id=p.entity_id AND records.store_id=p.store_id",
            (seq, now, batch_id))
        db.execute("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, event, "
                   "detail) SELECT ?, ?, p.entity_type, p.entity_id, p.store_id, 'sent', "
                   "'batch ' || p.batch_id || ': ' || d.name FROM batch_records p "
                   "JOIN delivered_files d ON d.file = p.file WHERE p.batch_id=? "
                   "ORDER BY p.seq", (_now(), self.run_id, batch_id))
        return int(sent)

    def journal_file(self, batch_id: int, file: str, state: str) -> None:
        """The delivery journal: `ready` once a file is complete under its temporary name,
        `renamed` once it is in place. Each is its own commit (synchronous=FULL), made before
        the next step, so recovery knows what landed even if the folder was collected since."""
        with self.transaction() as db:
            db.execute("INSERT INTO batch_files VALUES (?,?,?,?) ON CONFLICT DO UPDATE SET "
                       "state=excluded.state, at=excluded.at", (batch_id, file, state, _now()))

    def file_journal(self, batch_id: int) -> dict[str, str]:
        """file -> `ready` or `renamed`, for each file of the batch the journal knows."""
        return dict(self.db.execute("SELECT file, state FROM batch_files WHERE batch_id=?",
                                    (batch_id,)))

    def unfinished_batches(self) -> list[tuple[int, dict[str, Any]]]:
        rows = self.db.execute("SELECT batch_id, plan FROM batches WHERE state='writing' "
                               "ORDER BY batch_id")
        return [(int(b), json.loads(p)) for b, p in rows]

    def ensure_records(self, docs: Sequence[tuple[RecordKey, str, str, int, str]]) -> None:
        """Make sure records exist for documents from a checkpoint the ledger never saw
        (a transform run with --dry-run); they enter the queue as queued."""
        if not docs:  # the usual case: no write transaction for nothing
            return
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
        """(Sage type, reference) -> sent or confirmed records, to match a Sage export: the
        reference each was queued with (store prefix included), else its increment id."""
        found: dict[tuple[str, str], list[RecordKey]] = {}
        rows = self.db.execute("SELECT entity_type, entity_id, store_id, increment_id, "
                               "sage_reference FROM records WHERE state IN "
                               "('sent','confirmed','rejected')")
        for t, i, s, inc, claimed in rows:
            for sage_type, kinds in transaction_kinds.items():
                if t in kinds:
                    kind, _, reference = (claimed or "").partition(":")
                    if not claimed or kind == sage_type:
                        found.setdefault((sage_type, reference if claimed else inc or ""),
                                         []).append(RecordKey(t, i, s))
        return found

    def answered(self, key: RecordKey, answer: str, source: str, written_at: str) -> bool:
        """Whether this answer from Sage (a digest of a document's rows) was applied already:
        to the record's current delivery, from any file; or, after the record was sent again,
        from a file with the same content (`source`) written before that delivery began
        (`written_at`, UTC like the ledger): an old export applied again, not a new answer."""
        return self.db.execute(
            "SELECT 1 FROM answers a JOIN records r ON r.entity_type=a.entity_type AND "
            "r.entity_id=a.entity_id AND r.store_id=a.store_id LEFT JOIN batches b ON "
            "b.batch_id=r.batch_id WHERE a.entity_type=? AND a.entity_id=? AND a.store_id=? "
            "AND a.answer=? AND (a.batch_id IS r.batch_id OR (a.source=? AND ? < b.created_at)) "
            "LIMIT 1", (key.entity_type, key.entity_id, key.store_id, answer, source,
                        written_at)).fetchone() is not None

    def _answer(self, db: sqlite3.Connection, key: RecordKey,
                answer: tuple[str, str] | None) -> None:
        """Remember an applied (answer, source) against the record's current delivery, in the
        transaction that applies it, so a killed and rerun `ack` never counts it twice."""
        if answer is not None:
            db.execute("INSERT INTO answers SELECT entity_type, entity_id, store_id, batch_id, "
                       "?, ?, ?, ? FROM records WHERE entity_type=? AND entity_id=? AND "
                       "store_id=?", (*answer, _now(), self.run_id, key.entity_type,
                                      key.entity_id, key.store_id))

    def confirm(self, key: RecordKey, sage_ref: str | None, invoice_ref: str | None, *,
                answer: tuple[str, str] | None = None) -> bool:
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE records SET state='confirmed', sage_ref=coalesce(?, sage_ref), "
                "sage_invoice_ref=coalesce(?, sage_invoice_ref), last_error=NULL, "
                "hold_code=NULL, hold_params=NULL, updated_at=? "
                "WHERE entity_type=? AND entity_id=? AND store_id=? AND state IN "
                "('sent','confirmed','rejected')",
                (sage_ref or None, invoice_ref or None, _now(), key.entity_type, key.entity_id,
                 key.store_id)).rowcount
            if changed:
                self._event(db, key, "confirmed", f"Sage {sage_ref or '?'}"
                            + (f", invoice {invoice_ref}" if invoice_ref else ""))
                self._answer(db, key, answer)
        return bool(changed)

    def reject(self, key: RecordKey, error: str, max_attempts: int, *,
               answer: tuple[str, str] | None = None) -> str | None:
        """Sage refused it (`error` is Sage's text): back to the queue, or to a person after
        max_attempts. The cause is `rejected_by_sage` with the attempts so far."""
        row = self.db.execute("SELECT state, attempts FROM records WHERE entity_type=? AND "
                              "entity_id=? AND store_id=?",
                              (key.entity_type, key.entity_id, key.store_id)).fetchone()
        if row is None or row[0] not in ("sent", "rejected"):
            return None
        attempts = row[1] + 1
        state = "needs_attention" if attempts >= max_attempts else "rejected"
        hold = holds.rejected_by_sage(attempts=attempts, sage_error=error)
        with self.transaction() as db:
            db.execute("UPDATE records SET state=?, attempts=?, last_error=?, hold_code=?, "
                       "hold_params=?, updated_at=? "
                       "WHERE entity_type=? AND entity_id=? AND store_id=?",
                       (state, attempts, error, hold.code, hold.params_json(), _now(),
                        key.entity_type, key.entity_id, key.store_id))
            self._event(db, key, state, f"attempt {attempts}: {error}")
            self._answer(db, key, answer)
        return state

    def dispute(self, key: RecordKey, reason: Hold | str, *,
                answer: tuple[str, str] | None = None) -> bool:
        """Sage's answers contradict each other (or a confirmed record is now rejected): a
        person decides. Never resent automatically, since Sage may already hold it. Text is
        read for its cause (holds.sage_answers_disagree words it), else `unspecified`."""
        hold = reason if isinstance(reason, Hold) else holds.recognise(reason)
        with self.transaction() as db:
            row = db.execute("SELECT attempts FROM records WHERE entity_type=? AND "
                             "entity_id=? AND store_id=? AND state IN "
                             "('sent','confirmed','rejected')",
                             (key.entity_type, key.entity_id, key.store_id)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE records SET state='needs_attention', attempts=?, last_error=?, "
                       "hold_code=?, hold_params=?, "
                       "updated_at=? WHERE entity_type=? AND entity_id=? AND store_id=?",
                       (row[0] + 1, hold.message, hold.code, hold.params_json(), _now(),
                        key.entity_type, key.entity_id, key.store_id))
            self._event(db, key, "needs_attention", f"attempt {row[0] + 1}: {hold.message}")
            self._answer(db, key, answer)
        return True

    # Fix-up commands ----------------------------------------------------------------------
    def document_of(self, key: RecordKey) -> tuple[str | None, str | None, str | None]:
        """(export checkpoint, Sage type:reference, Magento grand total) of a record, for
        `trace`."""
        row = self.db.execute(
            "SELECT export_checkpoint, sage_reference, grand_total FROM records WHERE "
            "entity_type=? AND entity_id=? AND store_id=?",
            (key.entity_type, key.entity_id, key.store_id)).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def knows_reference(self, sage_type: str, reference: str) -> bool:
        """Did sagesync write this Sage type and reference (type "": any type), or does a
        record have it as its Magento number?"""
        if sage_type:
            found = self.db.execute("SELECT 1 FROM records WHERE sage_reference = ? LIMIT 1",
                                    (f"{sage_type}:{reference}",)).fetchone()
        else:
            found = self.db.execute(
                "SELECT 1 FROM records WHERE substr(sage_reference, instr(sage_reference, ':') "
                "+ 1) = ? LIMIT 1", (reference,)).fetchone()
        return found is not None or bool(self.rows(increment_id=reference))

    def find(self, key: RecordKey) -> RecordRow | None:
        params: tuple[str, int] | tuple[str, int, int]
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
                  reset_attempts: bool = False, hold: Hold | None = None) -> bool:
        """A person's move. With `hold` (a person's hold) it becomes the reason and cause;
        without, the reason stays and the cause is cleared (it no longer holds the record)."""
        reason = (", last_error=?", (hold.message,)) if hold else ("", ())
        with self.transaction() as db:
            changed = db.execute(
                f"UPDATE records SET state=?, held_by=?, updated_at=?, hold_code=?, "
                f"hold_params=?{reason[0]}{', attempts=0' if reset_attempts else ''} WHERE "
                f"entity_type=? AND entity_id=? AND store_id=? AND "
                f"state IN ({','.join('?' * len(allowed_from))})",
                (state, held_by, _now(), hold and hold.code, hold and hold.params_json(),
                 *reason[1], key.entity_type, key.entity_id, key.store_id,
                 *allowed_from)).rowcount
            if changed:
                self._event(db, key, event, detail)
        return bool(changed)

    def causes(self, states: Sequence[str] = ("held", "needs_attention")
              ) -> list[tuple[RecordKey, Hold]]:
        """Every record in `states` with its cause, in key order (for grouping by cause)."""
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT entity_type, entity_id, store_id, hold_code, hold_params, last_error, "
            f"held_by FROM records WHERE state IN ({marks}) "
            "ORDER BY entity_type, entity_id, store_id", tuple(states))
        return [(RecordKey(t, i, s), _stored_hold(code, params, error, by))
                for t, i, s, code, params, error, by in rows]

    def causes_of(self, keys: Iterable[RecordKey]) -> dict[RecordKey, Hold]:
        """The cause of each of `keys` that is held or needs attention."""
        return {key: _stored_hold(code, params, error, by) for key, (code, params, error, by)
                in self._by_key(keys, "r.hold_code, r.hold_params, r.last_error, r.held_by",
                                "WHERE r.state IN ('held', 'needs_attention')")}

    def invoice_refs(self, keys: Iterable[RecordKey]
                     ) -> dict[RecordKey, tuple[str | None, str | None]]:
        """The Sage invoice number (from `ack`) and the increment id of each of `keys` the
        ledger knows: one join for a window's credit memos, not two lookups each."""
        return {key: (ref, increment) for key, (ref, increment)
                in self._by_key(keys, "r.sage_invoice_ref, r.increment_id")}

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

    def record_pushed(self, kind: str, values: dict[str, str]) -> None:
        """Record values Magento accepted. The keys whose value changed join one push, the
        unit `rollback` undoes: this run's if it is the last one and not rolled back (a rerun
        of the same payload completes it), else a new one."""
        if not values:
            return
        now = _now()
        with self.transaction() as db:
            last = db.execute("SELECT push_id, run_id, rolled_back_at FROM pushes WHERE kind=? "
                              "ORDER BY push_id DESC LIMIT 1", (kind,)).fetchone()
            created = not (last and self.run_id and last[1] == self.run_id and last[2] is None)
            push_id = db.execute("INSERT INTO pushes (kind, run_id, pushed_at) VALUES (?,?,?)",
                                 (kind, self.run_id, now)).lastrowid if created else last[0]
            changed = db.executemany(
                "INSERT INTO pushed (kind, key, value, previous_value, pushed_at, run_id, "
                "push_id) VALUES (?, ?, ?, NULL, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "previous_value=pushed.value, value=excluded.value, "
                "pushed_at=excluded.pushed_at, run_id=excluded.run_id, "
                "push_id=excluded.push_id WHERE pushed.value != excluded.value",
                [(kind, k, v, now, self.run_id, push_id) for k, v in values.items()]).rowcount
            if created and not changed:
                db.execute("DELETE FROM pushes WHERE push_id=?", (push_id,))

    def last_push(self, kind: str) -> Push | None:
        row = self.db.execute("SELECT push_id, kind, run_id, pushed_at, rolled_back_at, "
                              "rolled_back_run FROM pushes WHERE kind=? ORDER BY push_id DESC "
                              "LIMIT 1", (kind,)).fetchone()
        return Push(*row) if row else None

    def push_changes(self, push_id: int) -> dict[str, tuple[str, str | None]]:
        """key -> (value pushed, value before it) of the keys a push set that are neither
        rolled back nor pushed again since; the value before is None when the push set the
        key first."""
        return {key: (value, previous) for key, value, previous in self.db.execute(
            "SELECT key, value, previous_value FROM pushed WHERE push_id=?", (push_id,))}

    def record_rollback(self, push_id: int, keys: Iterable[str]) -> bool:
        """Keys of a push whose earlier value Magento took back: each gets that value and
        forgets it, so no later rollback can send the undone value again. When nothing of the
        push is left to undo, the push is marked rolled back; returns whether it is."""
        now = _now()
        with self.transaction() as db:
            db.executemany("UPDATE pushed SET value=previous_value, previous_value=NULL, "
                           "push_id=NULL, pushed_at=?, run_id=? WHERE push_id=? AND key=? AND "
                           "previous_value IS NOT NULL",
                           [(now, self.run_id, push_id, key) for key in keys])
            left = db.execute("SELECT count(*) FROM pushed WHERE push_id=? AND "
                              "previous_value IS NOT NULL", (push_id,)).fetchone()[0]
            if not left:
                db.execute("UPDATE pushes SET rolled_back_at=?, rolled_back_run=? WHERE "
                           "push_id=? AND rolled_back_at IS NULL", (now, self.run_id, push_id))
        return not left

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

    # The watched folder ---------------------------------------------------------------------
    def pushed_fingerprint(self, kind: str) -> str:
        """A digest of the `pushed` snapshot of a kind: equal digests, same values in Magento
        as far as sagesync knows (any push or rollback since changes it)."""
        digest = hashlib.sha256()
        for key, value in self.db.execute("SELECT key, value FROM pushed WHERE kind=? "
                                          "ORDER BY key", (kind,)):
            digest.update(f"{key}\t{value}\n".encode())
        return digest.hexdigest()

    def watch_record(self, sha256: str, name: str, kind: str | None, run_id: str | None,
                     outcome: str, detail: str = "") -> None:
        """One step of a watched file; an `applied` one keeps the snapshot it left."""
        fingerprint = self.pushed_fingerprint(kind) if kind and outcome == "applied" else None
        with self.transaction() as db:
            db.execute("INSERT INTO watch_files (sha256, name, kind, run_id, outcome, "
                       "pushed_fingerprint, detail, at) VALUES (?,?,?,?,?,?,?,?)",
                       (sha256, name, kind, run_id, outcome, fingerprint, detail, _now()))

    def watch_unfinished_run(self, sha256: str) -> str | None:
        """The run id of a file taken but never finished (the watcher died pushing it)."""
        row = self.db.execute("SELECT outcome, run_id FROM watch_files WHERE sha256=? "
                              "ORDER BY id DESC LIMIT 1", (sha256,)).fetchone()
        return row[1] if row and row[0] == "taken" else None

    def watch_is_duplicate(self, sha256: str, kind: str) -> bool:
        """Whether this content was the last file of its kind applied, completely, and
        nothing of that kind was pushed or rolled back since."""
        row = self.db.execute("SELECT sha256, outcome, pushed_fingerprint FROM watch_files "
                              "WHERE kind=? AND outcome IN ('taken','applied','held') "
                              "ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
        return bool(row and row[0] == sha256 and row[1] == "applied"
                    and row[2] == self.pushed_fingerprint(kind))

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
