"""Sage 200 (UK) stock and price exports, read into Magento, and the export of posted customer
transactions `sagesync ack` reads (see README.md here).

The stock item locations and selling prices exports are header-mapped (§4); their exact
identifiers are only in Sage's example files, so most names are assumed. Tags: "§n" = the name
is in shared/reference/sage-formats.md at that section; "assumed" = not confirmed by it.

| kind   | field      | aliases, first wins                                         |
|--------|------------|-------------------------------------------------------------|
| stock  | sku        | StockCode, Code, ProductCode, Item Code assumed (§4 UNCONF) |
|        | warehouse  | WarehouseName, Warehouse assumed, Location name §4,         |
|        |            | Location assumed                                            |
|        | quantities | QtyInStock, QtyAllocated, QtyOnOrder §4 (Zynk)              |
| prices | sku        | StockCode, ProductCode, Code assumed                        |
|        | price_list | PriceBand, PriceBandName assumed                            |
|        | price      | Price, SellingPrice assumed                                 |
|        | currency   | CurrencyCode, Currency assumed, CurrencyISOCode §4          |

The ack export (posted customer transactions) is **assumed** whole: Sage 200 documents no
export of imported transactions, so its headings are the import's own identifiers (§4) where
the field is one, else what the transaction enquiry shows. Per [ack] key, first wins:

| [ack] key          | headings                                                        |
|--------------------|-----------------------------------------------------------------|
| reference_column   | TransactionReference §4, Reference, Transaction Reference, Ref  |
| type_column        | SYSTraderTranType §4, TransactionType, Transaction Type, Type   |
| sage_number_column | URN, UniqueReferenceNumber, Unique Reference Number; else the   |
|                    | TransactionReference (the row itself is Sage's confirmation)    |
| amount_column      | GoodsValueInAccountCurrency §4, DocumentGrossValue,             |
|                    | DocumentValue, GrossValue, Gross Value, Value                   |

Despatches (shipments), every name assumed (no despatch export is in the reference): order
CustomerDocumentNo, DocumentNo, OrderNumber; sku ItemCode, StockCode, Code; quantity
DespatchQuantity, QuantityDespatched; carrier Carrier, CourierName; tracking_number
ConsignmentNo, TrackingNumber; shipped_at DespatchDate.
"""

from sagesync.sage.layouts import ASSUMED, Layout, aliases
from sagesync.sage.products.base import AckLayout

STOCK = Layout(
    "sage200", "stock", "Sage 200, stock item locations export",
    {
        "sku": aliases(ASSUMED, "StockCode", "Code", "ProductCode", "Item Code"),
        "warehouse": aliases(ASSUMED, "WarehouseName", "Warehouse")
        + aliases("§4", "Location name") + aliases(ASSUMED, "Location"),
        "on_hand": aliases("§4", "QtyInStock"),
        "allocated": aliases("§4", "QtyAllocated"),
        "on_order": aliases("§4", "QtyOnOrder"),
    },
    date_format="%d/%m/%Y",
)

PRICES = Layout(
    "sage200", "prices", "Sage 200, stock item selling prices export",
    {
        "sku": aliases(ASSUMED, "StockCode", "ProductCode", "Code"),
        "price_list": aliases(ASSUMED, "PriceBand", "PriceBandName"),
        "price": aliases(ASSUMED, "Price", "SellingPrice"),
        "currency": aliases(ASSUMED, "CurrencyCode", "Currency")
        + aliases("§4", "CurrencyISOCode"),
    },
    date_format="%d/%m/%Y",
)

CUSTOMERS = Layout(
    "sage200", "customers", "Sage 200, customer accounts export",
    {
        "account": aliases("§4", "AccountNumber"),
        "name": aliases("§4", "AccountName"),
        "email": aliases(ASSUMED, "EmailAddress", "Email"),
        "price_level": aliases(ASSUMED, "PriceBand", "PriceBandName"),
        "on_hold": aliases(ASSUMED, "OnHold", "AccountIsOnHold"),
        "credit_limit": aliases(ASSUMED, "CreditLimit"),
        "street1": aliases(ASSUMED, "AddressLine1"),
        "street2": aliases(ASSUMED, "AddressLine2"),
        "town": aliases(ASSUMED, "AddressLine3", "City"),
        "county": aliases(ASSUMED, "AddressLine4", "County"),
        "postcode": aliases(ASSUMED, "PostCode"),
        "country": aliases(ASSUMED, "CountryCode"),
        "telephone": aliases(ASSUMED, "Telephone"),
    },
    date_format="%d/%m/%Y",
)

RECEIVABLES = Layout(
    "sage200", "receivables", "Sage 200, customer transactions (outstanding items) exported to CSV",
    {
        "reference": aliases(ASSUMED, "TransactionReference", "Reference"),
        "type": aliases(ASSUMED, "SYSTraderTranType", "TransactionType", "Type"),
        "invoice": aliases(ASSUMED, "URN", "UniqueReferenceNumber"),
        "account": aliases(ASSUMED, "AccountNumber", "Account"),
        "amount": aliases(ASSUMED, "DocumentGrossValue", "GrossValue", "Value"),
        "outstanding": aliases(ASSUMED, "DocumentOutstandingValue", "OutstandingValue",
                               "Outstanding"),
        "paid_date": aliases(ASSUMED, "PaidDate", "Date Paid"),
        "due_date": aliases(ASSUMED, "DueDate", "Due Date"),
        "date": aliases(ASSUMED, "TransactionDate", "Date"),
    },
    date_format="%d/%m/%Y",
)

# Despatches (issue 15 §2): no Sage despatch export is in the reference, so every
# name is assumed (README.md here); a site maps its own with [sage_export] columns.
SHIPMENTS = Layout(
    "sage200", "shipments", "Sage 200, SOP despatches export",
    {
        "order": aliases(ASSUMED, "CustomerDocumentNo", "DocumentNo", "OrderNumber"),
        "sku": aliases(ASSUMED, "ItemCode", "StockCode", "Code"),
        "quantity": aliases(ASSUMED, "DespatchQuantity", "QuantityDespatched"),
        "carrier": aliases(ASSUMED, "Carrier", "CourierName"),
        "tracking_number": aliases(ASSUMED, "ConsignmentNo", "TrackingNumber"),
        "shipped_at": aliases(ASSUMED, "DespatchDate"),
    },
    date_format="%d/%m/%Y",
)

LAYOUTS = (STOCK, PRICES, CUSTOMERS, RECEIVABLES, SHIPMENTS)

_REFERENCE = ("TransactionReference", "Reference", "Transaction Reference", "Ref")

ACK = AckLayout(
    # an invoice is SYSTraderTranType 4, a credit memo 5 (and its fee an invoice -FEE); rows
    # of other types (receipts 6, journals) in a full export are ignored
    types={"SI": ("invoice",), "SC": ("creditmemo",)},
    type_text={"4": "SI", "5": "SC", "INV": "SI", "INVOICE": "SI", "SALES INVOICE": "SI",
               "CRN": "SC", "CREDIT NOTE": "SC", "SALES CREDIT NOTE": "SC"},
    columns={
        "reference_column": _REFERENCE,
        "type_column": ("SYSTraderTranType", "TransactionType", "Transaction Type", "Type"),
        # Sage's own number where the export gives it; else the reference stands for it
        "sage_number_column": ("URN", "UniqueReferenceNumber", "Unique Reference Number",
                               *_REFERENCE),
        "amount_column": ("GoodsValueInAccountCurrency", "DocumentGrossValue", "DocumentValue",
                          "GrossValue", "Gross Value", "Value"),
    },
    expected=("a CSV export of Sage 200's posted customer transactions (Sales Ledger "
              "transaction enquiry or report, field names in the first row) with the "
              "transaction reference sagesync wrote (TransactionReference), the type "
              "(SYSTraderTranType 4 or 5, or Invoice / Credit Note) and Sage's URN; other "
              "headings are named in the recipe's [ack] section"),
)
