"""An export checkpoint read a slice of documents at a time, with what posting them needs (their
orders, those orders' lines, the documents' own lines), and posted column-wise where the
common case holds (transform.columnar): the transform's reading half.

It is the half that needs nothing of the slices before it, so a large transform hands it to a
worker process (work_pool) while the caller builds, checks and writes the slice before: a
slice is a job of its own (`SliceJob`: rows start..end of one document table), which a worker
or the caller reads the same way, and the outcomes come back in order. A worker opens the
export's tables and builds the posting rules once, for the first job of a transform it sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sagesync.model.schemas import MAGENTO_MONEY, ORDERS, SAGE_LINES, SAGE_SPLITS
from sagesync.pipeline.postable import POSTED, posted_rows
from sagesync.pipeline.tables import KeyedTable, SlicedTable
from sagesync.recipe import Recipe
from sagesync.sage import products
from sagesync.transform import columnar
from sagesync.transform.dates import local_dates
from sagesync.transform.documents import LINE_CENTS, LINE_UNITS, SPLIT_CENTS, DocumentBuilder
from sagesync.transform.mapping import ItemMap, NominalMap
from sagesync.transform.rows import as_units, typed_table

SLICE = 1_000  # documents turned into Python objects at a time (5,000 peaked 70 MB higher)

LINES = {"order": "order_items", "invoice": "invoice_items", "creditmemo": "creditmemo_items"}

# What the posting reads of a document's order: who it bills and the currencies (its amounts
# and dates come from the document itself, and an order posted as a document is read whole).
_ORDER_COLUMNS = frozenset(f.name for f in ORDERS if f.type != MAGENTO_MONEY and f.name not in (
    "state", "status", "created_at", "updated_at", "extra_amounts", "content_hash"))


def document_builder(recipe: Recipe) -> DocumentBuilder:
    """The recipe's posting rules, with its mapping files read."""
    caps = products.get(recipe.sage.product).capabilities
    mapping = recipe.mapping
    return DocumentBuilder(mapping,
                           NominalMap.load(mapping.nominals_csv, mapping.default_sales_nominal,
                                           mapping.products_csv, caps),
                           recipe.zone, recipe.sage.currency, recipe.sage.reference_prefixes,
                           companies=recipe.sage.companies,
                           negative_amounts=recipe.sage.negative_amounts,
                           items=ItemMap.load(mapping.items_csv, mapping.unmapped_items,
                                              mapping.default_item, mapping.default_warehouse),
                           unit_price_places=caps.unit_price_places,
                           negative_purposes=caps.negative_purposes,
                           locked_until=recipe.sage.period_locked_until,
                           locked_period=recipe.sage.locked_period)


def in_units(table: pa.Table, currency: str) -> pa.Table:
    """Drop the money columns of the currency the recipe does not post in (half the work),
    and turn the rest into integer units (what the posting rules read)."""
    money = {f.name for f in table.schema if f.type == MAGENTO_MONEY}
    unwanted = "base_" if currency == "order" else ""
    drop = {n for n in money if n.startswith("base_") == bool(unwanted)
            and (n.removeprefix("base_") if unwanted else f"base_{n}") in money}
    return as_units(table.select([n for n in table.column_names if n not in drop]))


class ExportTables:
    """An export checkpoint's orders, order lines, customers and invoice numbers, each table
    opened when first asked for (the caller and a worker each use only some of them)."""

    def __init__(self, files: dict[str, Path], currency: str) -> None:
        self.files = files
        self.prepare = partial(in_units, currency=currency)

    @cached_property
    def _orders(self) -> KeyedTable:
        orders = self.files["orders"]
        return KeyedTable(orders, "entity_id", self.prepare, columns=[
            n for n in pq.read_schema(orders).names if n in _ORDER_COLUMNS])

    @cached_property
    def _order_items(self) -> KeyedTable:
        return KeyedTable(self.files["order_items"], "order_id", self.prepare)

    @cached_property
    def _customers(self) -> KeyedTable:
        return KeyedTable(self.files["customers"], "id")

    @cached_property
    def _invoices(self) -> KeyedTable:
        return KeyedTable(self.files["invoices"], "entity_id",
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


@dataclass(frozen=True)
class ExportPlan:
    """What reading and posting the slices of one export takes; a worker gets it with each job
    (a few KB) and opens the tables once per `token`. `files`: the export's table files,
    checked against its manifest by the caller."""

    token: str
    recipe: Recipe
    files: dict[str, Path]
    fast: bool  # post column-wise (columnar.usable)
    size: int = SLICE  # rows of a document table a slice takes (the last may take fewer)

    def slices(self, kind: str) -> int:
        """How many slices the documents of `kind` make."""
        rows = pq.ParquetFile(self.files[POSTED[kind]]).metadata.num_rows
        return -(-rows // self.size)


@dataclass(frozen=True)
class SliceJob:
    plan: ExportPlan
    kind: str
    number: int  # the slice's rows are number * size onwards, size of them


# The columns of the `lines` and `splits` tables the transform adds to a columnar posting,
# once it knows which documents are held and what they are called; the rest come typed.
ADDED_LINE_COLUMNS = ("document_key", "transaction_type", "reference")
ADDED_SPLIT_COLUMNS = ("document_key", "department", "details", "transaction_type",
                       "reference")
POSITION = pa.field("position", pa.int64())
_POSTED_LINES = pa.schema([POSITION, *(f for f in SAGE_LINES
                                       if f.name not in ADDED_LINE_COLUMNS)])
_POSTED_SPLITS = pa.schema([POSITION, *(f for f in SAGE_SPLITS
                                        if f.name not in ADDED_SPLIT_COLUMNS)])


@dataclass
class Posting:
    """A slice's columnar posting (columnar.Posted): `ok` per document; the `documents`
    columns of the documents it took (columnar.heads: a row each, by `position`); and their
    lines and splits by `position`, in their checkpoint types but for the ADDED_ columns."""

    ok: list[bool]
    lines: pa.Table
    splits: pa.Table
    heads: pa.Table

    @classmethod
    def of(cls, posted: columnar.Posted, heads: pa.Table) -> Posting:
        splits = posted.splits
        lines = {name: posted.lines[name] for name in _POSTED_LINES.names}
        return cls(posted.ok, typed_table(_POSTED_LINES, lines, LINE_CENTS, LINE_UNITS),
                   typed_table(_POSTED_SPLITS, {
                       "position": splits["position"], "split_no": splits["split_no"],
                       "nominal_code": splits["nominal_code"], "tax_code": splits["tax_code"],
                       "net_amount": splits["net"], "tax_amount": splits["tax"],
                       "purpose": splits["purpose"]}, SPLIT_CENTS),
                   heads)


@dataclass
class ReadSlice:
    """A slice of posted documents and what the export holds for them: the columnar posting
    of those it could take (None: none, or not asked for); each other document's row (`rows`,
    amounts in units: see header_rows; None where the posting took it); the documents'
    orders (`orders`); and the other documents' orders' lines and (invoices and credit memos)
    their own lines, from which the builder posts them one at a time."""

    kind: str
    rows: list[dict[str, Any] | None]
    orders: pa.Table
    order_items: pa.Table
    lines: pa.Table | None
    posting: Posting | None


class SliceReader:
    """One process's reading of one export: its tables opened once, slices read on demand."""

    def __init__(self, plan: ExportPlan, builder: DocumentBuilder | None = None) -> None:
        self.plan = plan
        self.tables = ExportTables(plan.files, plan.recipe.sage.currency)
        # the caller's posting rules where given (its mapping files are read once), else built
        self.builder = (builder or document_builder(plan.recipe)) if plan.fast else None
        self.documents: dict[str, SlicedTable] = {}
        self.lines: dict[str, KeyedTable] = {}

    def read(self, kind: str, number: int, wanted: pa.Array | None = None) -> ReadSlice | None:
        """Slice `number` of the documents of `kind`, only those of entity ids in `wanted` if
        given; None when none of its rows is posted."""
        plan, prepare = self.plan, self.tables.prepare
        if kind not in self.documents:
            self.documents[kind] = SlicedTable(plan.files[POSTED[kind]])
            self.lines[kind] = KeyedTable(plan.files[LINES[kind]],
                                          "order_id" if kind == "order" else "document_id",
                                          prepare)
        table = posted_rows(plan.recipe, kind, self.documents[kind].rows(
            number * plan.size, (number + 1) * plan.size))
        if wanted is not None:
            table = table.filter(pc.is_in(table["entity_id"], value_set=wanted))
        if not table.num_rows:
            return None
        table = prepare(table)
        ids = table["entity_id"].to_pylist()
        order_ids = sorted(set(ids if kind == "order" else table["order_id"].to_pylist()))
        orders, order_items = self.tables.slice_tables(order_ids)
        lines = None if kind == "order" else self.lines[kind].rows(ids)
        posted = None if self.builder is None else columnar.post(
            kind, table, lines, order_items, orders, self.builder)
        if posted is not None:  # the lines of the documents it took are no longer needed
            left = table.filter(pc.invert(pa.array(posted.ok, pa.bool_())))
            order_items = order_items.filter(pc.is_in(order_items["order_id"], value_set=(
                left["entity_id" if kind == "order" else "order_id"])))
            if lines is not None:
                lines = lines.filter(pc.is_in(lines["document_id"],
                                              value_set=left["entity_id"]))
        dates = local_dates(table["created_at"], plan.recipe.zone)
        posting = None
        if posted is not None and self.builder is not None:
            posting = Posting.of(posted, columnar.heads(
                kind, table, orders, dates, posted.totals,
                self.builder, self.tables.invoice_numbers))
        rows = header_rows(table, posted.ok if posted else [False] * table.num_rows, dates)
        return ReadSlice(kind, rows, orders, order_items, lines, posting)


def header_rows(table: pa.Table, simple: list[bool], dates: pa.Array
                ) -> list[dict[str, Any] | None]:
    """The rows of the slice's documents the builder posts (None where the columnar rules
    did), each with its `posting_date` (dates.local_dates: a third of the rows' cost
    otherwise) in place of its `created_at`."""
    left = [n for n, ok in enumerate(simple) if not ok]
    rows: list[dict[str, Any] | None] = [None] * len(simple)
    if left:
        taken = table.drop_columns(["created_at"]).append_column("posting_date", dates)
        if len(left) < len(simple):
            taken = taken.take(pa.array(left, pa.int64()))
        for n, row in zip(left, taken.to_pylist(), strict=True):
            rows[n] = row
    return rows


_READERS: dict[str, SliceReader] = {}  # this process's, by plan token


def read_slice(job: SliceJob) -> ReadSlice | None:
    """A job's slice, read and posted (work_pool's work, in a worker or the caller)."""
    reader = _READERS.get(job.plan.token)
    if reader is None:  # a worker: one transform at a time
        _READERS.clear()
        reader = _READERS[job.plan.token] = SliceReader(job.plan)
    return reader.read(job.kind, job.number)


@contextmanager
def reading(plan: ExportPlan, builder: DocumentBuilder) -> Iterator[SliceReader]:
    """The caller's reader of `plan`, with its own posting rules; `read_slice` uses it too
    while this lasts (the slices a pool gives the caller), and it is closed after."""
    reader = _READERS[plan.token] = SliceReader(plan, builder)
    try:
        yield reader
    finally:
        _READERS.pop(plan.token, None)
