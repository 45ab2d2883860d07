"""The transform step: a Magento export checkpoint -> a Sage documents checkpoint."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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
from sagesync.pipeline.postable import posted_documents, posted_kinds
from sagesync.recipe import Recipe
from sagesync.transform.accounts import AccountAllocator, customer_key
from sagesync.transform.documents import (
    LINE_UNITS,
    DocumentBuilder,
    SageDocument,
    document_row,
    line_columns,
    split_rows,
)
from sagesync.transform.mapping import NominalMap, load_customer_accounts
from sagesync.transform.rows import as_units, units_array

KIND = "sage-documents"


@dataclass
class TransformResult:
    manifest: Path
    documents: int = 0
    held: list[str] = field(default_factory=list)
    holds: dict[RecordKey, Hold] = field(default_factory=dict)  # each held record's cause
    warnings: list[str] = field(default_factory=list)
    new_accounts: int = 0


SLICE = 5_000  # documents converted to Python objects at a time: memory stays flat


def _grouped(table: pa.Table, key: str) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        groups[row[key]].append(row)
    return groups


def _rows_with(table: pa.Table, column: str, values: list[int]) -> pa.Table:
    return table.filter(pc.is_in(table[column], value_set=pa.array(values, pa.int64())))


def _as_py(scalar: Any) -> Any:
    return scalar.as_py()


class _Index:
    """A table's rows by one int64 column, sorted (stably) once on first use: the rows of a
    slice's ids come from binary searches and a filter over just the searched id ranges, not
    the whole table, so an export costs linear time rather than quadratic. The rows come back
    in the table's own order, exactly as a filter of the whole table would give them."""

    GAP = 1024  # ids: a wider gap between wanted ids starts a range searched on its own

    def __init__(self, table: pa.Table, column: str) -> None:
        self.table = table
        self.column = column
        self._order: pa.Array | None = None
        self._keys: pa.Array | None = None
        self._batches = table.to_batches()  # taking from a batch is cheap; from the table, not
        self._starts = [0]
        for batch in self._batches:
            self._starts.append(self._starts[-1] + batch.num_rows)

    def _sorted(self) -> tuple[pa.Array, pa.Array]:
        if self._order is None or self._keys is None:
            keys = self.table[self.column]
            order = pc.sort_indices(keys)  # stable; nulls last (never wanted)
            self._order = order.slice(0, len(order) - keys.null_count)
            self._keys = keys.take(self._order).combine_chunks()
        return self._order, self._keys

    def rows(self, values: list[int]) -> pa.Table:
        order, keys = self._sorted()
        wanted = sorted(set(values))
        positions: list[pa.Array] = []
        start = 0
        for end in range(1, len(wanted) + 1):
            if end < len(wanted) and wanted[end] - wanted[end - 1] <= self.GAP:
                continue
            lo = bisect_left(keys, wanted[start], key=_as_py)
            hi = bisect_right(keys, wanted[end - 1], lo=lo, key=_as_py)
            if hi > lo:
                run = pa.array(wanted[start:end], pa.int64())
                positions.append(order.slice(lo, hi - lo).filter(
                    pc.is_in(keys.slice(lo, hi - lo), value_set=run)))
            start = end
        found = sorted(pa.concat_arrays(positions).to_pylist()) if positions else []
        taken = []
        first = 0
        while first < len(found):
            b = bisect_right(self._starts, found[first]) - 1
            offset = self._starts[b]
            last = bisect_left(found, self._starts[b + 1], lo=first)
            taken.append(self._batches[b].take(
                pa.array([p - offset for p in found[first:last]], pa.int64())))
            first = last
        if not taken:
            return self.table.slice(0, 0)
        return pa.Table.from_batches(taken, schema=self.table.schema)


def _columns(table: pa.Table, currency: str) -> pa.Table:
    """Drop the money columns of the currency the recipe does not post in (half the work),
    and turn the rest into integer units (what the posting rules read)."""
    money = {f.name for f in table.schema if f.type == MAGENTO_MONEY}
    unwanted = "base_" if currency == "order" else ""
    drop = {n for n in money if n.startswith("base_") == bool(unwanted)
            and (n.removeprefix("base_") if unwanted else f"base_{n}") in money}
    return as_units(table.select([n for n in table.column_names if n not in drop]))


@dataclass
class _Export:
    """The export's tables, kept columnar; rows become Python objects one slice at a time."""

    orders: pa.Table
    order_items: pa.Table
    customers: pa.Table

    def __post_init__(self) -> None:
        self._orders = _Index(self.orders, "entity_id")
        self._order_items = _Index(self.order_items, "order_id")
        self._customers = _Index(self.customers, "id")

    def slice_context(self, order_ids: list[int]
                      ) -> tuple[dict[int, dict[str, Any]], dict[int, list[dict[str, Any]]]]:
        orders = {r["entity_id"]: r for r in self._orders.rows(order_ids).to_pylist()}
        items = _grouped(self._order_items.rows(order_ids), "order_id")
        return orders, items

    def customers_of(self, orders: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The customer records of a slice's orders, in one filter."""
        ids = sorted({o["customer_id"] for o in orders.values() if o.get("customer_id")})
        if not ids or self.customers.num_rows == 0:
            return {}
        return {r["id"]: r for r in self._customers.rows(ids).to_pylist()}


LINES = {"order": "order_items", "invoice": "invoice_items", "creditmemo": "creditmemo_items"}


def _document_slices(recipe: Recipe, export: Checkpoint, only: set[RecordKey] | None = None
                     ) -> Iterator[tuple[str, list[dict[str, Any]], _Index]]:
    """(kind, a slice of document rows, the lines by document) for every posting, in order."""
    currency = recipe.sage.currency
    for kind in posted_kinds(recipe):
        table = _columns(posted_documents(recipe, export, kind), currency)
        if only is not None:
            ids = [k.entity_id for k in only if k.entity_type == kind]
            table = _rows_with(table, "entity_id", ids)
        lines = _Index(_columns(export.table(LINES[kind]), currency), "document_id")
        for start in range(0, table.num_rows, SLICE):
            yield kind, table.slice(start, SLICE).to_pylist(), lines


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
                              negative_amounts=recipe.sage.negative_amounts)
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
        currency = recipe.sage.currency
        tables = _Export(_columns(source.table("orders"), currency),
                         _columns(source.table("order_items"), currency),
                         source.table("customers"))
        for kind, rows, lines_index in _document_slices(recipe, source, only):
            docs = _build_slice(kind, rows, lines_index, tables, builder, allocator,
                                account_rows)
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


def _reference(d: SageDocument) -> str:
    return f"{d.transaction_type}:{d.reference}"


def _build_slice(kind: str, rows: list[dict[str, Any]], lines_index: _Index, tables: _Export,
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
    writer.write("splits", pa.Table.from_pylist(
        [row for d in docs for row in split_rows(d, department)], schema=SAGE_SPLITS))
    lines = line_columns(docs)
    writer.write("lines", pa.Table.from_arrays(
        [units_array(values) if name in LINE_UNITS
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
    document.hold_reason = hold.message
    setattr(document, "hold", hold)  # noqa: B010 - until SageDocument has a `hold` field
    return document


def _hold_of(document: SageDocument) -> Hold:
    """A held document's cause: the Hold it carries, else read from its reason's words
    (transform.documents gives its reasons as text until HoldDocument carries a Hold)."""
    given = getattr(document, "hold", None)
    if isinstance(given, Hold) and given.message == document.hold_reason:
        return given
    return holds.recognise(document.hold_reason or "")


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
