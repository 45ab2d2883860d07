"""The import-sage step: a Sage documents checkpoint -> Sage import files, delivered once.

Every ready document not yet delivered is rendered through the product's templates. A document
that breaks a template rule is held (with its reason in the ledger) and the rest go on. Files
are split at `max_lines_per_file` and the product's `max_bytes_per_file` without splitting a
document. The customers file sorts first, because Sage needs an account before it can post to
it (and takes only the new accounts that fit under the byte limit; the rest wait a run). A
product whose sales and credit notes import through files of their own (Sage 300's O/E orders
and O/E credit notes: `[file] transaction_types`) gets one documents file of each in the same
batch, each document in exactly one of them.

Nothing held in memory grows with the checkpoint but a few bytes per document (its place in
delivery order, as Arrow): the documents are read a window at a time in delivery order, from
the row groups that hold them (`_Tables`), judged and rendered; each chosen one's rows are
encoded once and appended to a spool in the step's folder, and its ledger fields, spool offset,
length and row count to an index beside it (`_Spool`). The files are planned from the index in
one pass, the plan goes into the ledger (a row per record) before the first file is written,
as before, and each file is streamed from its documents' spooled bytes.

Rendering and encoding a window (`render.encoded`) are pure, so a large import does them in a
worker process (`work_pool`) while this one judges the next windows against the ledger; the
outcomes are settled in window order, so numbering, holds and files are those of rendering
here. Only this process touches the ledger, the spool and the delivery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sagesync.delivery.base import Delivery
from sagesync.delivery.factory import delivery_for
from sagesync.delivery.folder import FolderDelivery
from sagesync.errors import TransientError, UsageError
from sagesync.ledger import DONE, BatchPlan, Ledger, RecordKey
from sagesync.model import holds
from sagesync.model.blackout import Closed, closed_at
from sagesync.model.holds import Hold
from sagesync.model.money import ZERO
from sagesync.model.schemas import SAGE_MONEY, SAGE_TABLES
from sagesync.pipeline import progress
from sagesync.pipeline.amounts import WindowAmounts
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter
from sagesync.pipeline.faults import crash_point
from sagesync.pipeline.tables import PLACE, OrderedTable, sorted_places
from sagesync.pipeline.work_pool import OrderedPool, default_workers
from sagesync.recipe import Recipe
from sagesync.render import Children, ColumnRenderer, FileSpec, load_spec, write_file
from sagesync.render.encoded import Encoded, EncodedDocument, RenderJob, render_encoded
from sagesync.render.writers import DocumentEncoder, file_ends, formula_error
from sagesync.sage import products
from sagesync.sage.products import Capabilities

KIND = "sage-import"
# What the step reads of a document in Python (its ledger record, its outcome, its amount
# check, its spool row): the renderer reads the rest from Arrow. A money or date column turned
# into Python objects costs 1 to 2 us a document for nothing (14.8 against 4.5 us a document).
_READ = ("document_key", "entity_type", "entity_id", "store_id", "order_id",
         "order_increment_id", "increment_id", "transaction_type", "account_ref", "grand_total",
         "content_hash", "hold_reason", "skip_reason")
# Recipe accounts every document's rows may name as fields, though no split carries them: the
# receivables (debtors) control account of a header, the tax account of a tax row (Sage 50
# US's Accounts Receivable Account and its sales-tax distributions). Read from the recipe at
# import, as the templates are.
MAPPING_FIELDS = ("receivables_nominal", "tax_nominal")
Rows = list[Sequence[str]]
# What the spool's index keeps of a document to deliver, until its batch is planned (the
# ledger's record, the summary lines, its account).
_KEPT = ("entity_type", "entity_id", "store_id", "content_hash", "increment_id", "account_ref")
# Documents read, rendered and spooled at a time: memory grows with this, not the checkpoint
# (2,000 took 5 MB more, for no speed).
WINDOW = 1000
# Rendering and encoding (a third of the import) go to a worker process beside this one for
# an import of more documents than this (a worker's start-up, some 0.5 s, must pay off).
# While RENDER_BACKLOG windows wait in the worker the next is rendered here; at most
# RENDERS_IN_FLIGHT are in flight (each holds its documents: some 3 MB). Measured at 50,000
# and 200,000 documents: a backlog of 1 left half the windows here; 3 (of 6) gained nothing.
PARALLEL_AFTER_DOCUMENTS = 20_000
RENDER_BACKLOG = 2
RENDERS_IN_FLIGHT = 4
# The spool of encoded document rows and its index, in the step's checkpoint folder (removed at
# the end).
SPOOL = "documents.spool"
INDEX = "documents.spool-index"
# Bytes read from the spool at a time when streaming a file.
_CHUNK = 1 << 20


@dataclass
class ImportResult:
    manifest: Path
    files: list[str] = field(default_factory=list)  # where each delivered file landed
    delivered: int = 0
    already_sent: int = 0
    held: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # nothing to post (zero total)
    needs_attention: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    void: list[str] = field(default_factory=list)  # cancelled in Magento: never delivered
    warnings: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    worker_renders: int = 0  # windows rendered in worker processes (work_pool)
    totals: dict[str, Decimal] = field(default_factory=dict)
    #: what `totals` add up: net + tax, or the net alone where Sage computes the tax (the
    #: files carry none, so they reconcile with Magento net of tax)
    totals_basis: str = "net + tax"
    #: each delivered file's sha256 by name, taken as its bytes went out
    hashes: dict[str, str] = field(default_factory=dict)
    #: Sage is inside a blackout window: nothing was delivered, everything stays queued
    blackout: Closed | None = None


def utc_now() -> datetime:
    """The clock the blackout check reads (tests pass `now` instead)."""
    return datetime.now(UTC)


def _key(doc: dict[str, Any]) -> RecordKey:
    return RecordKey(doc["entity_type"], doc["entity_id"], doc["store_id"])


def recover(ledger: Ledger, delivery: Delivery) -> list[str]:
    """Finish a batch a crash interrupted, from its delivery journal and the folder: a file
    journaled as renamed, or journaled complete and now in the folder, was delivered (even if
    collected since); one never journaled was not, even when a file of its name is in the
    folder (another writer's: nothing of ours is renamed before the journal says complete), nor
    one still under its temporary name (its documents stay queued);
    one journaled complete whose temporary name is gone, and not in the folder, was renamed and
    collected before the journal knew: it may be in Sage, so its documents wait for a person
    rather than risk posting them twice. Temporary files are removed afterwards."""
    notes = []
    for batch_id, plan in ledger.unfinished_batches():
        files = [str(f) for f in plan.get("files", [])]
        journal = ledger.file_journal(batch_id)
        delivered = {f for f in files if journal.get(f) == "renamed"
                     or (journal.get(f) == "ready" and delivery.landed(f))}
        uncertain = {f for f in files if f not in delivered and journal.get(f) == "ready"
                     and not delivery.pending(f)}
        sent = ledger.finish_batch(batch_id, delivered, uncertain)
        collected = sum(1 for f in delivered if not delivery.landed(f))
        notes.append(f"batch {batch_id} was interrupted: {len(delivered)} of {len(files)} files "
                     f"had been delivered ({sent} documents recorded as sent"
                     + (f", {collected} files already collected" if collected else "")
                     + "); the rest stays queued")
        planned = ledger.planned_counts(batch_id) if uncertain else {}
        for file in sorted(uncertain):
            held = planned.get(file, 0)
            accounts = (" and the customer accounts in it count as delivered (check Sage has "
                        "them)" if file == plan.get("accounts_file") else "")
            notes.append(f"batch {batch_id} file {Path(file).name} may have reached Sage: it was "
                         "renamed into place and collected before the ledger recorded it; its "
                         f"{held} documents need attention (see `sagesync status`){accounts}")
        for file in files:  # only now: a temporary name is evidence until the batch is closed
            with suppress(OSError):  # a leftover one is hidden and harmless
                delivery.discard_pending(file)
    delivery.remove_temporaries()
    return notes


Decision = tuple[str, "Hold | str | None"]  # (outcome, reason), one per document
_FALSE = pa.scalar(False, pa.bool_())  # typed: an untyped scalar costs some 100 µs (amounts.py)
_CREDIT_MEMO = pa.scalar("creditmemo", pa.string())


def _rows_at(table: pa.Table, names: Sequence[str], positions: list[int]
             ) -> list[dict[str, Any]]:
    """The `names` columns of the rows at `positions`, as dicts (the few read whole)."""
    return table.select(names).take(pa.array(positions, pa.int64())).to_pylist()


def _decide(documents: pa.Table, amounts: WindowAmounts, at: list[int], ledger: Ledger,
            dry_run: bool) -> list[Decision]:
    """What becomes of each document (rows `at` of the window `amounts` checked): "render"
    for the ones to deliver now, else why not. The columns it reads are taken as lists (on a
    window of 1,000 rows Arrow's cost per call exceeds the work): only a document held or
    skipped for a reason of its own, or whose amounts fail a check, is read whole. Records the
    ledger does not know yet (a checkpoint from a dry transform) join it."""
    names = [n for n in _READ if n in documents.column_names]
    columns = {n: documents[n].to_pylist() for n in (
        "entity_type", "entity_id", "store_id", "content_hash", "hold_reason", "skip_reason")
        if n in names}
    skips = columns.get("skip_reason") or [None] * documents.num_rows
    states, hashes = ledger.states_in_order(columns["entity_type"], columns["entity_id"],
                                            columns["store_id"])
    counts, flagged = amounts.count, amounts.flagged
    decisions: list[Decision] = []
    explained: list[int] = []  # documents whose reason is read whole
    unknown: list[int] = []
    for n, (state, known, own, hold, skip) in enumerate(zip(
            states, hashes, columns["content_hash"], columns["hold_reason"], skips,
            strict=True)):
        if state is None:
            unknown.append(n)
            state, known = "queued", own
        if state in DONE:
            decisions.append(("sent", None))
        elif state in ("needs_attention", "void"):
            decisions.append((state, None))
        elif hold or state == "held":
            decisions.append(("held", hold or "on hold in the ledger"))
        elif skip or state == "skipped" or not counts[at[n]]:
            decisions.append(("skipped", skip or "nothing to post"))
        elif known != own:
            decisions.append(("stale", None))
        elif flagged[at[n]]:
            decisions.append(("render", None))
            explained.append(n)
        else:
            decisions.append(("render", None))
    if explained:
        for n, doc in zip(explained, _rows_at(documents, names, explained), strict=True):
            problem = amounts.problem(doc)
            if problem is not None:
                decisions[n] = ("invalid", problem)
    if unknown and not dry_run:
        ledger.ensure_records([(_key(d), d["content_hash"], d["increment_id"], d["order_id"],
                                d["order_increment_id"]) for d in _rows_at(documents, names,
                                                                           unknown)
                               if not d["hold_reason"] and not d.get("skip_reason")])
    return decisions


def _settle(rendering: _Rendering, encoded: Encoded, ledger: Ledger, result: ImportResult,
            dry_run: bool) -> tuple[list[int], list[EncodedDocument]]:
    """The documents to deliver now (their rows in `rendering.documents`) and their encoded
    rows (`encoded` holds those decided "render", in order); the rest are counted and
    explained, in document order."""
    rendered = iter(enumerate(encoded.documents))
    chosen: list[int] = []
    own: list[EncodedDocument] = []
    left: list[tuple[int, str, Hold | str | None]] = []
    for n, (outcome, reason) in enumerate(rendering.decisions):
        if outcome == "sent":  # counted, never named: a rerun reads none of them
            result.already_sent += 1
            continue
        if outcome == "render":
            position, document = next(rendered)
            if document is not None:
                chosen.append(n)
                own.append(document)
                continue
            outcome, reason = "invalid", holds.recognise(encoded.held[position])  # a rule
        left.append((n, outcome, reason))
    if left:
        rows = _rows_at(rendering.documents, ["entity_type", "entity_id", "store_id",
                                              "increment_id"], [n for n, _, _ in left])
        for (_, outcome, reason), doc in zip(left, rows, strict=True):
            key = _key(doc)
            label = f"{key} ({doc['increment_id']})"
            if outcome == "needs_attention":
                result.needs_attention.append(label)
            elif outcome == "void":
                result.void.append(label)
            elif outcome == "skipped":
                result.skipped.append(f"{label}: {reason}")
            elif outcome == "stale":
                result.stale.append(label)
            else:  # held, or invalid: its amounts or a template rule
                result.held.append(f"{label}: {reason}")
                if outcome == "invalid" and not dry_run:
                    ledger.hold_for_validation(key, reason or "")
    result.warnings.extend(encoded.warnings)
    return chosen, own


def _delivery_places(file: pq.ParquetFile, sale_type: str) -> tuple[pa.Array, pa.Array]:
    """The documents' keys and each one's place in delivery order: sales first, then by entity
    type and id, stored order breaking ties (four columns of the documents table are read)."""
    table = file.read(columns=["document_key", "transaction_type", "entity_type", "entity_id"],
                      use_threads=False)
    later = pc.fill_null(pc.not_equal(table["transaction_type"], pa.scalar(sale_type)), True)
    places = sorted_places(pa.table({"later": later, "type": table["entity_type"],
                                     "id": table["entity_id"]}))
    return table["document_key"].combine_chunks(), places


def _child_places(file: pq.ParquetFile, keys: pa.Array, places: pa.Array) -> pa.Array:
    """The place of each row's document (null: no such document), from the table's
    document_key column read a row group at a time and looked up in batches about as long as
    the documents table (each lookup hashes every document key once)."""
    found: list[pa.Array] = []
    pending: list[pa.ChunkedArray] = []
    size, step = 0, max(len(keys), 1 << 16)

    def lookup() -> None:
        positions = pc.index_in(pa.chunked_array([c for p in pending for c in p.chunks],
                                                 pa.string()), value_set=keys)
        found.extend(pc.take(places, positions).chunks)

    for number in range(file.metadata.num_row_groups):
        pending.append(file.read_row_group(number, columns=["document_key"],
                                           use_threads=False).column(0))
        size += len(pending[-1])
        if size >= step:
            lookup()
            pending, size = [], 0
    if pending:
        lookup()
    return pa.chunked_array(found, pa.int32()).combine_chunks()


class _Tables:
    """The sage-documents checkpoint in delivery order, a window of documents at a time.

    What stays in memory is a place per document and per child row (a few bytes each, Arrow);
    a window's documents and their splits and lines are read from the row groups that hold
    them (`OrderedTable`), so memory does not grow with the checkpoint. `taxes` rows are derived
    from a window's splits; `fields` are constant columns added to every window's documents."""

    def __init__(self, checkpoint: Checkpoint, needs: set[str], sale_type: str,
                 fields: Mapping[str, str] | None = None) -> None:
        self.needs = sorted(needs)
        self.fields = dict(fields or {})
        file = pq.ParquetFile(checkpoint.table_file("documents"))
        self.columns: list[str] = [*file.schema_arrow.names,
                                   *(f for f in self.fields if f not in file.schema_arrow.names)]
        keys, places = _delivery_places(file, sale_type)
        self.count = len(places)
        self.documents = OrderedTable(file, places, file.schema_arrow)
        self.children: dict[str, OrderedTable] = {}
        for name in sorted({*needs, "splits"} - {"taxes"}):
            if name in checkpoint.manifest.get("tables", {}):  # `lines` is newer than some
                child = pq.ParquetFile(checkpoint.table_file(name))
                self.children[name] = OrderedTable(child, _child_places(child, keys, places),
                                                   child.schema_arrow)
            else:
                self.children[name] = OrderedTable(None, pa.array([], pa.int32()),
                                                   SAGE_TABLES[name])

    def window(self, first: int, end: int) -> _Window:
        """The documents at places first..end-1 and their child rows."""
        children = {name: table.rows(first, end) for name, table in self.children.items()}
        if "taxes" in self.needs:
            children["taxes"] = _taxes(children["splits"])
        return _Window(with_fields(self.documents.rows(first, end).drop_columns([PLACE]),
                                   self.fields),
                       {name: table.drop_columns([PLACE]) for name, table in children.items()},
                       self.needs)


@dataclass
class _Window:
    """A window's documents in delivery order, and each child table's rows in the same order
    (a document's rows together, in their stored order)."""

    documents: pa.Table
    children: dict[str, pa.Table]
    needs: list[str]

    def batch(self, positions: list[int]) -> tuple[pa.Table, dict[str, Children]]:
        """The documents at `positions` of the window (in that order) and their child rows."""
        documents = self.documents.take(pa.array(positions, pa.int64()))
        keys = documents.column("document_key")
        children = {}
        for name in self.needs:
            table = self.children[name]
            group = pc.index_in(table.column("document_key"), value_set=keys)
            present = pc.indices_nonzero(group.is_valid())
            groups = pc.take(group, present)
            order = pc.sort_indices(groups)  # stable: a document's rows keep their order
            children[name] = Children(table.take(pc.take(present, order)),
                                      pc.take(groups, order).to_pylist())
        return documents, children


def with_fields(table: pa.Table, fields: Mapping[str, str]) -> pa.Table:
    """The recipe's constant template fields (`[sage] fields` over the product's defaults) as
    a column each, so a template names one like any other field of its row."""
    for name, value in fields.items():
        if name not in table.column_names:
            table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
    return table


def _taxes(splits: pa.Table) -> pa.Table:
    """The `taxes` rows of the documents: per document, one row per tax code its own splits
    carry tax under (a split posted as the other type is not the document's), with the net
    and the tax summed in cents, in the order the codes first appear (Sage 50 US writes sales
    tax as one distribution per agency). The splits carry their document's place (PLACE):
    the rows come in delivery order."""
    own = splits.filter(pc.is_null(splits.column("transaction_type")))
    summed = own.group_by(["document_key", "tax_code"], use_threads=False).aggregate(
        [("split_no", "min"), ("net_amount", "sum"), ("tax_amount", "sum"), (PLACE, "min")])
    summed = summed.filter(pc.not_equal(summed.column("tax_amount_sum"),
                                        pa.scalar(ZERO, summed.column("tax_amount_sum").type)))
    ordered = summed.sort_by([(f"{PLACE}_min", "ascending"), ("split_no_min", "ascending")])
    return pa.table({"document_key": ordered.column("document_key"),
                     "tax_code": ordered.column("tax_code"),
                     "net_amount": ordered.column("net_amount_sum").cast(SAGE_MONEY),
                     "tax_amount": ordered.column("tax_amount_sum").cast(SAGE_MONEY),
                     PLACE: ordered.column(f"{PLACE}_min")})


# A chosen document's row in the spool's index: its _KEPT fields, then where its rows are.
_INDEX = pa.schema([("entity_type", pa.string()), ("entity_id", pa.int64()),
                    ("store_id", pa.int64()), ("content_hash", pa.string()),
                    ("increment_id", pa.string()), ("account_ref", pa.string()),
                    ("offset", pa.int64()), ("length", pa.int64()), ("rows", pa.int64()),
                    ("running_row", pa.int64()), ("running_cell", pa.string())])


class _Spool:
    """The documents chosen for delivery, on disk until their batch is planned and written:
    each one's encoded rows appended to SPOOL, and a row of INDEX (Arrow IPC, a record batch
    per window) with its ledger fields, where its bytes are, its row count and its first cell
    that would run as a formula. In memory stay the totals per transaction type, apart per
    account for documents whose account is new (it may yet fail to be written, holding them),
    and the size of each record batch."""

    def __init__(self, folder: Path, new_accounts: Collection[str], stem: str = "") -> None:
        self.folder = folder
        # a product writing several documents files spools each apart (`stem` tells them apart)
        self.names = (f"{stem}{SPOOL}", f"{stem}{INDEX}")
        self.bytes: BinaryIO = (folder / self.names[0]).open("w+b")
        self.new_accounts = new_accounts  # references of accounts not yet in Sage
        self.count = 0
        self.totals: dict[str, Decimal] = {}
        self.new_totals: dict[str, dict[str, Decimal]] = {}
        self._writer: pa.ipc.RecordBatchFileWriter | None = pa.ipc.new_file(
            str(folder / self.names[1]), _INDEX)
        self._kept: list[pa.Table] = []
        self._rows: dict[str, list[Any]] = {name: [] for name in _INDEX.names
                                            if name not in _KEPT}
        self.size = 0  # bytes spooled so far: the next document's offset
        self._batches: list[tuple[int, int]] = []  # (first index row, rows) per record batch
        self._source: pa.OSFile | None = None
        self._reader: pa.ipc.RecordBatchFileReader | None = None

    def add(self, chosen: pa.Table, encoded: Sequence[EncodedDocument],
            booked: pa.Table) -> None:
        """A window's chosen documents, in order (their _KEPT columns and document_key), each
        with its encoded rows; `booked`: what documents add to the totals per transaction type
        (WindowAmounts.booked, in cents), these among them. Column by column and in one write:
        the import's caller spent 14 µs a document on them one at a time."""
        if not chosen.num_rows:
            return
        self._kept.append(chosen.select(list(_KEPT)))
        columns = self._rows
        lengths = [len(own.data) for own in encoded]
        columns["offset"].extend(accumulate(lengths[:-1], initial=self.size))
        columns["length"].extend(lengths)
        columns["rows"].extend([own.rows for own in encoded])
        columns["running_row"].extend([own.running and own.running[0] for own in encoded])
        columns["running_cell"].extend([own.running and own.running[1] for own in encoded])
        self.bytes.write(b"".join([own.data for own in encoded]))
        self.size += sum(lengths)
        self.count += chosen.num_rows
        refs = dict(zip(chosen["document_key"].to_pylist(), chosen["account_ref"].to_pylist(),
                        strict=True))
        new = self.new_accounts
        for ref in refs.values():
            if ref in new:
                self.new_totals.setdefault(ref, {})
        totals = self.totals
        for key, kind, cents in zip(*(booked[n].to_pylist() for n in ("document_key", "kind",
                                                                      "booked")), strict=True):
            if key in refs:
                ref = refs[key]
                into = self.new_totals[ref] if ref in new else totals
                into[kind] = into.get(kind, ZERO) + Decimal(cents).scaleb(-2)

    def flush(self) -> None:
        """The documents added since the last flush become a record batch of the index."""
        rows = len(self._rows["offset"])
        if rows and self._writer is not None:
            kept = pa.concat_tables(self._kept)
            self._writer.write_batch(pa.record_batch(
                [*(kept[name].combine_chunks().cast(_INDEX.field(name).type)
                   for name in _KEPT), *self._rows.values()], schema=_INDEX))
            self._batches.append((self.count - rows, rows))
            self._kept.clear()
            for column in self._rows.values():
                column.clear()

    def seal(self) -> None:
        """Every document is added: the spool and the index are complete and can be read."""
        self.flush()
        self.bytes.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._source = pa.OSFile(str(self.folder / self.names[1]))
        self._reader = pa.ipc.open_file(self._source)

    def read(self, columns: Sequence[str], first: int = 0, end: int | None = None
             ) -> Iterator[tuple[Any, ...]]:
        """The `columns` of index rows first..end-1, a record batch at a time."""
        assert self._reader is not None, "seal() the spool first"
        end = self.count if end is None else end
        for number, (start, rows) in enumerate(self._batches):
            if start + rows <= first or start >= end:
                continue
            batch = self._reader.get_batch(number).slice(max(first - start, 0))
            batch = batch.slice(0, end - max(first, start))
            yield from zip(*(batch.column(n).to_pylist() for n in columns), strict=True)

    def spans(self, first: int, end: int, dropped: set[str]) -> Iterator[tuple[int, int]]:
        """(offset, length) in the spool of index rows first..end-1, but a dropped account's."""
        for offset, length, ref in self.read(("offset", "length", "account_ref"), first, end):
            if ref not in dropped:
                yield offset, length

    def close(self) -> None:
        """Close and remove the spool and its index."""
        if self._writer is not None:
            with suppress(Exception):  # removed anyway
                self._writer.close()
        self._reader = None
        if self._source is not None:
            self._source.close()
        self.bytes.close()
        for name in self.names:
            (self.folder / name).unlink(missing_ok=True)


def import_sage(recipe: Recipe, documents: Checkpoint, ledger: Ledger, run_id: str, *,
                out_dir: Path | None, dry_run: bool, now: datetime | None = None,
                delivery: Delivery | None = None, workers: int | None = None) -> ImportResult:
    """Render and deliver the queued documents (see the module docstring). Inside one of
    Sage's blackout windows (at `now`, default the clock) nothing is rendered or delivered and
    `result.blackout` says until when; a dry run previews regardless and never connects.
    `delivery` replaces the recipe's (tests). `workers`: the most processes rendering beside
    this one (default: one core fewer than the machine has); they start only for more than
    PARALLEL_AFTER_DOCUMENTS documents."""
    destination = delivery or delivery_for(recipe.delivery, out_dir)
    writer = CheckpointWriter(recipe.state_dir, run_id, "import-sage", KIND, recipe,
                              [documents.path], dry_run=dry_run)
    result = ImportResult(manifest=Path())
    closed = closed_at(recipe.sage.blackout, now or utc_now(), recipe.zone)
    if closed is not None and not dry_run:
        result.blackout = closed
        result.manifest = writer.finish(summary={
            "delivered": 0, "dry_run": False, "blackout": closed.window.text,
            "resumes_at": closed.resumes.strftime("%Y-%m-%dT%H:%M:%SZ")})
        return result
    try:
        return _import(recipe, documents, ledger, writer, result, destination, dry_run,
                       workers)
    finally:
        destination.close()


def _import(recipe: Recipe, documents: Checkpoint, ledger: Ledger, writer: CheckpointWriter,
            result: ImportResult, destination: Delivery, dry_run: bool,
            workers: int | None) -> ImportResult:
    if not dry_run:
        destination.prepare()
        result.recovered = recover(ledger, destination)
    product = products.get(recipe.sage.product, recipe.sage.region)
    capabilities = product.capabilities
    specs = {name: spec for name in product.templates
             if (spec := load_spec(product.key, name, recipe.sage.templates, recipe.sage.region))
             .serves(recipe.sage.post_from)}
    numbers = {name: n for n, name in enumerate(product.templates, start=1)}
    account_spec = next((spec for spec in specs.values() if spec.for_accounts), None)
    document_specs = _document_specs(product.key, specs, capabilities)
    tables = _Tables(documents, set().union(*(s.child_rows for s in document_specs)),
                     capabilities.sale_type,
                     {**{name: getattr(recipe.mapping, name) for name in MAPPING_FIELDS},
                      **recipe.sage.fields})
    net_only = capabilities.sage_computes_tax
    result.totals_basis = "net (Sage computes the tax)" if net_only else "net + tax"
    accounts = _Accounts(documents, ledger if account_spec is not None else None,
                         recipe.sage.fields)
    outs = [_DocumentsFile(numbers[spec.name], spec,
                           _Spool(writer.folder, accounts.new,
                                  "" if n == 0 else f"{spec.name}-"))
            for n, spec in enumerate(document_specs)]
    applied = _AppliedInvoices(ledger, recipe.sage.post_from)
    if workers is None:
        workers = default_workers()
    if tables.count <= PARALLEL_AFTER_DOCUMENTS:
        workers = 0
    renders: OrderedPool[_Rendering, RenderJob, Encoded] = OrderedPool(
        render_encoded, workers, start_after=0, backlog=RENDER_BACKLOG, limit=RENDERS_IN_FLIGHT,
        folder=writer.folder)

    def settle(done: list[tuple[_Rendering, Encoded]]) -> None:
        for rendering, encoded in done:
            chosen, own = _settle(rendering, encoded, ledger, result, dry_run)
            spool = rendering.out.spool
            kept = rendering.documents.select([*_KEPT, "document_key"])
            if len(chosen) < kept.num_rows:
                kept = kept.take(pa.array(chosen, pa.int64()))
            spool.add(kept, own, rendering.amounts.booked)
            spool.flush()

    try:
        for first in range(0, tables.count, WINDOW):
            window = tables.window(first, min(first + WINDOW, tables.count))
            window.documents = table = applied.add_to(window.documents)
            amounts = WindowAmounts(window.children["splits"], table, capabilities,
                                    recipe.sage.negative_amounts, net_only)
            types = table["transaction_type"].to_pylist()
            files = {t: next((n for n, out in enumerate(outs) if out.spec.takes(t or "")), 0)
                     for t in set(types)}
            for n, out in enumerate(outs):
                picked = [i for i, t in enumerate(types) if files[t] == n]
                if not picked:
                    continue
                mine = table if len(picked) == len(types) else table.take(
                    pa.array(picked, pa.int64()))
                decisions = _decide(mine, amounts, picked, ledger, dry_run)
                batch = [picked[i] for i, (outcome, _) in enumerate(decisions)
                         if outcome == "render"]
                renders.put(_Rendering(out, mine, decisions, amounts), RenderJob(
                    out.spec, recipe.sage.encoding, capabilities.max_lines_per_document,
                    *window.batch(batch), first_document_no=out.numbered + 1))
                out.numbered += len(batch)
                settle(renders.ready())
            progress.advance("import-sage", len(types), total=tables.count, unit="documents")
        settle(renders.drain())
        for out in outs:
            out.spool.seal()
        new_accounts = _deliver(recipe, ledger, writer, destination, result, outs, accounts,
                                dry_run, (numbers[account_spec.name], account_spec)
                                if account_spec else None)
    finally:
        result.worker_renders = renders.submitted
        renders.close()
        for out in outs:
            out.spool.close()
    result.manifest = writer.finish(
        summary={"delivered": result.delivered, "already_sent": result.already_sent,
                 "held": len(result.held), "needs_attention": len(result.needs_attention),
                 "skipped": len(result.skipped),
                 "dry_run": dry_run, "new_accounts": new_accounts,
                 "totals": {k: str(v) for k, v in result.totals.items()},
                 "totals_basis": result.totals_basis},
        files=dict(delivered_hashes(result)))
    return result


@dataclass
class _DocumentsFile:
    """A documents template written for the recipe's post_from, and the spool of the chosen
    documents of the types it takes: a product may write its sales and its credit notes to
    files of their own (Sage 300's O/E orders and O/E credit notes), delivered in one batch."""

    number: int  # its place among the product's templates, in the file name
    spec: FileSpec
    spool: _Spool
    numbered: int = 0  # documents rendered so far: document_no runs on across windows


@dataclass
class _Rendering:
    """A window's documents of one file, sent to be rendered: what settles them after."""

    out: _DocumentsFile
    documents: pa.Table  # the window's documents of this file, in order
    decisions: list[Decision]
    amounts: WindowAmounts


class _AppliedInvoices:
    """`applied_invoice`, the invoice a credit memo is applied to in Sage (Sage 300's
    INVNUMBER): the Sage invoice number the ledger holds from `ack` for the credit memo's
    invoice (or, posting from orders, its order), else the Magento invoice's increment id
    (from the transform, else the ledger's record of the invoice); empty when none is known."""

    def __init__(self, ledger: Ledger, post_from: str) -> None:
        self.ledger = ledger
        self.post_from = post_from

    def add_to(self, documents: pa.Table) -> pa.Table:
        if "invoice_id" not in documents.column_names:  # a checkpoint older than the field
            return documents
        memos = pc.indices_nonzero(pc.fill_null(pc.equal(documents["entity_type"],
                                                         _CREDIT_MEMO), _FALSE))
        found: list[str | None] = [None] * documents.num_rows
        if len(memos):
            rows = documents.select(["invoice_id", "order_id", "store_id",
                                     "invoice_increment_id"]).take(memos).to_pylist()
            wanted = {RecordKey("invoice", r["invoice_id"], r["store_id"]) for r in rows
                      if r["invoice_id"] is not None}
            if self.post_from == "orders":
                wanted |= {RecordKey("order", r["order_id"], r["store_id"]) for r in rows
                           if r["order_id"] is not None}
            known = self.ledger.invoice_refs(sorted(wanted)) if wanted else {}
            for n, row in zip(memos.to_pylist(), rows, strict=True):
                found[n] = self._of(known, row)
        return documents.append_column("applied_invoice", pa.array(found, pa.string()))

    @staticmethod
    def _of(known: dict[RecordKey, tuple[str | None, str | None]],
            row: dict[str, Any]) -> str | None:
        # `known` holds only the keys add_to asked for: an order's only when posting from
        # orders, and no key of a missing id
        invoice = known.get(RecordKey("invoice", row["invoice_id"], row["store_id"]))
        order = known.get(RecordKey("order", row["order_id"], row["store_id"]))
        for record in (invoice, order):
            if record is not None and record[0]:
                return record[0]
        return row["invoice_increment_id"] or (invoice[1] if invoice is not None else None) \
            or None


class _Accounts:
    """The customer accounts of the documents checkpoint (reference -> customer key) and
    which are new to Sage: not yet delivered (only a product with an accounts file writes
    them; without a ledger to ask, none is new)."""

    def __init__(self, documents: Checkpoint, ledger: Ledger | None,
                 fields: Mapping[str, str]) -> None:
        table = with_fields(documents.table("accounts"), fields)
        self.table = table
        self.customer_keys: dict[str, str] = dict(zip(
            table.column("account_ref").to_pylist(), table.column("customer_key").to_pylist(),
            strict=True))
        delivered = ledger.delivered_accounts() if ledger is not None else None
        #: the references of the accounts not yet in Sage
        self.new = set() if delivered is None else {
            ref for ref, key in self.customer_keys.items() if key not in delivered}


def _deliver(recipe: Recipe, ledger: Ledger, writer: CheckpointWriter, destination: Delivery,
             result: ImportResult, outs: list[_DocumentsFile], accounts: _Accounts,
             dry_run: bool, account_spec: tuple[int, FileSpec] | None) -> int:
    """The new accounts, then the batch: planned in the ledger before any file is written,
    each file streamed from its spool. Returns how many new accounts were written."""
    spools = [out.spool for out in outs]
    account_rows: list[Rows] = []
    new_accounts = sorted({ref for spool in spools for ref in spool.new_totals})
    dropped: set[str] = set()  # new accounts that cannot be written: their documents wait
    waiting: dict[str, list[tuple[RecordKey, str]]] = defaultdict(list)
    if account_spec is not None:
        positions = {ref: i for i, ref in
                     enumerate(accounts.table.column("account_ref").to_pylist())}
        written = ColumnRenderer(account_spec[1], recipe.sage.encoding).render(
            accounts.table.take(pa.array([positions[r] for r in new_accounts], pa.int64())))
        reasons: dict[str, Hold] = {}
        for n, ref in enumerate(new_accounts):
            rows = written.rows[n]
            if rows is not None:
                account_rows.append(rows)
            else:  # Sage needs the account first
                reasons[ref] = holds.account_not_writable(account_ref=ref,
                                                          problem=written.held[n])
        new_accounts = [ref for ref in new_accounts if ref not in reasons]
        dropped = set(reasons)
        if dropped:
            for spool in spools:
                for kind, entity_id, store_id, increment, ref in spool.read(
                        ("entity_type", "entity_id", "store_id", "increment_id", "account_ref")):
                    if ref in dropped:
                        waiting[ref].append((RecordKey(kind, entity_id, store_id), increment))
        for ref in sorted(reasons):
            for key, increment in waiting[ref]:
                result.held.append(f"{key} ({increment}): {reasons[ref]}")
                if not dry_run:
                    ledger.hold_for_validation(key, reasons[ref])
        result.warnings.extend(written.warnings)
        later = _accounts_that_fit(recipe, account_spec[1], new_accounts, account_rows)
        if later:
            dropped |= later
            kept = sum(1 for spool in spools for (ref,) in spool.read(("account_ref",))
                       if ref in later)
            result.warnings.append(
                f"{kept} documents wait for the next run: their {len(later)} new customer "
                "accounts do not fit in this batch's accounts file (at most "
                f"{_capabilities(recipe).max_bytes_per_file} bytes)")
    count = sum(sum(1 for (ref,) in spool.read(("account_ref",)) if ref not in dropped)
                if dropped else spool.count for spool in spools)

    if count:
        batch_id = 0 if dry_run else ledger.begin_batch()
        stem = "PREVIEW" if dry_run else f"B{batch_id:06d}"
        header, encoding = recipe.sage.header_row, recipe.sage.encoding
        caps = _capabilities(recipe)
        plan_files: list[tuple[str, bytes | Iterable[bytes]]] = []
        if account_rows and account_spec is not None:
            accounts_number, accounts_spec = account_spec
            plan_files.append((f"{stem}-{accounts_number}-{accounts_spec.name}."
                               f"{accounts_spec.extension}",
                               write_file(accounts_spec, account_rows, header=header,
                                          encoding=encoding)))
        # per documents file: its parts (split between documents) and their file names
        planned: list[tuple[_Spool, list[tuple[int, int]], list[str]]] = []
        for out in outs:
            spool, spec = out.spool, out.spec
            head, tail = file_ends(spec, header=header, encoding=encoding)
            parts = _parts(spool, _line_limit(recipe.sage.max_lines_per_file,
                                              caps.max_lines_per_file),
                           dropped, spec, caps.max_bytes_per_file, len(head) + len(tail))
            names = [f"{stem}-{out.number}-{spec.name}"
                     f"{'' if len(parts) == 1 else f'-{n + 1:03d}'}.{spec.extension}"
                     for n in range(len(parts))]
            plan_files += [(name, _streamed(head, spool.spans(*part, dropped), tail,
                                            spool.bytes))
                           for name, part in zip(names, parts, strict=True)]
            planned.append((spool, parts, names))
        target = writer.folder / "preview"
        delivery: Delivery = FolderDelivery(target) if dry_run else destination
        locations = {name: delivery.location(name) for name, _ in plan_files}
        plan = BatchPlan(
            files=list(locations.values()),
            records=(record for spool, parts, names in planned for record in _planned(
                spool, parts, [locations[name] for name in names], dropped)),
            accounts=[accounts.customer_keys[r] for r in new_accounts],
            accounts_file=delivery.location(plan_files[0][0]) if account_rows else None)
        if dry_run:
            target.mkdir(parents=True, exist_ok=True)
        else:
            ledger.set_plan(batch_id, plan)
            crash_point("after-plan")
        try:
            for name, data in plan_files:
                file = delivery.location(name)

                def ready(file: str = file) -> None:  # complete, not yet renamed into place
                    if not dry_run:
                        ledger.journal_file(batch_id, file, "ready")
                    crash_point("before-rename")

                digest = _Digest(data)
                result.files.append(delivery.deliver(name, digest.chunks(), ready))
                result.hashes[name] = digest.hexdigest()
                if not dry_run:
                    crash_point("after-rename")  # the one window the journal cannot close
                    ledger.journal_file(batch_id, file, "renamed")
                crash_point("after-file")
        except TransientError as error:
            # What did land is recorded, so the rest is simply queued again; unless a rename's
            # outcome is unknown: the batch then stays open for recovery to ask the place.
            if not dry_run and not error.uncertain:
                ledger.finish_batch(batch_id, set(result.files))
            raise
        if not dry_run:
            crash_point("before-finish")
            ledger.finish_batch(batch_id, set(result.files))
            crash_point("after-finish")
        result.delivered = count
    totals: dict[str, Decimal] = {}
    for spool in spools:
        for ref, amounts in [("", spool.totals), *spool.new_totals.items()]:
            if ref not in dropped:
                for kind, amount in amounts.items():
                    totals[kind] = totals.get(kind, ZERO) + amount
    result.totals = totals
    return len(account_rows)


def _capabilities(recipe: Recipe) -> Capabilities:
    return products.get(recipe.sage.product, recipe.sage.region).capabilities


def _accounts_that_fit(recipe: Recipe, spec: FileSpec, new_accounts: list[str],
                       account_rows: list[Rows]) -> set[str]:
    """The new accounts left out of this batch when the accounts file has a byte limit (the
    product's max_bytes_per_file): those after the ones that fit in one file, in order. Their
    documents stay queued for the next run (never held), so a first run over a large store
    delivers in several batches rather than a file Sage refuses. `new_accounts` and
    `account_rows` are cut to what fits, in place."""
    limit = _capabilities(recipe).max_bytes_per_file
    if not limit or not account_rows:
        return set()
    head, tail = file_ends(spec, header=recipe.sage.header_row, encoding=recipe.sage.encoding)
    encoder = DocumentEncoder(spec, recipe.sage.encoding)
    size, fits = len(head) + len(tail), 0
    for rows in account_rows:
        size += len(encoder.encode(rows))
        if size > limit and fits:
            break
        fits += 1
    later = set(new_accounts[fits:])
    del new_accounts[fits:], account_rows[fits:]
    return later


def _line_limit(recipe_limit: int, product_limit: int) -> int:
    """Lines per file: the recipe's limit within the product's (0 is no limit)."""
    return min((n for n in (recipe_limit, product_limit) if n), default=0)


def _document_specs(product: str, specs: dict[str, FileSpec], caps: Capabilities
                    ) -> list[FileSpec]:
    """The product's documents templates written for the recipe's post_from: one, or one per
    set of document types (`[file] transaction_types`), each type taken by one file (the
    ledger plans one file per document)."""
    found = [spec for spec in specs.values() if not spec.for_accounts]
    takers = {kind: [s.name for s in found if s.takes(kind)] for kind in caps.transaction_types}
    wrong = {kind: names for kind, names in takers.items() if len(names) != 1}
    if not found:
        raise UsageError(f"{product}: expected one documents template among "
                         f"{', '.join(specs)}, found 0.")
    if len(found) > 1 and wrong:
        raise UsageError(f"{product}: expected one documents template among "
                         f"{', '.join(specs)}, or one per document type, found "
                         + ", ".join(f"{len(n)} for {k}" for k, n in wrong.items()) + ".")
    return found


def _parts(spool: _Spool, limit: int, dropped: set[str], spec: FileSpec, max_bytes: int = 0,
           overhead: int = 0) -> list[tuple[int, int]]:
    """The documents files, as ranges of the spool's index: at most `limit` rows and
    `max_bytes` bytes each, counting the `overhead` every file has (its heading rows; 0: no
    limit), never splitting a document, so one over a limit on its own has a file of its own.
    Documents of a `dropped` account are left out. A cell that would run as a formula stops
    the batch here, before the ledger plans it, as write_file would."""
    parts: list[tuple[int, int]] = []
    first: int | None = None
    lines, size = 0, overhead
    for n, (rows, length, running_row, running_cell_, ref) in enumerate(spool.read(
            ("rows", "length", "running_row", "running_cell", "account_ref"))):
        if ref in dropped:
            continue
        if first is None:
            first = n
        elif (limit and lines + rows > limit) or (max_bytes and size + length > max_bytes):
            parts.append((first, n))
            first, lines, size = n, 0, overhead
        if running_row is not None:
            raise formula_error(spec, lines + running_row + 1, running_cell_)
        lines += rows
        size += length
    if first is not None:
        parts.append((first, spool.count))
    return parts


def _planned(spool: _Spool, parts: list[tuple[int, int]], files: list[str], dropped: set[str]
             ) -> Iterator[tuple[RecordKey, str, str]]:
    """The batch plan's records (key, content hash, file), read from the spool's index."""
    for (first, end), file in zip(parts, files, strict=True):
        for kind, entity_id, store_id, content_hash, ref in spool.read(
                ("entity_type", "entity_id", "store_id", "content_hash", "account_ref"),
                first, end):
            if ref not in dropped:
                yield RecordKey(kind, entity_id, store_id), content_hash, file


def _streamed(head: bytes, spans: Iterable[tuple[int, int]], tail: bytes, spool: BinaryIO
              ) -> Iterator[bytes]:
    """A file's bytes in chunks: its head, its documents' spooled bytes (each span an offset
    and length; neighbours read together, up to _CHUNK at a time), its tail."""
    yield head
    start = length = -1
    for offset, size in spans:
        if offset == start + length and length < _CHUNK:
            length += size
            continue
        if length >= 0:
            spool.seek(start)
            yield spool.read(length)
        start, length = offset, size
    if length >= 0:
        spool.seek(start)
        yield spool.read(length)
    yield tail


class _Digest:
    """A file's sha256, taken from its chunks as they are delivered (a remote file cannot be
    read back to hash it for the manifest)."""

    def __init__(self, data: bytes | Iterable[bytes]) -> None:
        import hashlib

        self.data = data
        self._hash = hashlib.sha256()

    def chunks(self) -> Iterator[bytes]:
        for chunk in (self.data,) if isinstance(self.data, bytes | bytearray) else self.data:
            self._hash.update(chunk)
            yield chunk

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def delivered_hashes(result: ImportResult) -> list[tuple[str, tuple[str, str]]]:
    """(file name, (location, sha256)) of each delivered file, in delivery order."""
    found = []
    for location in result.files:
        name = location.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        found.append((name, (location, result.hashes.get(name, ""))))
    return found
