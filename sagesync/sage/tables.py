"""Arrow schemas of the parsed Sage stock, price and receivables tables, and the logical
fields behind them.

Quantities and prices are decimal128(18, 4): Magento stores both with four places, and a
Sage 300 price (BCD 10.6, reference §5) is rounded half-up to four. `date` is null unless the
recipe maps a date column. `source_line` is the 1-based line of the row in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

QTY = pa.decimal128(18, 4)

SAGE_STOCK = pa.schema([
    ("sku", pa.string()), ("warehouse", pa.string()),
    ("on_hand", QTY), ("allocated", QTY), ("on_order", QTY),
    ("date", pa.date32()), ("source_line", pa.int32()),
])

SAGE_PRICES = pa.schema([
    ("sku", pa.string()), ("price_list", pa.string()), ("min_qty", QTY),
    ("currency", pa.string()), ("price", QTY),
    ("date", pa.date32()), ("source_line", pa.int32()),
])

# A Sage receivables export (open items / paid invoices, issue 15 §4): one row per Sage
# document; `reference` is what sagesync wrote as the document's reference (the Magento
# increment id), `outstanding` what the customer still owes on it (0: paid).
SAGE_RECEIVABLES = pa.schema([
    ("reference", pa.string()), ("type", pa.string()), ("invoice", pa.string()),
    ("account", pa.string()), ("amount", QTY), ("outstanding", QTY),
    ("paid_date", pa.date32()), ("due_date", pa.date32()), ("date", pa.date32()),
    ("source_line", pa.int32()),
])

Kind = Literal["stock", "prices", "receivables"]
# What an empty cell means: a problem, zero, one, the configured default, or nothing (null).
Blank = Literal["error", "zero", "one", "default", "null"]


@dataclass(frozen=True)
class FieldSpec:
    """One logical field: whether its column must exist and what a blank cell means."""

    name: str
    blank: Blank
    required: bool
    purpose: str


STOCK_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("sku", "error", True, "the item code (Magento SKU)"),
    FieldSpec("warehouse", "default", True,
              "the warehouse or location code"),
    FieldSpec("on_hand", "error", True, "quantity in stock"),
    FieldSpec("allocated", "zero", False, "quantity allocated to sales orders"),
    FieldSpec("on_order", "zero", False, "quantity on purchase orders"),
    FieldSpec("back_ordered", "zero", False, "back-ordered, added to allocated"),
    FieldSpec("bin", "null", False, "a bin inside the warehouse (summed)"),
    FieldSpec("lot", "null", False, "a lot number (part of the duplicate key)"),
    FieldSpec("date", "null", False, "a date (checked only when mapped)"),
)

PRICE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("sku", "error", True, "the item code (Magento SKU)"),
    FieldSpec("price_list", "default", True, "the price list, band or level"),
    FieldSpec("price", "error", True, "the unit price"),
    FieldSpec("min_qty", "one", False, "the quantity break (blank = 1)"),
    FieldSpec("currency", "default", False, "ISO currency code (blank = configured)"),
    FieldSpec("date", "null", False, "a date (checked only when mapped)"),
)

RECEIVABLE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("reference", "error", True,
              "the document's reference as sagesync wrote it (the Magento increment id)"),
    FieldSpec("outstanding", "error", True, "what is still owed on it (0 when paid)"),
    FieldSpec("amount", "null", False, "the document's gross amount"),
    FieldSpec("type", "null", False, "the Sage document type (SI, SC, invoice ...)"),
    FieldSpec("invoice", "null", False, "Sage's own number for the document"),
    FieldSpec("account", "null", False, "the customer account"),
    FieldSpec("paid_date", "null", False, "when it was paid in full"),
    FieldSpec("due_date", "null", False, "when it is due"),
    FieldSpec("date", "null", False, "the document date (checked only when mapped)"),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {"stock": STOCK_FIELDS, "prices": PRICE_FIELDS,
                                            "receivables": RECEIVABLE_FIELDS}
SCHEMAS: dict[str, pa.Schema] = {"stock": SAGE_STOCK, "prices": SAGE_PRICES,
                                 "receivables": SAGE_RECEIVABLES}

# The columns that identify a row: two rows with the same key are duplicates (an error).
KEYS: dict[str, tuple[str, ...]] = {
    "stock": ("sku", "warehouse"),
    "prices": ("sku", "price_list", "min_qty", "currency"),
    "receivables": ("reference", "type"),
}


def empty_table(kind: str) -> pa.Table:
    """The table a rejected file yields: the right schema and no rows (never half-applied)."""
    return SCHEMAS[kind].empty_table()
