"""Write the committed Magento sample pages and mapping files, deterministically.

Why a script: the samples must stay internally consistent (totals to the cent, ids that join,
customers that match orders) and reproducible byte for byte, so they are computed with
`sagesync.testing.factory` rather than edited by hand. `render()` returns every file's text;
tests/test_samples_schema.py checks that the committed files equal it.

    .venv/bin/python samples/make_samples.py          # rewrite the files
    .venv/bin/python samples/make_samples.py --check  # exit 1 if any file differs
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sagesync.testing.factory import (
    AddressSpec,
    CustomerSpec,
    LineSpec,
    OrderSpec,
    build_creditmemo,
    build_customer,
    build_invoice,
    build_order,
    paginate,
    record_refund,
    search_page,
)

HERE = Path(__file__).resolve().parent
D = Decimal
ORDERS_PAGE_SIZE = 5
INVOICES_PAGE_SIZE = 5
CREDITMEMOS_PAGE_SIZE = 1
CUSTOMERS_PAGE_SIZE = 2


def utc(text: str) -> datetime:
    """A 'YYYY-MM-DD HH:MM:SS' UTC timestamp."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def window(field: str) -> list[dict[str, Any]]:
    """The export window as Magento wants it: two filter groups, ANDed (magento-rest.md §3.1)."""
    return [
        {"filters": [{"field": field, "value": "2026-10-01 00:00:00", "condition_type": "gteq"}]},
        {"filters": [{"field": field, "value": "2026-12-01 00:00:00", "condition_type": "lteq"}]},
    ]


# --------------------------------------------------------------------------- customers

JANE = CustomerSpec(
    "jane.whitfield@example.co.uk", "Jane", "Whitfield",
    AddressSpec("Jane", "Whitfield", ("27 Otley Road", "Headingley"), "Leeds", "LS6 3AA",
                "0113 496 0127", region="West Yorkshire"),
    customer_id=1,
)
BART = CustomerSpec(
    "accounts@osf-trading.example.co.uk", "Bartholomew", "O'Sullivan-Fitzgerald",
    AddressSpec("Bartholomew", "O'Sullivan-Fitzgerald",
                ("Unit 4, Riverside Business Park", "Wharf Road"), "Bristol", "BS1 6XY",
                "0117 496 0455", company="Bartholomew O'Sullivan-Fitzgerald Trading Ltd",
                region="Bristol", vat_id="GB123456789"),
    customer_id=2,
    shipping=AddressSpec("Goods In", "O'Sullivan-Fitzgerald", ("Unit 9", "Avonmouth Way"),
                         "Bristol", "BS11 8DE", "0117 496 0456",
                         company="Bartholomew O'Sullivan-Fitzgerald Trading Ltd",
                         region="Bristol"),
)
PRIYA = CustomerSpec(
    "priya.shah@example.com", "Priya", "Shah",
    AddressSpec("Priya", "Shah", ("Flat 12, Deansgate Quay", "Deansgate"), "Manchester",
                "M3 4LZ", "0161 496 0832", region="Greater Manchester"),
    customer_id=3,
)
AMELIE = CustomerSpec(
    "amelie.laurent@example.fr", "Amélie", "Laurent",
    AddressSpec("Amélie", "Laurent", ("9 Bute Street", "South Kensington"), "London",
                "SW7 3EX", "020 7946 0391", region="Greater London"),
    customer_id=4,
)
FORMULA = '=HYPERLINK("http://example.com/pay","Click here")'
GUEST_FORMULA = CustomerSpec(
    "sam.guest@example.com", "Sam", FORMULA,
    AddressSpec("Sam", FORMULA, ("3 Cathedral Road",), "Cardiff", "CF11 9HA", "029 2018 0554",
                region="South Glamorgan"),
)
GUEST_GARETH = CustomerSpec(
    "gareth.evans@example.net", "Gareth", "Evans",
    AddressSpec("Gareth", "Evans", ("12 Elm Hill",), "Norwich", "NR3 1HN", "01632 960114",
                region="Norfolk"),
)
GUEST_EWAN = CustomerSpec(
    "ewan.macleod@example.org", "Ewan", "MacLeod",
    AddressSpec("Ewan", "MacLeod", ("221 Canongate",), "Edinburgh", "EH8 8BN", "0131 496 0019",
                region="Midlothian"),
)
GUEST_HELENE = CustomerSpec(
    "helene.dupont@example.fr", "Hélène", "Dupont",
    AddressSpec("Hélène", "Dupont", ("Flat 5", "31 Queensberry Place"), "London", "SW7 2DS",
                "07700 900417", region="Greater London"),
)

# (spec, store id, created_at, updated_at)
CUSTOMERS: list[tuple[CustomerSpec, int, str, str]] = [
    (JANE, 1, "2025-03-14 10:02:51", "2026-10-24 23:28:40"),
    (BART, 1, "2025-07-01 08:30:00", "2026-09-30 16:45:12"),
    (PRIYA, 1, "2026-01-19 19:11:05", "2026-11-09 16:18:44"),
    (AMELIE, 2, "2026-06-05 12:00:00", "2026-11-20 19:44:02"),
]

# --------------------------------------------------------------------------- catalogue rows


def hoodie(sku: str, colour: str, price: str, qty: int = 1, discount: str = "0") -> LineSpec:
    """A Chaz Kangeroo Hoodie variant (configurable: money on the parent row)."""
    return LineSpec(sku, "Chaz Kangeroo Hoodie", qty, D(price), D(20), D(discount),
                    "configurable", (LineSpec(sku, f"Chaz Kangeroo Hoodie-{colour}"),))


BRICK = ("24-WG084", "Sprite Foam Yoga Brick")
ROLLER = ("24-WG088", "Sprite Foam Roller")
BALL = ("24-WG082-blue", "Sprite Stasis Ball 65 cm")
STRAP = ("24-WG086", "Sprite Yoga Strap 8 foot")
BOOK = ("BK-1001", "The Complete Yoga Handbook, 2nd Edition")
LED = ("HE-LED-10", "Energy Saving LED Bulb, 10W")


# --------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class Sample:
    """One sample order, its documents, and what it is there to exercise."""

    spec: OrderSpec
    covers: str
    invoice: tuple[int, str, str] | None = None  # (entity id, increment id, created_at)


SAMPLES: list[Sample] = [
    Sample(OrderSpec(
        1, "000000001", utc("2026-10-24 23:30:00"), JANE,
        (LineSpec(*BRICK, 2, D("5.00")), LineSpec("24-UG06", "Affirm Water Bottle", 1, D("7.00"))),
        shipping_amount=D("5.00"), state="complete", updated_at=utc("2026-10-25 09:12:00")),
        "Registered customer; simple products at 20 %; flat-rate shipping. Placed 2026-10-24 "
        "23:30 UTC = 2026-10-25 00:30 Europe/London (BST): the date differs by timezone.",
        (1, "000000001", "2026-10-24 23:41:07")),
    Sample(OrderSpec(
        2, "000000002", utc("2026-11-02 09:15:27"), GUEST_FORMULA,
        (hoodie("MH01-S-Gray", "S-Gray", "52.00"),
         LineSpec("MS-TEE-CLASSIC-M", 'Tee "Classic" Fit', 2, D("15.00"))),
        shipping_amount=D("5.00"), state="complete", updated_at=utc("2026-11-10 10:04:20")),
        "Guest whose last name is a spreadsheet formula (`=HYPERLINK(...)`); configurable "
        "product (parent + zero-priced child); product name with double quotes. Credit memo 1 "
        "refunds one tee with an adjustment refund (2.50) and an adjustment fee (5.00).",
        (2, "000000002", "2026-11-02 09:16:02")),
    Sample(OrderSpec(
        3, "000000003", utc("2026-11-03 14:02:11"), BART,
        (LineSpec("24-WG080-24-WG084-24-WG088-24-WG082-blue-24-WG086",
                  "Sprite Yoga Companion Kit", 1, kind="bundle_dynamic", children=(
                      LineSpec(*BRICK, 1, D("5.00"), D(20), D(10)),
                      LineSpec(*ROLLER, 1, D("19.00"), D(20), D(10)),
                      LineSpec(*BALL, 1, D("27.00"), D(20), D(10)),
                      LineSpec(*STRAP, 1, D("17.00"), D(20), D(10)))),
         LineSpec("WSH12-28-Red", "Erika Running Short", 2, D("45.00"), D(20), D(10),
                  "configurable", (LineSpec("WSH12-28-Red", "Erika Running Short-28-Red"),))),
        shipping_amount=D("9.99"), shipping_method="tablerate_bestway",
        shipping_description="Best Way - Table Rate", coupon_code="AUTUMN10",
        discount_description="Autumn 10% off", discount_applies_to_shipping=True,
        state="complete", payment_method="purchaseorder", updated_at=utc("2026-11-04 08:00:00")),
        "Registered trade customer (long company name with apostrophe, separate delivery "
        "address, VAT number; mapped to Sage account OSULLIVA); dynamic bundle (children carry "
        "the money, parent has no row_total); coupon AUTUMN10 10 % also applied to shipping.",
        (3, "000000003", "2026-11-03 14:05:40")),
    Sample(OrderSpec(
        4, "000000004", utc("2026-11-05 11:40:00"), GUEST_GARETH,
        (LineSpec("24-MB01", "Joust Duffle Bag", 1, D("34.00"), D(20)),
         LineSpec(*LED, 4, D("4.99"), D(5)),
         LineSpec(*BOOK, 1, D("12.99"), D(0))),
        shipping_amount=D("4.95"), state="closed", payment_method="banktransfer",
        updated_at=utc("2026-11-21 09:30:01")),
        "Guest; mixed VAT rates on one order (20 %, 5 %, 0 %); product names with commas. "
        "Credit memo 2 refunds everything including shipping, so the order is closed.",
        (4, "000000004", "2026-11-05 12:02:19")),
    Sample(OrderSpec(
        5, "000000005", utc("2026-11-09 16:20:05"), PRIYA,
        (hoodie("MH01-M-Black", "M-Black", "62.50", discount="15"),
         LineSpec(*BRICK, 3, D("6.00"), D(20), D(15)),
         LineSpec(*LED, 2, D("5.24"), D(5), D(15))),
        shipping_amount=D("4.99"), coupon_code="LOYAL15", discount_description="Loyalty 15%",
        discount_applies_to_shipping=True, prices_include_tax=True, state="complete",
        updated_at=utc("2026-11-10 11:00:00")),
        "Tax-inclusive catalogue prices (discount on prices including tax, tax after "
        "discount): non-zero discount_tax_compensation on items and shipping; 20 % and 5 %.",
        (5, "000000005", "2026-11-09 16:21:30")),
    Sample(OrderSpec(
        6, "000000006", utc("2026-11-12 23:58:41"), GUEST_EWAN,
        (LineSpec("YS-KIT-01", "Home Yoga Starter Set", 1, D("39.99"), D(20), kind="bundle_fixed",
                  children=(LineSpec(*BRICK, 2), LineSpec(*STRAP, 1))),
         LineSpec("KD-TEE-7", "Kids' Organic Tee (Age 7)", 2, D("8.50"), D(0))),
        shipping_amount=D(0), shipping_method="freeshipping_freeshipping",
        shipping_description="Free Shipping - Free", state="complete",
        updated_at=utc("2026-11-13 00:03:13")),
        "Guest; fixed-price bundle (money on the parent, zero-priced children); zero-rated "
        "children's clothing; free shipping. Placed two minutes before midnight UTC; the "
        "invoice is dated the next day.",
        (6, "000000006", "2026-11-13 00:03:12")),
    Sample(OrderSpec(
        7, "200000001", utc("2026-11-14 08:05:00"), GUEST_HELENE,
        (LineSpec("WS03-XS-Red", "Iris Workout Top", 1, D("29.00"), D(20), kind="configurable",
                  children=(LineSpec("WS03-XS-Red", "Iris Workout Top-XS-Red"),)),
         LineSpec(*BOOK, 1, D("12.99"), D(0))),
        store_id=2, shipping_amount=D("5.00"), state="complete",
        updated_at=utc("2026-11-14 15:30:00")),
        "Second store view (store_id 2, French Store View, increment ids prefixed 2); guest "
        "with accented name.",
        (7, "200000001", "2026-11-14 08:06:10")),
    Sample(OrderSpec(
        8, "000000007", utc("2026-11-18 10:10:10"), JANE,
        (LineSpec("24-WB03", "Driven Backpack", 1, D("36.00")),),
        shipping_amount=D("5.00"), state="canceled", updated_at=utc("2026-11-18 12:00:00")),
        "Cancelled order: no invoice, nothing to post."),
    Sample(OrderSpec(
        9, "200000002", utc("2026-11-20 19:45:33"), AMELIE,
        (LineSpec("24-UG06", "Affirm Water Bottle", 3, D("7.00")),
         hoodie("MH01-S-Gray", "S-Gray", "52.00")),
        store_id=2, shipping_amount=D("5.00"), state="processing", invoiced=False,
        payment_method="banktransfer", updated_at=utc("2026-11-20 19:45:34")),
        "Registered customer of store 2 (not mapped to a Sage account); processing and not "
        "invoiced yet."),
    Sample(OrderSpec(
        10, "000000008", utc("2026-11-30 23:30:00"), BART,
        (LineSpec("HE-INS-ROLL", "Loft Insulation Roll, 200mm", 10, D("24.50"), D(5)),
         LineSpec(*BOOK, 5, D("12.99"), D(0))),
        shipping_amount=D("9.99"), shipping_method="tablerate_bestway",
        shipping_description="Best Way - Table Rate", state="processing", invoiced=True,
        shipped=False, payment_method="purchaseorder", updated_at=utc("2026-11-30 23:52:41")),
        "Registered trade customer again (OSULLIVA); 5 % and 0 % only; invoiced but not "
        "shipped (processing); 23:30 UTC on the last day of the month.",
        (8, "000000008", "2026-11-30 23:52:40")),
]

# (order entity id, memo id, increment id, created_at, kwargs for build_creditmemo); `lines`
# is keyed by SKU here and turned into order item ids in render().
CREDITMEMOS: list[tuple[int, int, str, str, dict[str, Any]]] = [
    (2, 1, "000000001", "2026-11-10 10:04:19",
     {"lines": {"MS-TEE-CLASSIC-M": 1}, "adjustment_positive": D("2.50"),
      "adjustment_negative": D("5.00")}),
    (4, 2, "000000002", "2026-11-21 09:30:00", {"refund_shipping": D("4.95")}),
]

NOMINALS = """kind,value,nominal
sku_prefix,MH,4000
sku_prefix,WS,4010
sku_prefix,24-,4020
sku_prefix,MS-,4010
sku,BK-1001,4030
sku,KD-TEE-7,4010
sku,HE-LED-10,4040
sku,HE-INS-ROLL,4040
sku,YS-KIT-01,4020
"""
CUSTOMER_ACCOUNTS = """email,account_ref
accounts@osf-trading.example.co.uk,OSULLIVA
"""


def dump(value: Any) -> str:
    """Pretty JSON, UTF-8 kept readable, newline-terminated (stable across runs)."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def pages(kind: str, items: list[dict[str, Any]], size: int,
          filter_field: str) -> dict[str, str]:
    """Page files for one entity, named page-0001.json ... in entity_id order."""
    chunks = paginate(items, size)
    return {
        f"magento/{kind}/page-{number:04d}.json": dump(
            search_page(chunk, number, size, len(items), window(filter_field)))
        for number, chunk in enumerate(chunks, start=1)
    }


def money(value: Any) -> str:
    """A JSON amount as 2-dp text for the README tables."""
    return f"{Decimal(str(value)):.2f}"


def readme(orders: list[dict[str, Any]], invoices: list[dict[str, Any]],
           memos: list[dict[str, Any]]) -> str:
    """The human index of the samples, generated so it cannot drift from the data."""
    lines = [
        "# Magento sample pages",
        "",
        "Generated by `samples/make_samples.py` with `sagesync.testing.factory` — do not edit by",
        "hand; rerun the script (tests check the files are byte-identical to its output).",
        "Responses of `GET /V1/orders`, `/V1/invoices`, `/V1/creditmemos`, `/V1/customers/search`",
        "(Magento 2.4.8 REST shape, GBP, UTC timestamps, sorted by `entity_id` ASC,",
        f"page sizes {ORDERS_PAGE_SIZE}/{INVOICES_PAGE_SIZE}/{CREDITMEMOS_PAGE_SIZE}/"
        f"{CUSTOMERS_PAGE_SIZE}).",
        "",
        "## Orders",
        "",
        "| increment_id | entity_id | store | created_at (UTC) | customer | state | grand_total "
        "| covers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sample, order in zip(SAMPLES, orders, strict=True):
        who = (f"guest {order['customer_email']}" if order["customer_is_guest"]
               else f"#{order['customer_id']} {order['customer_email']}")
        lines.append(
            f"| {order['increment_id']} | {order['entity_id']} | {order['store_id']} "
            f"| {order['created_at']} | {who} | {order['state']} | {money(order['grand_total'])} "
            f"| {sample.covers} |")
    lines += ["", "## Invoices", "", "| entity_id | increment_id | order entity_id | created_at "
              "| grand_total |", "|---|---|---|---|---|"]
    lines += [f"| {i['entity_id']} | {i['increment_id']} | {i['order_id']} | {i['created_at']} "
              f"| {money(i['grand_total'])} |" for i in invoices]
    lines += ["", "## Credit memos", "", "| entity_id | increment_id | order entity_id "
              "| invoice_id | shipping | adj. refund | adj. fee | grand_total |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {m['entity_id']} | {m['increment_id']} | {m['order_id']} "
              f"| {m.get('invoice_id', '')} | {money(m['shipping_amount'])} "
              f"| {money(m['adjustment_positive'])} | {money(m['adjustment_negative'])} "
              f"| {money(m['grand_total'])} |" for m in memos]
    lines += [
        "", "## Mapping files (`samples/mapping/`)", "",
        "* `nominals.csv` — `kind,value,nominal`; SKU and SKU-prefix rows for every sample SKU.",
        "* `customers.csv` — `email,account_ref`; only customer #2 (Bartholomew O'Sullivan-"
        "Fitzgerald) is mapped, to `OSULLIVA`; the other registered customers are unmapped.",
        "",
    ]
    return "\n".join(lines)


def render() -> dict[str, str]:
    """Every sample file's text, keyed by its path relative to `samples/`."""
    orders = [build_order(sample.spec) for sample in SAMPLES]
    by_entity = {order["entity_id"]: order for order in orders}
    invoices = []
    invoice_of: dict[int, int] = {}
    for sample, order in zip(SAMPLES, orders, strict=True):
        if sample.invoice is not None:
            entity_id, increment_id, created = sample.invoice
            invoices.append(build_invoice(order, entity_id, increment_id, utc(created)))
            invoice_of[order["entity_id"]] = entity_id
    memos = []
    for order_id, memo_id, increment_id, created, kwargs in CREDITMEMOS:
        order = by_entity[order_id]
        kwargs = dict(kwargs)
        if "lines" in kwargs:
            item_ids = {item["sku"]: item["item_id"] for item in order["items"]
                        if "parent_item_id" not in item}
            kwargs["lines"] = {item_ids[sku]: qty for sku, qty in kwargs["lines"].items()}
        memo = build_creditmemo(order, memo_id, increment_id, utc(created),
                                invoice_id=invoice_of[order_id], **kwargs)
        record_refund(order, memo)
        memos.append(memo)
    customers = [
        build_customer(spec, created_at=utc(created), updated_at=utc(updated), store_id=store)
        for spec, store, created, updated in CUSTOMERS
    ]
    files: dict[str, str] = {}
    files.update(pages("orders", orders, ORDERS_PAGE_SIZE, "updated_at"))
    files.update(pages("invoices", invoices, INVOICES_PAGE_SIZE, "updated_at"))
    files.update(pages("creditmemos", memos, CREDITMEMOS_PAGE_SIZE, "updated_at"))
    files.update(pages("customers", customers, CUSTOMERS_PAGE_SIZE, "updated_at"))
    files["magento/README.md"] = readme(orders, invoices, memos)
    files["mapping/nominals.csv"] = NOMINALS
    files["mapping/customers.csv"] = CUSTOMER_ACCOUNTS
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the files (or, with --check, report which differ and exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for relative, text in render().items():
        path = HERE / relative
        current = path.read_bytes() if path.exists() else None
        if current == text.encode("utf-8"):
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
    for relative in stale:
        print(("differs: " if args.check else "wrote: ") + relative)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
