"""Sage 100 stock and price exports (Visual Integrator jobs), read into Magento, and the export
of imported documents `sagesync ack` reads (README.md here).

A VI export job is user-defined, so these are the table field names (§3); a site whose job
writes other headings maps them in the recipe. Tags: "§n" = the name is in
shared/reference/sage-formats.md at that section; "assumed" = not confirmed by the reference.

| kind   | field        | aliases, first wins                                         |
|--------|--------------|-------------------------------------------------------------|
| stock  | all §3       | ItemCode, WarehouseCode, QuantityOnHand,                    |
|        |              | QuantityOnSalesOrder (allocated), QuantityOnBackOrder       |
|        |              | (added to allocated), QuantityOnPurchaseOrder (on_order)    |
| prices | sku          | ItemCode §3                                                 |
|        | price_list   | CustomerPriceLevel, PriceLevel, PriceCode assumed (or BASE) |
|        | min_qty      | BreakQuantity, BreakQty assumed                             |
|        | price        | UnitPrice §3, StandardUnitPrice, Price assumed              |
|        | currency     | CurrencyCode, Currency assumed                              |

The ack file is a VI export of invoice history (AR_InvoiceHistoryHeader: CustomerPONo,
InvoiceType, InvoiceNo, SalesOrderNo), or of SO_SalesOrderHeader for open orders; the column
names stay in the recipe's [ack] section. InvoiceType IN answers a sale, CM a credit memo.

Despatches (shipments), every name assumed (no despatch export is in the reference): order
CustomerPONo, SalesOrderNo; sku ItemCode; quantity QuantityShipped; carrier ShipVia;
tracking_number TrackingID; shipped_at ShipDate.
"""

from sagesync.sage.layouts import ASSUMED, BASE_PRICE_LIST, Layout, RowRule, aliases
from sagesync.sage.products.base import AckLayout

STOCK = Layout(
    "sage100", "stock", "Sage 100, Visual Integrator export of IM_ItemWarehouse",
    {
        "sku": aliases("§3", "ItemCode"),
        "warehouse": aliases("§3", "WarehouseCode"),
        "on_hand": aliases("§3", "QuantityOnHand"),
        "allocated": aliases("§3", "QuantityOnSalesOrder"),
        "back_ordered": aliases("§3", "QuantityOnBackOrder"),
        "on_order": aliases("§3", "QuantityOnPurchaseOrder"),
    },
    date_format="%Y%m%d", warehouse_digits=3,
)

PRICES = Layout(
    "sage100", "prices", "Sage 100, Visual Integrator export of IM pricing (names assumed)",
    {
        "sku": aliases("§3", "ItemCode"),
        "price_list": aliases(ASSUMED, "CustomerPriceLevel", "PriceLevel", "PriceCode"),
        "min_qty": aliases(ASSUMED, "BreakQuantity", "BreakQty"),
        "price": aliases("§3", "UnitPrice") + aliases(ASSUMED, "StandardUnitPrice", "Price"),
        "currency": aliases(ASSUMED, "CurrencyCode", "Currency"),
    },
    date_format="%Y%m%d", default_price_list=BASE_PRICE_LIST, warehouse_digits=3,
)

CUSTOMERS = Layout(
    "sage100", "customers", "Sage 100, VI export of AR_Customer",
    {
        "account": aliases("§3", "CustomerNo"),
        "name": aliases("§3", "CustomerName"),
        "email": aliases("§3", "EmailAddress"),
        "price_level": aliases(ASSUMED, "PriceLevel"),
        "on_hold": aliases(ASSUMED, "CreditHold"),
        "credit_limit": aliases(ASSUMED, "CreditLimit"),
        "street1": aliases("§3", "AddressLine1"),
        "street2": aliases("§3", "AddressLine2"),
        "town": aliases("§3", "City"),
        "county": aliases("§3", "State"),
        "postcode": aliases("§3", "ZipCode"),
        "country": aliases("§3", "CountryCode"),
        "telephone": aliases("§3", "TelephoneNo"),
    },
    date_format="%Y%m%d",
)

RECEIVABLES = Layout(
    "sage100", "receivables", "Sage 100, A/R open invoices (AR_OpenInvoice) exported through "
    "Visual Integrator",
    {
        "reference": aliases(ASSUMED, "CustomerPONo", "Customer PO No"),
        "type": aliases(ASSUMED, "InvoiceType", "Invoice Type"),
        "invoice": aliases(ASSUMED, "InvoiceNo", "Invoice No"),
        "account": aliases(ASSUMED, "CustomerNo", "Customer No"),
        "amount": aliases(ASSUMED, "InvoiceAmt", "Invoice Amount"),
        "outstanding": aliases(ASSUMED, "Balance"),
        "paid_date": aliases(ASSUMED, "DateLastPaid", "PaidDate"),
        "due_date": aliases(ASSUMED, "InvoiceDueDate", "DueDate"),
        "date": aliases(ASSUMED, "InvoiceDate", "Invoice Date"),
    },
    date_format="%Y%m%d",
    rules=(RowRule("type", aliases(ASSUMED, "InvoiceType", "Invoice Type"),
                   frozenset({"in", "cm"}), None,
                   "only invoices (IN) and credit memos (CM) are documents sagesync posts; "
                   "debit memos, finance charges, prepayments and cash are not"),),
)

# Despatches (issue 15 §2): no Sage despatch export is in the reference, so every
# name is assumed (README.md here); a site maps its own with [sage_export] columns.
SHIPMENTS = Layout(
    "sage100", "shipments",
    "Sage 100, S/O shipments (SO_InvoiceHeader / SO_InvoiceTracking) export",
    {
        "order": aliases(ASSUMED, "CustomerPONo", "SalesOrderNo"),
        "sku": aliases(ASSUMED, "ItemCode"),
        "quantity": aliases(ASSUMED, "QuantityShipped"),
        "carrier": aliases(ASSUMED, "ShipVia"),
        "tracking_number": aliases(ASSUMED, "TrackingID"),
        "shipped_at": aliases(ASSUMED, "ShipDate"),
    },
    date_format="%Y%m%d",
)

LAYOUTS = (STOCK, PRICES, CUSTOMERS, RECEIVABLES, SHIPMENTS)

ACK = AckLayout(
    # an A/R invoice (post_from = "invoices") or an S/O sales order ("orders"); a credit memo is
    # an A/R invoice of type CM (§3)
    types={"SI": ("invoice", "order"), "SC": ("creditmemo",)},
    type_text={"IN": "SI", "CM": "SC"},
    expected=("a CSV export from a Sage 100 Visual Integrator export job of invoice history "
              "(AR_InvoiceHistoryHeader) or of SO_SalesOrderHeader, with a heading row holding "
              "the columns named in the recipe's [ack] section, e.g. CustomerPONo, InvoiceType, "
              "InvoiceNo and SalesOrderNo"),
)
