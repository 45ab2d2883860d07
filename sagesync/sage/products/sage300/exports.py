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

CUSTOMERS = Layout(
    "sage300", "customers", "Sage 300, A/R Customers AR0024 (ARCUS)",
    {
        "account": aliases("§5", "IDCUST"),
        "name": aliases("§5", "NAMECUST"),
        "email": aliases(ASSUMED, "EMAIL1", "EMAIL2"),
        "price_level": aliases(ASSUMED, "PRICLIST"),
        "on_hold": aliases("§5", "SWHOLD"),
        "credit_limit": aliases(ASSUMED, "AMTCRLIMT"),
        "street1": aliases("§5", "TEXTSTRE1"),
        "street2": aliases("§5", "TEXTSTRE2"),
        "town": aliases("§5", "NAMECITY"),
        "county": aliases("§5", "CODESTTE"),
        "postcode": aliases("§5", "CODEPSTL"),
        "country": aliases("§5", "CODECTRY"),
        "telephone": aliases("§5", "TEXTPHON1"),
    },
    date_format="%Y%m%d",
)

RECEIVABLES = Layout(
    "sage300", "receivables", "Sage 300, A/R documents (AROBL) exported through Import/Export",
    {
        "reference": aliases(ASSUMED, "IDPONBR", "PONUMBER"),
        "type": aliases(ASSUMED, "TRXTYPETXT", "IDTRXTYPE"),
        "invoice": aliases(ASSUMED, "IDINVC"),
        "account": aliases(ASSUMED, "IDCUST"),
        "amount": aliases(ASSUMED, "AMTINVCHC", "AMTINVCTC"),
        "outstanding": aliases(ASSUMED, "AMTDUEHC", "AMTDUETC"),
        "paid_date": aliases(ASSUMED, "DATELSTPAY", "DATEPAID"),
        "due_date": aliases(ASSUMED, "DATEDUE"),
        "date": aliases(ASSUMED, "DATEINVC"),
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

LAYOUTS = (STOCK, PRICES, CUSTOMERS, RECEIVABLES, SHIPMENTS)

ACK = AckLayout(
    # an invoice (or an order, post_from = "orders") is an O/E order; the export has no type
    # column, so a recipe sets [ack] type_column = "" and every row answers an SI
    types={"SI": ("invoice", "order")},
    expected=("a CSV export of the O/E Orders header view (OE0520) from Sage 300 Import/Export "
              "(file type CSV, field names in the first row) holding the columns named in the "
              "recipe's [ack] section, e.g. PONUMBER, ORDNUMBER and INVNUMBER"),
)
