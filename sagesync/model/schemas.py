"""Arrow schemas of every table kind that travels between steps, defined once.

Money columns are decimal128: four places for Magento amounts (Magento stores decimal(12,4)),
two places for what goes into Sage. Times are UTC timestamps. Exchange rates keep eight places
(Magento stores four), and `extra_amounts` is a small JSON object of the amounts Magento sends
outside the fields sagesync decodes (see sagesync.magento.tables), so a document that does not
balance can name them.
"""

from __future__ import annotations

import pyarrow as pa

MAGENTO_MONEY = pa.decimal128(18, 4)
SAGE_MONEY = pa.decimal128(18, 2)
EXCHANGE_RATE = pa.decimal128(20, 8)  # order-currency units per one base-currency unit
UTC_TIME = pa.timestamp("s", tz="UTC")

_ADDRESS = [
    ("billing_company", pa.string()), ("billing_firstname", pa.string()),
    ("billing_lastname", pa.string()), ("billing_street", pa.string()),
    ("billing_city", pa.string()), ("billing_region", pa.string()),
    ("billing_postcode", pa.string()), ("billing_country_id", pa.string()),
    ("billing_telephone", pa.string()), ("billing_vat_id", pa.string()),
]


def _money(*names: str) -> list[tuple[str, pa.DataType]]:
    """Each amount twice: in the order currency and in the website's base currency."""
    return [(prefix + name, MAGENTO_MONEY) for name in names for prefix in ("", "base_")]


_DOC_MONEY = _money("grand_total", "subtotal", "tax_amount", "discount_amount",
                    "discount_tax_compensation_amount", "shipping_amount", "shipping_tax_amount",
                    "shipping_discount_tax_compensation_amount")
_LINE_MONEY = _money("row_total", "tax_amount", "discount_amount",
                     "discount_tax_compensation_amount")

ORDERS = pa.schema([
    ("entity_id", pa.int64()), ("increment_id", pa.string()), ("store_id", pa.int64()),
    ("state", pa.string()), ("status", pa.string()),
    ("created_at", UTC_TIME), ("updated_at", UTC_TIME),
    ("customer_id", pa.int64()), ("customer_is_guest", pa.bool_()),
    ("customer_email", pa.string()), ("customer_firstname", pa.string()),
    ("customer_lastname", pa.string()), ("customer_taxvat", pa.string()),
    ("base_currency_code", pa.string()), ("order_currency_code", pa.string()),
    *_DOC_MONEY, *_money("shipping_discount_amount"),
    ("base_to_order_rate", EXCHANGE_RATE), ("extra_amounts", pa.string()),
    *_ADDRESS,
    ("content_hash", pa.string()),
])

ORDER_ITEMS = pa.schema([
    ("order_id", pa.int64()), ("item_id", pa.int64()), ("parent_item_id", pa.int64()),
    ("product_type", pa.string()), ("sku", pa.string()), ("name", pa.string()),
    ("qty_ordered", MAGENTO_MONEY), ("tax_percent", MAGENTO_MONEY),
    *_LINE_MONEY,
])

INVOICES = pa.schema([
    ("entity_id", pa.int64()), ("increment_id", pa.string()), ("order_id", pa.int64()),
    ("store_id", pa.int64()), ("state", pa.int64()),
    ("created_at", UTC_TIME), ("updated_at", UTC_TIME),
    *_DOC_MONEY,
    ("base_to_order_rate", EXCHANGE_RATE), ("extra_amounts", pa.string()),
    ("content_hash", pa.string()),
])

CREDITMEMOS = pa.schema([
    *INVOICES,
    ("invoice_id", pa.int64()),
    *_money("adjustment_positive", "adjustment_negative"),
])

DOCUMENT_ITEMS = pa.schema([
    ("document_id", pa.int64()), ("order_item_id", pa.int64()), ("sku", pa.string()),
    ("name", pa.string()), ("qty", MAGENTO_MONEY),
    *_LINE_MONEY,
])

CUSTOMERS = pa.schema([
    ("id", pa.int64()), ("email", pa.string()), ("firstname", pa.string()),
    ("lastname", pa.string()), ("group_id", pa.int64()), ("website_id", pa.int64()),
    ("store_id", pa.int64()), ("taxvat", pa.string()),
    ("created_at", UTC_TIME), ("updated_at", UTC_TIME),
    *_ADDRESS,
    ("content_hash", pa.string()),
])

# Store views with their websites (GET /V1/store/storeViews and /V1/store/websites), so a
# store can be mapped to a Sage company.
STORES = pa.schema([
    ("store_id", pa.int64()), ("code", pa.string()), ("name", pa.string()),
    ("website_id", pa.int64()), ("website_code", pa.string()), ("website_name", pa.string()),
])

# The tables of the export checkpoint, by file stem.
MAGENTO_TABLES: dict[str, pa.Schema] = {
    "orders": ORDERS,
    "order_items": ORDER_ITEMS,
    "invoices": INVOICES,
    "invoice_items": DOCUMENT_ITEMS,
    "creditmemos": CREDITMEMOS,
    "creditmemo_items": DOCUMENT_ITEMS,
    "customers": CUSTOMERS,
    "stores": STORES,
}

# A Sage document: one posting (SI or SC) made from one Magento document.
SAGE_DOCUMENTS = pa.schema([
    ("document_key", pa.string()),  # e.g. "invoice:12" — the ledger key with the store
    ("entity_type", pa.string()), ("entity_id", pa.int64()), ("store_id", pa.int64()),
    ("order_id", pa.int64()), ("order_increment_id", pa.string()),
    ("increment_id", pa.string()),
    ("transaction_type", pa.string()),  # SI or SC
    ("account_ref", pa.string()), ("posting_date", pa.date32()),
    ("reference", pa.string()), ("extra_reference", pa.string()), ("details", pa.string()),
    ("currency_code", pa.string()), ("grand_total", SAGE_MONEY),
    ("exchange_rate", EXCHANGE_RATE),  # set only when posting a foreign order currency
    ("content_hash", pa.string()),
    ("status", pa.string()),  # "ready", "held" or "skipped"
    ("hold_reason", pa.string()),
    ("skip_reason", pa.string()),  # nothing to post (zero total): accounted for, never sent
    ("warnings", pa.string()),
    # sums of the document's own posted splits (None unless ready): header totals, and
    # shipping for formats that carry it on the header (Sage 50 Canada's Freight)
    ("net_total", SAGE_MONEY), ("tax_total", SAGE_MONEY),
    ("carriage_net", SAGE_MONEY), ("carriage_tax", SAGE_MONEY),
    ("company", pa.string()),  # [sage] companies: the Sage company of the document's store
    # the carriage split's tax code and rate (formats that tax freight on the header: Sage 50
    # Canada's freight tax); None when the document has no carriage
    ("carriage_tax_code", pa.string()), ("carriage_tax_rate", MAGENTO_MONEY),
    # who the document bills, from its order's billing address (formats that name the customer
    # or print an address on each document: Sage 50 Canada's customer line)
    ("customer_name", pa.string()),  # the billing company, else the billing person
    ("billing_street1", pa.string()), ("billing_street2", pa.string()),
    ("billing_city", pa.string()), ("billing_region", pa.string()),
    ("billing_postcode", pa.string()), ("billing_country_id", pa.string()),
    ("billing_telephone", pa.string()), ("customer_email", pa.string()),
    # a credit memo's invoice (Magento's entity id and increment id, when the export holds
    # it): what a credit note is applied to (import-sage's `applied_invoice`)
    ("invoice_id", pa.int64()), ("invoice_increment_id", pa.string()),
])

# One row per (purpose, nominal, tax code) split of a Sage document, in posting order. A split
# whose transaction_type/reference are set is rendered with them instead of the document's: the
# positive-amounts rule posts a credit memo's fee as its own SI (and a gift card's share of an
# invoice as its own SC) right after the document's rows, in the same ledger record.
SAGE_SPLITS = pa.schema([
    ("document_key", pa.string()), ("split_no", pa.int32()),
    ("nominal_code", pa.string()), ("tax_code", pa.string()), ("department", pa.int32()),
    ("details", pa.string()), ("net_amount", SAGE_MONEY), ("tax_amount", SAGE_MONEY),
    ("purpose", pa.string()),
    ("transaction_type", pa.string()), ("reference", pa.string()),  # null: the document's
])

# One row per posting line of a Sage document, in posting order: the item lines with what Magento
# said of them (SKU, name, quantity, unit price, row total, discount, tax, rate) and what the
# recipe made of them (nominal, tax code), then shipping, adjustments, payments and mapped extra
# amounts. Amounts keep Magento's four places in the posted currency; `splits` is the view of
# these lines that Sage 50 UK reads (summed by purpose, nominal and tax code, rounded half up to
# cents once per split, balanced to the document's total), and `split_no` names the split a line
# was summed into. Products that import item lines (header + line records) render from here.
SAGE_LINES = pa.schema([
    ("document_key", pa.string()), ("line_no", pa.int32()),
    ("purpose", pa.string()),  # goods, carriage, discount, adjustment_refund, adjustment_fee,
    # gift_card, store_credit, reward_points or extra (see transform.documents.PURPOSE_LABEL)
    ("sku", pa.string()), ("name", pa.string()), ("order_item_id", pa.int64()),
    ("quantity", MAGENTO_MONEY),
    ("unit_price", MAGENTO_MONEY),  # net of tax, before discount: row_total / quantity
    ("row_total", MAGENTO_MONEY),  # Magento's row_total: quantity x unit price, before discount
    ("discount_amount", MAGENTO_MONEY),  # what the discount takes off the row (positive)
    ("net_amount", MAGENTO_MONEY),  # what the line adds to its split's net (signed)
    ("tax_amount", MAGENTO_MONEY),
    ("tax_rate", MAGENTO_MONEY), ("tax_code", pa.string()), ("nominal_code", pa.string()),
    ("split_no", pa.int32()),
    ("item_code", pa.string()), ("warehouse", pa.string()),  # [mapping] items_csv, goods only
    # the line's share of its split in cents, as posted (the lines of a split sum to it)
    ("posted_net", SAGE_MONEY), ("posted_tax", SAGE_MONEY),
    # set when the line's split is posted as its own document of the other type (see splits)
    ("transaction_type", pa.string()), ("reference", pa.string()),
    # posted_net per unit (quantity one when the line has none), half up to the product's
    # unit_price_places (four when it takes line amounts): for products that compute a line
    # as quantity x price (Sage X3's GROPRI)
    ("posted_price", MAGENTO_MONEY),
])

# A customer account sagesync asks Sage to create (reference §1.3).
SAGE_ACCOUNTS = pa.schema([
    ("account_ref", pa.string()), ("customer_key", pa.string()), ("name", pa.string()),
    ("street1", pa.string()), ("street2", pa.string()), ("town", pa.string()),
    ("county", pa.string()), ("postcode", pa.string()), ("contact_name", pa.string()),
    ("telephone", pa.string()), ("email", pa.string()), ("vat_number", pa.string()),
    ("country_code", pa.string()),
    ("currency_code", pa.string()),  # of the documents posted to it (Sage 200's CurrencyISOCode)
    ("customer_group", pa.string()),  # [mapping] customer_group (Sage 300 IDGRP)
])

SAGE_TABLES: dict[str, pa.Schema] = {
    "documents": SAGE_DOCUMENTS,
    "splits": SAGE_SPLITS,
    "lines": SAGE_LINES,
    "accounts": SAGE_ACCOUNTS,
}
