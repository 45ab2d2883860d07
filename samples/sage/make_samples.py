"""Write the committed Sage stock, price, customer, receivables and despatch export samples,
byte for byte.

Why a script: the samples are fixtures of exact bytes (encodings, BOMs, line ends, junk), so they
are produced here rather than edited in a spreadsheet that would "fix" them. The catalogue is
the one of samples/magento (same SKUs). Header names follow shared/reference/sage-formats.md
(see sagesync/sage/layouts.py for which are confirmed and which assumed). tests/
test_sage_parsers.py checks the committed files equal `render()`.

    .venv/bin/python samples/sage/make_samples.py          # rewrite the files
    .venv/bin/python samples/sage/make_samples.py --check  # exit 1 if any file differs
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# (sku, description, base price GBP): the SKUs of samples/magento plus a few more.
CATALOGUE: tuple[tuple[str, str, str], ...] = (
    ("24-WG084", "Sprite Foam Yoga Brick", "5.00"),
    ("24-WG088", "Sprite Foam Roller", "19.00"),
    ("24-WG082-blue", "Sprite Stasis Ball 65 cm", "27.00"),
    ("24-WG086", "Sprite Yoga Strap 8 foot", "17.00"),
    ("24-UG06", "Affirm Water Bottle", "7.00"),
    ("24-MB01", "Joust Duffle Bag", "34.00"),
    ("24-WB03", "Driven Backpack", "36.00"),
    ("MH01-S-Gray", "Chaz Kangeroo Hoodie, S, Gray", "52.00"),
    ("MH01-M-Black", "Chaz Kangeroo Hoodie, M, Black", "52.00"),
    ("WSH12-28-Red", "Erika Running Short, 28, Red", "45.00"),
    ("WS03-XS-Red", "Iris Workout Top, XS, Red", "29.00"),
    ("MS-TEE-CLASSIC-M", 'Tee "Classic" Fit, M', "15.00"),
    ("BK-1001", "The Complete Yoga Handbook, 2nd Edition", "12.99"),
    ("HE-LED-10", "Energy Saving LED Bulb, 10W", "4.99"),
    ("HE-INS-ROLL", "Loft Insulation Roll, 200mm", "24.50"),
    ("KD-TEE-7", "Kids' Organic Tee (Age 7)", "8.50"),
    ("GC-25", "Gift Card £25", "25.00"),
)
SKUS = [sku for sku, _, _ in CATALOGUE]


def table(rows: Iterable[Sequence[object]], *, delimiter: str = ",",
          quoting: int = csv.QUOTE_MINIMAL, eol: str = "\r\n") -> str:
    """CSV text the way a Windows export writes it (CRLF unless told otherwise)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=eol)
    writer.writerows(rows)
    return out.getvalue()


def _qty(rnd: random.Random, high: int) -> int:
    return rnd.randint(0, high)


def pct(price: str, factor: str, places: str = "0.01") -> str:
    """price x factor, rounded half-up (Decimal, like every amount in sagesync)."""
    return str((Decimal(price) * Decimal(factor)).quantize(Decimal(places), ROUND_HALF_UP))


# ---------------------------------------------------------------- good samples, per product

def sage50_uk_stock() -> str:
    """STOCK table (reference §1.6) as exported over ODBC to CSV: cp1252, CRLF."""
    rnd = random.Random(501)
    rows: list[list[object]] = [["STOCK_CODE", "DESCRIPTION", "SALES_PRICE", "TAX_CODE",
                                 "QTY_IN_STOCK", "QTY_ALLOCATED", "QTY_ON_ORDER",
                                 "QTY_REORDER_LEVEL", "LOCATION", "BARCODE", "STOCK_TAKE_DATE"]]
    for n, (sku, name, price) in enumerate(CATALOGUE):
        tax = "T0" if sku in ("BK-1001", "KD-TEE-7", "GC-25") else (
            "T5" if sku.startswith("HE-") else "T1")
        on_hand = _qty(rnd, 240)
        rows.append([sku, name, price, tax, on_hand, min(on_hand, _qty(rnd, 12)),
                     rnd.choice([0, 0, 24, 48]), 10, f"Bay {n % 4 + 1}",
                     f"50{rnd.randint(10**10, 10**11 - 1)}", "31/12/2025 00:00:00"])
    rows[15][4] = "12.5"  # quantities are decimals in Sage 50 (reference §1.4: Decimal 11)
    return table(rows)


def sage50_uk_prices() -> str:
    """PRICE rows joined with PRICE_LIST (reference §1.6): P lists, S customer specials, U
    supplier prices (ignored by the parser)."""
    rows: list[list[object]] = [["TYPE", "PRICING_REF", "STOCK_CODE", "CALC_METHOD",
                                 "CALC_VALUE", "STORED_PRICE"]]
    for sku, _, price in CATALOGUE[:8]:
        rows.append(["P", "TRADE", sku, 1, "15.00", pct(price, "0.85")])
    for sku, _, price in CATALOGUE[:6]:
        rows.append(["P", "WHOLESAL", sku, 1, "30.00", pct(price, "0.70")])
    rows.append(["S", "OSULLIVA", "24-WG084", 0, "0.00", "3.95"])
    rows.append(["S", "OSULLIVA", "HE-INS-ROLL", 0, "0.00", "19.99"])
    rows.append(["U", "SUPP001", "24-WG084", 0, "0.00", "2.10"])
    rows.append(["U", "SUPP001", "24-WG088", 0, "0.00", "8.40"])
    return table(rows)


def sage50_us_items() -> str:
    """ITEM.CSV, Inventory Item List (reference §2.3): Sales Price 1..10, no quantity."""
    header = ["Item ID", "Item Description", "Item Class", "Inactive", "Description for Sales",
              *(f"Sales Price {n}" for n in range(1, 11)), "Item Tax Type", "Last Unit Cost",
              "Cost Method", "GL Sales Account", "UPC / SKU", "Stocking U/M", "Weight"]
    rows: list[list[object]] = [header]
    for i, (sku, name, price) in enumerate(CATALOGUE[:12]):
        base = pct(price, "1.25")  # a US store, in dollars
        levels = [base, pct(base, "0.9"), pct(base, "0.8") if i % 3 else "0.00"]
        levels += ["0.00"] * 7
        rows.append([sku, name[:30], "Stock item", "FALSE", name, *levels, 1,
                     pct(base, "0.45"), "Average", "40000-00", f"0{740000000 + i * 7919}",
                     "Each", "0.50"])
    rows[4][14] = "1.00"  # a level-10 (clearance) price on one item
    return table(rows)


def sage50_us_valuation() -> str:
    """An Inventory Valuation report exported to CSV: report titles above the header, and the
    quantity the recipe maps (Qty on Hand), since ITEM.CSV has none (reference §2.3)."""
    width = 9
    pad = [""] * (width - 1)
    rows: list[list[object]] = [
        ["Bellwether Garden Supply", *pad], ["Inventory Valuation Report", *pad],
        ["As of Mar 31, 2026", *pad],
        ["Filter Criteria includes: Report order is by ID.", *pad],
        ["Item ID", "Item Description", "Stocking U/M", "Item Class", "Cost Method",
         "Qty on Hand", "Item Value", "Avg Cost", "% of Inv Value"],
    ]
    rnd = random.Random(502)
    for sku, name, price in CATALOGUE[:12]:
        qty = _qty(rnd, 400)
        cost = Decimal(pct(price, "0.45"))
        rows.append([sku, name[:30], "Each", "Stock item", "Average", f"{qty:.2f}",
                     f"{qty * cost:,.2f}", f"{cost:.2f}", f"{rnd.randint(1, 15)}.00%"])
    return table(rows)


def sage100_stock() -> str:
    """Visual Integrator export of IM_ItemWarehouse (reference §3): strings quoted, three
    warehouses 000/001/002 (3-character codes)."""
    rnd = random.Random(503)
    rows: list[list[object]] = [["ItemCode", "WarehouseCode", "QuantityOnHand",
                                 "QuantityOnSalesOrder", "QuantityOnBackOrder",
                                 "QuantityOnPurchaseOrder", "QuantityOnWorkOrder",
                                 "QuantityRequiredForWO", "ReorderPointQty", "AverageCost"]]
    for sku, _, price in CATALOGUE[:10]:
        for warehouse in ("000", "001", "002"):
            if warehouse == "002" and sku.startswith("MH01"):
                continue
            on_hand = _qty(rnd, 300)
            rows.append([sku, warehouse, f"{on_hand:.3f}", f"{_qty(rnd, 20):.3f}",
                         f"{rnd.choice([0, 0, 0, 5]):.3f}", f"{_qty(rnd, 60):.3f}", "0.000",
                         "0.000", "25.000", pct(price, "0.4", "0.0001")])
    return table(rows, quoting=csv.QUOTE_NONNUMERIC)


def sage100_prices() -> str:
    """An IM pricing export (names assumed, reference §3 UNCONF): price levels with breaks;
    a blank level is the standard price (BASE)."""
    rows: list[list[object]] = [["ItemCode", "CustomerPriceLevel", "BreakQuantity",
                                 "UnitPrice"]]
    for sku, _, price in CATALOGUE[:6]:
        base = pct(price, "1.25")
        rows.append([sku, "", "", base])
        rows.append([sku, "A", "1", pct(base, "0.9")])
        rows.append([sku, "A", "12", pct(base, "0.8")])
    rows.append(["24-WG084", "B", "48", "3.995"])
    return table(rows)


def sage200_stock() -> str:
    """Stock item locations export (reference §4): per warehouse; 'Home' is Sage 200's default."""
    rnd = random.Random(504)
    rows: list[list[object]] = [["Code", "Name", "WarehouseName", "QtyInStock", "QtyAllocated",
                                 "QtyOnOrder", "ReorderLevel", "MinimumLevel", "MaximumLevel"]]
    for sku, name, _ in CATALOGUE[:9]:
        for warehouse in ("Home", "Manchester", "Bristol"):
            if warehouse == "Bristol" and sku.startswith("24-W"):
                continue
            on_hand = _qty(rnd, 500)
            rows.append([sku, name, warehouse, f"{on_hand:.2f}",
                         f"{min(on_hand, _qty(rnd, 30)):.2f}", f"{_qty(rnd, 100):.2f}",
                         "20.00", "10.00", "600.00"])
    return table(rows)


def sage200_prices() -> str:
    """Stock item selling prices export (reference §4; identifiers assumed): price bands in GBP
    and one EUR band."""
    rows: list[list[object]] = [["ProductCode", "ProductName", "PriceBand", "CurrencyCode",
                                 "Price"]]
    for sku, name, price in CATALOGUE[:8]:
        rows.append([sku, name, "Standard", "GBP", price])
        rows.append([sku, name, "Trade", "GBP", pct(price, "0.8")])
    for sku, name, price in CATALOGUE[:4]:
        rows.append([sku, name, "Euro Standard", "EUR", pct(price, "1.17")])
    return table(rows)


# The demo's customer transactions (recipes/sage200.toml on samples/magento): account,
# TransactionReference, SecondReference, SYSTraderTranType, date, gross.
SAGE200_POSTED: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("WHITFI01", "000000001", "000000001", "4", "25/10/2026", "26.40"),
    ("WEBSALES", "000000002", "000000002", "4", "02/11/2026", "104.40"),
    ("OSULLIVA", "000000003", "000000003", "4", "03/11/2026", "181.43"),
    ("WEBSALES", "000000004", "000000004", "4", "05/11/2026", "80.69"),
    ("SHAHPR01", "000000005", "000000005", "4", "09/11/2026", "81.57"),
    ("WEBSALES", "000000006", "000000006", "4", "13/11/2026", "64.99"),
    ("WEBSALES", "200000001", "200000001", "4", "14/11/2026", "53.79"),
    ("OSULLIVA", "000000008", "000000008", "4", "30/11/2026", "334.19"),
    ("WEBSALES", "000000001", "000000002", "5", "10/11/2026", "20.50"),
    ("WEBSALES", "000000001-FEE", "000000002", "4", "10/11/2026", "5.00"),
    ("WEBSALES", "000000002", "000000004", "5", "21/11/2026", "80.69"),
)


def sage200_posted() -> str:
    """Posted customer transactions, as a Sales Ledger transaction enquiry exported to CSV
    (layout assumed, see sage200/exports.py): the import's identifiers in another order, Sage's
    URN first, and a receipt (type 6) that ack ignores."""
    rows: list[list[object]] = [["URN", "AccountNumber", "SYSTraderTranType", "TransactionDate",
                                 "TransactionReference", "SecondReference",
                                 "GoodsValueInAccountCurrency"]]
    for urn, (account, ref, second, kind, day, gross) in enumerate(SAGE200_POSTED, start=4101):
        rows.append([urn, account, kind, day, ref, second, gross])
    rows.insert(3, [4100, "WHITFI01", "6", "26/10/2026", "BACS 26/10", "", "26.40"])
    return table(rows)


def sage300_stock() -> str:
    """I/C Location Details IC0290 / ICILOC (reference §5) exported as CSV: every field quoted,
    quantities with four places. ITEMNO is the unformatted item number."""
    rnd = random.Random(505)
    header = ["ITEMNO", "LOCATION", "QTYONHAND", "QTYONORDER", "QTYSALORDR", "QTYOFFSET",
              "QTYSHNOCST", "QTYRENOCST", "QTYADNOCST", "QTYCOMMIT", "RECENTCOST", "STDCOST",
              "LASTCOST", "TOTALCOST"]
    rows: list[list[object]] = [header]
    for sku, _, price in CATALOGUE[:8]:
        for location in ("1", "2", "3"):
            if location == "3" and not sku.startswith("24-"):
                continue
            on_hand = _qty(rnd, 200)
            on_so = _qty(rnd, 25)
            cost = pct(price, "0.42", "0.000001")
            rows.append([sku, location, f"{on_hand:.4f}", f"{_qty(rnd, 50):.4f}",
                         f"{on_so:.4f}", "0.0000", "0.0000", "0.0000", "0.0000",
                         f"{min(on_so, on_hand) // 2:.4f}", cost, cost, cost,
                         pct(cost, str(on_hand), "0.001")])
    return table(rows, quoting=csv.QUOTE_ALL)


def sage300_prices() -> str:
    """I/C Item Pricing Details IC0482 / ICPRICP with the IC0480 keys (reference §5):
    UNITPRICE has six places (BCD 10.6); QTYUNIT taken as the quantity break (assumed)."""
    rows: list[list[object]] = [["CURRENCY", "ITEMNO", "PRICELIST", "DPRICETYPE", "QTYUNIT",
                                 "UNITPRICE"]]
    for sku, _, price in CATALOGUE[:6]:
        base = pct(price, "1.7", "0.000001")  # Canadian dollars
        rows.append(["CAD", sku, "STD", "1", "1", base])
        rows.append(["CAD", sku, "STD", "1", "10", pct(base, "0.95", "0.000001")])
        rows.append(["USD", sku, "STD", "1", "1", pct(base, "0.73", "0.000001")])
    rows.append(["CAD", "24-WG084", "WHSALE", "1", "100", "8.333333"])
    rows.append(["CAD", "24-WG088", "WHSALE", "1", "100", "19.999950"])
    return table(rows, quoting=csv.QUOTE_ALL)


def sagex3_stock() -> str:
    """STOCK table export (reference §6): `;`-delimited, one row per site, location, lot and
    status; Q (quarantine) rows are not salable."""
    rnd = random.Random(506)
    rows: list[list[object]] = [["STOFCY", "ITMREF", "LOT", "LOC", "STA", "QTYSTU",
                                 "CUMALLQTY"]]
    for n, (sku, _, _) in enumerate(CATALOGUE[:6]):
        for site in ("GB011", "GB012"):
            # The first three items are stored in two locations of each site.
            for loc in ("A01-01", "B02-03") if n < 3 else ("A01-01",):
                rows.append([site, sku, f"L2603-{rnd.randint(1, 9):03d}", loc, "A",
                             _qty(rnd, 120), _qty(rnd, 8)])
    rows.append(["GB011", "24-UG06", "L2602-004", "QC-01", "Q", 14, 0])
    return table(rows, delimiter=";")


def sagex3_prices() -> str:
    """A price list export (names assumed, reference §6 UNCONF): `;`-delimited, breaks."""
    rows: list[list[object]] = [["PLI", "ITMREF", "CUR", "MINQTY", "GROPRI"]]
    for sku, _, price in CATALOGUE[:6]:
        rows.append(["T20", sku, "GBP", 1, price])
        rows.append(["T20", sku, "GBP", 10, pct(price, "0.92")])
        rows.append(["T30", sku, "EUR", 1, pct(price, "1.17")])
    return table(rows, delimiter=";")


def intacct_stock() -> str:
    """Item/warehouse quantities (reference §7: On hand, On order, On hold per item and
    warehouse), saved as CSV UTF-8 (with a BOM, as Excel writes it)."""
    rnd = random.Random(507)
    rows: list[list[object]] = [["ITEMID", "ITEMNAME", "WAREHOUSEID", "QTYONHAND", "QTYONORDER",
                                 "QTYONHOLD", "QTYINTRANSIT"]]
    for sku, name, _ in CATALOGUE[8:17]:
        for warehouse in ("WH-LDN", "WH-MAN"):
            rows.append([sku, name, warehouse, _qty(rnd, 150), _qty(rnd, 40), _qty(rnd, 10),
                         rnd.choice([0, 0, 6])])
    return "\ufeff" + table(rows)


def intacct_prices() -> str:
    """OE price list entries (reference §7 for DONOTIMPORT and # rows; the rest assumed)."""
    rows: list[list[object]] = [
        ["DONOTIMPORT", "PRICELISTID", "ITEMID", "DATEFROM", "DATETO", "QTYLIMITMIN",
         "QTYLIMITMAX", "VALUE", "VALUETYPE", "CURRENCY"],
        ["# One row per item and quantity band. VALUETYPE: Actual, Percent Discount ...",
         "", "", "", "", "", "", "", "", ""],
    ]
    for sku, _, price in CATALOGUE[8:14]:
        rows.append(["", "Base Price List", sku, "1/1/2026", "12/31/2026", "", "", price,
                     "Actual", "GBP"])
        rows.append(["", "Trade", sku, "1/1/2026", "12/31/2026", "1", "9",
                     pct(price, "0.85"), "Actual", "GBP"])
        rows.append(["", "Trade", sku, "1/1/2026", "12/31/2026", "10", "",
                     pct(price, "0.75"), "Actual", "GBP"])
    rows.append(["", "Staff", "BK-1001", "1/1/2026", "12/31/2026", "", "", "20",
                 "Percent Discount", "GBP"])
    rows.append(["X", "Trade", "HE-LED-10", "1/1/2026", "12/31/2026", "", "", "1.00", "Actual",
                 "GBP"])
    return table(rows)


# ---------------------------------------------------------------- broken (or awkward) samples

# ------------------------------------------------------------ customer (account) exports

# (account, name, e-mail, price band, on hold, credit limit, street1, street2, town, county,
# postcode, country, telephone): the four customers of samples/magento/customers, matched by
# e-mail (one written in other capitals), plus a trade account with no web login.
CUSTOMERS: tuple[tuple[str, ...], ...] = (
    ("WHITFIEL", "Jane Whitfield", "Jane.Whitfield@example.co.uk", "", "0", "500.00",
     "27 Otley Road", "Headingley", "Leeds", "West Yorkshire", "LS6 3AA", "GB",
     "0113 496 0127"),
    ("OSULLIVA", "O'Sullivan-Fitzgerald Trading Ltd", "accounts@osf-trading.example.co.uk",
     "TRADE", "0", "5000.00", "Unit 4, Riverside Business Park", "Wharf Road", "Bristol",
     "Bristol", "BS1 6XY", "GB", "0117 496 0455"),
    ("SHAHPRIY", "Priya Shah", "priya.shah@example.com", "WHOLESAL", "1", "1000.00",
     "14 Mill Lane", "", "Leicester", "Leicestershire", "LE1 5AB", "GB", "0116 496 0321"),
    ("LAURENTA", "Amélie Laurent", "amelie.laurent@example.fr", "", "0", "0.00",
     "8 Rue des Lilas", "", "Lyon", "Rhône", "69003", "FR", "+33 4 72 00 00 00"),
    ("CASHSALE", "Counter Cash Sales", "", "", "0", "0.00", "1 High Street", "", "Leeds",
     "West Yorkshire", "LS1 1AA", "GB", ""),
)

# The header of each product's customer export, in the order of a CUSTOMERS row (None: the
# product's export has no such column in this sample).
_CUSTOMER_HEADERS: dict[str, tuple[str | None, ...]] = {
    "sage50_uk": ("A/C", "Name", "e-mail", "Price List", "On Hold", "Credit Limit",
                  "Address Line 1", "Address Line 2", "Address Line 3", "Address Line 4",
                  "Address Line 5", "COUNTRY_CODE", "Telephone"),
    "sage50_us": ("Customer ID", "Customer Name", "Customer E-mail", "Pricing Level",
                  "Inactive", "Credit Limit", "Bill to Address-Line One",
                  "Bill to Address-Line Two", "Bill to City", "Bill to State", "Bill to Zip",
                  "Bill to Country", "Telephone 1"),
    "sage100": ("CustomerNo", "CustomerName", "EmailAddress", "PriceLevel", "CreditHold",
                "CreditLimit", "AddressLine1", "AddressLine2", "City", "State", "ZipCode",
                "CountryCode", "TelephoneNo"),
    "sage200": ("AccountNumber", "AccountName", "EmailAddress", "PriceBand", "OnHold",
                "CreditLimit", "AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4",
                "PostCode", "CountryCode", "Telephone"),
    "sage300": ("IDCUST", "NAMECUST", "EMAIL1", "PRICLIST", "SWHOLD", "AMTCRLIMT",
                "TEXTSTRE1", "TEXTSTRE2", "NAMECITY", "CODESTTE", "CODEPSTL", "CODECTRY",
                "TEXTPHON1"),
    "sagex3": ("BPCNUM", "BPRNAM", "WEB", "TSCCOD", "OSTCTL", "OSTAUZ", "BPAADDLIG1",
               "BPAADDLIG2", "CTY", "SAT", "POSCOD", "CRY", "TEL"),
    "intacct": ("CUSTOMERID", "NAME", "EMAIL1", "PRICESCHEDULE", "ONHOLD", "CREDITLIMIT",
                "ADDRESS1", "ADDRESS2", "CITY", "STATE", "ZIP", "COUNTRY", "PHONE1"),
}
# How each product writes on-hold (the samples' "1"/"0" in its own words).
_HOLD_WORDS = {"sage100": ("Y", "N"), "sage200": ("True", "False"), "intacct": ("true", "false"),
               "sagex3": ("Yes", "No")}


def customers(product: str) -> str:
    """A customer export in `product`'s headers (reference-named where known, the rest
    assumed; see the product's exports.py), one row per account of CUSTOMERS."""
    headers = _CUSTOMER_HEADERS[product]
    rows: list[list[object]] = [list(h for h in headers if h)]
    yes, no = _HOLD_WORDS.get(product, ("1", "0"))
    for account in CUSTOMERS:
        row = [value for value, h in zip(account, headers, strict=True) if h]
        row[4] = yes if account[4] == "1" else no
        rows.append(row)
    return table(rows, delimiter=";" if product == "sagex3" else ",")
# ---------------------------------------------------------------- despatches (shipments)

#: What the despatch samples ship: the two orders of samples/magento still processing. Order
#: 000000008 ships in part (6 of its 10 rolls), 200000002 whole (its configurable hoodie as
#: the simple SKU Sage knows); (Magento order, Sage order, sku, quantity, carrier, tracking).
DESPATCHED: tuple[tuple[str, str, str, int, str, str], ...] = (
    ("000000008", "5008", "HE-INS-ROLL", 6, "Royal Mail", "RM552301864GB"),
    ("000000008", "5008", "BK-1001", 5, "Royal Mail", "RM552301864GB"),
    ("200000002", "5011", "24-UG06", 3, "UPS", "1Z999AA10123456784"),
    ("200000002", "5011", "MH01-S-Gray", 1, "UPS", "1Z999AA10123456784"),
)


def despatches(header: Sequence[str], row: Callable[[tuple[str, str, str, int, str, str]],
                                                    Sequence[object]], **kw: Any) -> str:
    """One product's despatch export of DESPATCHED: its header and its way with a row. No
    Sage despatch export is in the reference: the names are the product layouts' assumptions
    (sagesync/sage/products/<key>/exports.py)."""
    return table([list(header), *(list(row(d)) for d in DESPATCHED)], **kw)


def shipments() -> dict[str, bytes]:
    """A despatch sample per product with a shipments layout."""
    return {
        "sage50_uk/despatches.csv": despatches(
            ["ORDER_NUMBER", "CUST_ORDER_NUMBER", "STOCK_CODE", "QTY_DESPATCH",
             "COURIER_NAME", "CONSIGNMENT", "DESPATCH_DATE"],
            lambda d: [d[1], d[0], d[2], f"{d[3]:.2f}", d[4], d[5], "01/12/2026"]
        ).encode("cp1252"),
        "sage200/sop_despatches.csv": despatches(
            ["DocumentNo", "CustomerDocumentNo", "ItemCode", "DespatchQuantity", "Carrier",
             "ConsignmentNo", "DespatchDate"],
            lambda d: [d[1], d[0], d[2], d[3], d[4], d[5], "01/12/2026"]).encode("utf-8"),
        "sage100/SO_Shipments.csv": despatches(
            ["SalesOrderNo", "CustomerPONo", "ItemCode", "QuantityShipped", "ShipVia",
             "TrackingID", "ShipDate"],
            lambda d: [d[1].zfill(7), d[0], d[2], f"{d[3]:.3f}", d[4].upper(), d[5],
                       "20261201"], quoting=csv.QUOTE_NONNUMERIC).encode("utf-8"),
        "sage300/OESHID.csv": despatches(
            ["ORDNUMBER", "PONUMBER", "ITEM", "QTYSHIPPED", "SHIPVIA", "SHIPTRACK",
             "SHIDATE"],
            lambda d: [f"ORD{d[1].zfill(9)}", d[0], d[2], f"{d[3]:.4f}", d[4].upper(), d[5],
                       "20261201"], quoting=csv.QUOTE_ALL).encode("utf-8"),
        "sagex3/SDELIVERY.csv": despatches(
            ["SOHNUM", "CUSORDREF", "ITMREF", "QTY", "BPTNUM", "TRKNUM", "SHIDAT"],
            lambda d: [f"SOH{d[1]}", d[0], d[2], d[3], d[4].upper().replace(" ", ""), d[5],
                       "20261201"], delimiter=";").encode("utf-8"),
        "intacct/shipments.csv": despatches(
            ["DOCNO", "REFERENCENO", "ITEMID", "QUANTITY", "SHIPVIA", "TRACKINGNUMBER",
             "WHENCREATED"],
            lambda d: [f"SHP-{d[1]}", d[0], d[2], d[3], d[4], d[5], "12/01/2026"]
        ).encode("utf-8-sig"),
    }


def _stock200(rows: list[list[object]], delimiter: str = ",") -> str:
    header = ["Code", "Name", "WarehouseName", "QtyInStock", "QtyAllocated", "QtyOnOrder"]
    return table([header, *rows], delimiter=delimiter)


def broken() -> dict[str, bytes]:
    """One file per Excel/locale pitfall of reference §9 (the README says which are valid)."""
    files: dict[str, bytes] = {}
    uk_header = ["STOCK_CODE", "DESCRIPTION", "QTY_IN_STOCK", "QTY_ALLOCATED", "QTY_ON_ORDER",
                 "STOCK_TAKE_DATE"]
    # All-digit stock codes re-saved by Excel: 004512 -> 4512 (Magento knows 004512).
    files["stripped_zeros.csv"] = table([
        uk_header, ["004510", "Cork Yoga Block", 40, 2, 0, "31/12/2025"],
        ["4512", "Cork Yoga Block, Twin Pack", 18, 0, 12, "31/12/2025"],
        ["4517", "Yoga Mat Bag", 7, 1, 0, "31/12/2025"],
        ["HE-LED-10", "Energy Saving LED Bulb, 10W", 300, 20, 0, "31/12/2025"],
    ]).encode("cp1252")
    # EAN-13 codes used as stock codes, shown by Excel as 5.06E+12.
    files["scientific_sku.csv"] = _stock200([
        ["5060123456789", "Bamboo Socks 3-pack", "Home", "40.00", "0.00", "0.00"],
        ["5.06012E+12", "Bamboo Socks 5-pack", "Home", "12.00", "1.00", "0.00"],
        ["24-WG084", "Sprite Foam Yoga Brick", "Home", "100.00", "4.00", "0.00"],
        ["5.06012E+12", "Bamboo Socks 7-pack", "Home", "3.00", "0.00", "0.00"],
    ]).encode("utf-8")
    # X3 STOCK with a French Excel: ';' and decimal commas (valid with decimal_comma = true).
    files["decimal_comma.csv"] = table([
        ["STOFCY", "ITMREF", "LOC", "STA", "QTYSTU", "CUMALLQTY"],
        ["GB011", "HE-INS-ROLL", "A01-01", "A", "12,5", "0"],
        ["GB011", "24-WG084", "A01-01", "A", "1.250", "3,75"],
        ["GB012", "24-WG084", "B02-03", "A", "80", "0"],
    ], delimiter=";").encode("utf-8")
    # ';'-delimited with plain decimals: valid as it is.
    files["semicolon_plain.csv"] = _stock200([
        ["24-WG084", "Sprite Foam Yoga Brick", "Home", "120.00", "4.00", "0.00"],
        ["24-WG088", "Sprite Foam Roller", "Home", "35.50", "0.00", "10.00"],
        ["24-UG06", "Affirm Water Bottle", "Manchester", "60", "2", "0"],
    ], delimiter=";").encode("utf-8")
    # Thousands separators in a ';' file: 1,250 (ambiguous) and 2,400.00 (US style).
    files["thousands_separator.csv"] = _stock200([
        ["24-WG084", "Sprite Foam Yoga Brick", "Home", "1,250", "4", "0"],
        ["24-WG088", "Sprite Foam Roller", "Home", "2,400.00", "0", "0"],
        ["24-UG06", "Affirm Water Bottle", "Home", "75", "0", "0"],
    ], delimiter=";").encode("utf-8")
    # The same in a comma file, unquoted: the row gets one value too many.
    files["thousands_unquoted.csv"] = (
        b"Code,Name,WarehouseName,QtyInStock,QtyAllocated,QtyOnOrder\r\n"
        b"24-WG084,Sprite Foam Yoga Brick,Home,1,250,4,0\r\n"
        b"24-UG06,Affirm Water Bottle,Home,75,0,0\r\n")
    files["negative_quantity.csv"] = table([
        ["ITEMNO", "LOCATION", "QTYONHAND", "QTYONORDER", "QTYSALORDR", "QTYCOMMIT"],
        ["24-WG084", "1", "42.0000", "0.0000", "2.0000", "2.0000"],
        ["24-WG088", "1", "-3.0000", "10.0000", "0.0000", "0.0000"],
        ["24-UG06", "1", "18.0000", "0.0000", "1.0000", "-1.0000"],
    ], quoting=csv.QUOTE_ALL).encode("utf-8")
    files["non_numeric.csv"] = table([
        ["ProductCode", "ProductName", "PriceBand", "CurrencyCode", "Price"],
        ["24-WG084", "Sprite Foam Yoga Brick", "Standard", "GBP", "5.00"],
        ["24-WG088", "Sprite Foam Roller", "Standard", "GBP", "£19.00"],
        ["24-UG06", "Affirm Water Bottle", "Standard", "GBP", "TBC"],
        ["24-MB01", "Joust Duffle Bag", "Standard", "GBP", "#N/A"],
        ["24-WB03", "Driven Backpack", "Standard", "GBP", ""],
    ]).encode("utf-8")
    files["duplicate_rows.csv"] = table([
        ["ItemCode", "WarehouseCode", "QuantityOnHand", "QuantityOnSalesOrder",
         "QuantityOnPurchaseOrder"],
        ["24-WG084", "000", "120.000", "4.000", "0.000"],
        ["24-WG088", "000", "35.000", "0.000", "10.000"],
        ["24-WG084", "001", "16.000", "0.000", "0.000"],
        ["24-WG084", "000", "118.000", "4.000", "0.000"],
    ], quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
    files["missing_column.csv"] = table([
        ["Code", "Name", "WarehouseName", "Stock Level", "QtyAllocated"],
        ["24-WG084", "Sprite Foam Yoga Brick", "Home", "120.00", "4.00"],
    ]).encode("utf-8")
    # Excel's plain "CSV" save: Windows-1252, with £, € and é (valid).
    files["cp1252_pounds_euros.csv"] = table([
        ["ProductCode", "ProductName", "PriceBand", "CurrencyCode", "Price"],
        ["GC-25", "Gift Card £25", "Standard", "GBP", "25.00"],
        ["GC-25", "Carte cadeau 30 €", "Détail", "EUR", "30.00"],
        ["24-WG084", "Brique de yoga (mousse)", "Détail", "EUR", "5.85"],
    ]).encode("cp1252")
    # Excel's "CSV UTF-8" save: a BOM before the first header (valid).
    files["utf8_bom.csv"] = ("\ufeff" + table([
        ["STOCK_CODE", "DESCRIPTION", "QTY_IN_STOCK", "QTY_ALLOCATED", "QTY_ON_ORDER"],
        ["24-WG084", "Sprite Foam Yoga Brick", "120", "4", "0"],
        ["KD-TEE-7", "Kids' Organic Tee (Age 7) – Zoë", "33", "0", "12"],
    ])).encode("utf-8")
    # Blank lines and rows of bare delimiters after the data (valid).
    files["trailing_blank_lines.csv"] = (table([
        ["ITEMNO", "LOCATION", "QTYONHAND", "QTYONORDER", "QTYCOMMIT"],
        ["24-WG084", "1", "42", "0", "2"],
        ["24-WG088", "1", "7", "10", "0"],
    ]) + "\r\n\r\n,,,,\r\n,,,,\r\n\r\n").encode("utf-8")
    files["empty.csv"] = b""
    files["header_only.csv"] = table([["ITEMID", "WAREHOUSEID", "QTYONHAND", "QTYONORDER",
                                       "QTYONHOLD"]]).encode("utf-8")
    rnd = random.Random(666)
    files["binary_junk.csv"] = bytes(rnd.randrange(256) for _ in range(512))
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        info = zipfile.ZipInfo("[Content_Types].xml", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(info, '<?xml version="1.0"?><Types/>')
    files["excel_workbook.csv"] = workbook.getvalue()
    # Excel reformatted the stock-take dates (checked only when the recipe maps the column).
    files["dates_reformatted.csv"] = table([
        uk_header, ["24-WG084", "Sprite Foam Yoga Brick", 120, 4, 0, "31/12/2025"],
        ["24-WG088", "Sprite Foam Roller", 35, 0, 10, "2025-12-31"],
        ["24-UG06", "Affirm Water Bottle", 60, 2, 0, "12/31/2025"],
        ["24-MB01", "Joust Duffle Bag", 9, 0, 0, "46022"],
    ]).encode("cp1252")
    # Excel "Unicode Text": UTF-16 LE with a BOM, tab-delimited (valid).
    files["unicode_text.txt"] = ("\ufeff" + table([
        ["Code", "Name", "WarehouseName", "QtyInStock", "QtyAllocated", "QtyOnOrder"],
        ["24-WG084", "Sprite Foam Yoga Brick", "Home", "120", "4", "0"],
        ["KD-TEE-7", "Kids' Organic Tee – Zoë", "Home", "33", "0", "12"],
    ], delimiter="\t")).encode("utf-16-le")
    # A row that lost its last cells (hand-edited, or split by an unquoted line break): the
    # missing allocated/on-order cells must not be read as 0.
    files["short_row.csv"] = (
        b"Code,Name,WarehouseName,QtyInStock,QtyAllocated,QtyOnOrder\r\n"
        b"24-WG084,Sprite Foam Yoga Brick,Home,120,4,0\r\n"
        b"24-WG088,Sprite Foam Roller,Home,35\r\n"
        b"24-UG06,Affirm Water Bottle,Home,60,2,0\r\n")
    # Read while Sage was still writing it: no CRLF after the last row, whose 163 is only 16.
    files["cut_off.csv"] = _stock200([
        ["24-WG084", "Sprite Foam Yoga Brick", "Home", "120", "4", "0"],
        ["24-UG06", "Affirm Water Bottle", "Home", "60", "2", "0"],
    ]).encode("utf-8") + b"24-WG088,Sprite Foam Roller,Home,16"
    # Codes pasted from a web page or a document: a zero-width space inside, a non-breaking
    # space at the end, a soft hyphen; and a code longer than Magento's 64 characters.
    files["invisible_sku.csv"] = _stock200([
        ["24-WG084", "Sprite Foam Yoga Brick", "Home", "120", "4", "0"],
        ["24-WG\u200b088", "Sprite Foam Roller", "Home", "35", "0", "10"],
        ["24-UG06\u00a0", "Affirm Water Bottle", "Home", "60", "2", "0"],
        ["24-MB\u00ad01", "Joust Duffle Bag", "Home", "9", "0", "0"],
        ["YOGA-BRICK-SPRITE-FOAM-PURPLE-STANDARD-SIZE-TWIN-PACK-WITH-STRAP-2026",
         "Sprite Foam Yoga Brick, Twin Pack", "Home", "12", "0", "0"],
    ]).encode("utf-8")
    # Sage 300 pads item numbers to their field width: trimmed (with a note), valid.
    files["padded_codes.csv"] = table([
        ["ITEMNO", "LOCATION", "QTYONHAND", "QTYONORDER", "QTYCOMMIT"],
        ["24-WG084        ", "1", "42.0000", "0.0000", "2.0000"],
        ["24-WG088        ", "1", "7.0000", "10.0000", "0.0000"],
    ], quoting=csv.QUOTE_ALL).encode("utf-8")
    return files


def sage50_uk_receivables() -> str:
    """Customer activity (AUDIT_HEADER columns, assumed) for the invoices and the credit memo
    of samples/magento, as sagesync posted them, plus what a real export holds beside them:
    a receipt (ignored by type) and an invoice entered in Sage by hand (not sagesync's)."""
    rows: list[list[object]] = [["ACCOUNT_REF", "TYPE", "DATE", "INV_REF", "TRAN_NUMBER",
                                 "DETAILS", "GROSS_AMOUNT", "OUTSTANDING", "DUE_DATE",
                                 "DATE_PAID"]]
    rows += [
        ["WEBSALES", "SI", "25/10/2026", "000000001", "101", "Magento invoice", "26.40",
         "0.00", "24/11/2026", "03/11/2026"],
        ["LEEANN", "SI", "10/11/2026", "000000002", "102", "Magento invoice", "104.40",
         "40.00", "10/12/2026", ""],
        ["WEBSALES", "SI", "04/11/2026", "000000003", "103", "Magento invoice", "181.43",
         "181.43", "04/12/2026", ""],
        ["LEEANN", "SC", "12/11/2026", "000000001", "104", "Magento credit memo", "15.50",
         "0.00", "", "12/11/2026"],
        ["WEBSALES", "SR", "03/11/2026", "000000001", "105", "Sales receipt", "26.40",
         "0.00", "", ""],
        ["SMITHJ", "SI", "05/11/2026", "INV-7001", "106", "Phone order", "60.00", "60.00",
         "05/12/2026", ""],
    ]
    return table(rows)


# What Sage says is owed on the samples' invoices 000000001-000000003 (paid, part paid,
# unpaid) in each other product's receivables headers (the layouts' assumptions): (Magento
# number, Sage number, gross, outstanding, due, paid), dates as ISO, spelt per product below.
OWED: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("000000001", "101", "26.40", "0.00", "2026-11-24", "2026-11-03"),
    ("000000002", "102", "104.40", "40.00", "2026-12-10", ""),
    ("000000003", "103", "181.43", "181.43", "2026-12-04", ""),
)


def _day(iso: str, fmt: str) -> str:
    if not iso:
        return ""
    year, month, day = iso.split("-")
    return fmt.replace("Y", year).replace("m", month).replace("d", day).replace(
        "y", year[2:])


def receivables() -> dict[str, bytes]:
    """A receivables export per product beside Sage 50 UK's, in its own headers."""
    def owed(header: list[str], row: Callable[[tuple[str, ...]], list[object]], **kw: Any
             ) -> str:
        return table([header, *(row(o) for o in OWED)], **kw)

    return {
        "sage50_us/aged_receivables.csv": owed(
            ["Customer ID", "Invoice/CM #", "Type", "Date Due", "Amount", "Amount Due"],
            lambda o: ["WEBSALES", o[0], "Invoice", _day(o[4], "m/d/y"), o[2], o[3]]
        ).encode("cp1252"),
        "sage200/outstanding_transactions.csv": owed(
            ["AccountNumber", "SYSTraderTranType", "TransactionReference", "URN",
             "DocumentGrossValue", "DocumentOutstandingValue", "DueDate"],
            lambda o: ["WEBSALES", "4", o[0], o[1], o[2], o[3], _day(o[4], "d/m/Y")]
        ).encode("utf-8"),
        "sage100/AR_OpenInvoice.csv": owed(
            ["CustomerNo", "InvoiceNo", "InvoiceType", "CustomerPONo", "InvoiceAmt", "Balance",
             "InvoiceDueDate", "DateLastPaid"],
            lambda o: ["WEBSALES", o[1].zfill(7), "IN", o[0], o[2], o[3], _day(o[4], "Ymd"),
                       _day(o[5], "Ymd")], quoting=csv.QUOTE_NONNUMERIC).encode("utf-8"),
        "sage300/AROBL.csv": owed(
            ["IDCUST", "IDINVC", "TRXTYPETXT", "IDPONBR", "AMTINVCHC", "AMTDUEHC", "DATEDUE"],
            lambda o: ["WEBSALES", f"IN{o[1].zfill(6)}", "Invoice", o[0], o[2], o[3],
                       _day(o[4], "Ymd")],
            quoting=csv.QUOTE_ALL).encode("utf-8"),
        "intacct/ar_invoices_open.csv": owed(
            ["CUSTOMERID", "RECORDNO", "RECORDTYPE", "PONUMBER", "TOTALENTERED", "TOTALDUE",
             "WHENDUE", "WHENPAID"],
            lambda o: ["WEBSALES", o[1], "arinvoice", o[0], o[2], o[3], _day(o[4], "m/d/Y"),
                       _day(o[5], "m/d/Y")]).encode("utf-8-sig"),
    }


def render() -> dict[str, bytes]:
    """Every sample file, by path relative to samples/sage/."""
    files = {
        "sage50_uk/stock.csv": sage50_uk_stock().encode("cp1252"),
        "sage50_uk/prices.csv": sage50_uk_prices().encode("cp1252"),
        "sage50_uk/receivables.csv": sage50_uk_receivables().encode("cp1252"),
        "sage50_us/ITEM.CSV": sage50_us_items().encode("cp1252"),
        "sage50_us/inventory_valuation.csv": sage50_us_valuation().encode("cp1252"),
        "sage100/IM_ItemWarehouse.csv": sage100_stock().encode("utf-8"),
        "sage100/IM_PriceCode.csv": sage100_prices().encode("utf-8"),
        "sage200/stock_item_locations.csv": sage200_stock().encode("utf-8"),
        "sage200/stock_item_selling_prices.csv": sage200_prices().encode("utf-8"),
        "sage200/posted_transactions.csv": sage200_posted().encode("utf-8"),
        "sage300/ICILOC.csv": sage300_stock().encode("utf-8"),
        "sage300/ICPRICP.csv": sage300_prices().encode("utf-8"),
        "sagex3/STOCK.csv": sagex3_stock().encode("utf-8"),
        "sagex3/price_list.csv": sagex3_prices().encode("utf-8"),
        "intacct/item_warehouse.csv": intacct_stock().encode("utf-8"),
        "intacct/price_list.csv": intacct_prices().encode("utf-8"),
    }
    files.update({f"{product}/customers.csv": customers(product).encode(
        "cp1252" if product.startswith("sage50") else "utf-8") for product in _CUSTOMER_HEADERS})
    files.update(shipments())
    files.update(receivables())
    files.update({f"broken/{name}": data for name, data in broken().items()})
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the files (or, with --check, report which differ and exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for relative, data in render().items():
        path = HERE / relative
        if path.exists() and path.read_bytes() == data:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for relative in stale:
        print(("differs: " if args.check else "wrote: ") + relative)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
