"""A plain standard-library reference of sagesync's work: the benchmark's yardstick.

Not a second implementation to maintain, and not a Sage exporter anyone should use: it is the
simple, honest code one would write first, so the benchmark can say how much sagesync's typed
decoding and columnar tables buy. It imports nothing outside the standard library (run it as a
process of its own: `python -m bench.reference ...`).

`export SOURCE OUT`: every page of `SOURCE/<entity>/*.json` is read with
`json.loads(body, parse_float=Decimal)`; the fields sagesync's export keeps (the columns of
`sagesync.model.schemas.MAGENTO_TABLES`, checked by `python -m bench` before it runs) are picked,
records are deduplicated by entity id, and each table is written to `OUT/<table>.csv` with `csv`.
Unlike sagesync it keeps no gzipped copy of the raw pages, parses no timestamps and keeps no
ledger.

`post EXPORT RECIPE OUT`: from those CSV files, every invoice and credit memo (state 3, cancelled,
skipped) becomes rows of a Sage 50 audit-trail CSV: goods lines are split by (the default sales
nominal, the tax code of the order line's rate) with net = row_total - discount + discount tax
compensation; the only composite-product rules are to skip the child row of a configurable
product and rows that carry no money (the zero "dummy" rows of bundles). Whatever the document's
header totals hold beyond the lines (carriage, adjustments) is one more split on the carriage
nominal, so every document balances by construction. Accounts: the guest account, the mapped
account of `customers_csv`, else `W` + the customer id. No nominal-by-SKU rules, no template
validation, no customers file, no ledger, no rounding tolerance.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
CENT = Decimal("0.01")


def _money(*names: str) -> tuple[str, ...]:
    return tuple(prefix + name for name in names for prefix in ("", "base_"))


_ADDRESS = ("billing_company", "billing_firstname", "billing_lastname", "billing_street",
            "billing_city", "billing_region", "billing_postcode", "billing_country_id",
            "billing_telephone", "billing_vat_id")
_DOC_MONEY = _money("grand_total", "subtotal", "tax_amount", "discount_amount",
                    "discount_tax_compensation_amount", "shipping_amount",
                    "shipping_tax_amount", "shipping_discount_tax_compensation_amount")
_LINE_MONEY = _money("row_total", "tax_amount", "discount_amount",
                     "discount_tax_compensation_amount")
_DOC = ("entity_id", "increment_id", "order_id", "store_id", "state", "created_at",
        "updated_at", *_DOC_MONEY, "content_hash")
_DOC_ITEMS = ("document_id", "order_item_id", "sku", "name", "qty", *_LINE_MONEY)

# The export tables and their columns (the same names as sagesync's Parquet tables).
TABLES: dict[str, tuple[str, ...]] = {
    "orders": ("entity_id", "increment_id", "store_id", "state", "status", "created_at",
               "updated_at", "customer_id", "customer_is_guest", "customer_email",
               "customer_firstname", "customer_lastname", "customer_taxvat",
               "base_currency_code", "order_currency_code", *_DOC_MONEY,
               *_money("shipping_discount_amount"), *_ADDRESS, "content_hash"),
    "order_items": ("order_id", "item_id", "parent_item_id", "product_type", "sku", "name",
                    "qty_ordered", "tax_percent", *_LINE_MONEY),
    "invoices": _DOC,
    "invoice_items": _DOC_ITEMS,
    "creditmemos": (*_DOC, "invoice_id", *_money("adjustment_positive", "adjustment_negative")),
    "creditmemo_items": _DOC_ITEMS,
    "customers": ("id", "email", "firstname", "lastname", "group_id", "website_id", "store_id",
                  "taxvat", "created_at", "updated_at", *_ADDRESS, "content_hash"),
}
# entity -> (header table, line table or None)
ENTITIES = {"orders": ("orders", "order_items"), "invoices": ("invoices", "invoice_items"),
            "creditmemos": ("creditmemos", "creditmemo_items"), "customers": ("customers", None)}
RENAMED = {"base_shipping_discount_tax_compensation_amount":
           "base_shipping_discount_tax_compensation_amnt"}


# --------------------------------------------------------------------------- export


def _address_value(address: dict[str, Any] | None, field: str) -> Any:
    if address is None:
        return None
    value = address.get(field)
    if field == "street" and value is not None:
        return "\n".join(value)
    if field == "region" and isinstance(value, dict):
        return value.get("region")
    return value


def _default_billing(customer: dict[str, Any]) -> dict[str, Any] | None:
    addresses = customer.get("addresses") or []
    for address in addresses:
        if address.get("default_billing") or str(address.get("id")) == str(
                customer.get("default_billing")):
            return address
    return addresses[0] if addresses else None


def _pick(record: dict[str, Any], columns: tuple[str, ...], address: dict[str, Any] | None
          ) -> list[Any]:
    row = []
    for column in columns:
        if column.startswith("billing_"):
            row.append(_address_value(address, column.removeprefix("billing_")))
        elif column == "customer_is_guest":
            value = record.get(column)
            row.append(None if value is None else bool(value))
        else:
            row.append(record.get(RENAMED.get(column, column)))
    return row


def export(source: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    pages = 0
    with ExitStack() as stack:
        writers = {}
        for table, columns in TABLES.items():
            handle = stack.enter_context((out / f"{table}.csv").open(
                "w", newline="", encoding="utf-8"))
            writers[table] = csv.writer(handle)
            writers[table].writerow(columns)
        for entity, (table, line_table) in ENTITIES.items():
            seen: set[int] = set()
            columns = TABLES[table]
            at = columns.index("content_hash")
            head = tuple(c for c in columns if c != "content_hash")
            for path in sorted((source / entity).glob("*.json")):
                pages += 1
                page = json.loads(path.read_bytes(), parse_float=Decimal)
                for record in page["items"]:
                    identity = record["id"] if entity == "customers" else record["entity_id"]
                    if identity in seen:
                        continue
                    seen.add(identity)
                    address = (_default_billing(record) if entity == "customers"
                               else record.get("billing_address"))
                    row = _pick(record, head, address)
                    lines = []
                    if line_table is not None:
                        line_columns = TABLES[line_table][1:]
                        lines = [[identity, *_pick(line, line_columns, None)]
                                 for line in record.get("items", [])]
                    digest = hashlib.blake2b(json.dumps([row, lines], default=str).encode(),
                                             digest_size=16).hexdigest()
                    row.insert(at, digest)
                    writers[table].writerow(row)
                    if line_table is not None:
                        writers[line_table].writerows(lines)
            counts[entity] = len(seen)
    return {"pages": pages, "counts": counts, "rows": counts.get("orders", 0)}


# --------------------------------------------------------------------------- post


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _d(text: str | None) -> Decimal:
    return Decimal(text) if text else ZERO


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _code_for(net: Decimal, tax: Decimal, codes: dict[Decimal, str]) -> str:
    """The tax code whose rate explains `tax` on `net` best (0 % when there is no tax)."""
    if tax == ZERO or net == ZERO:
        return codes.get(ZERO, "T0")
    rate = min((r for r in codes if r), key=lambda r: abs(net * r / 100 - tax), default=ZERO)
    return codes.get(rate, "T9")


def post(export_dir: Path, recipe_path: Path, out: Path) -> dict[str, Any]:
    with recipe_path.open("rb") as handle:
        recipe = tomllib.load(handle)
    mapping, sage = recipe.get("mapping", {}), recipe.get("sage", {})
    codes = {Decimal(rate).normalize(): code
             for rate, code in mapping.get("tax_codes", {"20": "T1", "5": "T5", "0": "T0"}).items()}
    goods_nominal = mapping.get("default_sales_nominal", "4000")
    carriage_nominal = mapping.get("carriage_nominal", "4905")
    guest = mapping.get("guest_account", "WEBSALES")
    mapped: dict[str, str] = {}
    if mapping.get("customers_csv"):
        for row in _rows(recipe_path.parent / mapping["customers_csv"]):
            mapped[row["email"].lower()] = row["account_ref"].upper()
    zone = ZoneInfo(sage.get("timezone", "Europe/London"))
    prefix = "" if sage.get("currency") == "order" else "base_"

    order_items = {int(r["item_id"]): (r["parent_item_id"], r["product_type"], r["tax_percent"])
                   for r in _rows(export_dir / "order_items.csv")}
    orders = {int(r["entity_id"]): (r["increment_id"], r["customer_id"], r["customer_is_guest"],
                                     r["customer_email"])
              for r in _rows(export_dir / "orders.csv")}

    out.mkdir(parents=True, exist_ok=True)
    documents = rows = 0
    totals: dict[str, Decimal] = {}
    with (out / "audit_trail.csv").open("w", newline="", encoding=sage.get("encoding", "cp1252"),
                                        errors="replace") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["Type", "Account Reference", "Nominal A/C Ref", "Department Code",
                         "Date", "Reference", "Details", "Net Amount", "Tax Code", "Tax Amount",
                         "Exchange Rate", "Extra Reference", "User Name", "Project Refn",
                         "Cost Code Refn"])
        for kind, label, table in (("SI", "Inv", "invoices"), ("SC", "Cr", "creditmemos")):
            groups = itertools.groupby(_rows(export_dir / f"{table[:-1]}_items.csv"),
                                       key=lambda r: r["document_id"])
            current: tuple[str, list[dict[str, str]]] = ("", [])
            for doc in _rows(export_dir / f"{table}.csv"):
                while current[0] != doc["entity_id"]:  # both files are in document order
                    found = next(groups, None)
                    if found is None:
                        raise SystemExit(f"{table}: no lines for document {doc['entity_id']}")
                    current = (found[0], list(found[1]))
                lines = current[1]
                if doc["state"] == "3":
                    continue
                order = orders.get(int(doc["order_id"]))
                if order is None:
                    continue
                splits: dict[tuple[str, str], list[Decimal]] = {}
                for line in lines:
                    parent, _type, rate = order_items[int(line["order_item_id"])]
                    if parent and order_items[int(parent)][1] == "configurable":
                        continue
                    row_total = _d(line[prefix + "row_total"])
                    tax = _d(line[prefix + "tax_amount"])
                    discount = _d(line[prefix + "discount_amount"])
                    compensation = _d(line[prefix + "discount_tax_compensation_amount"])
                    if not (row_total or tax or discount):
                        continue
                    code = codes.get(_d(rate).normalize(), "T9")
                    split = splits.setdefault(("goods", code), [ZERO, ZERO])
                    split[0] += row_total - discount + compensation
                    split[1] += tax
                tax_total = _d(doc[prefix + "tax_amount"])
                net_total = _d(doc[prefix + "grand_total"]) - tax_total
                rest_net = net_total - sum(s[0] for s in splits.values())
                rest_tax = tax_total - sum(s[1] for s in splits.values())
                if rest_net or rest_tax:
                    code = _code_for(rest_net, rest_tax, codes)
                    split = splits.setdefault(("carriage", code), [ZERO, ZERO])
                    split[0] += rest_net
                    split[1] += rest_tax
                order_increment, customer_id, is_guest, email = order
                if is_guest == "True" or not customer_id:
                    account = guest
                else:
                    account = mapped.get(email.lower(), f"W{int(customer_id):07d}")
                created = datetime.strptime(doc["created_at"], "%Y-%m-%d %H:%M:%S")
                date = created.replace(tzinfo=UTC).astimezone(zone).strftime("%d/%m/%Y")
                increment = doc["increment_id"]
                documents += 1
                for (purpose, code), (net, tax) in splits.items():
                    net, tax = _cents(net), _cents(tax)
                    nominal = goods_nominal if purpose == "goods" else carriage_nominal
                    writer.writerow([kind, account, nominal, "", date, increment,
                                     f"{label} {increment} {purpose}", f"{net:.2f}", code,
                                     f"{tax:.2f}", "", order_increment, "sagesync", "", ""])
                    totals[kind] = totals.get(kind, ZERO) + net + tax
                    rows += 1
    return {"documents": documents, "rows": rows, "totals": {k: str(v) for k, v in totals.items()},
            "customers_mapped": len(mapped)}


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser("export", help="saved Magento pages -> one CSV per table")
    ex.add_argument("source", type=Path)
    ex.add_argument("out", type=Path)
    po = commands.add_parser("post", help="exported CSV files -> a Sage audit-trail CSV")
    po.add_argument("export_dir", type=Path)
    po.add_argument("recipe", type=Path)
    po.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.command == "export":
        summary = export(args.source, args.out)
    else:
        summary = post(args.export_dir, args.recipe, args.out)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
