"""Sage receivables -> Magento (issue 15 §4): each order's Sage invoice, what is owed, when paid.

`parse-sage FILE --kind receivables` checks the export into a payload checkpoint; its push
matches every row to the ledger record sagesync posted (by the reference it wrote, or Sage's
own number from `ack`), records what changed since the last export of receivables, and tells
each order once, as a comment (visible to the customer unless the recipe says not). A row
that matches two records is reported and left (exit 1): a guess would tell the wrong customer
their invoice is paid. A document sagesync never posted (entered in Sage by hand) is counted
and left alone, unless no row at all matches: then the file or its columns are wrong.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sagesync.ledger import Ledger, RecordKey
from sagesync.ledger.receivables import Candidate, Receivable, candidates, known, record
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter
from sagesync.pipeline.faults import crash_point
from sagesync.pipeline.order_updates import UpdateResult, update_orders
from sagesync.recipe import Recipe

# Sage's words for a credit note, across the products' exports (lower case)
_CREDIT_TYPES = {"sc", "cr", "cm", "credit", "credit note", "creditmemo", "credit memo", "5",
                 "ar credit memo", "credit note (sales)"}
_DOCUMENTS = ("invoice", "order")  # what an invoice row is posted from


@dataclass
class ReceivablesResult:
    manifest: Path
    kind: str = "receivables"
    rows: int = 0
    changed: list[str] = field(default_factory=list)  # "order 000000002: paid (...)"
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)  # rows that match two records, or none
    not_ours: list[str] = field(default_factory=list)  # documents sagesync never posted
    told: UpdateResult = field(default_factory=UpdateResult)
    preview: Path | None = None
    refused: str | None = None  # the guard's reason; nothing recorded or told

    @property
    def failed(self) -> list[str]:
        return self.told.failed


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP)}"


def status_of(entity_type: str, outstanding: Decimal, amount: Decimal | None) -> str:
    """How a person says it: an invoice is paid, part paid or unpaid; a credit note's
    balance is allocated (used) or not."""
    if entity_type == "creditmemo":
        return "allocated" if outstanding == 0 else "unallocated"
    if outstanding == 0:
        return "paid"
    if outstanding < 0:
        return "in credit"
    return "part paid" if amount is not None and 0 < outstanding < abs(amount) else "unpaid"


def _detail(r: Receivable) -> str:
    """The event detail, and the end of the comment: "paid on 2026-11-01 (0.00 of 120.00
    outstanding; Sage invoice 5001)"."""
    when = (f" on {r.paid_date}" if r.paid_date and r.status in ("paid", "allocated")
            else f", due {r.due_date}" if r.due_date else "")
    owed = f"{r.outstanding} of {r.amount}" if r.amount else r.outstanding
    number = f"; Sage invoice {r.sage_invoice}" if r.sage_invoice else ""
    return f"{r.status}{when} ({owed} outstanding{number})"


def _pick(found: list[Candidate], sage_type: str) -> Candidate | None:
    """The record a row is about: a credit note's row is about a credit memo, any other
    typed row about an invoice (or the order it was posted from); an untyped row about the
    one document with its number. None when it is not one record."""
    typed = sage_type.strip().lower()
    credit = typed in _CREDIT_TYPES
    wanted = [c for c in found if c.key.entity_type in (*_DOCUMENTS, "creditmemo") and (
        not typed or (c.key.entity_type == "creditmemo") == credit)]
    unique = {c.key: c for c in wanted}
    return next(iter(unique.values())) if len(unique) == 1 else None


REOPENED_SHARE = Decimal("0.10")  # of the documents known paid, at most, before the guard trips


def guard(reopened: list[str], known_paid: int) -> str | None:
    """Why a push is refused: paid documents do not become unpaid in bulk. A column shifted
    by a changed report (the amount read as the outstanding) would tell every customer their
    paid invoice is due again; one or two reversed payments are real and go through."""
    if len(reopened) <= max(Decimal(1), REOPENED_SHARE * known_paid):
        return None
    shown = "; ".join(reopened[:5]) + (" ..." if len(reopened) > 5 else "")
    return (f"{len(reopened)} of the {known_paid} documents Sage had paid would be unpaid "
            f"again ({shown}). Check the export's columns ([sage_export] columns.outstanding) "
            "and the preview; if Sage really reversed these payments, push with --force.")


def push_receivables(recipe: Recipe, payload: Checkpoint, ledger: Ledger, run_id: str, *,
                     dry_run: bool, force: bool = False, client: Any = None
                     ) -> ReceivablesResult:
    """Record what changed and tell the orders (a dry run records and tells nothing), unless
    the guard refuses the push (see `guard`; `force` overrides it)."""
    writer = CheckpointWriter(recipe.state_dir, run_id, "push-magento", "magento-push", recipe,
                              [payload.path], dry_run=dry_run)
    result = ReceivablesResult(manifest=Path())
    rows = payload.table("receivables").to_pylist()
    result.rows = len(rows)
    found = candidates(ledger, {r["reference"] for r in rows} | {
        r["invoice"] for r in rows if r["invoice"]})
    chosen: list[tuple[dict[str, Any], Candidate]] = []
    lines: dict[RecordKey, int] = {}
    for row in rows:
        matches = found.get(row["reference"], []) + found.get(row["invoice"] or "", [])
        candidate = _pick(matches, row["type"] or "")
        where = f"line {row['source_line']}: {row['type'] or 'document'} {row['reference']}"
        if not matches:  # entered in Sage by hand, or another store's: not a problem
            result.not_ours.append(where)
        elif candidate is None:
            result.unknown.append(f"{where}: more than one Magento document has this "
                                  "reference: map the Sage type column ([sage_export] "
                                  "columns.type)")
        elif candidate.order_id is None:
            result.unknown.append(f"{where}: its Magento order is not known")
        elif candidate.key in lines:  # by its reference and by Sage's number, say
            result.unknown.append(f"{where}: line {lines[candidate.key]} is about the same "
                                  "document; which one is right is unclear")
        else:
            lines[candidate.key] = row["source_line"]
            chosen.append((row, candidate))
    if rows and not chosen and not result.unknown:
        result.unknown.append(
            f"none of the {len(rows)} rows is a document sagesync posted (the first: "
            f"{result.not_ours[0]}): is this the receivables export of this store, and is "
            "its reference column the one sagesync writes? ([sage_export] columns.reference)")
    before = known(ledger, [c.key for _, c in chosen])
    changes: list[tuple[Receivable, str]] = []
    preview: list[tuple[str, str, str]] = []
    reopened: list[str] = []
    for row, candidate in chosen:
        outstanding, amount = row["outstanding"], row["amount"]
        new = Receivable(candidate.key, status_of(candidate.key.entity_type, outstanding, amount),
                         _money(outstanding), _money(amount),
                         row["paid_date"].isoformat() if row["paid_date"] else "",
                         row["due_date"].isoformat() if row["due_date"] else "",
                         row["invoice"] or candidate.sage_invoice_ref or "")
        old = before.get(candidate.key)
        if new.same(old):
            result.unchanged += 1
            continue
        detail = _detail(new)
        label = f"order {candidate.order_increment_id} ({candidate.key})"
        result.changed.append(f"{label}: {detail}")
        if old is not None and old.status == "paid" and new.status != "paid":
            reopened.append(f"{label}: {new.status}")
        preview.append((label, _detail(old) if old else "", detail))
        changes.append((new, detail))
    result.preview = _write_preview(writer.folder, preview)
    if not force:
        result.refused = guard(reopened, sum(r.status == "paid" for r in before.values()))
    if not dry_run and result.refused is None:
        record(ledger, changes, str(payload.path))
        crash_point("receivables-recorded")
        result.told = update_orders(recipe, ledger, client=client, receivables_only=True)
    result.manifest = writer.finish(summary={
        "kind": "receivables", "rows": result.rows, "changed": len(result.changed),
        "unchanged": result.unchanged, "unknown": result.unknown,
        "not_posted_by_sagesync": len(result.not_ours),
        "told": len(result.told.posted) + len(result.told.found),
        "failed": result.told.failed, "refused": result.refused, "dry_run": dry_run,
        "forced": force},
        files={"preview.csv": result.preview})
    return result


def _write_preview(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    """order, old -> new for every change: what the push tells Magento (spreadsheet-safe)."""
    from sagesync.render import csv_cell

    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(["order", "old", "new"])
    out.writerows([csv_cell(c) for c in row] for row in rows)
    path = folder / "preview.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path
