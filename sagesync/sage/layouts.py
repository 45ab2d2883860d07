"""Per-product header aliases of Sage stock and price exports, with where each name comes from.

Columns are found by header name, never by position (Sage 200, Intacct and Sage 300 exports are
header-mapped; Sage 100 VI jobs are user-defined: reference §3, §4, §5, §7). Names are matched
ignoring case, spaces, `_` and `-` (so STOCK_CODE = "Stock Code" = StockCode), and a recipe can
map any logical field to its own header text. The first alias present in a file wins.

Tag per alias: "§n" = the name is in shared/reference/sage-formats.md at that section;
"assumed" = not confirmed by the reference (a sensible guess; override it in the recipe).

| product/kind     | field      | aliases, first wins                                         |
|------------------|------------|-------------------------------------------------------------|
| sage50_uk stock  | sku        | STOCK_CODE §1.6, Stock Code §1.4                            |
|                  | on_hand    | QTY_IN_STOCK §1.6, In Stock assumed                         |
|                  | allocated  | QTY_ALLOCATED §1.6, Allocated assumed                       |
|                  | on_order   | QTY_ON_ORDER §1.6, On Order assumed                         |
|                  | warehouse  | none: one location (§1.4: LOCATION is a bin) -> DEFAULT     |
| sage50_uk prices | sku        | STOCK_CODE §1.6, Stock Code §1.4                            |
|                  | price_list | PRICING_REF §1.6 (absent: BASE, i.e. STOCK.SALES_PRICE)     |
|                  | price      | STORED_PRICE §1.6, SALES_PRICE §1.6, Sales Price §1.4       |
|                  | rule       | TYPE §1.6: P, S kept; U (supplier prices) ignored           |
|                  | currency   | none: PRICE_LIST.CURRENCY is a number (§1.6), not ISO       |
| sage50_us stock  | sku        | Item ID §2.3; on_hand: none (not exported, §2.3): map it    |
| sage50_us prices | sku        | Item ID §2.3                                                |
|                  | levels     | Sales Price 1..10 §2.3 -> price lists LEVEL1..LEVEL10       |
| sage100 stock    | all §3     | ItemCode, WarehouseCode, QuantityOnHand,                    |
|                  |            | QuantityOnSalesOrder (allocated), QuantityOnBackOrder       |
|                  |            | (added to allocated), QuantityOnPurchaseOrder (on_order)    |
| sage100 prices   | sku        | ItemCode §3                                                 |
|                  | price_list | CustomerPriceLevel, PriceLevel, PriceCode assumed (or BASE) |
|                  | min_qty    | BreakQuantity, BreakQty assumed                             |
|                  | price      | UnitPrice §3, StandardUnitPrice, Price assumed              |
|                  | currency   | CurrencyCode, Currency assumed                              |
| sage200 stock    | sku        | StockCode, Code, ProductCode, Item Code assumed (§4 UNCONF) |
|                  | warehouse  | WarehouseName, Warehouse assumed, Location name §4,         |
|                  |            | Location assumed                                            |
|                  | quantities | QtyInStock, QtyAllocated, QtyOnOrder §4 (Zynk)              |
| sage200 prices   | sku        | StockCode, ProductCode, Code assumed                        |
|                  | price_list | PriceBand, PriceBandName assumed                            |
|                  | price      | Price, SellingPrice assumed                                 |
|                  | currency   | CurrencyCode, Currency assumed, CurrencyISOCode §4          |
| sage300 stock    | all §5     | ITEMNO, LOCATION, QTYONHAND, QTYCOMMIT (allocated; else     |
|                  |            | QTYSALORDR), QTYONORDER: IC0290 ICILOC                      |
| sage300 prices   | all §5     | ITEMNO, PRICELIST, CURRENCY (IC0480), UNITPRICE (IC0482);   |
|                  | min_qty    | QTYUNIT §5, its meaning as a quantity break assumed         |
| sagex3 stock     | all §6     | ITMREF, STOFCY, QTYSTU, CUMALLQTY, LOC (bin), each also     |
|                  |            | with the SQL suffix _0; LOT assumed; STA assumed (rule:     |
|                  |            | A kept, Q and R ignored)                                    |
| sagex3 prices    | assumed    | ITMREF §6, PLI, GROPRI (§6, an SOH field), PRI, MINQTY,     |
|                  |            | CUR §6                                                      |
| intacct stock    | sku        | ITEMID, Item ID assumed                                     |
|                  | warehouse  | WAREHOUSEID, Warehouse ID, Warehouse assumed                |
|                  | quantities | QTYONHAND, QTYONHOLD (allocated), QTYONORDER assumed (API   |
|                  |            | names); On hand, On hold, On order §7 (screen labels)       |
|                  | rules      | DONOTIMPORT §7 set, or first cell starting # §7: ignored    |
| intacct prices   | assumed    | PRICELISTID, ITEMID, VALUE, QTYLIMITMIN, CURRENCY           |
|                  | rules      | DONOTIMPORT §7 set: ignored; first cell starting # §7:      |
|                  |            | ignored; VALUETYPE assumed: Actual/blank kept, else ignored |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sagesync.errors import UsageError

DEFAULT_WAREHOUSE = "DEFAULT"
BASE_PRICE_LIST = "BASE"

Alias = tuple[str, str]  # (header text, source tag)


def normalize_header(text: str) -> str:
    """Header identity: no BOM, case-folded, without spaces, `_` and `-`."""
    text = text.replace("\ufeff", "").replace("ï»¿", "")
    return re.sub(r"[\s_\-]+", "", text).casefold()


@dataclass(frozen=True)
class RowRule:
    """Keep, ignore or reject a row by the value of one column (compared case-insensitively).

    keep: values that keep the row; ignore: values that drop it on purpose (None = any value not
    in keep); anything else is a row problem. `why` goes into the result's notes.
    """

    field: str
    aliases: tuple[Alias, ...]
    keep: frozenset[str]
    ignore: frozenset[str] | None
    why: str


@dataclass(frozen=True)
class Layout:
    """How one product's export of one kind is read."""

    product: str
    kind: str
    title: str
    aliases: Mapping[str, tuple[Alias, ...]]
    date_format: str
    single_location: bool = False
    default_price_list: str | None = None
    level_prefix: str | None = None  # wide price layout: "<prefix> N" columns -> LEVEL{N}
    rules: tuple[RowRule, ...] = ()
    comment_prefix: str | None = None  # rows whose first cell starts with this are ignored
    warehouse_digits: int | None = None  # all-digit warehouse codes are this wide
    hints: Mapping[str, str] = field(default_factory=dict)  # field -> advice when missing


def _al(source: str, *names: str) -> tuple[Alias, ...]:
    return tuple((n, source) for n in names)


A = "assumed"

_SAGE50_UK_SKU = _al("§1.6", "STOCK_CODE") + _al("§1.4", "Stock Code")
_X3 = "§6"

_LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "sage50_uk", "stock", "Sage 50 Accounts UK/IE, STOCK table (ODBC or report)",
        {
            "sku": _SAGE50_UK_SKU,
            "on_hand": _al("§1.6", "QTY_IN_STOCK") + _al(A, "In Stock"),
            "allocated": _al("§1.6", "QTY_ALLOCATED") + _al(A, "Allocated"),
            "on_order": _al("§1.6", "QTY_ON_ORDER") + _al(A, "On Order"),
        },
        date_format="%d/%m/%Y", single_location=True,
    ),
    Layout(
        "sage50_uk", "prices", "Sage 50 Accounts UK/IE, PRICE / PRICE_LIST tables",
        {
            "sku": _SAGE50_UK_SKU,
            "price_list": _al("§1.6", "PRICING_REF"),
            "price": _al("§1.6", "STORED_PRICE", "SALES_PRICE") + _al("§1.4", "Sales Price"),
        },
        date_format="%d/%m/%Y", default_price_list=BASE_PRICE_LIST,
        rules=(RowRule("price_type", _al("§1.6", "TYPE"), frozenset({"p", "s"}),
                       frozenset({"u"}), "TYPE U rows are supplier prices, not selling prices"),),
    ),
    Layout(
        "sage50_us", "stock", "Sage 50 US, a report export with a user-mapped quantity",
        {"sku": _al("§2.3", "Item ID")},
        date_format="%m/%d/%y", single_location=True,
        hints={"on_hand": (
            "Sage 50 US does not export quantity on hand with items (ITEM.CSV, reference §2.3): "
            "export a report such as Inventory Valuation to CSV and map its quantity column in "
            "the recipe, e.g. columns.on_hand = \"Qty on Hand\"")},
    ),
    Layout(
        "sage50_us", "prices", "Sage 50 US, ITEM.CSV (Inventory Item List)",
        {"sku": _al("§2.3", "Item ID")},
        date_format="%m/%d/%y", level_prefix="salesprice",
    ),
    Layout(
        "sage100", "stock", "Sage 100, Visual Integrator export of IM_ItemWarehouse",
        {
            "sku": _al("§3", "ItemCode"),
            "warehouse": _al("§3", "WarehouseCode"),
            "on_hand": _al("§3", "QuantityOnHand"),
            "allocated": _al("§3", "QuantityOnSalesOrder"),
            "back_ordered": _al("§3", "QuantityOnBackOrder"),
            "on_order": _al("§3", "QuantityOnPurchaseOrder"),
        },
        date_format="%Y%m%d", warehouse_digits=3,
    ),
    Layout(
        "sage100", "prices", "Sage 100, Visual Integrator export of IM pricing (names assumed)",
        {
            "sku": _al("§3", "ItemCode"),
            "price_list": _al(A, "CustomerPriceLevel", "PriceLevel", "PriceCode"),
            "min_qty": _al(A, "BreakQuantity", "BreakQty"),
            "price": _al("§3", "UnitPrice") + _al(A, "StandardUnitPrice", "Price"),
            "currency": _al(A, "CurrencyCode", "Currency"),
        },
        date_format="%Y%m%d", default_price_list=BASE_PRICE_LIST, warehouse_digits=3,
    ),
    Layout(
        "sage200", "stock", "Sage 200, stock item locations export",
        {
            "sku": _al(A, "StockCode", "Code", "ProductCode", "Item Code"),
            "warehouse": _al(A, "WarehouseName", "Warehouse") + _al("§4", "Location name")
            + _al(A, "Location"),
            "on_hand": _al("§4", "QtyInStock"),
            "allocated": _al("§4", "QtyAllocated"),
            "on_order": _al("§4", "QtyOnOrder"),
        },
        date_format="%d/%m/%Y",
    ),
    Layout(
        "sage200", "prices", "Sage 200, stock item selling prices export",
        {
            "sku": _al(A, "StockCode", "ProductCode", "Code"),
            "price_list": _al(A, "PriceBand", "PriceBandName"),
            "price": _al(A, "Price", "SellingPrice"),
            "currency": _al(A, "CurrencyCode", "Currency") + _al("§4", "CurrencyISOCode"),
        },
        date_format="%d/%m/%Y",
    ),
    Layout(
        "sage300", "stock", "Sage 300, I/C Location Details IC0290 (ICILOC)",
        {
            "sku": _al("§5", "ITEMNO"),
            "warehouse": _al("§5", "LOCATION"),
            "on_hand": _al("§5", "QTYONHAND"),
            "allocated": _al("§5", "QTYCOMMIT", "QTYSALORDR"),
            "on_order": _al("§5", "QTYONORDER"),
        },
        date_format="%Y%m%d",
    ),
    Layout(
        "sage300", "prices", "Sage 300, I/C Item Pricing IC0480 (ICPRIC) + IC0482 (ICPRICP)",
        {
            "sku": _al("§5", "ITEMNO"),
            "price_list": _al("§5", "PRICELIST"),
            "currency": _al("§5", "CURRENCY"),
            "price": _al("§5", "UNITPRICE"),
            "min_qty": _al(A, "QTYUNIT"),
        },
        date_format="%Y%m%d",
    ),
    Layout(
        "sagex3", "stock", "Sage X3, STOCK table export",
        {
            "sku": _al(_X3, "ITMREF", "ITMREF_0"),
            "warehouse": _al(_X3, "STOFCY", "STOFCY_0"),
            "on_hand": _al(_X3, "QTYSTU", "QTYSTU_0"),
            "allocated": _al(_X3, "CUMALLQTY", "CUMALLQTY_0"),
            "bin": _al(_X3, "LOC", "LOC_0"),
            "lot": _al(A, "LOT", "LOT_0"),
        },
        date_format="%Y%m%d",
        rules=(RowRule("status", _al(A, "STA", "STA_0"), frozenset({"a"}),
                       frozenset({"q", "r"}), "stock status Q (quarantine) or R (rejected) "
                       "is not available to sell"),),
    ),
    Layout(
        "sagex3", "prices", "Sage X3, price list export (names assumed)",
        {
            "sku": _al(_X3, "ITMREF", "ITMREF_0"),
            "price_list": _al(A, "PLI", "PLI_0", "Price list"),
            "price": _al(_X3, "GROPRI") + _al(A, "GROPRI_0", "PRI", "PRI_0", "Price"),
            "min_qty": _al(A, "MINQTY", "MINQTY_0", "QTYMIN"),
            "currency": _al(_X3, "CUR", "CUR_0"),
        },
        date_format="%Y%m%d",
    ),
    Layout(
        "intacct", "stock", "Sage Intacct, item warehouse quantities (report or API export)",
        {
            "sku": _al(A, "ITEMID", "Item ID"),
            "warehouse": _al(A, "WAREHOUSEID", "Warehouse ID", "Warehouse"),
            "on_hand": _al(A, "QTYONHAND") + _al("§7", "On hand"),
            "allocated": _al(A, "QTYONHOLD") + _al("§7", "On hold"),
            "on_order": _al(A, "QTYONORDER") + _al("§7", "On order"),
        },
        date_format="%m/%d/%Y", comment_prefix="#",
        rules=(RowRule("do_not_import", _al("§7", "DONOTIMPORT"), frozenset({""}), None,
                       "DONOTIMPORT is set"),),
    ),
    Layout(
        "intacct", "prices", "Sage Intacct, price list entries (OE price list CSV)",
        {
            "sku": _al(A, "ITEMID", "Item ID"),
            "price_list": _al(A, "PRICELISTID", "Price list ID", "Price list"),
            "price": _al(A, "VALUE", "Price"),
            "min_qty": _al(A, "QTYLIMITMIN", "Minimum quantity"),
            "currency": _al(A, "CURRENCY"),
        },
        date_format="%m/%d/%Y", comment_prefix="#",
        rules=(
            RowRule("do_not_import", _al("§7", "DONOTIMPORT"), frozenset({""}), None,
                    "DONOTIMPORT is set"),
            RowRule("value_type", _al(A, "VALUETYPE"), frozenset({"", "actual"}), None,
                    "VALUETYPE is a markup or discount, not an actual price"),
        ),
    ),
)

LAYOUTS: dict[tuple[str, str], Layout] = {(lay.product, lay.kind): lay for lay in _LAYOUTS}
PRODUCTS: tuple[str, ...] = tuple(dict.fromkeys(lay.product for lay in _LAYOUTS))


def layout_for(product: str, kind: str) -> Layout:
    """The layout of a product's export; an unknown product or kind is a usage error."""
    if kind not in ("stock", "prices"):
        raise UsageError(f"unknown export kind {kind!r}", hint="Allowed: stock, prices.")
    try:
        return LAYOUTS[(product, kind)]
    except KeyError:
        raise UsageError(f"unknown Sage product {product!r}",
                         hint=f"Allowed: {', '.join(PRODUCTS)}.") from None
