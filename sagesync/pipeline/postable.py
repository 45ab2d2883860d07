"""Which exported Magento documents become Sage postings, and what the ledger registers of
an export checkpoint.

Its own module because both export-magento (which registers an export in the ledger) and
transform (which builds the postings) need it, and steps do not import each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sagesync.ledger import Exported, RecordKey
from sagesync.pipeline.checkpoint import Checkpoint
from sagesync.pipeline.tables import KeyedTable, OrderedTable, sorted_places
from sagesync.recipe import Recipe

POSTED = {"order": "orders", "invoice": "invoices", "creditmemo": "creditmemos"}


def posted_kinds(recipe: Recipe) -> tuple[str, ...]:
    """The Magento documents that become Sage postings under this recipe."""
    return ("order" if recipe.sage.post_from == "orders" else "invoice", "creditmemo")


CANCELLED_ORDER = "canceled"  # Magento's order state
CANCELLED_DOCUMENT = 3  # invoice and credit memo state "canceled"


def _cancelled(kind: str, table: pa.Table) -> pa.ChunkedArray:
    if kind == "order":
        return pc.fill_null(pc.equal(table["state"], CANCELLED_ORDER), False)
    return pc.fill_null(pc.equal(table["state"], CANCELLED_DOCUMENT), False)


def _postable(recipe: Recipe, kind: str, table: pa.Table) -> pa.ChunkedArray:
    """Orders in the recipe's states; invoices and credit memos that are not cancelled."""
    if kind == "order":
        states = pa.array(list(recipe.magento.order_states), pa.string())
        return pc.and_(pc.fill_null(pc.is_in(table["state"], value_set=states), False),
                       pc.invert(_cancelled(kind, table)))
    return pc.invert(_cancelled(kind, table))


def posted_rows(recipe: Recipe, kind: str, table: pa.Table) -> pa.Table:
    """The rows of a table (or of a window of it) that are posted, sorted by entity id."""
    return table.filter(_postable(recipe, kind, table)).sort_by("entity_id")


def exported_records(recipe: Recipe, export: Checkpoint) -> list[Exported]:
    """What the ledger should know of an export (see `iter_exported`), as a list."""
    return list(iter_exported(recipe, export))


REGISTER_CHUNK = 2_000  # records turned into Python objects at a time (10,000: 13 MB more)


def iter_exported(recipe: Recipe, export: Checkpoint) -> Iterator[Exported]:
    """What the ledger should know of an export: every document that will be posted, and
    every cancelled one, so a cancellation after export is never missed (it voids a queued
    record and flags a sent one). In entity id order per kind, made REGISTER_CHUNK at a time
    from the row groups that hold them (and their orders' increment ids from the orders' row
    groups that hold those), so memory does not grow with the export."""
    orders = KeyedTable(export.table_file("orders"), "entity_id",
                        columns=["entity_id", "increment_id"])
    total = "grand_total" if recipe.sage.currency == "order" else "base_grand_total"
    for kind in posted_kinds(recipe):
        wanted = ["entity_id", "store_id", "increment_id", "content_hash",
                  "entity_id" if kind == "order" else "order_id", total, "state", "updated_at"]
        file = pq.ParquetFile(export.table_file(POSTED[kind]))
        ids = file.read(columns=["entity_id"], use_threads=False)
        documents = OrderedTable(file, sorted_places(ids), file.schema_arrow,
                                 list(dict.fromkeys(wanted)))
        for start in range(0, ids.num_rows, REGISTER_CHUNK):
            table = documents.rows(start, start + REGISTER_CHUNK)
            cancelled = _cancelled(kind, table)
            table = table.append_column("_cancelled", cancelled).filter(
                pc.or_(_postable(recipe, kind, table), cancelled))
            linked = orders.rows(pc.drop_null(table[wanted[4]]).to_pylist())
            increments = dict(zip(linked["entity_id"].to_pylist(),
                                  linked["increment_id"].to_pylist(), strict=True))
            columns = [*(table[name] for name in wanted[:5]), _cents_text(table[total]),
                       *(pc.fill_null(column.cast(pa.string()), "") for column in (
                           table["state"], table["updated_at"].cast(pa.timestamp("s")))),
                       table["_cancelled"]]
            for (entity_id, store_id, increment_id, content_hash, order_id, grand_total,
                 state, changed_at, is_cancelled) in zip(*(c.to_pylist() for c in columns),
                                                         strict=True):
                yield Exported(
                    RecordKey(kind, entity_id, store_id or 0), increment_id or "", order_id,
                    increments.get(order_id) or "", content_hash, grand_total=grand_total,
                    magento_state=state, cancelled=bool(is_cancelled), changed_at=changed_at)


def _cents_text(amounts: pa.ChunkedArray) -> pa.ChunkedArray:
    """Amounts as text with two places, rounded half to even ("" for none): what
    `f"{amount:.2f}"` gives a Decimal, but for an amount between -0.005 and 0, which Python
    writes "-0.00" and Arrow "0.00" (no grand total is negative). In Arrow: Python's format
    was a sixth of what registering an export cost besides SQLite."""
    rounded = pc.round(amounts, ndigits=2, round_mode="half_to_even")
    two_places = pa.decimal128(amounts.type.precision, 2)
    return pc.fill_null(rounded.cast(two_places).cast(pa.string()), "")
