"""Sage Intacct stock and price exports, read into Magento (see README.md here).

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
"""

from sagesync.sage.layouts import ASSUMED, Layout, RowRule, aliases

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

LAYOUTS = (STOCK, PRICES)
