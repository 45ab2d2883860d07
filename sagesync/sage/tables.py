"""Arrow schemas of the parsed Sage stock, price, customer, receivables and shipment tables,
and their logical fields.

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

# A Sage customer (account) export: one row per account, everything but the key as text
# (blank = null: Sage does not say). `on_hold` is read as a yes/no; `credit_limit` is money.
SAGE_CUSTOMERS = pa.schema([
    ("account", pa.string()), ("email", pa.string()), ("name", pa.string()),
    ("price_level", pa.string()), ("on_hold", pa.bool_()), ("credit_limit", QTY),
    ("street1", pa.string()), ("street2", pa.string()), ("town", pa.string()),
    ("county", pa.string()), ("postcode", pa.string()), ("country", pa.string()),
    ("telephone", pa.string()), ("source_line", pa.int32()),
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


# A despatch (shipment) line: the order it ships, the item and quantity, and the consignment's
# carrier and tracking number. `order` is as written: a Magento increment id or a Sage order
# number the ledger maps back (pipeline.shipment_step).
SAGE_SHIPMENTS = pa.schema([
    ("order", pa.string()), ("sku", pa.string()), ("quantity", QTY),
    ("carrier", pa.string()), ("tracking_number", pa.string()), ("title", pa.string()),
    ("shipped_at", pa.date32()), ("source_line", pa.int32()),
])

Kind = Literal["stock", "prices", "customers", "receivables", "shipments"]
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

CUSTOMER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("account", "error", True, "the Sage account reference"),
    FieldSpec("email", "null", False, "the customer's e-mail address"),
    FieldSpec("name", "null", False, "the account name"),
    FieldSpec("price_level", "null", False, "the price level or band"),
    FieldSpec("on_hold", "null", False, "on hold / credit status (yes or no)"),
    FieldSpec("credit_limit", "null", False, "the credit limit"),
    FieldSpec("street1", "null", False, "address line 1"),
    FieldSpec("street2", "null", False, "address line 2"),
    FieldSpec("town", "null", False, "town or city"),
    FieldSpec("county", "null", False, "county, state or region"),
    FieldSpec("postcode", "null", False, "postcode or ZIP"),
    FieldSpec("country", "null", False, "ISO country code"),
    FieldSpec("telephone", "null", False, "telephone"),
)
#: Other names a recipe may give a customer field in [sage_export] columns.
CUSTOMER_FIELD_SYNONYMS = {"band": "price_level", "price_band": "price_level",
                           "credit_status": "on_hold"}

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

SHIPMENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("order", "error", True,
              "the Magento order number, or the Sage order number sagesync posted it as"),
    FieldSpec("sku", "error", True, "the item code (Magento SKU)"),
    FieldSpec("quantity", "error", True, "the quantity despatched"),
    FieldSpec("carrier", "error", True, "the carrier (courier) name or code"),
    FieldSpec("tracking_number", "error", True, "the consignment's tracking number"),
    FieldSpec("title", "null", False, "the carrier's title shown to the customer"),
    FieldSpec("shipped_at", "null", False, "the despatch date (checked only when mapped)"),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {"stock": STOCK_FIELDS, "prices": PRICE_FIELDS,
                                            "customers": CUSTOMER_FIELDS,
                                            "receivables": RECEIVABLE_FIELDS,
                                            "shipments": SHIPMENT_FIELDS}
SCHEMAS: dict[str, pa.Schema] = {"stock": SAGE_STOCK, "prices": SAGE_PRICES,
                                 "customers": SAGE_CUSTOMERS, "receivables": SAGE_RECEIVABLES,
                                 "shipments": SAGE_SHIPMENTS}

# The columns that identify a row: two rows with the same key are duplicates (an error).
KEYS: dict[str, tuple[str, ...]] = {
    "stock": ("sku", "warehouse"),
    "prices": ("sku", "price_list", "min_qty", "currency"),
    "customers": ("account",),
    "receivables": ("reference", "type"),
    "shipments": ("order", "tracking_number", "sku"),
}


def empty_table(kind: str) -> pa.Table:
    """The table a rejected file yields: the right schema and no rows (never half-applied)."""
    return SCHEMAS[kind].empty_table()
