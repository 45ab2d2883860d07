"""The transform step: a Magento export checkpoint -> a Sage documents checkpoint."""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sagesync.errors import UsageError
from sagesync.ledger import Ledger, RecordKey
from sagesync.model import holds
from sagesync.model.holds import Hold
from sagesync.model.money import cents_of_units
from sagesync.model.schemas import (
    MAGENTO_MONEY,
    SAGE_ACCOUNTS,
    SAGE_DOCUMENTS,
    SAGE_LINES,
    SAGE_SPLITS,
    SAGE_TABLES,
)
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter, open_checkpoint
from sagesync.pipeline.postable import POSTED, posted_kinds, posted_rows
from sagesync.recipe import Recipe
from sagesync.sage import products
from sagesync.transform.accounts import AccountAllocator, customer_key
from sagesync.transform.documents import (
    LINE_UNITS,
    DocumentBuilder,
    SageDocument,
    document_row,
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


class _KeyedTable:
    """A checkpoint table read by one int64 key, a few row groups at a time, so memory stays
    flat however large the export. The export writes row groups in page order and Magento's
    pages come sorted by entity id, so a window of documents finds its orders and lines in one
    or two row groups, chosen by the key column's Parquet statistics (a group without them is
    always read). Rows come back in the table's own order."""

    CACHED = 4  # row groups kept decoded (a window reads the same few ones again)

    def __init__(self, path: Path, column: str,
                 prepare: Callable[[pa.Table], pa.Table] = lambda t: t) -> None:
        self.file = pq.ParquetFile(path)
        self.column = column
        self.prepare = prepare
        index = self.file.schema_arrow.get_field_index(column)
        metadata = self.file.metadata
        self.bounds: dict[int, tuple[int, int] | None] = {}
        for number in range(metadata.num_row_groups):
            group = metadata.row_group(number)
            if group.num_rows == 0:
                continue  # an empty table's only group has no column chunks
            stats = group.column(index).statistics
            known = stats is not None and stats.has_min_max
            self.bounds[number] = (stats.min, stats.max) if known else None
        self.cache: OrderedDict[int, pa.Table] = OrderedDict()
        self.empty = prepare(self.file.schema_arrow.empty_table())

    def _group(self, number: int) -> pa.Table:
        table = self.cache.pop(number, None)
        if table is None:
            table = self.prepare(self.file.read_row_group(number))
        self.cache[number] = table
        while len(self.cache) > self.CACHED:
            self.cache.popitem(last=False)
        return table

    def rows(self, values: Iterable[int]) -> pa.Table:
        wanted = sorted(set(values))
        if not wanted:
            return self.empty
        low, high = wanted[0], wanted[-1]
        value_set = pa.array(wanted, pa.int64())
        parts = []
        for number, bounds in self.bounds.items():
            if bounds is not None and (bounds[1] < low or bounds[0] > high):
                continue
            group = self._group(number)
            parts.append(group.filter(pc.is_in(group[self.column], value_set=value_set)))
        return pa.concat_tables(parts) if parts else self.empty


def _columns(table: pa.Table, currency: str) -> pa.Table:
    """Drop the money columns of the currency the recipe does not post in (half the work),
    and turn the rest into integer units (what the posting rules read)."""
    money = {f.name for f in table.schema if f.type == MAGENTO_MONEY}
    unwanted = "base_" if currency == "order" else ""
    drop = {n for n in money if n.startswith("base_") == bool(unwanted)
            and (n.removeprefix("base_") if unwanted else f"base_{n}") in money}
    return as_units(table.select([n for n in table.column_names if n not in drop]))


class _Export:
    """An export checkpoint's orders, order lines and customers, read a window at a time."""

    def __init__(self, export: Checkpoint, currency: str) -> None:
        prepare = partial(_columns, currency=currency)
        self._orders = _KeyedTable(export.table_file("orders"), "entity_id", prepare)
        self._order_items = _KeyedTable(export.table_file("order_items"), "order_id", prepare)
        self._customers = _KeyedTable(export.table_file("customers"), "id")

    def slice_context(self, order_ids: list[int]
                      ) -> tuple[dict[int, dict[str, Any]], dict[int, list[dict[str, Any]]]]:
        orders = {r["entity_id"]: r for r in self._orders.rows(order_ids).to_pylist()}
        items = _grouped(self._order_items.rows(order_ids), "order_id")
        return orders, items

    def customers_of(self, orders: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The customer records of a slice's orders, in one filter."""
        ids = sorted({o["customer_id"] for o in orders.values() if o.get("customer_id")})
        return {r["id"]: r for r in self._customers.rows(ids).to_pylist()}


LINES = {"order": "order_items", "invoice": "invoice_items", "creditmemo": "creditmemo_items"}


def _document_slices(recipe: Recipe, export: Checkpoint, only: set[RecordKey] | None = None
                     ) -> Iterator[tuple[str, list[dict[str, Any]], _KeyedTable]]:
    """(kind, a slice of document rows, the lines by document) for every posting, in order:
    the documents table is read a row group at a time, never whole."""
    currency = recipe.sage.currency
    prepare = partial(_columns, currency=currency)
    for kind in posted_kinds(recipe):
        lines = _KeyedTable(export.table_file(LINES[kind]),
                            "order_id" if kind == "order" else "document_id", prepare)
        wanted = None if only is None else pa.array(
            sorted(k.entity_id for k in only if k.entity_type == kind), pa.int64())
        source = pq.ParquetFile(export.table_file(POSTED[kind]))
        for batch in source.iter_batches(batch_size=SLICE):
            table = posted_rows(recipe, kind, pa.Table.from_batches([batch]))
            if wanted is not None:
                table = table.filter(pc.is_in(table["entity_id"], value_set=wanted))
            if table.num_rows:
                yield kind, _columns(table, currency).to_pylist(), lines


def transform(recipe: Recipe, export: Checkpoint, ledger: Ledger | None, run_id: str,
              *, lookup: Ledger | None = None) -> TransformResult:
    """Build every Sage document of an export, plus the ledger's queued records that earlier
    exports hold, and write the sage-documents checkpoint. Without a ledger (dry run) nothing
    is remembered; `lookup`, a read-only ledger, still tells the accounts already known."""
    builder = DocumentBuilder(recipe.mapping,
                              NominalMap.load(recipe.mapping.nominals_csv,
                                              recipe.mapping.default_sales_nominal,
                                              recipe.mapping.products_csv),
                              recipe.zone, recipe.sage.currency,
                              recipe.sage.reference_prefixes,
                              companies=recipe.sage.companies,
                              negative_amounts=recipe.sage.negative_amounts,
                              document_types=products.get(recipe.sage.product)
                              .capabilities.transaction_types,
                              items=ItemMap.load(recipe.mapping.items_csv,
                                                 recipe.mapping.unmapped_items,
                                                 recipe.mapping.default_item))
    allocator = AccountAllocator(recipe.mapping,
                                 load_customer_accounts(recipe.mapping.customers_csv),
                                 known.account_refs() if (known := ledger or lookup) else {})
    writer = CheckpointWriter(recipe.state_dir, run_id, "transform", KIND, recipe, [export.path],
                              dry_run=ledger is None)
    for name, schema in SAGE_TABLES.items():
        writer.declare(name, schema)
    result = TransformResult(manifest=Path())
    account_rows: dict[str, dict[str, Any]] = {}
    sources: list[tuple[Checkpoint, set[RecordKey] | None]] = [(export, None)]
    if ledger is not None:
        for path, keys in sorted(ledger.pending_elsewhere(str(export.path),
                                                          posted_kinds(recipe)).items()):
            try:
                sources.append((open_checkpoint(Path(path), "magento-export"), set(keys)))
            except UsageError:
                result.warnings.append(f"{len(keys)} queued records point at {path}, which is "
                                       "gone; re-export them (widen --since)")
    ready: list[tuple[RecordKey, str, str]] = []
    held: list[tuple[RecordKey, str, Hold | str]] = []
    skipped: list[tuple[RecordKey, str, str]] = []
    references = _References(ledger or lookup)
    for source, only in sources:
        tables = _Export(source, recipe.sage.currency)
        for kind, rows, lines_index in _document_slices(recipe, source, only):
            docs = _build_slice(kind, rows, lines_index, tables, builder, allocator,
                                account_rows)
            _hold_unimportable_credits(docs, recipe.sage.product)
            references.hold_collisions(docs)
            _write_documents(writer, docs, recipe.mapping.department)
            result.documents += len(docs)
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
    if ledger is not None:
        ledger.add_accounts(allocator.new)
        ledger.mark_transformed(ready, held, skipped)
    writer.write("accounts", pa.Table.from_pylist(
        [account_rows[r] for r in sorted(account_rows)], schema=SAGE_ACCOUNTS))
    result.new_accounts = len(allocator.new)
    result.manifest = writer.finish({"documents": result.documents, "held": len(result.held),
                                     "accounts": len(account_rows),
                                     "from_earlier_exports": len(sources) - 1})
    return result


class _References:
    """A Sage type + reference belongs to one Magento document: the first one queued with it
    (from the ledger) or built in this run. Another document with the same one (two stores,
    or two orders, sharing an increment id: magento2#40259) is held, because Sage's grouped
    import would merge the two or refuse the second."""

    def __init__(self, ledger: Ledger | None) -> None:
        self.ledger = ledger
        self.claimed: dict[str, RecordKey] = {}

    def hold_collisions(self, docs: list[SageDocument]) -> None:
        wanted = {_reference(d) for d in docs if not (d.hold_reason or d.skip_reason)} \
            - set(self.claimed)
        owners = self.ledger.reference_owners(wanted) if self.ledger and wanted else {}
        for d in docs:
            if d.hold_reason or d.skip_reason:
                continue
            key, reference = RecordKey(d.entity_type, d.entity_id, d.store_id), _reference(d)
            owner = self.claimed.get(reference) or owners.get(reference)
            if owner is None or owner == key:
                self.claimed[reference] = key
                continue
            _hold(d, holds.reference_collision(reference=d.reference,
                                               transaction_type=d.transaction_type,
                                               owner=str(owner)))


def _hold_unimportable_credits(docs: list[SageDocument], product_key: str) -> None:
    """A product whose import has no credit note (Sage 50 Canada's .IMP) holds each credit
    memo with the product's advice on entering it by hand, rather than guessing a format."""
    product = products.get(product_key)
    caps = product.capabilities
    if caps.credit_notes:
        return
    for d in docs:
        if d.entity_type == "creditmemo" and not (d.hold_reason or d.skip_reason):
            _hold(d, holds.no_credit_notes(product=product.title,
                                           how=caps.credit_note_advice or "enter it by hand"))


def _reference(d: SageDocument) -> str:
    return f"{d.transaction_type}:{d.reference}"


def _build_slice(kind: str, rows: list[dict[str, Any]], lines_index: _KeyedTable, tables: _Export,
                 builder: DocumentBuilder, allocator: AccountAllocator,
                 account_rows: dict[str, dict[str, Any]]) -> list[SageDocument]:
    order_ids = sorted({r["entity_id"] if kind == "order" else r["order_id"] for r in rows})
    orders, order_items = tables.slice_context(order_ids)
    if kind == "order":
        lines = order_items
    else:
        lines = _grouped(lines_index.rows([r["entity_id"] for r in rows]), "document_id")
    customers: dict[int, dict[str, Any]] | None = None
    docs: list[SageDocument] = []
    for row in rows:
        order = orders.get(row["entity_id"] if kind == "order" else row["order_id"])
        if order is None:
            docs.append(_orphan(kind, row))
            continue
        ref, origin = allocator.account_for(order)
        docs.append(builder.build(kind, row, lines.get(row["entity_id"], []), order,
                                  order_items.get(order["entity_id"], []), ref))
        key = customer_key(order)
        if origin == "generated" and key and ref not in account_rows:
            if customers is None:
                customers = tables.customers_of(orders)
            account_rows[ref] = _account_row(ref, key, order,
                                             customers.get(order.get("customer_id") or 0))
    return docs


def _write_documents(writer: CheckpointWriter, docs: list[SageDocument],
                     department: int | None) -> None:
    writer.write("documents", pa.Table.from_pylist([_document_row(d) for d in docs],
                                                   schema=SAGE_DOCUMENTS))
    writer.write("splits", pa.Table.from_arrays(
        [cents_array(values) if name in ("net_amount", "tax_amount")
         else pa.array(values, SAGE_SPLITS.field(name).type)
         for name, values in split_columns(docs, department).items()], schema=SAGE_SPLITS))
    lines = line_columns(docs)
    writer.write("lines", pa.Table.from_arrays(
        [units_array(values) if name in LINE_UNITS
         else cents_array(values) if name in ("posted_net", "posted_tax")
         else pa.array(values, SAGE_LINES.field(name).type) for name, values in lines.items()],
        schema=SAGE_LINES))


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


def _document_row(d: SageDocument) -> dict[str, Any]:
    return document_row(d)  # the columns are defined beside the document (transform.documents)


def _account_row(ref: str, key: str, order: dict[str, Any],
                 customer: dict[str, Any] | None) -> dict[str, Any]:
    """A Sage customer record from the customer's default billing address, else the order's."""
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
    }
