"""`sagesync digest`: one day of one state folder, per store, for the people who book it.

The day is a calendar day in the recipe's zone (yesterday by default). Its counts come from
the ledger's events (what was exported, sent, confirmed, held or voided that day, each record
once); the amounts of the documents sent that day come from the sage-documents checkpoints of
the runs that sent them (the ledger names the batch, the batch its run), summed per currency,
tax code and Sage type from the splits Sage received; what waits for a person and the oldest
pending record are as they are now, with the commands to fix them (ops.advice, as `status`).
A document whose checkpoint was removed is counted but its amount is listed as missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sagesync.errors import DamagedCheckpointError
from sagesync.ledger import Ledger, RecordKey
from sagesync.model.holds import Hold, by_cause
from sagesync.ops.advice import fix_commands
from sagesync.pipeline.checkpoint import Checkpoint, open_checkpoint
from sagesync.recipe import Recipe

COUNTED = ("sent", "confirmed", "held", "void")
PENDING = ("exported", "queued", "held", "rejected", "needs_attention")
WAITING = ("held", "needs_attention", "amended")
LISTED = 50  # records listed per store as needing a person


@dataclass
class AmountRow:
    currency: str
    tax_code: str
    transaction_type: str
    documents: int = 0
    net: Decimal = Decimal("0.00")
    tax: Decimal = Decimal("0.00")

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


@dataclass
class WaitingRecord:
    key: str
    increment_id: str
    order: str
    state: str
    since: str
    cause: str
    reason: str


@dataclass
class CauseAdvice:
    """The records of one cause that wait for a person, and how to fix them."""

    state: str
    code: str
    title: str
    fix: str
    commands: list[str]
    records: list[WaitingRecord] = field(default_factory=list)
    count: int = 0


@dataclass
class StoreDay:
    store_id: int
    exported: int = 0
    sent: int = 0
    confirmed: int = 0
    held: int = 0
    void: int = 0
    amounts: list[AmountRow] = field(default_factory=list)
    amounts_missing: list[str] = field(default_factory=list)  # sent, but no checkpoint says
    oldest_pending: WaitingRecord | None = None
    oldest_pending_hours: float | None = None
    waiting: list[CauseAdvice] = field(default_factory=list)


@dataclass
class Digest:
    recipe: str
    day: date
    timezone: str
    start_utc: str
    end_utc: str
    generated_at: str
    stores: list[StoreDay]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        for store, raw in zip(self.stores, data["stores"], strict=True):
            raw["amounts"] = [{"currency": a.currency, "tax_code": a.tax_code,
                               "transaction_type": a.transaction_type,
                               "documents": a.documents, "net": f"{a.net:.2f}",
                               "tax": f"{a.tax:.2f}", "gross": f"{a.gross:.2f}"}
                              for a in store.amounts]
        return data


def day_bounds(day: date, recipe: Recipe) -> tuple[str, str]:
    """The UTC text bounds [start, end) of a calendar day in the recipe's zone."""
    zone = recipe.zone
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def yesterday(recipe: Recipe, now: datetime | None = None) -> date:
    return ((now or datetime.now(UTC)).astimezone(recipe.zone) - timedelta(days=1)).date()


def build_digest(recipe: Recipe, ledger: Ledger, day: date, *, now: datetime | None = None,
                 store: int | None = None) -> Digest:
    moment = now or datetime.now(UTC)
    start, end = day_bounds(day, recipe)
    stores: dict[int, StoreDay] = {}

    def of(store_id: int) -> StoreDay:
        return stores.setdefault(store_id, StoreDay(store_id))

    db = ledger.db
    for store_id, count in db.execute("SELECT store_id, count(*) FROM records WHERE "
                                      "created_at >= ? AND created_at < ? GROUP BY store_id",
                                      (start, end)):
        of(store_id).exported = count
    for store_id, event, count in db.execute(
            "SELECT store_id, event, count(DISTINCT entity_type || ':' || entity_id) FROM events "
            "WHERE at >= ? AND at < ? AND event IN ('sent','confirmed','held','void') "
            "GROUP BY store_id, event", (start, end)):
        setattr(of(store_id), event, count)
    _amounts(recipe, ledger, start, end, of)
    _waiting(recipe, ledger, moment, of)
    chosen = [stores[s] for s in sorted(stores) if store is None or s == store]
    if store is not None and not chosen:
        chosen = [StoreDay(store)]
    return Digest(recipe.name, day, recipe.sage.timezone, start, end,
                  moment.strftime("%Y-%m-%dT%H:%M:%SZ"), chosen)


def _amounts(recipe: Recipe, ledger: Ledger, start: str, end: str, of: Any) -> None:
    """Sum the splits of every delivery made that day (a record sent twice counts twice)."""
    by_run: dict[str, dict[RecordKey, str]] = {}  # run id -> key -> content hash sent
    # one pass: each sent event with its batch's run and the hash its plan sent (SQLite
    # indexes batch_records for the join itself)
    for entity_type, entity_id, store_id, run_id, content_hash in ledger.db.execute(
            "SELECT e.entity_type, e.entity_id, e.store_id, b.run_id, r.content_hash FROM events e "
            "LEFT JOIN batches b ON b.batch_id = CAST(substr(e.detail, 7, instr(e.detail, ':') "
            "- 7) AS INTEGER) LEFT JOIN batch_records r ON r.batch_id = b.batch_id AND "
            "r.entity_type = e.entity_type AND r.entity_id = e.entity_id AND "
            "r.store_id = e.store_id WHERE e.event = 'sent' AND e.at >= ? AND e.at < ? "
            "AND e.detail LIKE 'batch %:%' ORDER BY e.id", (start, end)):
        key = RecordKey(entity_type, entity_id, store_id)
        if run_id is None:
            of(store_id).amounts_missing.append(f"{key} (no batch recorded)")
            continue
        by_run.setdefault(run_id, {})[key] = content_hash or ""
    totals: dict[tuple[int, str, str, str], AmountRow] = {}
    counted: dict[tuple[int, str, str, str], set[str]] = {}
    for run_id, wanted in by_run.items():
        left = dict(wanted)
        for checkpoint in _documents_checkpoints(recipe.state_dir, run_id):
            if not left:
                break
            try:
                found = _splits(checkpoint, left)
            except DamagedCheckpointError:  # its documents are listed as missing below
                continue
            for key, rows in found.items():
                left.pop(key, None)
                for currency, tax_code, kind, net, tax in rows:
                    group = (key.store_id, currency, tax_code, kind)
                    row = totals.setdefault(group, AmountRow(currency, tax_code, kind))
                    row.net += net
                    row.tax += tax
                    counted.setdefault(group, set()).add(str(key))
        for key in left:
            of(key.store_id).amounts_missing.append(
                f"{key} (the checkpoint of run {run_id} that sent it is gone or damaged)")
    for group, row in sorted(totals.items()):
        row.documents = len(counted[group])
        of(group[0]).amounts.append(row)


def _documents_checkpoints(state_dir: Path, run_id: str) -> list[Checkpoint]:
    """The sage-documents checkpoints of a run (newest first), dry runs left out."""
    found: list[Checkpoint] = []
    folder = state_dir / "runs" / run_id
    if not folder.is_dir():
        return found
    for manifest in sorted(folder.glob("*/manifest.json"), reverse=True):
        try:
            checkpoint = open_checkpoint(manifest)
        except Exception:
            continue
        if checkpoint.kind == "sage-documents" and not checkpoint.dry_run:
            found.append(checkpoint)
    return found


def _splits(checkpoint: Checkpoint, wanted: dict[RecordKey, str]
            ) -> dict[RecordKey, list[tuple[str, str, str, Decimal, Decimal]]]:
    """(currency, tax code, Sage type, net, tax) of each split of the wanted documents that
    the checkpoint holds ready, with the content hash that was sent (any, if not known)."""
    names = {str(k): k for k in wanted}
    keys = pa.array(sorted(names))
    table = pq.read_table(checkpoint.table_file("documents"), columns=[
        "document_key", "currency_code", "transaction_type", "content_hash", "status"])
    documents = table.filter(pc.is_in(table["document_key"], value_set=keys)).to_pylist()
    chosen: dict[str, tuple[RecordKey, str, str]] = {}
    for doc in documents:
        key = names.get(doc["document_key"])
        if key is None or doc["status"] != "ready":
            continue
        if wanted[key] and doc["content_hash"] != wanted[key]:
            continue
        chosen[doc["document_key"]] = (key, doc["currency_code"] or "",
                                       doc["transaction_type"] or "")
    result: dict[RecordKey, list[tuple[str, str, str, Decimal, Decimal]]] = {}
    if not chosen:
        return result
    splits = pq.read_table(checkpoint.table_file("splits"), columns=[
        "document_key", "tax_code", "net_amount", "tax_amount", "transaction_type"])
    chosen_keys = pa.array(sorted(chosen))
    for split in splits.filter(pc.is_in(splits["document_key"],
                                        value_set=chosen_keys)).to_pylist():
        doc = chosen.get(split["document_key"])
        if doc is None:
            continue
        key, currency, kind = doc
        result.setdefault(key, []).append(
            (currency, split["tax_code"] or "", split["transaction_type"] or kind,
             split["net_amount"] or Decimal("0.00"), split["tax_amount"] or Decimal("0.00")))
    for key, _, _ in chosen.values():
        result.setdefault(key, [])
    return result


def _waiting(recipe: Recipe, ledger: Ledger, now: datetime, of: Any) -> None:
    """As of now: the oldest pending record and the records waiting for a person, per store,
    grouped by cause with the commands to fix them."""
    marks = ",".join("?" * len(PENDING))
    for store_id, type_, entity_id, increment, state, error, created in ledger.db.execute(
            f"SELECT store_id, entity_type, entity_id, increment_id, state, last_error, "
            f"min(created_at) FROM records WHERE state IN ({marks}) GROUP BY store_id",
            PENDING):
        day = of(store_id)
        day.oldest_pending = WaitingRecord(f"{type_}:{entity_id}@{store_id}", increment or "",
                                           "", state, created, "", error or "")
        moment = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        day.oldest_pending_hours = round((now - moment).total_seconds() / 3600, 1)
    rows = {str(r.key): r for r in ledger.rows(list(WAITING))}
    causes: dict[str, Hold] = {str(k): h for k, h in ledger.causes(("held", "needs_attention"))}
    per_store: dict[tuple[int, str], list[tuple[str, Hold]]] = {}
    for text, row in rows.items():
        hold = causes.get(text) or Hold("amended", {}, row.last_error or "")
        per_store.setdefault((row.key.store_id, row.state), []).append((text, hold))
    for (store_id, state), records in sorted(per_store.items()):
        for group in by_cause(records):
            keys = [k for k, _ in group.records]
            fix, commands = fix_commands(group.code, keys, recipe.path, state=state)
            title = "changed or cancelled in Magento after reaching Sage" \
                if state == "amended" else group.title
            of(store_id).waiting.append(CauseAdvice(
                state, group.code, title, fix, commands, count=group.count, records=[
                    _waiting_record(rows[k], h) for k, h in group.records[:LISTED]]))


def _waiting_record(row: Any, hold: Hold) -> WaitingRecord:
    return WaitingRecord(str(row.key), row.increment_id or "", row.order_increment_id or "",
                         row.state, row.updated_at, hold.code, hold.message)

