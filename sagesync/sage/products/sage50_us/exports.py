"""Sage 50 US (Peachtree) stock and price exports, read into Magento (see README.md here).

Tags: "§n" = the name is in shared/reference/sage-formats.md at that section.

| kind   | field   | aliases, first wins                                            |
|--------|---------|----------------------------------------------------------------|
| stock  | sku     | Item ID §2.3                                                   |
|        | on_hand | none: ITEM.CSV does not export it (§2.1, §2.3); the recipe     |
|        |         | maps a report's quantity column                                |
| prices | sku     | Item ID §2.3                                                   |
|        | levels  | Sales Price 1..10 §2.3 -> price lists LEVEL1..LEVEL10          |
"""

from sagesync.sage.layouts import Layout, aliases

STOCK = Layout(
    "sage50_us", "stock", "Sage 50 US, a report export with a user-mapped quantity",
    {"sku": aliases("§2.3", "Item ID")},
    date_format="%m/%d/%y", single_location=True,
    hints={"on_hand": (
        "Sage 50 US does not export quantity on hand with items (ITEM.CSV, reference §2.3): "
        "export a report such as Inventory Valuation to CSV and map its quantity column in "
        "the recipe, e.g. columns.on_hand = \"Qty on Hand\"")},
)

PRICES = Layout(
    "sage50_us", "prices", "Sage 50 US, ITEM.CSV (Inventory Item List)",
    {"sku": aliases("§2.3", "Item ID")},
    date_format="%m/%d/%y", level_prefix="salesprice",
)

LAYOUTS = (STOCK, PRICES)
