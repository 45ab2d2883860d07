"""Arrow schemas of the parsed Sage stock and price tables, and the logical fields behind them.

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

Kind = Literal["stock", "prices"]
ValueType = Literal["code", "quantity", "currency", "date", "text"]
# What an empty cell means: a problem, zero, one, the configured default, or nothing (null).
Blank = Literal["error", "zero", "one", "default", "null"]


@dataclass(frozen=True)
class FieldSpec:
    """One logical field: how its cells are read and what a missing column or blank cell means."""

    name: str
    value: ValueType
    blank: Blank
    required: bool
    purpose: str


STOCK_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("sku", "code", "error", True, "the item code (Magento SKU)"),
    FieldSpec("warehouse", "code", "default", True,
              "the warehouse or location code"),
    FieldSpec("on_hand", "quantity", "error", True, "quantity in stock"),
    FieldSpec("allocated", "quantity", "zero", False, "quantity allocated to sales orders"),
    FieldSpec("on_order", "quantity", "zero", False, "quantity on purchase orders"),
    FieldSpec("back_ordered", "quantity", "zero", False, "back-ordered, added to allocated"),
    FieldSpec("bin", "code", "null", False, "a bin inside the warehouse (summed)"),
    FieldSpec("lot", "code", "null", False, "a lot number (part of the duplicate key)"),
    FieldSpec("date", "date", "null", False, "a date (checked only when mapped)"),
)

PRICE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("sku", "code", "error", True, "the item code (Magento SKU)"),
    FieldSpec("price_list", "code", "default", True, "the price list, band or level"),
    FieldSpec("price", "quantity", "error", True, "the unit price"),
    FieldSpec("min_qty", "quantity", "one", False, "the quantity break (blank = 1)"),
    FieldSpec("currency", "currency", "default", False, "ISO currency code (blank = configured)"),
    FieldSpec("date", "date", "null", False, "a date (checked only when mapped)"),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {"stock": STOCK_FIELDS, "prices": PRICE_FIELDS}
SCHEMAS: dict[str, pa.Schema] = {"stock": SAGE_STOCK, "prices": SAGE_PRICES}

# The columns that identify a row: two rows with the same key are duplicates (an error).
KEYS: dict[str, tuple[str, ...]] = {
    "stock": ("sku", "warehouse"),
    "prices": ("sku", "price_list", "min_qty", "currency"),
}


def empty_table(kind: str) -> pa.Table:
    """The table a rejected file yields: the right schema and no rows (never half-applied)."""
    return SCHEMAS[kind].empty_table()
