"""The transform step: a Magento export checkpoint -> a Sage documents checkpoint."""

from __future__ import annotations

import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.errors import DamagedCheckpointError, UsageError
from sagesync.ledger import Ledger, RecordKey
from sagesync.model import holds
from sagesync.model.holds import Hold
from sagesync.model.money import cents_of_units
from sagesync.model.schemas import (
    SAGE_ACCOUNTS,
    SAGE_DOCUMENTS,
    SAGE_LINES,
    SAGE_SPLITS,
    SAGE_TABLES,
)
from sagesync.pipeline import export_slices, progress
from sagesync.pipeline.checkpoint import (
    Checkpoint,
    CheckpointWriter,
    in_state_folder,
    open_checkpoint,
)
from sagesync.pipeline.export_slices import (
    LINES,
    POSITION,
    ExportPlan,
    ExportTables,
    Posting,
    ReadSlice,
    SliceJob,
    document_builder,
    read_slice,
    reading,
)
from sagesync.pipeline.postable import POSTED, posted_kinds
from sagesync.pipeline.read_ahead import read_ahead
from sagesync.pipeline.work_pool import OrderedPool, default_workers
from sagesync.recipe import Recipe
from sagesync.sage import products
from sagesync.transform import columnar
from sagesync.transform.accounts import AccountAllocator, customer_key
from sagesync.transform.billing import billing_columns
from sagesync.transform.documents import (
    DOCUMENT_CENTS,
    KIND_LABEL,
    LINE_CENTS,
    LINE_UNITS,
    PURPOSE_LABEL,
    SPLIT_CENTS,
    DocumentBuilder,
    SageDocument,
    document_columns,
    line_columns,
    split_columns,
)
from sagesync.transform.mapping import load_customer_accounts
from sagesync.transform.rows import typed_table

KIND = "sage-documents"


@dataclass
class TransformResult:
    manifest: Path
    documents: int = 0
    held: list[str] = field(default_factory=list)
    holds: dict[RecordKey, Hold] = field(default_factory=dict)  # each held record's cause
    warnings: list[str] = field(default_factory=list)
    new_accounts: int = 0
    worker_slices: int = 0  # slices read and posted in worker processes (work_pool)


def transform(recipe: Recipe, export: Checkpoint, ledger: Ledger | None, run_id: str,
              *, lookup: Ledger | None = None, use_columnar: bool = True,
              workers: int | None = None) -> TransformResult:
    """Build every Sage document of an export, plus the ledger's queued records that earlier
    exports hold, and write the sage-documents checkpoint. Without a ledger (dry run) nothing
    is remembered; `lookup`, a read-only ledger, still tells the accounts already known.
    `use_columnar=False` builds every document one at a time (the tests compare the two).
    `workers`: the most processes reading and posting slices beside this one (default: one
    core fewer, at most one); one starts only for more than PARALLEL_AFTER_SLICES slices."""
    caps = products.get(recipe.sage.product).capabilities
    builder = document_builder(recipe)
    allocator = AccountAllocator(recipe.mapping,
                                 load_customer_accounts(recipe.mapping.customers_csv, caps),
                                 known.account_refs() if (known := ledger or lookup) else {})
    writer = CheckpointWriter(recipe.state_dir, run_id, "transform", KIND, recipe, [export.path],
                              dry_run=ledger is None)
    for name, schema in SAGE_TABLES.items():
        writer.declare(name, schema)
    result = TransformResult(manifest=Path())
    account_rows: dict[str, dict[str, Any]] = {}
    sources: list[tuple[Checkpoint, set[RecordKey] | None]] = [(export, None)]
    if ledger is not None:
        waiting: dict[Path, set[RecordKey]] = {}
        for named, keys in ledger.pending_elsewhere(str(export.path),
                                                    posted_kinds(recipe)).items():
            waiting.setdefault(in_state_folder(Path(named), recipe.state_dir.resolve()),
                               set()).update(keys)
        for path, wanted in sorted(waiting.items()):
            if path == export.path:  # this export, named where its state folder was before
                continue
            try:
                earlier = open_checkpoint(path, "magento-export")
                earlier.check_tables()
                sources.append((earlier, wanted))
            except UsageError:
                result.warnings.append(f"{len(wanted)} queued records point at {path}, which "
                                       "is gone; re-export them (widen --since)")
            except DamagedCheckpointError as error:  # the records of this export go on
                result.warnings.append(f"{len(wanted)} queued records wait in an earlier "
                                       f"export, which is damaged: {error}")
    held: list[tuple[RecordKey, str, Hold | str]] = []
    fast = columnar.usable(builder) if use_columnar else False
    review = recipe.customers.new_accounts == "review"
    awaiting = (known.unapproved_accounts() if (known := ledger or lookup) and review
                else set())
    with closing(_Outcomes()) as outcomes:
        references = _References(ledger or lookup, outcomes)
        token = uuid.uuid4().hex  # a worker's key for what it opens of this transform's plans
        for number, (source, only) in enumerate(sources):
            plan = ExportPlan(f"{token}/{number}", recipe, _table_files(recipe, source), fast,
                              export_slices.SLICE)
            tables = ExportTables(plan.files, recipe.sage.currency)
            with closing(_slices(plan, builder, only, workers, result,
                                 writer.folder)) as reads:
                for read in reads:
                    built = _build_slice(read, tables, builder, allocator, account_rows)
                    docs = built.docs
                    _hold_unimportable_credits(docs, recipe.sage.product, recipe.sage.region,
                                               recipe.sage.post_from)
                    if review:
                        _hold_unapproved_accounts(
                            docs, awaiting | {r for _, r, _ in allocator.new})
                    references.hold_collisions(docs)
                    _write_documents(writer, built, recipe.mapping.department)
                    result.documents += len(docs)
                    progress.advance("transform", len(docs), unit="documents")
                    outcomes.add(*_sorted_out(docs, result, held))
        if ledger is not None:
            ledger.add_accounts(allocator.new, approved=not review)
            ledger.mark_transformed(outcomes.ready(), held, outcomes.skipped())
    writer.write("accounts", pa.Table.from_pylist(
        [account_rows[r] for r in sorted(account_rows)], schema=SAGE_ACCOUNTS))
    result.new_accounts = len(allocator.new)
    result.manifest = writer.finish({"documents": result.documents, "held": len(result.held),
                                     "accounts": len(account_rows),
                                     "from_earlier_exports": len(sources) - 1})
    return result


def _grouped(table: pa.Table, key: str) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        groups[row[key]].append(row)
    return groups


# A worker reads and posts slices while this process builds, checks and writes the one before
# (export_slices), for a transform of more slices than this (a worker's start-up, some 0.5 s,
# must pay off). One worker is enough: this process's share of a slice is the larger, so it
# reads only the first slices itself, while the worker starts, and then waits for the worker
# (a slice read here would cost it more than waiting). At most SLICES_IN_FLIGHT slices are
# read or being read and not yet built (each holds its tables: some 2 MB).
PARALLEL_AFTER_SLICES = 20
SLICES_READ_HERE = 1
SLICES_IN_FLIGHT = 3


def _sorted_out(docs: list[SageDocument], result: TransformResult,
                held: list[tuple[RecordKey, str, Hold | str]]
                ) -> tuple[list[tuple[RecordKey, str, str]], list[tuple[RecordKey, str, str]]]:
    """The slice's documents ready (with the Sage type:reference each claims) and skipped; the
    held ones go to `held` and, with every warning, to the result."""
    ready: list[tuple[RecordKey, str, str]] = []
    skipped: list[tuple[RecordKey, str, str]] = []
    for d in docs:
        key = RecordKey(d.entity_type, d.entity_id, d.store_id)
        if d.hold_reason:
            result.holds[key] = hold = _hold_of(d)
            held.append((key, d.content_hash, hold))
            result.held.append(f"{key} ({d.increment_id}): {d.hold_reason}")
        elif d.skip_reason:
            skipped.append((key, d.content_hash, d.skip_reason))
        else:
            ready.append((key, d.content_hash, _reference(d)))
        result.warnings += [f"{key} ({d.increment_id}): {w}" for w in d.warnings]
    return ready, skipped


def _table_files(recipe: Recipe, export: Checkpoint) -> dict[str, Path]:
    """The export's table files a transform reads, each checked against the manifest once."""
    kinds = posted_kinds(recipe)
    names = {"orders", "order_items", "customers", "invoices",
             *(POSTED[k] for k in kinds), *(LINES[k] for k in kinds)}
    return {name: export.table_file(name) for name in sorted(names)}


def _slices(plan: ExportPlan, builder: DocumentBuilder, only: set[RecordKey] | None,
            workers: int | None, result: TransformResult, folder: Path
            ) -> Generator[ReadSlice, None, None]:
    """Every slice of the export that holds posted documents (only those of `only`, if given),
    read and posted a slice ahead: in a worker process for a large export (its outcomes pass
    through `folder`, the step's own), else on a thread (read_ahead)."""
    kinds = posted_kinds(plan.recipe)
    jobs = [SliceJob(plan, kind, n) for kind in kinds for n in range(plan.slices(kind))]
    workers = min(default_workers() if workers is None else workers, 1)
    with reading(plan, builder) as reader:
        if only is not None or not workers or len(jobs) <= PARALLEL_AFTER_SLICES:
            wanted = {kind: pa.array(sorted(k.entity_id for k in only
                                            if k.entity_type == kind), pa.int64())
                      for kind in kinds} if only is not None else {}
            made = read_ahead(reader.read(job.kind, job.number, wanted.get(job.kind))
                              for job in jobs)
            yield from (read for read in made if read is not None)
            return
        pool: OrderedPool[None, SliceJob, ReadSlice | None] = OrderedPool(
            read_slice, workers, start_after=SLICES_READ_HERE, backlog=SLICES_IN_FLIGHT,
            limit=SLICES_IN_FLIGHT, folder=folder)
        try:
            for job in jobs:
                while len(pool.queued) >= SLICES_IN_FLIGHT:  # the worker is never full
                    _, read = pool.next()
                    if read is not None:
                        yield read
                pool.put(None, job)
            yield from (read for _, read in pool.drain() if read is not None)
        finally:
            result.worker_slices += pool.submitted
            pool.close()


class _Outcomes:
    """The documents found ready (each with the Sage type:reference it claims) and skipped,
    kept on disk in a private temporary SQLite database (deleted when closed) instead of lists
    that grow with the export; the ledger takes them in order at the end, as before. The held
    ones are few and stay in memory (the result lists each of them anyway)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None)  # "": a temporary file
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE ready (entity_type TEXT, entity_id INTEGER, "
                        "store_id INTEGER, content_hash TEXT, reference TEXT)")
        self.db.execute("CREATE INDEX ready_reference ON ready (reference)")
        self.db.execute("CREATE TABLE skipped (entity_type TEXT, entity_id INTEGER, "
                        "store_id INTEGER, content_hash TEXT, reason TEXT)")

    def add(self, ready: list[tuple[RecordKey, str, str]],
            skipped: list[tuple[RecordKey, str, str]]) -> None:
        self.db.execute("BEGIN")
        for table, rows in (("ready", ready), ("skipped", skipped)):
            self.db.executemany(f"INSERT INTO {table} VALUES (?,?,?,?,?)",
                                [(k.entity_type, k.entity_id, k.store_id, h, text)
                                 for k, h, text in rows])
        self.db.execute("COMMIT")

    def owners(self, references: set[str]) -> dict[str, RecordKey]:
        """The document of this run that claimed each of `references`, if one did."""
        found: dict[str, RecordKey] = {}
        refs = sorted(references)
        for start in range(0, len(refs), 500):
            chunk = refs[start:start + 500]
            for reference, kind, entity_id, store_id in self.db.execute(
                    "SELECT reference, entity_type, entity_id, store_id FROM ready WHERE "
                    f"reference IN ({','.join('?' * len(chunk))})", chunk):
                found.setdefault(reference, RecordKey(kind, entity_id, store_id))
        return found

    def ready(self) -> Iterator[tuple[RecordKey, str, str]]:
        return self._read("ready")

    def skipped(self) -> Iterator[tuple[RecordKey, str, str]]:
        return self._read("skipped")

    def _read(self, table: str) -> Iterator[tuple[RecordKey, str, str]]:
        cursor = self.db.execute(f"SELECT * FROM {table} ORDER BY rowid")
        while rows := cursor.fetchmany(10_000):
            for kind, entity_id, store_id, content_hash, text in rows:
                yield RecordKey(kind, entity_id, store_id), content_hash, text

    def close(self) -> None:
        self.db.close()


class _References:
    """A Sage type + reference belongs to one Magento document: the first one queued with it
    (from the ledger) or built in this run (`outcomes`, and the slice's own). Another document
    with the same one (two stores, or two orders, sharing an increment id: magento2#40259) is
    held, because Sage's grouped import would merge the two or refuse the second."""

    def __init__(self, ledger: Ledger | None, outcomes: _Outcomes) -> None:
        self.ledger = ledger
        self.outcomes = outcomes

    def hold_collisions(self, docs: list[SageDocument]) -> None:
        wanted = {_reference(d) for d in docs if not (d.hold_reason or d.skip_reason)}
        claimed = self.outcomes.owners(wanted)
        wanted -= set(claimed)
        owners = self.ledger.reference_owners(wanted) if self.ledger and wanted else {}
        for d in docs:
            if d.hold_reason or d.skip_reason:
                continue
            key, reference = RecordKey(d.entity_type, d.entity_id, d.store_id), _reference(d)
            owner = claimed.get(reference) or owners.get(reference)
            if owner is None or owner == key:
                claimed[reference] = key
                continue
            _hold(d, holds.reference_collision(reference=d.reference,
                                               transaction_type=d.transaction_type,
                                               owner=str(owner)))


def _hold_unimportable_credits(docs: list[SageDocument], product_key: str,
                               region: str = "", post_from: str = "invoices") -> None:
    """A product whose import has no credit note (Sage 50 Canada's .IMP) holds each credit
    memo with the product's advice on entering it by hand, rather than guessing a format; and
    each sale with a split posted as a credit note of its own (a gift card, store credit or
    reward points taken off an invoice, amounts being positive), which it could not import
    either: the sale alone would not be what the customer was invoiced. A product whose
    credit notes import beside invoices only (Sage 100's A/R invoice entry, not its S/O
    Sales Order Entry) holds them the same way when posting from orders."""
    product = products.get(product_key, region)
    caps = product.capabilities
    if caps.credit_notes_from(post_from):
        return
    for d in docs:
        if d.hold_reason or d.skip_reason:
            continue
        if d.entity_type == "creditmemo":
            _hold(d, holds.no_credit_notes(product=product.title,
                                           how=caps.credit_note_advice or "enter it by hand"))
            continue
        # where Sage computes tax the file carries the net goods only (Sage X3's order lines),
        # so a payment taken off the total is not posted at all and holds nothing
        contra = [s for s in d.splits if s.transaction_type is not None] \
            if not caps.sage_computes_tax else []
        if contra:
            taken = " and ".join(f"the {PURPOSE_LABEL[s.purpose]} {s.net_amount + s.tax_amount}"
                                 f" ({s.reference})" for s in contra)
            _hold(d, holds.no_credit_notes(
                product=product.title,
                how=f"{taken} taken off this {d.entity_type} would be posted as one; enter the "
                    f"{d.entity_type} in Sage by hand, with what was taken off as its payment"
                    + (", or set [sage] negative_amounts = true to post it as a negative line "
                       f"of the {d.entity_type}" if caps.negative_amounts else "")))


def _hold_unapproved_accounts(docs: list[SageDocument], awaiting: set[str]) -> None:
    """Under `[customers] new_accounts = "review"`, a document posting to a new web
    customer's account waits until a person approves the account (`sagesync accounts
    approve`, or a Sage customer export that lists it)."""
    for d in docs:
        if not (d.hold_reason or d.skip_reason) and d.account_ref in awaiting:
            _hold(d, holds.account_awaiting_approval(account_ref=d.account_ref))


def _reference(d: SageDocument) -> str:
    return f"{d.transaction_type}:{d.reference}"


@dataclass
class _Slice:
    """A slice's documents, in order, their orders, and the columnar part of their lines and
    splits (by position in `docs`; those documents' own `lines` and `splits` stay empty)."""

    docs: list[SageDocument]
    orders: pa.Table  # the slice's orders (who each document bills)
    posting: Posting | None = None


def _build_slice(read: ReadSlice, tables: ExportTables, builder: DocumentBuilder,
                 allocator: AccountAllocator, account_rows: dict[str, dict[str, Any]]
                 ) -> _Slice:
    kind, rows, posting = read.kind, read.rows, read.posting
    orders = {r["entity_id"]: r for r in read.orders.to_pylist()}
    simple = posting.ok if posting else [False] * len(rows)
    # the rest is built one document at a time, from Python rows of its own lines only
    order_items = _grouped(read.order_items, "order_id") if not all(simple) else {}
    lines = order_items if kind == "order" or read.lines is None else \
        _grouped(read.lines, "document_id")
    opened: list[tuple[str, str, dict[str, Any], str]] = []  # accounts new in this slice
    docs: list[SageDocument] = []
    for position, (row, ok) in enumerate(zip(rows, simple, strict=True)):
        order = orders.get(row["entity_id"] if kind == "order" else row["order_id"])
        if order is None:
            docs.append(_orphan(kind, row))
            continue
        ref, origin = allocator.account_for(order)
        if ok and posting is not None:
            document = builder.header(kind, row, order, ref)
            document.totals = posting.totals[position]
        else:
            document = builder.build(kind, row, lines.get(row["entity_id"], []), order,
                                     order_items.get(order["entity_id"], []), ref)
        docs.append(document)
        key = customer_key(order)
        if origin == "generated" and key and ref not in account_rows:
            account_rows[ref] = {}  # claimed here; written below, from the customer record
            opened.append((ref, key, order, document.currency_code))
    customers = tables.customers_of({order.get("customer_id") for _, _, order, _ in opened})
    for ref, key, order, currency in opened:
        account_rows[ref] = _account_row(ref, key, order,
                                         customers.get(order.get("customer_id") or 0),
                                         currency, builder.mapping.customer_group)
    if kind == "creditmemo":  # what each credit note is applied to, where the export knows
        numbers = tables.invoice_numbers(sorted({d.invoice_id for d in docs
                                                 if d.invoice_id is not None}))
        for d in docs:
            d.invoice_increment_id = numbers.get(d.invoice_id) if d.invoice_id else None
    return _Slice(docs, read.orders, posting)


def _ready(d: SageDocument) -> bool:
    return not (d.hold_reason or d.skip_reason)


def _in_order(exact: pa.Table, positions: list[int], posted: pa.Table | None) -> pa.Table:
    """The builder's rows and the columnar rows of one table, in document order."""
    if posted is None or not posted.num_rows:
        return exact
    if not exact.num_rows:
        return posted.drop_columns(["position"])
    both = pa.concat_tables([exact.append_column("position", pa.array(positions, pa.int64())),
                             posted])
    return both.take(pc.sort_indices(both["position"])).drop_columns(["position"])


def _write_documents(writer: CheckpointWriter, built: _Slice, department: int | None) -> None:
    docs = built.docs
    columns: dict[str, Any] = document_columns(docs)
    columns.update(billing_columns(built.orders, [d.order_id for d in docs]))
    writer.write("documents", typed_table(SAGE_DOCUMENTS, columns, DOCUMENT_CENTS,
                                          ("carriage_tax_rate",)))
    splits = typed_table(SAGE_SPLITS, split_columns(docs, department), SPLIT_CENTS)
    lines = typed_table(SAGE_LINES, line_columns(docs), LINE_CENTS, LINE_UNITS)
    posted_splits = posted_lines = None
    if built.posting is not None:
        ready = pa.array([_ready(d) and d.totals is not None for d in docs], pa.bool_())
        keys = pa.array([d.document_key for d in docs], pa.string())
        labels = pa.array([f"{KIND_LABEL[d.entity_type]} {d.increment_id}" for d in docs],
                          pa.string())
        posted_splits = _posted_splits(built.posting.splits, ready, keys, labels, department)
        posted_lines = _posted_lines(built.posting.lines, ready, keys)
    writer.write("splits", _in_order(
        splits, [p for p, d in enumerate(docs) if _ready(d) for _ in d.splits], posted_splits))
    writer.write("lines", _in_order(
        lines, [p for p, d in enumerate(docs) if _ready(d) for _ in d.lines], posted_lines))


def _posted_splits(splits: pa.Table, ready: pa.Array, keys: pa.Array, labels: pa.Array,
                   department: int | None) -> pa.Table:
    """The columnar splits of the documents still ready, as the `splits` table (+ position)."""
    splits = splits.filter(pc.take(ready, splits["position"]))
    position = splits["position"]
    return _completed(SAGE_SPLITS, splits, {
        "document_key": pc.take(keys, position),
        "department": pa.array([department] * len(position), pa.int32()),
        # a goods or carriage split's label is its purpose (PURPOSE_LABEL)
        "details": pc.binary_join_element_wise(pc.take(labels, position),
                                               splits["purpose"], " ")})


def _posted_lines(lines: pa.Table, ready: pa.Array, keys: pa.Array) -> pa.Table:
    """The columnar lines of the documents still ready, as the `lines` table (+ position)."""
    lines = lines.filter(pc.take(ready, lines["position"]))
    return _completed(SAGE_LINES, lines, {"document_key": pc.take(keys, lines["position"])})


def _completed(schema: pa.Schema, posted: pa.Table, added: dict[str, Any]) -> pa.Table:
    """Columnar lines or splits (+ position) as `schema`'s table (+ position): their typed
    columns, the `added` ones, and null for the rest (the transaction type and reference of a
    split posted as a document of its own, which never goes the columnar way)."""
    count = posted.num_rows
    return pa.Table.from_arrays(
        [added[f.name] if f.name in added else posted[f.name] if f.name in posted.column_names
         else pa.nulls(count, f.type) for f in schema] + [posted["position"]],
        schema=schema.append(POSITION))


def _orphan(kind: str, row: dict[str, Any]) -> SageDocument:
    document = SageDocument(
        entity_type=kind, entity_id=row["entity_id"], store_id=row.get("store_id") or 0,
        order_id=row["order_id"], order_increment_id="", increment_id=row.get("increment_id") or "",
        transaction_type="SC" if kind == "creditmemo" else "SI", account_ref="",
        posting_date=None, reference="", extra_reference="", details="", currency_code="",
        total_cents=cents_of_units(row.get("base_grand_total") or row.get("grand_total") or 0),
        content_hash=row.get("content_hash") or "")
    return _hold(document, holds.order_not_exported(order_id=row["order_id"]))


def _hold(document: SageDocument, hold: Hold) -> SageDocument:
    """Hold a document for a cause: its reason is the cause's message."""
    document.hold, document.hold_reason = hold, hold.message
    return document


def _hold_of(document: SageDocument) -> Hold:
    """A held document's cause (every hold of the transform carries one)."""
    return document.hold or holds.unspecified(document.hold_reason or "")


def _account_row(ref: str, key: str, order: dict[str, Any],
                 customer: dict[str, Any] | None, currency: str,
                 group: str | None = None) -> dict[str, Any]:
    """A Sage customer record from the customer's default billing address, else the order's;
    in the currency its first document posts in."""
    src = customer if customer and customer.get("billing_street") else order
    street = (src.get("billing_street") or "").split("\n")
    first = src.get("billing_firstname") or order.get("customer_firstname") or ""
    last = src.get("billing_lastname") or order.get("customer_lastname") or ""
    person = f"{first} {last}".strip()
    return {
        "account_ref": ref, "customer_key": key,
        "name": src.get("billing_company") or person, "street1": street[0],
        "street2": street[1] if len(street) > 1 else "", "town": src.get("billing_city"),
        "county": src.get("billing_region"), "postcode": src.get("billing_postcode"),
        "contact_name": person, "telephone": src.get("billing_telephone"),
        "email": order.get("customer_email"),
        "vat_number": src.get("billing_vat_id") or order.get("customer_taxvat"),
        "country_code": src.get("billing_country_id"),
        "currency_code": currency or None, "customer_group": group,
    }
