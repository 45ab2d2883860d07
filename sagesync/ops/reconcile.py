"""`sagesync reconcile`: Magento, the ledger and Sage side by side, for finance.

Three views of the documents dated in a window (days in the recipe's time zone):
- **Magento**: every invoice and credit memo (orders, under `post_from = "orders"`) created in
  the window that sagesync posts (not cancelled; orders in the recipe's states), from the
  export checkpoints still kept (the latest data of each), or `fresh` from the store (a dry
  export of the window, which changes nothing);
- **the ledger**: what sagesync did with each (sent, confirmed, held, ...);
- **Sage** (optional): its export of what it holds, read with the recipe's `[ack]` layout, as
  `ack` reads it; `[ack] amount_column` adds the amount Sage holds.

Each Magento document is classed `in_sync`, `missing_in_sage` (not in Sage's export, or
without one, not delivered by the ledger's account), `duplicated` (two Sage numbers for one
document) or `amount_mismatch` (Sage's amount is not Magento's); a Sage row of ours that no
Magento document or ledger record knows is an `orphan`. Contra rows (a gift card posted as a
credit note of its own: `…-GIFT`) belong to their document and are not counted on their own.
Amounts compared are gross (Magento's grand total, in the recipe's posting currency). Where
Sage computes the tax on import, its amount may differ by its own rounding: set no
`amount_column` then, or read the mismatches with that in mind.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sagesync.errors import UsageError
from sagesync.ledger import Ledger, RecordKey
from sagesync.ledger.schema import DONE
from sagesync.model.money import ZERO
from sagesync.ops.ack import AckRow, ack_layout, parent_of, read_ack_file
from sagesync.pipeline.checkpoint import MANIFEST, Checkpoint, open_checkpoint
from sagesync.pipeline.postable import POSTED, posted_kinds, posted_rows
from sagesync.recipe import Recipe
from sagesync.render import csv_cell
from sagesync.sage import products

CLASSES = ("in_sync", "missing_in_sage", "duplicated", "amount_mismatch", "orphan")
EXPORT_STEP = "export-orders"


@dataclass
class Line:
    """One document as the three views see it."""

    verdict: str
    sage_type: str
    reference: str
    key: str = ""  # the ledger key ("" for an orphan)
    day: str = ""
    store_id: int | None = None
    currency: str = ""
    magento_total: Decimal | None = None
    ledger_state: str = ""
    sage_numbers: list[str] = field(default_factory=list)
    sage_amount: Decimal | None = None
    detail: str = ""


@dataclass
class Totals:
    """Per (day, store, currency, Sage type): counts and amounts in each view."""

    magento_count: int = 0
    magento_total: Decimal = ZERO
    ledger_count: int = 0  # delivered to Sage by the ledger's account
    ledger_total: Decimal = ZERO
    sage_count: int = 0
    sage_total: Decimal = ZERO


@dataclass
class Reconciliation:
    start: date
    end: date
    sage_file: str | None
    lines: list[Line] = field(default_factory=list)
    totals: dict[tuple[str, int, str, str], Totals] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(CLASSES, 0)
        for line in self.lines:
            found[line.verdict] += 1
        return found

    @property
    def out_of_step(self) -> list[Line]:
        return [line for line in self.lines if line.verdict != "in_sync"]

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "sage_file": self.sage_file, "counts": self.counts,
                "totals": [{"day": d, "store_id": s, "currency": c, "sage_type": t,
                            **{k: str(v) if isinstance(v, Decimal) else v
                               for k, v in asdict(total).items()}}
                           for (d, s, c, t), total in sorted(self.totals.items())],
                "out_of_step": [_line_dict(line) for line in self.out_of_step]}

    def csv_text(self) -> str:
        """Every document, one row each, spreadsheet-safe."""
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\r\n")
        out.writerow(["class", "sage_type", "reference", "key", "day", "store_id", "currency",
                      "magento_total", "ledger_state", "sage_numbers", "sage_amount",
                      "detail"])
        for line in self.lines:
            out.writerow([csv_cell(v) for v in (
                line.verdict, line.sage_type, line.reference, line.key, line.day,
                "" if line.store_id is None else line.store_id, line.currency,
                "" if line.magento_total is None else line.magento_total, line.ledger_state,
                " ".join(line.sage_numbers),
                "" if line.sage_amount is None else line.sage_amount, line.detail)])
        return buffer.getvalue()


def _line_dict(line: Line) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(line).items()}


@dataclass
class _Magento:
    key: RecordKey
    sage_type: str
    reference: str
    day: str
    currency: str
    total: Decimal


def reconcile(recipe: Recipe, ledger: Ledger, start: date, end: date, *,
              sage_file: Path | None = None, exports: list[Checkpoint] | None = None
              ) -> Reconciliation:
    """Compare the three views over the days start..end (inclusive, recipe time zone).
    `exports`: the export checkpoints to read Magento from (default: every one kept in the
    state folder, latest data winning)."""
    if end < start:
        raise UsageError(f"--from {start} is after --to {end}: nothing could match.")
    result = Reconciliation(start, end, str(sage_file) if sage_file else None)
    magento = _magento_documents(recipe, start, end,
                                 exports if exports is not None else kept_exports(recipe))
    sage = _sage_rows(recipe, sage_file) if sage_file else None
    seen: set[tuple[str, str]] = set()
    for doc in sorted(magento.values(), key=lambda d: (d.day, d.sage_type, d.reference)):
        row = ledger.find(doc.key)
        state = row.state if row else ""
        written = ledger.document_of(doc.key)[1]
        if written:  # the type and reference sagesync wrote (with the recipe's prefixes)
            doc.sage_type, _, doc.reference = written.partition(":")
        seen.add((doc.sage_type, doc.reference))
        line = Line("in_sync", doc.sage_type, doc.reference, str(doc.key), doc.day,
                    doc.key.store_id, doc.currency, doc.total, state)
        totals = result.totals.setdefault((doc.day, doc.key.store_id, doc.currency,
                                           doc.sage_type), Totals())
        totals.magento_count += 1
        totals.magento_total += doc.total
        if state in DONE:
            totals.ledger_count += 1
            totals.ledger_total += doc.total
        if sage is None:
            _judge_by_ledger(line, row)
        else:
            answers = sage.get((doc.sage_type, doc.reference)) or \
                sage.get(("", doc.reference), [])
            _judge_by_sage(line, answers, state)
            if answers:
                totals.sage_count += 1
                totals.sage_total += line.sage_amount or ZERO
        result.lines.append(line)
    for (sage_type, reference), answers in sorted((sage or {}).items()):
        if (sage_type, reference) in seen or ledger.knows_reference(sage_type, reference):
            continue  # ours and known: dated outside the window
        result.lines.append(Line("orphan", sage_type, reference,
                                 sage_numbers=sorted({a.sage_number for a in answers}),
                                 sage_amount=_amount(answers),
                                 detail="in Sage, but no Magento document or ledger record "
                                        "has this reference"))
    return result


def _judge_by_ledger(line: Line, row: Any) -> None:
    if row is None:
        line.verdict, line.detail = "missing_in_sage", "not in the ledger: never exported"
    elif row.state not in DONE and row.state != "skipped":
        line.verdict = "missing_in_sage"
        line.detail = f"not delivered ({row.state}" + (f": {row.last_error}" if row.last_error
                                                       else "") + ")"
    elif row.state == "amended":
        line.verdict = "amount_mismatch"
        line.detail = "changed in Magento after it reached Sage: " + (row.last_error or "")


def _judge_by_sage(line: Line, answers: list[AckRow], state: str) -> None:
    numbers = sorted({a.sage_number for a in answers if a.sage_number})
    line.sage_numbers = numbers
    line.sage_amount = _amount(answers)
    if not answers:
        line.verdict = "missing_in_sage"
        line.detail = ("the ledger says it was delivered: check Sage's import log"
                       if state in DONE else f"not delivered yet ({state or 'not in the ledger'})")
    elif len(numbers) > 1:
        line.verdict = "duplicated"
        line.detail = f"{len(numbers)} Sage documents for one Magento document"
    elif line.sage_amount is not None and line.magento_total is not None \
            and abs(line.sage_amount) != abs(line.magento_total):
        line.verdict = "amount_mismatch"
        line.detail = (f"Sage holds {abs(line.sage_amount)}, Magento "
                       f"{abs(line.magento_total)}")


def _amount(answers: list[AckRow]) -> Decimal | None:
    """The amount Sage holds for a document: its first row's (the rows of one document
    repeat its total), or None without an amount column."""
    for answer in answers:
        if answer.amount:
            try:
                return Decimal(answer.amount.replace(",", ""))
            except InvalidOperation:
                return None
    return None


def _sage_rows(recipe: Recipe, path: Path) -> dict[tuple[str, str], list[AckRow]]:
    """Sage's rows by (type, reference), contra rows left out (they belong to their
    document): their amounts are taken off their document's (a credit note of 20.50 and its
    fee posted as an invoice of 5.00 hold Magento's 15.50). A file without a type column
    answers the product's one type."""
    layout = ack_layout(recipe)
    rows, _ = read_ack_file(path, recipe.ack, layout)
    only = next(iter(layout.types)) if len(layout.types) == 1 else ""
    found: dict[tuple[str, str], list[AckRow]] = defaultdict(list)
    contra: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        parent = parent_of(row)
        if parent is None:
            found[(row.sage_type or only, row.reference)].append(row)
        elif (amount := _amount([row])) is not None:
            contra[parent] += amount
    for parent, amount in contra.items():
        answers = found.get(parent)
        held = _amount(answers) if answers else None
        if answers and held is not None:
            answers[0] = replace(answers[0], amount=str(held - amount))
    return found


def kept_exports(recipe: Recipe) -> list[Checkpoint]:
    """The export checkpoints in the state folder that were not dry runs, oldest first."""
    runs = recipe.state_dir / "runs"
    found = []
    for manifest in sorted(runs.glob(f"*/{EXPORT_STEP}/{MANIFEST}")) if runs.is_dir() else []:
        checkpoint = open_checkpoint(manifest)
        if not checkpoint.dry_run:
            found.append(checkpoint)
    return found


def _magento_documents(recipe: Recipe, start: date, end: date, exports: list[Checkpoint]
                       ) -> dict[RecordKey, _Magento]:
    """The posted documents created in the window, latest export winning."""
    zone = recipe.zone
    since = datetime.combine(start, time(), zone).astimezone(UTC).replace(tzinfo=None)
    until = datetime.combine(end + timedelta(days=1), time(), zone) \
        .astimezone(UTC).replace(tzinfo=None)
    caps = products.get(recipe.sage.product, recipe.sage.region).capabilities
    prefix = "" if recipe.sage.currency == "order" else "base_"
    found: dict[RecordKey, _Magento] = {}
    for export in exports:
        tables = export.manifest.get("tables", {})
        if "orders" not in tables:
            continue
        orders = pq.read_table(export.table_file("orders"),
                               columns=["entity_id", f"{prefix}currency_code"
                                        if prefix else "order_currency_code"])
        currency_of = dict(zip(orders.column(0).to_pylist(), orders.column(1).to_pylist(),
                               strict=True))
        for kind in posted_kinds(recipe):
            if POSTED[kind] not in tables:
                continue
            table = pq.read_table(export.table_file(POSTED[kind]), columns=[
                "entity_id", "store_id", "increment_id", "created_at", "state",
                f"{prefix}grand_total", *(["order_id"] if kind != "order" else [])])
            created = table["created_at"].cast(pa.timestamp("us"))
            table = posted_rows(recipe, kind, table.filter(
                pc.and_(pc.greater_equal(created, pa.scalar(since)),
                        pc.less(created, pa.scalar(until)))))
            for row in table.to_pylist():
                moment = row["created_at"].replace(tzinfo=UTC).astimezone(zone)
                order_id = row["entity_id"] if kind == "order" else row["order_id"]
                key = RecordKey(kind, row["entity_id"], row["store_id"])
                found[key] = _Magento(
                    key, caps.credit_type if kind == "creditmemo" else caps.sale_type,
                    str(row["increment_id"]), moment.date().isoformat(),
                    currency_of.get(order_id) or "", row[f"{prefix}grand_total"] or ZERO)
    return found
