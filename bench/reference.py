"""The naive standard-library posting: the yardstick `python -m bench` measures sagesync against.

`python -m bench.reference RECIPE SOURCE OUT` does in one pass what `sagesync run` does for the
bench's generated store, the way one would write it first: every page of `SOURCE/<entity>/*.json`
is read with `json.loads(body, parse_float=Decimal)`; orders are kept in dicts (what the
documents need of them), then each invoice and credit memo becomes rows of one Sage 50
audit-trail CSV written with `csv.writer`. No intermediate files, no hashing, no ledger, no
checkpoints, no template engine: so the ratio shows what sagesync's extra guarantees and its
speed work cost or buy, not how slow a deliberately clumsy yardstick is.

The posting rules are sagesync's (sagesync/transform/documents.py) for what the generated store
holds (no gift cards, store credit or recipe extras; `discount = "net"`; base currency):
cancelled documents (state 3) are skipped; lines are counted as `money_item_ids` counts them
(configurable children and dummy bundle rows skipped) and split by (nominal of the SKU, tax code
of the order line's rate) with net = row_total - discount + discount tax compensation; shipping is
a split of its own on the carriage nominal (header discount beyond the lines' is shipping's),
with the code of the recipe rate that explains its tax; a credit memo's adjustment refund and fee
are splits on the adjustment nominal, a fee becoming an SI; the document is then balanced to its
grand total and tax to the cent (the difference on the largest goods/carriage split). Accounts:
the guest account, the `customers_csv` mapping, else a reference built from the name (letters of
the company or last+first name, numbered, as sagesync's `account_ref = "name"`), remembered per
customer. Unlike sagesync it holds nothing: a document beyond the rounding tolerance is posted
as it is. It prints one JSON line: documents, rows, and net+tax per transaction type (the
bench's cross-check against sagesync's summary).
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
import tomllib
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
CENT = Decimal("0.01")
CANCELLED = 3
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
HEADER = ["Type", "Account Reference", "Nominal A/C Ref", "Department Code", "Date",
          "Reference", "Details", "Net Amount", "Tax Code", "Tax Amount", "Exchange Rate",
          "Extra Reference", "User Name", "Project Refn", "Cost Code Refn"]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _pages(source: Path, entity: str) -> Any:
    for path in sorted((source / entity).glob("*.json")):
        yield from json.loads(path.read_bytes(), parse_float=Decimal)["items"]


def _money(record: dict[str, Any], name: str) -> Decimal:
    value = record.get("base_" + name)
    return ZERO if value is None else Decimal(value)


def _counted(items: list[dict[str, Any]]) -> set[int]:
    """sagesync's money_item_ids with bundle = "auto"."""
    by_id = {item["item_id"]: item for item in items}
    children: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        if item.get("parent_item_id") is not None:
            children.setdefault(item["parent_item_id"], []).append(item)

    def priced(bundle: dict[str, Any]) -> bool:
        return any(child.get("base_row_total") or child.get("row_total")
                   for child in children.get(bundle["item_id"], []))

    counted = set()
    for item in items:
        parent = by_id.get(item.get("parent_item_id"))
        if parent is not None:
            if parent.get("product_type") == "bundle" and priced(parent):
                counted.add(item["item_id"])
            continue
        if item.get("product_type") == "bundle" and priced(item):
            continue
        counted.add(item["item_id"])
    return counted


class Posting:
    def __init__(self, recipe_path: Path) -> None:
        with recipe_path.open("rb") as handle:
            recipe = tomllib.load(handle)
        mapping, sage = recipe.get("mapping", {}), recipe.get("sage", {})
        self.codes = {Decimal(rate).normalize(): code for rate, code in
                      mapping.get("tax_codes", {"20": "T1", "5": "T5", "0": "T0"}).items()}
        self.goods = mapping.get("default_sales_nominal", "4000")
        self.carriage = mapping.get("carriage_nominal", "4905")
        self.adjustment = mapping.get("adjustment_nominal", "4000")
        self.adjustment_code = mapping.get("adjustment_tax_code", "T9")
        self.guest = mapping.get("guest_account", "WEBSALES")
        self.by_sku: dict[str, str] = {}
        self.by_prefix: list[tuple[str, str]] = []
        if mapping.get("nominals_csv"):
            with Path(mapping["nominals_csv"]).open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    if row["kind"] == "sku":
                        self.by_sku[row["value"]] = row["nominal"]
                    elif row["kind"] == "sku_prefix":
                        self.by_prefix.append((row["value"], row["nominal"]))
            self.by_prefix.sort(key=lambda p: -len(p[0]))
        self.mapped: dict[str, str] = {}
        if mapping.get("customers_csv"):
            with Path(mapping["customers_csv"]).open(newline="", encoding="utf-8") as handle:
                self.mapped = {r["email"].lower(): r["account_ref"].upper()
                               for r in csv.DictReader(handle)}
        self.accounts: dict[Any, str] = {}
        self.taken = {self.guest, *self.mapped.values()}
        self.zone = ZoneInfo(sage.get("timezone", "Europe/London"))
        self.encoding = sage.get("encoding", "cp1252")

    def nominal(self, sku: str | None) -> str:
        if sku:
            if sku in self.by_sku:
                return self.by_sku[sku]
            for prefix, nominal in self.by_prefix:
                if sku.startswith(prefix):
                    return nominal
        return self.goods

    def account(self, order: dict[str, Any]) -> str:
        if order.get("customer_is_guest") or order.get("customer_id") is None:
            return self.guest
        email = (order.get("customer_email") or "").lower()
        if email in self.mapped:
            return self.mapped[email]
        key = order["customer_id"]
        if key not in self.accounts:
            address = order.get("billing_address") or {}
            name = address.get("company") or (f"{order.get('customer_lastname') or ''}"
                                              f"{order.get('customer_firstname') or ''}")
            stem = (_NOT_ALNUM.sub("", name.upper())[:6] or "WEB")
            n = 1
            while f"{stem}{n:02d}" in self.taken:
                n += 1
            self.accounts[key] = f"{stem}{n:02d}"
            self.taken.add(self.accounts[key])
        return self.accounts[key]

    def code(self, rate: Decimal) -> str:
        return self.codes.get(rate.normalize(), "T9")

    def rate_for(self, net: Decimal, tax: Decimal) -> Decimal:
        if tax == ZERO:
            return ZERO
        for rate in sorted(self.codes, reverse=True):
            if rate and abs(_cents(net * rate / 100) - tax) <= CENT:
                return rate
        return ZERO

    def splits(self, kind: str, doc: dict[str, Any], order: dict[str, Any]
               ) -> list[list[Any]]:
        """[type, purpose, nominal, code, net, tax] rows of one document, balanced."""
        found: dict[tuple[str, str, str], list[Decimal]] = {}

        def add(purpose: str, nominal: str, code: str, net: Decimal, tax: Decimal) -> None:
            split = found.setdefault((purpose, nominal, code), [ZERO, ZERO])
            split[0] += net
            split[1] += tax

        items, counted = order["_items"], order["_counted"]
        discounts = compensations = ZERO
        for line in doc.get("items", []):
            item = items[line["order_item_id"]]
            if line["order_item_id"] not in counted:
                continue
            discount = _money(line, "discount_amount")
            compensation = _money(line, "discount_tax_compensation_amount")
            discounts += discount
            compensations += compensation
            rate = item.get("tax_percent")
            code = self.code(Decimal(rate) if rate is not None else ZERO)
            add("goods", self.nominal(item.get("sku") or line.get("sku")), code,
                _money(line, "row_total") - discount + compensation, _money(line, "tax_amount"))
        shipping_discount = -_money(doc, "discount_amount") - discounts
        if abs(shipping_discount) <= CENT / 2:
            shipping_discount = ZERO
        compensation = _money(doc, "discount_tax_compensation_amount") - compensations
        if compensation == ZERO:
            compensation = _money(doc, "shipping_discount_tax_compensation_amount")
        net = _money(doc, "shipping_amount") - shipping_discount + compensation
        shipping_tax = _money(doc, "shipping_tax_amount")
        if net or shipping_tax:
            add("carriage", self.carriage, self.code(self.rate_for(net, shipping_tax)), net,
                shipping_tax)
        if kind == "SC":
            refund, fee = _money(doc, "adjustment_positive"), _money(doc, "adjustment_negative")
            if refund:
                add("adjustment_refund", self.adjustment, self.adjustment_code, refund, ZERO)
            if fee:
                add("adjustment_fee", self.adjustment, self.adjustment_code, -fee, ZERO)
        rows = [[kind, purpose, nominal, code, _cents(net), _cents(tax)]
                for (purpose, nominal, code), (net, tax) in found.items() if net or tax]
        if not rows:
            return rows
        tax_target = _cents(_money(doc, "tax_amount"))
        targets = ((5, tax_target), (4, _cents(_money(doc, "grand_total")) - tax_target))
        for column, target in targets:
            difference = target - sum((row[column] for row in rows), ZERO)
            if difference:
                revenue = [r for r in rows if r[1] in ("goods", "carriage")] or rows
                largest = max(revenue, key=lambda r: (abs(r[4]), r[1] == "goods"))
                largest[column] += difference
        for row in rows:  # a fee kept back on a refund is a sale (positive amounts only)
            if row[1] == "adjustment_fee" and row[4] <= ZERO and row[5] <= ZERO:
                row[0], row[4], row[5] = "SI", -row[4], -row[5]
        return rows


def post(recipe_path: Path, source: Path, out: Path) -> dict[str, Any]:
    posting = Posting(recipe_path)
    orders: dict[int, dict[str, Any]] = {}
    for order in _pages(source, "orders"):
        items = order.get("items", [])
        orders[order["entity_id"]] = {
            "increment_id": order.get("increment_id") or "", "customer_id":
            order.get("customer_id"), "customer_is_guest": order.get("customer_is_guest"),
            "customer_email": order.get("customer_email"),
            "customer_firstname": order.get("customer_firstname"),
            "customer_lastname": order.get("customer_lastname"),
            "billing_address": {"company": (order.get("billing_address") or {}).get("company")},
            "_items": {item["item_id"]: {"sku": item.get("sku"),
                                         "tax_percent": item.get("tax_percent")}
                       for item in items},
            "_counted": _counted(items)}
    out.mkdir(parents=True, exist_ok=True)
    documents = rows = 0
    totals: dict[str, Decimal] = {}
    with (out / "audit_trail.csv").open("w", newline="", encoding=posting.encoding,
                                        errors="replace") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADER)
        for entity, kind, label in (("invoices", "SI", "invoice"),
                                    ("creditmemos", "SC", "credit memo")):
            seen: set[int] = set()
            for doc in _pages(source, entity):
                if doc["entity_id"] in seen or doc.get("state") == CANCELLED:
                    continue
                seen.add(doc["entity_id"])
                order = orders.get(doc["order_id"])
                if order is None:
                    continue
                splits = posting.splits(kind, doc, order)
                if not splits:
                    continue
                account = posting.account(order)
                created = datetime.strptime(doc["created_at"], "%Y-%m-%d %H:%M:%S")
                date = created.replace(tzinfo=UTC).astimezone(posting.zone).strftime("%d/%m/%Y")
                increment = doc.get("increment_id") or str(doc["entity_id"])
                documents += 1
                for split_kind, purpose, nominal, code, net, tax in splits:
                    writer.writerow([split_kind, account, nominal, "", date, increment,
                                     f"Magento {label} {increment} {purpose}", f"{net:.2f}",
                                     code, f"{tax:.2f}", "", order["increment_id"], "sagesync",
                                     "", ""])
                    totals[split_kind] = totals.get(split_kind, ZERO) + net + tax
                    rows += 1
    return {"documents": documents, "rows": rows,
            "totals": {k: str(v) for k, v in sorted(totals.items())}}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m bench.reference RECIPE SOURCE OUT", file=sys.stderr)
        return 2
    started = time.perf_counter()
    summary = post(Path(args[0]), Path(args[1]), Path(args[2]))
    summary["seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
