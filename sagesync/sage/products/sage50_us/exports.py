"""What sagesync reads back from Sage 50 US (Peachtree): stock, prices, the ack (README.md).

Tags: "§n" = the name is in shared/reference/sage-formats.md at that section.

| kind   | field   | aliases, first wins                                            |
|--------|---------|----------------------------------------------------------------|
| stock  | sku     | Item ID §2.3                                                   |
|        | on_hand | none: ITEM.CSV does not export it (§2.1, §2.3); the recipe     |
|        |         | maps a report's quantity column                                |
| prices | sku     | Item ID §2.3                                                   |
|        | levels  | Sales Price 1..10 §2.3 -> price lists LEVEL1..LEVEL10          |

The ack file is Sage's Sales Journal export (File > Select Import/Export > Accounts Receivable
> Sales Journal > Export) of the imported documents: an invoice or credit memo listed there was
imported. The recipe's [ack] section names its columns: `Invoice/CM #` (the reference sagesync
wrote), `Credit Memo` (FALSE: an invoice, TRUE: a credit memo; the export has no status
column) and `Transaction Number` (Sage's own number, stored as the Sage number).
"""

from sagesync.sage.layouts import ASSUMED, Layout, aliases
from sagesync.sage.products.base import AckLayout

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

CUSTOMERS = Layout(
    "sage50_us", "customers", "Sage 50 US, Customer List (CUSTOMER.CSV)",
    {
        "account": aliases("§2.3", "Customer ID"),
        "name": aliases("§2.3", "Customer Name"),
        "email": aliases(ASSUMED, "Customer E-mail", "E-mail"),
        "price_level": aliases(ASSUMED, "Pricing Level", "Price Level"),
        "on_hold": aliases(ASSUMED, "Inactive", "On Hold"),
        "credit_limit": aliases("§2.3", "Credit Limit"),
        "street1": aliases("§2.3", "Bill to Address-Line One"),
        "street2": aliases("§2.3", "Bill to Address-Line Two"),
        "town": aliases("§2.3", "Bill to City"),
        "county": aliases("§2.3", "Bill to State"),
        "postcode": aliases("§2.3", "Bill to Zip"),
        "country": aliases("§2.3", "Bill to Country"),
        "telephone": aliases(ASSUMED, "Telephone 1"),
    },
    date_format="%m/%d/%y",
)

RECEIVABLES = Layout(
    "sage50_us", "receivables", "Sage 50 US (Peachtree), Aged Receivables report exported to CSV",
    {
        "reference": aliases(ASSUMED, "Invoice/CM #", "Invoice No", "Reference"),
        "type": aliases(ASSUMED, "Type", "Trans Type"),
        "account": aliases(ASSUMED, "Customer ID"),
        "amount": aliases(ASSUMED, "Amount", "Invoice Amount"),
        "outstanding": aliases(ASSUMED, "Amount Due", "Balance", "Balance Due"),
        "paid_date": aliases(ASSUMED, "Date Paid", "Paid Date"),
        "due_date": aliases(ASSUMED, "Date Due", "Due Date"),
        "date": aliases(ASSUMED, "Date"),
    },
    date_format="%m/%d/%y",
)

LAYOUTS = (STOCK, PRICES, CUSTOMERS, RECEIVABLES)

ACK = AckLayout(
    types={"SI": ("invoice", "order"), "SC": ("creditmemo",)},
    # the Sales Journal export states the type as its Credit Memo check box
    type_text={"FALSE": "SI", "TRUE": "SC"},
    expected=("Sage 50 US's Sales Journal export (SALES.CSV, Windows-1252 or UTF-8) with its "
              "heading row, holding the columns named in the recipe's [ack] section (Invoice/CM "
              "#, Credit Memo, Transaction Number), one row per distribution"),
)
