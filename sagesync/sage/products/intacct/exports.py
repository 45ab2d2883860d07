"""What sagesync reads back from Sage Intacct: stock, prices, the ack (see README.md here).

Intacct's inventory CSV export layout is not documented (§7: report or API exports, with
user-chosen columns), so the API names come first and the screen labels after. Tags: "§n" =
the name is in shared/reference/sage-formats.md at that section; "assumed" = not confirmed.

| kind   | field      | aliases, first wins                                         |
|--------|------------|-------------------------------------------------------------|
| stock  | sku        | ITEMID, Item ID assumed                                     |
|        | warehouse  | WAREHOUSEID, Warehouse ID, Warehouse assumed                |
|        | quantities | QTYONHAND, QTYONHOLD (allocated), QTYONORDER assumed (API   |
|        |            | names); On hand, On hold, On order §7 (screen labels)       |
|        | rules      | DONOTIMPORT §7 set, or first cell starting # §7: ignored    |
| prices | assumed    | PRICELISTID, ITEMID, VALUE, QTYLIMITMIN, CURRENCY           |
|        | rules      | DONOTIMPORT §7 set: ignored; first cell starting # §7:      |
|        |            | ignored; VALUETYPE assumed: Actual/blank kept, else ignored |

The ack file is an export of the AR invoice list (or the Order Entry transaction list) saved as
CSV: its column names are the site's list view, named in the recipe's [ack] section. Every
document sagesync writes is a sale (SI); an export has no type column, so `type_column = ""`.

Despatches (shipments), every name assumed (no despatch export is in the reference): order
REFERENCENO, PONUMBER, DOCNO; sku ITEMID; quantity QUANTITY; carrier SHIPVIA; tracking_number
TRACKINGNUMBER; shipped_at WHENCREATED.
"""

from sagesync.sage.layouts import ASSUMED, Layout, RowRule, aliases
from sagesync.sage.products.base import AckLayout

_DO_NOT_IMPORT = RowRule("do_not_import", aliases("§7", "DONOTIMPORT"), frozenset({""}), None,
                         "DONOTIMPORT is set")

STOCK = Layout(
    "intacct", "stock", "Sage Intacct, item warehouse quantities (report or API export)",
    {
        "sku": aliases(ASSUMED, "ITEMID", "Item ID"),
        "warehouse": aliases(ASSUMED, "WAREHOUSEID", "Warehouse ID", "Warehouse"),
        "on_hand": aliases(ASSUMED, "QTYONHAND") + aliases("§7", "On hand"),
        "allocated": aliases(ASSUMED, "QTYONHOLD") + aliases("§7", "On hold"),
        "on_order": aliases(ASSUMED, "QTYONORDER") + aliases("§7", "On order"),
    },
    date_format="%m/%d/%Y", comment_prefix="#", rules=(_DO_NOT_IMPORT,),
)

PRICES = Layout(
    "intacct", "prices", "Sage Intacct, price list entries (OE price list CSV)",
    {
        "sku": aliases(ASSUMED, "ITEMID", "Item ID"),
        "price_list": aliases(ASSUMED, "PRICELISTID", "Price list ID", "Price list"),
        "price": aliases(ASSUMED, "VALUE", "Price"),
        "min_qty": aliases(ASSUMED, "QTYLIMITMIN", "Minimum quantity"),
        "currency": aliases(ASSUMED, "CURRENCY"),
    },
    date_format="%m/%d/%Y", comment_prefix="#",
    rules=(
        _DO_NOT_IMPORT,
        RowRule("value_type", aliases(ASSUMED, "VALUETYPE"), frozenset({"", "actual"}), None,
                "VALUETYPE is a markup or discount, not an actual price"),
    ),
)

CUSTOMERS = Layout(
    "intacct", "customers", "Sage Intacct, customers export",
    {
        "account": aliases(ASSUMED, "CUSTOMERID"),
        "name": aliases(ASSUMED, "NAME"),
        "email": aliases(ASSUMED, "EMAIL1", "CONTACTINFO.EMAIL1"),
        "price_level": aliases(ASSUMED, "PRICESCHEDULE", "PRICELIST"),
        "on_hold": aliases(ASSUMED, "ONHOLD"),
        "credit_limit": aliases(ASSUMED, "CREDITLIMIT"),
        "street1": aliases(ASSUMED, "ADDRESS1"),
        "street2": aliases(ASSUMED, "ADDRESS2"),
        "town": aliases(ASSUMED, "CITY"),
        "county": aliases(ASSUMED, "STATE"),
        "postcode": aliases(ASSUMED, "ZIP"),
        "country": aliases(ASSUMED, "COUNTRY"),
        "telephone": aliases(ASSUMED, "PHONE1"),
    },
    date_format="%m/%d/%Y", rules=(_DO_NOT_IMPORT,),
)

RECEIVABLES = Layout(
    "intacct", "receivables", "Sage Intacct, AR invoices (ARINVOICE) exported to CSV",
    {
        "reference": aliases(ASSUMED, "PONUMBER", "PO_NO", "INVOICE_NO", "RECORDID"),
        "type": aliases(ASSUMED, "RECORDTYPE"),
        "invoice": aliases(ASSUMED, "RECORDNO", "DOCNUMBER"),
        "account": aliases(ASSUMED, "CUSTOMERID", "CUSTOMER_ID"),
        "amount": aliases(ASSUMED, "TOTALENTERED"),
        "outstanding": aliases(ASSUMED, "TOTALDUE", "TOTAL_DUE_REMAINING"),
        "paid_date": aliases(ASSUMED, "WHENPAID", "PAID_DATE"),
        "due_date": aliases(ASSUMED, "WHENDUE", "DUE_DATE"),
        "date": aliases(ASSUMED, "WHENCREATED", "CREATED_DATE"),
    },
    date_format="%m/%d/%Y",
)

# Despatches (issue 15 §2): no Sage despatch export is in the reference, so every
# name is assumed (README.md here); a site maps its own with [sage_export] columns.
SHIPMENTS = Layout(
    "intacct", "shipments", "Sage Intacct, Order Entry shipment transactions export",
    {
        "order": aliases(ASSUMED, "REFERENCENO", "PONUMBER", "DOCNO"),
        "sku": aliases(ASSUMED, "ITEMID"),
        "quantity": aliases(ASSUMED, "QUANTITY"),
        "carrier": aliases(ASSUMED, "SHIPVIA"),
        "tracking_number": aliases(ASSUMED, "TRACKINGNUMBER"),
        "shipped_at": aliases(ASSUMED, "WHENCREATED"),
    },
    date_format="%m/%d/%Y", comment_prefix="#",
)

LAYOUTS = (STOCK, PRICES, CUSTOMERS, RECEIVABLES, SHIPMENTS)

ACK = AckLayout(
    # an AR invoice (post_from = "invoices") or an Order Entry transaction ("orders"); credit
    # memos are not imported, so nothing answers them
    types={"SI": ("invoice", "order")},
    expected=("a CSV export of Intacct's AR invoice list (or Order Entry transaction list), "
              "UTF-8 or Windows-1252, with a header row holding the columns named in the "
              "recipe's [ack] section, one row per imported document"),
)
