"""What sagesync reads back from Sage 50 Accounts UK/IE: stock, prices, the ack (README.md here).

Sage 50 UK has no native stock or price CSV export: the data is in the `STOCK`, `PRICE` and
`PRICE_LIST` tables, read over ODBC or through a report. Tags: "§n" = the name is in
shared/reference/sage-formats.md at that section; "assumed" = not confirmed by the reference
(a sensible guess; override it in the recipe).

| kind   | field      | aliases, first wins                                         |
|--------|------------|-------------------------------------------------------------|
| stock  | sku        | STOCK_CODE §1.6, Stock Code §1.4                            |
|        | on_hand    | QTY_IN_STOCK §1.6, In Stock assumed                         |
|        | allocated  | QTY_ALLOCATED §1.6, Allocated assumed                       |
|        | on_order   | QTY_ON_ORDER §1.6, On Order assumed                         |
|        | warehouse  | none: one location (§1.4: LOCATION is a bin) -> DEFAULT     |
| prices | sku        | STOCK_CODE §1.6, Stock Code §1.4                            |
|        | price_list | PRICING_REF §1.6 (absent: BASE, i.e. STOCK.SALES_PRICE)     |
|        | price      | STORED_PRICE §1.6, SALES_PRICE §1.6, Sales Price §1.4       |
|        | rule       | TYPE §1.6: P, S kept; U (supplier prices) ignored           |
|        | currency   | none: PRICE_LIST.CURRENCY is a number (§1.6), not ISO       |

The ack file is the site's own audit-trail export report: its column names are in the recipe's
[ack] section; the types are the ones sagesync writes (§1.2 column A).

Despatches (shipments), every name assumed (no despatch export is in the reference): order
CUST_ORDER_NUMBER, ORDER_NUMBER, Order No; sku STOCK_CODE, Stock Code; quantity QTY_DESPATCH,
Qty Despatched; carrier COURIER_NAME, Courier; tracking_number CONSIGNMENT, Consignment No;
shipped_at DESPATCH_DATE, Despatch Date.
"""

from sagesync.sage.layouts import ASSUMED, BASE_PRICE_LIST, Layout, RowRule, aliases
from sagesync.sage.products.base import AckLayout

_SKU = aliases("§1.6", "STOCK_CODE") + aliases("§1.4", "Stock Code")

STOCK = Layout(
    "sage50_uk", "stock", "Sage 50 Accounts UK/IE, STOCK table (ODBC or report)",
    {
        "sku": _SKU,
        "on_hand": aliases("§1.6", "QTY_IN_STOCK") + aliases(ASSUMED, "In Stock"),
        "allocated": aliases("§1.6", "QTY_ALLOCATED") + aliases(ASSUMED, "Allocated"),
        "on_order": aliases("§1.6", "QTY_ON_ORDER") + aliases(ASSUMED, "On Order"),
    },
    date_format="%d/%m/%Y", single_location=True,
)

PRICES = Layout(
    "sage50_uk", "prices", "Sage 50 Accounts UK/IE, PRICE / PRICE_LIST tables",
    {
        "sku": _SKU,
        "price_list": aliases("§1.6", "PRICING_REF"),
        "price": aliases("§1.6", "STORED_PRICE", "SALES_PRICE") + aliases("§1.4", "Sales Price"),
    },
    date_format="%d/%m/%Y", default_price_list=BASE_PRICE_LIST,
    rules=(RowRule("price_type", aliases("§1.6", "TYPE"), frozenset({"p", "s"}),
                   frozenset({"u"}), "TYPE U rows are supplier prices, not selling prices"),),
)

CUSTOMERS = Layout(
    "sage50_uk", "customers", "Sage 50 Accounts UK/IE, Customer Record CSV report (SALES_LEDGER)",
    {
        "account": aliases("§1.3", "A/C", "Account Reference") + aliases(ASSUMED, "ACCOUNT_REF"),
        "name": aliases("§1.3", "Name") + aliases(ASSUMED, "NAME"),
        "email": aliases("§1.3", "e-mail") + aliases(ASSUMED, "E_MAIL", "Email"),
        "price_level": aliases(ASSUMED, "PRICE_LIST_REF", "Price List", "Price Band"),
        "on_hold": aliases(ASSUMED, "ACCOUNT_ON_HOLD", "On Hold"),
        "credit_limit": aliases("§1.3", "Credit Limit") + aliases(ASSUMED, "CREDIT_LIMIT"),
        "street1": aliases("§1.3", "Address Line 1") + aliases(ASSUMED, "ADDRESS_1"),
        "street2": aliases("§1.3", "Address Line 2") + aliases(ASSUMED, "ADDRESS_2"),
        "town": aliases("§1.3", "Address Line 3") + aliases(ASSUMED, "ADDRESS_3"),
        "county": aliases("§1.3", "Address Line 4") + aliases(ASSUMED, "ADDRESS_4"),
        "postcode": aliases("§1.3", "Address Line 5") + aliases(ASSUMED, "ADDRESS_5"),
        "country": aliases("§1.3", "COUNTRY_CODE"),
        "telephone": aliases("§1.3", "Telephone") + aliases(ASSUMED, "TELEPHONE"),
    },
    date_format="%d/%m/%Y",
)

RECEIVABLES = Layout(
    "sage50_uk", "receivables", "Sage 50 Accounts UK/IE, customer activity (AUDIT_HEADER over "
    "ODBC, or the Customer Activity report)",
    {
        "reference": aliases(ASSUMED, "INV_REF", "Ref", "Reference", "Inv Ref"),
        "type": aliases(ASSUMED, "TYPE", "Type"),
        "invoice": aliases(ASSUMED, "TRAN_NUMBER", "No", "Tran No."),
        "account": aliases(ASSUMED, "ACCOUNT_REF", "A/C", "Account"),
        "amount": aliases(ASSUMED, "GROSS_AMOUNT", "Amount", "Gross"),
        "outstanding": aliases(ASSUMED, "OUTSTANDING", "O/S", "Outstanding"),
        "paid_date": aliases(ASSUMED, "DATE_PAID", "Date Paid", "Paid Date"),
        "due_date": aliases(ASSUMED, "DUE_DATE", "Due Date", "Due"),
        "date": aliases(ASSUMED, "DATE", "Date"),
    },
    date_format="%d/%m/%Y",
    rules=(RowRule("type", aliases(ASSUMED, "TYPE", "Type"), frozenset({"si", "sc"}), None,
                   "only invoices (SI) and credit notes (SC) are documents sagesync posts; "
                   "receipts, payments on account and the rest are not"),),
)

# Despatches (issue 15 §2): no Sage despatch export is in the reference, so every
# name is assumed (README.md here); a site maps its own with [sage_export] columns.
SHIPMENTS = Layout(
    "sage50_uk", "shipments",
    "Sage 50 Accounts UK/IE, sales order despatches (SALES_ORDER / SOP_ITEM report)",
    {
        "order": aliases(ASSUMED, "CUST_ORDER_NUMBER", "ORDER_NUMBER", "Order No"),
        "sku": aliases(ASSUMED, "STOCK_CODE", "Stock Code"),
        "quantity": aliases(ASSUMED, "QTY_DESPATCH", "Qty Despatched"),
        "carrier": aliases(ASSUMED, "COURIER_NAME", "Courier"),
        "tracking_number": aliases(ASSUMED, "CONSIGNMENT", "Consignment No"),
        "shipped_at": aliases(ASSUMED, "DESPATCH_DATE", "Despatch Date"),
    },
    date_format="%d/%m/%Y",
)

LAYOUTS = (STOCK, PRICES, CUSTOMERS, RECEIVABLES, SHIPMENTS)

ACK = AckLayout(
    # an invoice (or an order, with [sage] post_from = "orders") is posted as SI, a credit
    # memo as SC; rows of any other type in a full audit-trail export are not sagesync's
    types={"SI": ("invoice", "order"), "SC": ("creditmemo",)},
    expected=("a CSV export from Sage (UTF-8 or Windows-1252) with a header row holding the "
              "columns named in the recipe's [ack] section, one row per imported document line"),
)
