"""The fix-up commands: retry, hold, release, and the record lookups they and trace share."""

from __future__ import annotations

from dataclasses import dataclass, field

from sagesync.errors import UsageError
from sagesync.ledger import Ledger, RecordKey, RecordRow
from sagesync.model import holds

PENDING_FOR_HOLD = ("exported", "queued", "rejected", "needs_attention", "held")


def _parse(text: str) -> RecordKey | None:
    try:
        return RecordKey.parse(text)
    except ValueError:
        return None


def resolve(ledger: Ledger, text: str) -> RecordRow:
    """A record from `invoice:12@1`, `invoice:12`, or a Magento increment id (if unique)."""
    key = _parse(text)
    if key is None:
        matches = ledger.rows(increment_id=text)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UsageError(f"No record '{text}' in the ledger (use a key such as "
                             "invoice:12@1, as `sagesync status` prints, or an increment id).")
        raise UsageError(f"'{text}' is the increment id of several records: "
                         + ", ".join(str(r.key) for r in matches) + ". Name one by its key.")
    row = ledger.find(key)
    if row is None:
        raise UsageError(f"No record {text} in the ledger (or several in different stores: "
                         "add @STORE).")
    return row


@dataclass
class FixupResult:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def retry(ledger: Ledger, keys: list[str], *, all_held: bool, all_rejected: bool
          ) -> FixupResult:
    """Send again: held, rejected, needs-attention and skipped records go back to the start
    of the queue (re-validated by the next transform); attempts restart for needs_attention."""
    rows = [resolve(ledger, k) for k in keys]
    if all_held:
        rows += ledger.rows(["held"])
    if all_rejected:
        rows += ledger.rows(["rejected", "needs_attention"])
    result = FixupResult()
    for row in rows:
        ok = ledger.set_state(row.key, ("held", "rejected", "needs_attention", "skipped"),
                              "exported",
                              "retry", "a person asked to retry",
                              reset_attempts=row.state == "needs_attention")
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


def hold(ledger: Ledger, keys: list[str]) -> FixupResult:
    result = FixupResult()
    for row in (resolve(ledger, k) for k in keys):
        ok = ledger.set_state(row.key, PENDING_FOR_HOLD, "held", "held",
                              "put on hold by a person", held_by="person",
                              hold=holds.held_by_person())
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


def release(ledger: Ledger, keys: list[str]) -> FixupResult:
    result = FixupResult()
    for row in (resolve(ledger, k) for k in keys):
        ok = row.held_by == "person" and ledger.set_state(
            row.key, ("held",), "exported", "released", "released by a person")
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


def settle(ledger: Ledger, keys: list[str], note: str) -> FixupResult:
    """A record a person has settled in Sage by hand: amended (Sage corrected), needing
    attention because Sage may already hold it (it does), or held because the import cannot
    take it (a credit memo Sage 50 Canada has no import for, a document over the lines Sage
    takes: entered by hand, as its hold says). Closed with their note, never sent again."""
    result = FixupResult()
    for row in (resolve(ledger, k) for k in keys):
        ok = ledger.set_state(row.key, ("amended", "needs_attention", "held"), "resolved",
                              "resolved",
                              f"corrected in Sage by a person: {note}")
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


@dataclass
class TraceEntry:
    row: RecordRow
    events: list[tuple[str, str, str]]


def trace(ledger: Ledger, order: str) -> list[TraceEntry]:
    """Magento order -> its invoices and credit memos -> batch and file -> Sage numbers."""
    rows = ledger.rows(order_increment=order)
    if not rows:
        key = _parse(order)
        found = ledger.find(key) if key else None
        if found and found.order_increment_id:
            rows = ledger.rows(order_increment=found.order_increment_id)
    if not rows:
        raise UsageError(f"No record of Magento order '{order}' in the ledger (give the order's "
                         "increment id, e.g. 000000123, or a record key).")
    return [TraceEntry(r, ledger.events(r.key)) for r in rows]
