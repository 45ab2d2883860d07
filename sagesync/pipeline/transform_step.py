"""The transform step: a Magento export checkpoint -> a Sage documents checkpoint."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sagesync.errors import DamagedCheckpointError, UsageError
from sagesync.ledger import Ledger, RecordKey
from sagesync.model import holds
from sagesync.model.holds import Hold
from sagesync.model.money import cents_of_units
from sagesync.model.schemas import (
    MAGENTO_MONEY,
    ORDERS,
    SAGE_ACCOUNTS,
    SAGE_DOCUMENTS,
    SAGE_LINES,
    SAGE_SPLITS,
    SAGE_TABLES,
)
from sagesync.pipeline import progress
from sagesync.pipeline.checkpoint import (
    Checkpoint,
    CheckpointWriter,
    in_state_folder,
    open_checkpoint,
)
from sagesync.pipeline.postable import POSTED, posted_kinds, posted_rows
from sagesync.pipeline.read_ahead import read_ahead
from sagesync.pipeline.tables import KeyedTable
from sagesync.recipe import Recipe
from sagesync.sage import products
from sagesync.transform import columnar
from sagesync.transform.accounts import AccountAllocator, customer_key
from sagesync.transform.dates import local_dates
from sagesync.transform.documents import (
    DOCUMENT_CENTS,
    KIND_LABEL,
    LINE_UNITS,
    PURPOSE_LABEL,
    DocumentBuilder,
    SageDocument,
    document_columns,
    line_columns,
    split_columns,
)
from sagesync.transform.mapping import ItemMap, NominalMap, load_customer_accounts
from sagesync.transform.rows import as_units, cents_array, units_array

KIND = "sage-documents"


@dataclass
class TransformResult:
    manifest: Path
    documents: int = 0
    held: list[str] = field(default_factory=list)
    holds: dict[RecordKey, Hold] = field(default_factory=dict)  # each held record's cause
    warnings: list[str] = field(default_factory=list)
    new_accounts: int = 0


SLICE = 1_000  # documents turned into Python objects at a time (5,000 peaked 70 MB higher)


def _grouped(table: pa.Table, key: str) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        groups[row[key]].append(row)
    return groups


def _columns(table: pa.Table, currency: str) -> pa.Table:
    """Drop the money columns of the currency the recipe does not post in (half the work),
    and turn the rest into integer units (what the posting rules read)."""
    money = {f.name for f in table.schema if f.type == MAGENTO_MONEY}
    unwanted = "base_" if currency == "order" else ""
    drop = {n for n in money if n.startswith("base_") == bool(unwanted)
            and (n.removeprefix("base_") if unwanted else f"base_{n}") in money}
    return as_units(table.select([n for n in table.column_names if n not in drop]))


# What the posting reads of a document's order: who it bills and the currencies (its amounts
# and dates come from the document itself, and an order posted as a document is read whole).
_ORDER_COLUMNS = frozenset(f.name for f in ORDERS if f.type != MAGENTO_MONEY and f.name not in (
    "state", "status", "created_at", "updated_at", "extra_amounts", "content_hash"))


class _Export:
    """An export checkpoint's orders, order lines and customers, read a window at a time."""

    def __init__(self, export: Checkpoint, currency: str) -> None:
        prepare = partial(_columns, currency=currency)
        orders = export.table_file("orders")
        self._orders = KeyedTable(orders, "entity_id", prepare, columns=[
            n for n in pq.read_schema(orders).names if n in _ORDER_COLUMNS])
        self._order_items = KeyedTable(export.table_file("order_items"), "order_id", prepare)
        self._customers = KeyedTable(export.table_file("customers"), "id")
        self._invoices = KeyedTable(export.table_file("invoices"), "entity_id",
                                    columns=["entity_id", "increment_id"])

    def slice_tables(self, order_ids: list[int]) -> tuple[pa.Table, pa.Table]:
        """A slice's orders and their lines, amounts in units."""
        return self._orders.rows(order_ids), self._order_items.rows(order_ids)

    def invoice_numbers(self, invoice_ids: list[int]) -> dict[int, str]:
        """The increment ids of the invoices the export holds among `invoice_ids`."""
        table = self._invoices.rows(invoice_ids)
        return dict(zip(table.column("entity_id").to_pylist(),
                        table.column("increment_id").to_pylist(), strict=True))

    def customers_of(self, ids: set[int | None]) -> dict[int, dict[str, Any]]:
        """The customer records of these ids, in one filter (none read for none)."""
        wanted = sorted(i for i in ids if i)
        if not wanted:
            return {}
        return {r["id"]: r for r in self._customers.rows(wanted).to_pylist()}


LINES = {"order": "order_items", "invoice": "invoice_items", "creditmemo": "creditmemo_items"}


def _document_slices(recipe: Recipe, export: Checkpoint, only: set[RecordKey] | None = None
                     ) -> Iterator[tuple[str, pa.Table, KeyedTable]]:
    """(kind, a slice of documents with amounts in units, the lines by document) for every
    posting, in order: the documents table is read a row group at a time, never whole."""
    currency = recipe.sage.currency
    prepare = partial(_columns, currency=currency)
    for kind in posted_kinds(recipe):
        lines = KeyedTable(export.table_file(LINES[kind]),
                           "order_id" if kind == "order" else "document_id", prepare)
        wanted = None if only is None else pa.array(
            sorted(k.entity_id for k in only if k.entity_type == kind), pa.int64())
        source = pq.ParquetFile(export.table_file(POSTED[kind]))
        for batch in source.iter_batches(batch_size=SLICE):
            table = posted_rows(recipe, kind, pa.Table.from_batches([batch]))
            if wanted is not None:
                table = table.filter(pc.is_in(table["entity_id"], value_set=wanted))
            if table.num_rows:
                yield kind, _columns(table, currency), lines


@dataclass
class _Read:
    """A slice of documents and what the export holds for them: their orders, those orders'
    lines, and (for invoices and credit memos) the documents' own lines."""

    kind: str
    table: pa.Table
    ids: list[int]  # the documents' entity ids, in the table's order
    orders: pa.Table
    order_items: pa.Table
    lines: pa.Table | None


def _read_slices(recipe: Recipe, export: Checkpoint, only: set[RecordKey] | None,
                 tables: _Export) -> Iterator[_Read]:
    """Every slice with its rows of the export's other tables, read a slice ahead on a thread
    of its own (read_ahead): the orders' and lines' KeyedTables are used there only."""
    for kind, table, lines_index in _document_slices(recipe, export, only):
        ids = table["entity_id"].to_pylist()
        order_ids = sorted(set(ids if kind == "order" else table["order_id"].to_pylist()))
        orders, order_items = tables.slice_tables(order_ids)
        yield _Read(kind, table, ids, orders, order_items,
                    None if kind == "order" else lines_index.rows(ids))


def transform(recipe: Recipe, export: Checkpoint, ledger: Ledger | None, run_id: str,
              *, lookup: Ledger | None = None, use_columnar: bool = True) -> TransformResult:
    """Build every Sage document of an export, plus the ledger's queued records that earlier
    exports hold, and write the sage-documents checkpoint. Without a ledger (dry run) nothing
    is remembered; `lookup`, a read-only ledger, still tells the accounts already known.
    `use_columnar=False` builds every document one at a time (the tests compare the two)."""
    caps = products.get(recipe.sage.product).capabilities
    builder = DocumentBuilder(recipe.mapping,
                              NominalMap.load(recipe.mapping.nominals_csv,
                                              recipe.mapping.default_sales_nominal,
                                              recipe.mapping.products_csv, caps),
                              recipe.zone, recipe.sage.currency,
                              recipe.sage.reference_prefixes,
                              companies=recipe.sage.companies,
                              negative_amounts=recipe.sage.negative_amounts,
                              items=ItemMap.load(recipe.mapping.items_csv,
                                                 recipe.mapping.unmapped_items,
                                                 recipe.mapping.default_item,
                                                 recipe.mapping.default_warehouse),
                              unit_price_places=caps.unit_price_places,
                              negative_purposes=caps.negative_purposes,
                              locked_until=recipe.sage.period_locked_until,
                              locked_period=recipe.sage.locked_period)
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
        for source, only in sources:
            tables = _Export(source, recipe.sage.currency)
            for read in read_ahead(_read_slices(recipe, source, only, tables)):
                built = _build_slice(read, tables, builder, allocator, account_rows, fast)
                docs = built.docs
                _hold_unimportable_credits(docs, recipe.sage.product, recipe.sage.region,
                                           recipe.sage.post_from)
                if review:
                    _hold_unapproved_accounts(docs, awaiting | {r for _, r, _ in allocator.new})
                references.hold_collisions(docs)
                _write_documents(writer, built, recipe.mapping.department)
                result.documents += len(docs)
                progress.advance("transform", len(docs), unit="documents")
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
                outcomes.add(ready, skipped)
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
    """A slice's documents, in order, and the columnar part of their lines and splits (by
    position in `docs`; those documents' own `lines` and `splits` stay empty)."""

    docs: list[SageDocument]
    posted: columnar.Posted | None = None


def _build_slice(read: _Read, tables: _Export, builder: DocumentBuilder,
                 allocator: AccountAllocator, account_rows: dict[str, dict[str, Any]],
                 fast: bool) -> _Slice:
    kind, table, ids, orders_table, items_table = (read.kind, read.table, read.ids, read.orders,
                                                   read.order_items)
    document_lines = read.lines
    orders = {r["entity_id"]: r for r in orders_table.to_pylist()}
    posted = columnar.post(kind, table, document_lines, items_table, orders_table,
                           builder) if fast else None
    simple = posted.ok if posted else [False] * len(ids)
    # a document posted column-wise needs only its header's fields as a Python row
    rows = _header_rows(table, simple, builder.prefix, builder.zone)
    left = [r for r, ok in zip(rows, simple, strict=True) if not ok]
    # the rest is built one document at a time, from Python rows of its own lines only
    order_items = _grouped(items_table.filter(pc.is_in(items_table["order_id"], pa.array(
        sorted({r["entity_id"] if kind == "order" else r["order_id"] for r in left}),
        pa.int64()))), "order_id") if left else {}
    if kind == "order" or not left or document_lines is None:
        lines = order_items
    else:
        lines = _grouped(document_lines.filter(pc.is_in(document_lines["document_id"], pa.array(
            [r["entity_id"] for r in left], pa.int64()))), "document_id")
    opened: list[tuple[str, str, dict[str, Any], str]] = []  # accounts new in this slice
    docs: list[SageDocument] = []
    for position, (row, ok) in enumerate(zip(rows, simple, strict=True)):
        order = orders.get(row["entity_id"] if kind == "order" else row["order_id"])
        if order is None:
            docs.append(_orphan(kind, row))
            continue
        ref, origin = allocator.account_for(order)
        if ok and posted is not None:
            document = builder.header(kind, row, order, ref)
            document.totals = posted.totals[position]
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
    return _Slice(docs, posted)


_HEADER = ("entity_id", "increment_id", "order_id", "store_id", "content_hash", "invoice_id")


def _header_rows(table: pa.Table, simple: list[bool], prefix: str, zone: tzinfo
                 ) -> list[dict[str, Any]]:
    """The slice's documents as Python rows: whole where the builder posts them, only what
    `DocumentBuilder.header` reads where the columnar rules did. Each has its `posting_date`
    in place of its `created_at` (dates.local_dates: a third of the rows' cost otherwise)."""
    dates = local_dates(table["created_at"], zone)
    table = table.drop_columns(["created_at"])
    if not any(simple):
        rows = table.to_pylist()
    else:
        names = [n for n in (*_HEADER, f"{prefix}grand_total") if n in table.column_names]
        rows = table.select(names).to_pylist()
        left = [n for n, ok in enumerate(simple) if not ok]
        for n, row in zip(left, table.take(pa.array(left, pa.int64())).to_pylist(),
                          strict=True):
            rows[n] = row
    for row, day in zip(rows, dates, strict=True):
        row["posting_date"] = day
    return rows


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


_SPLIT_CENTS = ("net_amount", "tax_amount")
_LINE_CENTS = ("posted_net", "posted_tax")
_POSITION = pa.field("position", pa.int64())


def _typed(schema: pa.Schema, columns: dict[str, Any], cents: tuple[str, ...] = (),
           units: tuple[str, ...] = ()) -> pa.Table:
    """A table of `schema` from columns of Python values or Arrow arrays: the `cents` and
    `units` columns (integers) become their decimal types in one operation each."""
    arrays = []
    for column in schema:
        values = columns[column.name]
        if column.name in cents:
            arrays.append(cents_array(values))
        elif column.name in units:
            arrays.append(units_array(values))
        elif isinstance(values, pa.Array | pa.ChunkedArray):  # a cast to its own type costs
            arrays.append(values if values.type == column.type else values.cast(column.type))
        else:
            arrays.append(pa.array(values, column.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _write_documents(writer: CheckpointWriter, built: _Slice, department: int | None) -> None:
    docs = built.docs
    writer.write("documents", _typed(SAGE_DOCUMENTS, document_columns(docs), DOCUMENT_CENTS,
                                     ("carriage_tax_rate",)))
    splits = _typed(SAGE_SPLITS, split_columns(docs, department), _SPLIT_CENTS)
    lines = _typed(SAGE_LINES, line_columns(docs), _LINE_CENTS, LINE_UNITS)
    posted_splits = posted_lines = None
    if built.posted is not None:
        ready = pa.array([_ready(d) and d.totals is not None for d in docs], pa.bool_())
        keys = pa.array([d.document_key for d in docs], pa.string())
        labels = pa.array([f"{KIND_LABEL[d.entity_type]} {d.increment_id}" for d in docs],
                          pa.string())
        posted_splits = _posted_splits(built.posted.splits, ready, keys, labels, department)
        posted_lines = _posted_lines(built.posted.lines, ready, keys)
    writer.write("splits", _in_order(
        splits, [p for p, d in enumerate(docs) if _ready(d) for _ in d.splits], posted_splits))
    writer.write("lines", _in_order(
        lines, [p for p, d in enumerate(docs) if _ready(d) for _ in d.lines], posted_lines))


def _posted_splits(splits: pa.Table, ready: pa.Array, keys: pa.Array, labels: pa.Array,
                   department: int | None) -> pa.Table:
    """The columnar splits of the documents still ready, as the `splits` table (+ position)."""
    splits = splits.filter(pc.take(ready, splits["position"]))
    position = splits["position"]
    count = splits.num_rows
    return _typed(SAGE_SPLITS.append(_POSITION), {
        "document_key": pc.take(keys, position), "split_no": splits["split_no"],
        "nominal_code": splits["nominal_code"], "tax_code": splits["tax_code"],
        "department": [department] * count,
        # a goods or carriage split's label is its purpose (PURPOSE_LABEL)
        "details": pc.binary_join_element_wise(pc.take(labels, position),
                                               splits["purpose"], " "),
        "net_amount": splits["net"], "tax_amount": splits["tax"],
        "purpose": splits["purpose"], "transaction_type": [None] * count,
        "reference": [None] * count, "position": position}, _SPLIT_CENTS)


def _posted_lines(lines: pa.Table, ready: pa.Array, keys: pa.Array) -> pa.Table:
    """The columnar lines of the documents still ready, as the `lines` table (+ position)."""
    lines = lines.filter(pc.take(ready, lines["position"]))
    count = lines.num_rows
    columns = {name: lines[name] for name in lines.column_names}
    columns.update(document_key=pc.take(keys, lines["position"]),
                   transaction_type=[None] * count, reference=[None] * count)
    return _typed(SAGE_LINES.append(_POSITION), columns, _LINE_CENTS, LINE_UNITS)


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
