"""What sagesync reads back from Sage X3: stock, prices, the ack (see README.md here).

There is no standard stock-level export template (§6); the names are the `STOCK` table's, each
also with the SQL suffix `_0`. Tags: "§n" = the name is in shared/reference/sage-formats.md at
that section; "assumed" = not confirmed by the reference.

| kind   | field   | aliases, first wins                                              |
|--------|---------|------------------------------------------------------------------|
| stock  | all §6  | ITMREF, STOFCY, QTYSTU, CUMALLQTY, LOC (bin), each also          |
|        |         | with the SQL suffix _0; LOT assumed; STA assumed (rule:          |
|        |         | A kept, Q and R ignored)                                         |
| prices | assumed | ITMREF §6, PLI, GROPRI (§6, an SOH field), PRI, MINQTY,          |
|        |         | CUR §6                                                           |

The ack file is the site's own export of its sales orders (a query or an export template on
SORDER with a heading row): its column names are in the recipe's [ack] section, CUSORDREF
(the Magento number sagesync wrote) and SOHNUM (X3's order number) by default in
recipes/sagex3.toml. It has no type column: every row answers an order.

Despatches (shipments), every name assumed (no despatch export is in the reference): order
CUSORDREF, SOHNUM; sku ITMREF; quantity QTY, DLVQTY; carrier BPTNUM, CARRIER; tracking_number
TRKNUM, YTRKNUM; shipped_at SHIDAT, DLVDAT.
"""

from sagesync.sage.layouts import ASSUMED, Layout, RowRule, aliases
from sagesync.sage.products.base import AckLayout

_X3 = "§6"
_SKU = aliases(_X3, "ITMREF", "ITMREF_0")

STOCK = Layout(
    "sagex3", "stock", "Sage X3, STOCK table export",
    {
        "sku": _SKU,
        "warehouse": aliases(_X3, "STOFCY", "STOFCY_0"),
        "on_hand": aliases(_X3, "QTYSTU", "QTYSTU_0"),
        "allocated": aliases(_X3, "CUMALLQTY", "CUMALLQTY_0"),
        "bin": aliases(_X3, "LOC", "LOC_0"),
        "lot": aliases(ASSUMED, "LOT", "LOT_0"),
    },
    date_format="%Y%m%d",
    rules=(RowRule("status", aliases(ASSUMED, "STA", "STA_0"), frozenset({"a"}),
                   frozenset({"q", "r"}), "stock status Q (quarantine) or R (rejected) "
                   "is not available to sell"),),
)

PRICES = Layout(
    "sagex3", "prices", "Sage X3, price list export (names assumed)",
    {
        "sku": _SKU,
        "price_list": aliases(ASSUMED, "PLI", "PLI_0", "Price list"),
        "price": aliases(_X3, "GROPRI") + aliases(ASSUMED, "GROPRI_0", "PRI", "PRI_0", "Price"),
        "min_qty": aliases(ASSUMED, "MINQTY", "MINQTY_0", "QTYMIN"),
        "currency": aliases(_X3, "CUR", "CUR_0"),
    },
    date_format="%Y%m%d",
)

CUSTOMERS = Layout(
    "sagex3", "customers", "Sage X3, customers (BPCUSTOMER) export",
    {
        "account": aliases("§6", "BPCNUM"),
        "name": aliases("§6", "BPRNAM"),
        "email": aliases(ASSUMED, "WEB", "EMAIL"),
        "price_level": aliases(ASSUMED, "TSCCOD", "PRICE_LIST"),
        "on_hold": aliases(ASSUMED, "OSTCTL", "BPCHLD"),
        "credit_limit": aliases(ASSUMED, "OSTAUZ"),
        "street1": aliases(ASSUMED, "BPAADDLIG1"),
        "street2": aliases(ASSUMED, "BPAADDLIG2"),
        "town": aliases(ASSUMED, "CTY"),
        "county": aliases(ASSUMED, "SAT"),
        "postcode": aliases(ASSUMED, "POSCOD"),
        "country": aliases(ASSUMED, "CRY"),
        "telephone": aliases(ASSUMED, "TEL"),
    },
    date_format="%Y%m%d",
)

# Despatches (issue 15 §2): no Sage despatch export is in the reference, so every
# name is assumed (README.md here); a site maps its own with [sage_export] columns.
SHIPMENTS = Layout(
    "sagex3", "shipments", "Sage X3, deliveries (SDELIVERY / SDELIVERYD) export",
    {
        "order": aliases(ASSUMED, "CUSORDREF", "SOHNUM"),
        "sku": aliases(ASSUMED, "ITMREF"),
        "quantity": aliases(ASSUMED, "QTY", "DLVQTY"),
        "carrier": aliases(ASSUMED, "BPTNUM", "CARRIER"),
        "tracking_number": aliases(ASSUMED, "TRKNUM", "YTRKNUM"),
        "shipped_at": aliases(ASSUMED, "SHIDAT", "DLVDAT"),
    },
    date_format="%Y%m%d",
)

LAYOUTS = (STOCK, PRICES, CUSTOMERS, SHIPMENTS)

ACK = AckLayout(
    # a Magento order is posted as an SOH order, the core's sale type SI
    types={"SI": ("order",)},
    expected=("a ;-separated export of Sage X3 sales orders (a query or an export template on "
              "SORDER) with a heading row holding the columns named in the recipe's [ack] "
              "section (CUSORDREF, SOHNUM), one row per imported order"),
)
