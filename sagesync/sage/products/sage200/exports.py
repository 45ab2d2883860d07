"""Sage 200 (UK) stock and price exports, read into Magento (see README.md here).

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

Despatches (shipments), every name assumed (no despatch export is in the reference): order
CustomerDocumentNo, DocumentNo, OrderNumber; sku ItemCode, StockCode, Code; quantity
DespatchQuantity, QuantityDespatched; carrier Carrier, CourierName; tracking_number
ConsignmentNo, TrackingNumber; shipped_at DespatchDate.
"""

from sagesync.sage.layouts import ASSUMED, Layout, aliases

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

LAYOUTS = (STOCK, PRICES, SHIPMENTS)
