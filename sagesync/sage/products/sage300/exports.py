"""Sage 300 (Accpac) stock and price exports, read into Magento, and the export of O/E orders
`sagesync ack` reads (see README.md here).

Exports of the I/C business views, with the views' field names as headings (§5). Tags: "§n" =
the name is in shared/reference/sage-formats.md at that section; "assumed" = not confirmed.

| kind   | field   | aliases, first wins                                              |
|--------|---------|------------------------------------------------------------------|
| stock  | all §5  | ITEMNO, LOCATION, QTYONHAND, QTYCOMMIT (allocated; else          |
|        |         | QTYSALORDR), QTYONORDER: IC0290 ICILOC                           |
| prices | all §5  | ITEMNO, PRICELIST, CURRENCY (IC0480), UNITPRICE (IC0482);        |
|        | min_qty | QTYUNIT §5, its meaning as a quantity break assumed              |

Despatches (shipments), every name assumed (no despatch export is in the reference): order
PONUMBER, ORDNUMBER; sku ITEM; quantity QTYSHIPPED; carrier SHIPVIA, VIADESC; tracking_number
SHIPTRACK, TRACKINGNO; shipped_at SHIDATE.
"""

from sagesync.sage.layouts import ASSUMED, Layout, aliases
from sagesync.sage.products.base import AckLayout

STOCK = Layout(
    "sage300", "stock", "Sage 300, I/C Location Details IC0290 (ICILOC)",
    {
        "sku": aliases("§5", "ITEMNO"),
        "warehouse": aliases("§5", "LOCATION"),
        "on_hand": aliases("§5", "QTYONHAND"),
        "allocated": aliases("§5", "QTYCOMMIT", "QTYSALORDR"),
        "on_order": aliases("§5", "QTYONORDER"),
    },
    date_format="%Y%m%d",
)

PRICES = Layout(
    "sage300", "prices", "Sage 300, I/C Item Pricing IC0480 (ICPRIC) + IC0482 (ICPRICP)",
    {
        "sku": aliases("§5", "ITEMNO"),
        "price_list": aliases("§5", "PRICELIST"),
        "currency": aliases("§5", "CURRENCY"),
        "price": aliases("§5", "UNITPRICE"),
        "min_qty": aliases(ASSUMED, "QTYUNIT"),
    },
    date_format="%Y%m%d",
)

# Despatches (issue 15 §2): no Sage despatch export is in the reference, so every
# name is assumed (README.md here); a site maps its own with [sage_export] columns.
SHIPMENTS = Layout(
    "sage300", "shipments", "Sage 300, O/E shipments (OESHIH / OESHID) export",
    {
        "order": aliases(ASSUMED, "PONUMBER", "ORDNUMBER"),
        "sku": aliases(ASSUMED, "ITEM"),
        "quantity": aliases(ASSUMED, "QTYSHIPPED"),
        "carrier": aliases(ASSUMED, "SHIPVIA", "VIADESC"),
        "tracking_number": aliases(ASSUMED, "SHIPTRACK", "TRACKINGNO"),
        "shipped_at": aliases(ASSUMED, "SHIDATE"),
    },
    date_format="%Y%m%d",
)

LAYOUTS = (STOCK, PRICES, SHIPMENTS)

ACK = AckLayout(
    # an invoice (or an order, post_from = "orders") is an O/E order; the export has no type
    # column, so a recipe sets [ack] type_column = "" and every row answers an SI
    types={"SI": ("invoice", "order")},
    expected=("a CSV export of the O/E Orders header view (OE0520) from Sage 300 Import/Export "
              "(file type CSV, field names in the first row) holding the columns named in the "
              "recipe's [ack] section, e.g. PONUMBER, ORDNUMBER and INVNUMBER"),
)
