"""Sage Intacct: the exact bytes of a small invoice (AR) and order (Order Entry), the signs, the
holds and their causes, the ack, and a property: generated stores balance in the files.

Each test runs the real CLI on Magento pages built by `sagesync.testing.factory` and reads the
delivered bytes back with the conformance reader, so what is asserted is what Intacct reads.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sagesync.cli.main import cli
from sagesync.errors import ExitCode
from sagesync.sage import products
from sagesync.testing.factory import (
    AddressSpec,
    CustomerSpec,
    LineSpec,
    OrderSpec,
    build_creditmemo,
    build_invoice,
    build_order,
    to_decimal,
)
from tests.conformance.harness import (
    CENT,
    MagentoStore,
    document_specs,
    few,
    per_magento_document,
    read_delivered,
    write_magento,
    write_recipe,
)
from tests.products.common import causes
from tests.strategies import TAX_RATES, creditmemo_args, order_specs

INTACCT = products.get("intacct")
WHEN = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
GUEST = CustomerSpec("ann@example.com", "Ann", "Lee",
                     AddressSpec("Ann", "Lee", ("1 Road",), "Leeds", "LS1 4AP", "0113 496 0000"))
#: a book at 5 %, a hoodie at 20 % with 10 % off, shipping at 20 %: 75.45 in all
ORDER = OrderSpec(entity_id=101, increment_id="000000101", created_at=WHEN, customer=GUEST,
                  lines=(LineSpec("BK-1001", "Yoga Handbook", 2, Decimal("12.50"), Decimal(5)),
                         LineSpec("MH01-M-Black", "Hoodie", 1, Decimal("40.00"), Decimal(20),
                                  Decimal(10))),
                  shipping_amount=Decimal("5.00"), coupon_code="SAVE")
AR_HEADING = (b"DONOTIMPORT,BATCH_TITLE,INVOICE_NO,PO_NO,CUSTOMER_ID,POSTING_DATE,CREATED_DATE,"
              b"DUE_DATE,TOTAL_DUE,TOTAL_PAID,PAID_DATE,TERM_NAME,DESCRIPTION,LINE_NO,ACCT_NO,"
              b"LOCATION_ID,DEPT_ID,AMOUNT,MEMO\r\n")
OE_HEADING = (b"DONOTIMPORT,TRANSACTIONTYPE,DATE,GLPOSTINGDATE,DOCUMENTNO,CUSTOMER_ID,LINE,"
              b"ITEMID,ITEMDESC,WAREHOUSEID,QUANTITY,UNIT,PRICE,TOTAL,LOCATIONID,DEPARTMENTID,"
              b"MEMO\r\n")
#: the invoice's (or order's) own fields, written on its first line only
AR_HEADER = ("INVOICE_NO", "PO_NO", "CUSTOMER_ID", "POSTING_DATE", "CREATED_DATE", "DUE_DATE",
             "TOTAL_DUE", "DESCRIPTION")
OE_HEADER = ("TRANSACTIONTYPE", "DATE", "GLPOSTINGDATE", "DOCUMENTNO", "CUSTOMER_ID")


def store_of(folder: Path, specs: list[OrderSpec],
             memos: dict[int, dict[str, Any]] | None = None) -> MagentoStore:
    """Pages of the orders, each invoiced, and a credit memo of those in `memos` (by id)."""
    orders, invoices, creditmemos = [], [], []
    for spec in specs:
        order = build_order(spec, include_parent_item=False)
        orders.append(order)
        invoices.append(build_invoice(order, spec.entity_id, spec.increment_id,
                                      spec.created_at + timedelta(minutes=5)))
        if spec.entity_id in (memos or {}):
            creditmemos.append(build_creditmemo(
                order, spec.entity_id, spec.increment_id, spec.created_at + timedelta(days=2),
                invoice_id=spec.entity_id, **(memos or {})[spec.entity_id]))
    return write_magento(folder / "pages", orders, invoices, creditmemos)


def run(folder: Path, store: MagentoStore, **sections: dict[str, Any]
        ) -> tuple[int, dict[str, Any]]:
    """`sagesync run RECIPE --json` on the demo recipe with these changes: (exit, report)."""
    recipe = write_recipe(INTACCT, folder, store.source, **sections)
    result = CliRunner().invoke(cli, ["run", str(recipe), "--json"], catch_exceptions=False)
    assert result.exit_code in (ExitCode.OK, ExitCode.HELD), result.output
    return result.exit_code, json.loads(result.stdout)


def delivered(folder: Path, template: str) -> bytes:
    (path,) = (folder / "out").glob(f"B*-{template}.csv")
    return path.read_bytes()


def test_an_invoice_is_its_lines_then_a_tax_line_per_account_to_the_cent(tmp_path: Path) -> None:
    code, _ = run(tmp_path, store_of(tmp_path, [ORDER]))
    assert code == ExitCode.OK
    assert delivered(tmp_path, "ar_invoices") == AR_HEADING + (
        b",,000000101,000000101,WEBSALES,11/02/2026,11/02/2026,11/02/2026,75.45,,,,"
        b"Magento invoice 000000101,1,4030,UK,,25.00,Yoga Handbook\r\n"
        b",,,,,,,,,,,,,2,4000,UK,,36.00,Hoodie\r\n"
        b",,,,,,,,,,,,,3,4050,UK,,5.00,Shipping\r\n"
        b",,,,,,,,,,,,,4,2205,UK,,1.25,Tax\r\n"
        b",,,,,,,,,,,,,5,2210,UK,,8.20,Tax\r\n")
    assert 25 + 36 + 5 + Decimal("1.25") + Decimal("8.20") == Decimal("75.45")


def test_an_order_is_an_order_entry_transaction_of_items_shipping_and_tax_items(
        tmp_path: Path) -> None:
    code, _ = run(tmp_path, store_of(tmp_path, [ORDER]), sage={"post_from": "orders"},
                  mapping={"carriage_nominal": "SHIPPING",
                           "tax_codes": {"20": "VAT20", "5": "VAT5", "0": "VAT0"}})
    assert code == ExitCode.OK
    assert not list((tmp_path / "out").glob("*ar_invoices*"))
    assert delivered(tmp_path, "oe_transactions") == OE_HEADING + (
        b",Sales Order,11/02/2026,11/02/2026,000000101,WEBSALES,1,BOOK-YOGA-2E,Yoga Handbook,"
        b"BOOKS,2.0000,,12.5000,25.00,UK,,BK-1001\r\n"
        b",,,,,,2,HOODIE-CHAZ-M-BLK,Hoodie,MAIN,1.0000,,36.0000,36.00,UK,,MH01-M-Black\r\n"
        b",,,,,,3,SHIPPING,Shipping,,1.0000,,5.0000,5.00,UK,,\r\n"
        b",,,,,,4,VAT5,Tax,,1.0000,,1.2500,1.25,UK,,\r\n"
        b",,,,,,5,VAT20,Tax,,1.0000,,8.2000,8.20,UK,,\r\n")


def test_amounts_are_positive_unless_the_recipe_keeps_discounts_as_negative_lines(
        tmp_path: Path) -> None:
    store = store_of(tmp_path, [ORDER])
    run(tmp_path / "net", store)
    assert all(r["AMOUNT"] and Decimal(r["AMOUNT"]) > 0
               for r in table(delivered(tmp_path / "net", "ar_invoices")))
    run(tmp_path / "nominal", store, sage={"negative_amounts": True},
        mapping={"discount": "nominal"})
    rows = table(delivered(tmp_path / "nominal", "ar_invoices"))
    assert [(r["ACCT_NO"], r["AMOUNT"]) for r in rows] == [
        ("4030", "25.00"), ("4000", "40.00"), ("4900", "-4.00"), ("4050", "5.00"),
        ("2205", "1.25"), ("2210", "8.20")]
    assert rows[0]["TOTAL_DUE"] == "75.45" == str(sum(Decimal(r["AMOUNT"]) for r in rows))


def test_credit_memos_are_held_with_the_advice_and_their_invoices_still_go(
        tmp_path: Path) -> None:
    memo = {"adjustment_positive": Decimal("2.50")}
    code, report = run(tmp_path, store_of(tmp_path, [ORDER], {101: memo}))
    assert code == ExitCode.HELD
    (held,) = causes(report)["no_credit_notes"]
    assert held["key"].startswith("creditmemo:101")
    assert held["message"] == (
        "Sage Intacct cannot import a credit note: enter the refund in Intacct by hand, as an "
        "AR adjustment (Accounts Receivable > Adjustments) against the invoice, or as the "
        "Order Entry return your company uses, then `sagesync resolve` the credit memo")
    assert b"000000101,000000101,WEBSALES" in delivered(tmp_path, "ar_invoices")


def test_a_gift_card_is_held_with_positive_amounts_and_a_negative_line_without(
        tmp_path: Path) -> None:
    paid = replace(ORDER, gift_card_amount=Decimal("20.00"))
    store = store_of(tmp_path, [paid])
    gift = {"payment_nominals": {"gift_card": "2105"}}
    code, report = run(tmp_path / "positive", store, mapping=gift)
    assert code == ExitCode.HELD
    (held,) = causes(report)["no_credit_notes"]
    assert "set [sage] negative_amounts = true to post it as a negative line" in held["message"]
    assert not list((tmp_path / "positive" / "out").glob("*ar_invoices*"))
    code, _ = run(tmp_path / "negative", store, mapping=gift, sage={"negative_amounts": True})
    assert code == ExitCode.OK
    rows = table(delivered(tmp_path / "negative", "ar_invoices"))
    assert [(r["ACCT_NO"], r["AMOUNT"], r["MEMO"]) for r in rows if r["ACCT_NO"] == "2105"] \
        == [("2105", "-20.00", "Gift card")]
    assert rows[0]["TOTAL_DUE"] == "55.45" == str(sum(Decimal(r["AMOUNT"]) for r in rows))


def test_an_order_entry_item_intacct_cannot_take_holds_its_order(tmp_path: Path) -> None:
    """A SKU without an item when the recipe says hold, and one too long for an item ID."""
    long_sku = LineSpec("WS-" + "X" * 30, "Long", 1, Decimal("10.00"))
    unmapped = replace(ORDER, entity_id=102, increment_id="000000102",
                       lines=(LineSpec("ZZ-NEW-1", "New", 1, Decimal("9.00")),))
    too_long = replace(ORDER, entity_id=103, increment_id="000000103", lines=(long_sku,))
    code, report = run(tmp_path, store_of(tmp_path, [ORDER, unmapped, too_long]),
                       sage={"post_from": "orders"})
    assert code == ExitCode.HELD  # the long one; an unmapped SKU is written as itself
    oe = delivered(tmp_path, "oe_transactions")
    assert b",ZZ-NEW-1,New," in oe and b"000000103" not in oe
    (held,) = causes(report)["template_rule_broken"]
    assert held["key"].startswith("order:103") and "'ITEMID' is 33 characters" in \
        held["message"]
    code, report = run(tmp_path / "hold", store_of(tmp_path / "hold", [ORDER, unmapped]),
                       sage={"post_from": "orders"}, mapping={"unmapped_items": "hold"})
    assert code == ExitCode.HELD
    assert [r["params"]["sku"] for r in causes(report)["unmapped_item"]] == ["ZZ-NEW-1"]


def test_the_invoice_list_export_confirms_the_invoices(tmp_path: Path) -> None:
    store = store_of(tmp_path, [ORDER, replace(ORDER, entity_id=102, increment_id="000000102")])
    run(tmp_path, store)
    export = tmp_path / "invoices.csv"
    export.write_text("Invoice number,Customer ID,Record number\r\n"
                      "000000101,WEBSALES,5501\r\n", encoding="utf-8")
    recipe = tmp_path / "recipe.toml"
    acked = CliRunner().invoke(cli, ["-r", str(recipe), "ack", str(export)],
                               catch_exceptions=False)
    assert acked.exit_code == ExitCode.OK, acked.output
    status = CliRunner().invoke(cli, ["-r", str(recipe), "status", "--json"],
                                catch_exceptions=False)
    counts = json.loads(status.stdout)["counts"]
    assert {k: n for k, n in counts.items() if n} == {"confirmed": 1, "sent": 1}


def table(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _store_specs(draw: st.DrawFn) -> tuple[list[OrderSpec], dict[int, dict[str, Any]]]:
    specs = [replace(s, entity_id=n, increment_id=f"{n:09d}", state="complete")
             for n, s in enumerate(draw(st.lists(order_specs(invoiced=True), min_size=1,
                                                 max_size=4)), start=1)]
    memos = {s.entity_id: draw(creditmemo_args(build_order(s, include_parent_item=False)))
             for s in specs if draw(st.booleans())}
    return specs, memos


@pytest.mark.parametrize("post_from", ["invoices", "orders"])
@few(5)
@given(made=st.composite(_store_specs)())
def test_generated_stores_balance_in_the_files_to_the_cent(
        tmp_path_factory: pytest.TempPathFactory, post_from: str,
        made: tuple[list[OrderSpec], dict[int, dict[str, Any]]]) -> None:
    """Composites, discounts, four tax rates, tax-inclusive prices, adjustments and credit
    memos: each invoice (or order) delivered is Magento's grand total to the cent, line by
    line, TOTAL_DUE is the sum of AMOUNT, LINE_NO runs 1..n, the document's own fields are on
    its first line only, and every credit memo is held for a person."""
    specs, memos = made
    folder = tmp_path_factory.mktemp("intacct")
    store = store_of(folder, specs, memos)
    accounts = {str(rate): f"22{n:02d}" for n, rate in enumerate(TAX_RATES)}
    code, report = run(folder, store, sage={"post_from": post_from},
                       mapping={"tax_codes": accounts})
    documents = store.orders if post_from == "orders" else store.invoices
    expected = {("SI", str(d["increment_id"])): to_decimal(d["base_grand_total"]).quantize(CENT)
                for d in documents}
    rows = read_delivered(INTACCT, folder / "out").amounts(document_specs(INTACCT))
    books = per_magento_document(INTACCT, rows, expected)
    assert books == {k: v for k, v in expected.items() if v}, "per document, to the cent"
    assert {k: Decimal(v) for k, v in report["steps"][2]["totals"].items()} == \
        ({"SI": sum(books.values())} if books else {})
    held = causes(report)
    assert set(held) <= {"no_credit_notes"}
    memo_keys = {m["increment_id"]: f"creditmemo:{m['entity_id']}@{m['store_id']}"
                 for m in store.creditmemos}
    held_keys = {r["key"] for r in held.get("no_credit_notes", [])}
    assert held_keys <= set(memo_keys.values())  # a memo of nothing (zero) is skipped
    assert {memo_keys[m["increment_id"]] for m in store.creditmemos
            if to_decimal(m["base_grand_total"])} <= held_keys
    assert code == (ExitCode.HELD if held_keys else ExitCode.OK)
    template = "oe_transactions" if post_from == "orders" else "ar_invoices"
    header, number, amount = (OE_HEADER, "LINE", "TOTAL") if post_from == "orders" \
        else (AR_HEADER, "LINE_NO", "AMOUNT")
    documents_rows: list[list[dict[str, str]]] = []
    for row in table(delivered(folder, template)) if books else []:
        if row[header[0]]:
            documents_rows.append([])
        documents_rows[-1].append(row)
    assert len(documents_rows) == len(books)
    for lines in documents_rows:
        assert all(lines[0][h] for h in header if h not in ("PO_NO", "DESCRIPTION"))
        assert not [line for line in lines[1:] if any(line[h] for h in header)]
        assert [int(line[number]) for line in lines] == list(range(1, len(lines) + 1))
        total = sum(Decimal(line[amount]) for line in lines)
        assert total == books[("SI", lines[0][header[0 if post_from == "invoices" else 3]])]
        if post_from == "invoices":
            assert Decimal(lines[0]["TOTAL_DUE"]) == total
