"""Sage's receivables in the ledger (issue 15 §4): what is still owed on each posted document.

A receivables export names documents by the reference sagesync wrote (or Sage's own number,
once `ack` taught it), so a row finds its record here, and its Magento order with it. Only a
change (paid, part paid, a new due date) is recorded, as the row of `receivables` and a
`receivable` event in the same transaction; the event is what `update-orders` tells the order,
once. Kept apart from the record store: it shares only the connection and the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from sagesync.ledger.records import RecordKey
from sagesync.ledger.store import Ledger

EVENT = "receivable"
_CHUNK = 400  # references per query (four IN lists of them stay under SQLite's 32766)


@dataclass(frozen=True)
class Candidate:
    """A record a receivables row may be about, with every number it is known by."""

    key: RecordKey
    state: str
    increment_id: str
    order_id: int | None
    order_increment_id: str
    sage_reference: str  # "SI:000000002", as sagesync wrote it
    sage_ref: str  # Sage's own numbers, from `ack`
    sage_invoice_ref: str

    def numbers(self) -> set[str]:
        written = self.sage_reference.partition(":")[2]
        return {n for n in (written, self.sage_ref, self.sage_invoice_ref, self.increment_id)
                if n}


@dataclass(frozen=True)
class Receivable:
    """What Sage says of one document; `status` is "paid", "part paid", "unpaid" ..."""

    key: RecordKey
    status: str
    outstanding: str
    amount: str = ""
    paid_date: str = ""
    due_date: str = ""
    sage_invoice: str = ""

    def same(self, other: Receivable | None) -> bool:
        return other is not None and (self.status, self.outstanding, self.paid_date,
                                      self.due_date, self.sage_invoice) == (
            other.status, other.outstanding, other.paid_date, other.due_date,
            other.sage_invoice)


def candidates(ledger: Ledger, numbers: Collection[str]) -> dict[str, list[Candidate]]:
    """number -> the records known by it (a written reference, a Sage number, a Magento
    increment id), void ones left out."""
    found: dict[str, list[Candidate]] = {}
    wanted = list(dict.fromkeys(numbers))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = ledger.db.execute(
            "SELECT entity_type, entity_id, store_id, state, increment_id, order_id, "
            "order_increment_id, sage_reference, sage_ref, sage_invoice_ref FROM records "
            f"WHERE state != 'void' AND (substr(sage_reference, instr(sage_reference, ':') + 1) "
            f"IN ({marks}) OR sage_ref IN ({marks}) OR sage_invoice_ref IN ({marks}) OR "
            f"increment_id IN ({marks})) ORDER BY entity_type, entity_id, store_id",
            chunk * 4)
        chosen = set(chunk)
        for t, i, s, state, increment, order_id, order_increment, written, ref, inv in rows:
            candidate = Candidate(RecordKey(t, i, s), state, increment or "", order_id,
                                  order_increment or "", written or "", ref or "", inv or "")
            for number in candidate.numbers() & chosen:
                found.setdefault(number, []).append(candidate)
    return found


def known(ledger: Ledger, keys: Iterable[RecordKey]) -> dict[RecordKey, Receivable]:
    """The receivables recorded for these records."""
    result: dict[RecordKey, Receivable] = {}
    keys = iter(keys)
    while chunk := list(islice(keys, _CHUNK)):
        where = " OR ".join("(entity_type=? AND entity_id=? AND store_id=?)" for _ in chunk)
        params = [v for k in chunk for v in (k.entity_type, k.entity_id, k.store_id)]
        for t, i, s, status, outstanding, amount, paid, due, invoice in ledger.db.execute(
                "SELECT entity_type, entity_id, store_id, status, outstanding, amount, "
                f"paid_date, due_date, sage_invoice FROM receivables WHERE {where}", params):
            key = RecordKey(t, i, s)
            result[key] = Receivable(key, status, outstanding, amount or "", paid or "",
                                     due or "", invoice or "")
    return result


def record(ledger: Ledger, changes: Iterable[tuple[Receivable, str]], source: str) -> int:
    """Store each changed receivable with its `receivable` event (the detail told to Magento)
    in one transaction; returns how many."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = list(changes)
    with ledger.transaction() as db:
        db.executemany(
            "INSERT INTO receivables VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
            "sage_invoice=excluded.sage_invoice, amount=excluded.amount, "
            "outstanding=excluded.outstanding, paid_date=excluded.paid_date, "
            "due_date=excluded.due_date, status=excluded.status, source=excluded.source, "
            "updated_at=excluded.updated_at",
            [(r.key.entity_type, r.key.entity_id, r.key.store_id, r.sage_invoice or None,
              r.amount or None, r.outstanding, r.paid_date or None, r.due_date or None,
              r.status, source, now) for r, _ in rows])
        for receivable, detail in rows:
            ledger._event(db, receivable.key, EVENT, detail)
    return len(rows)
