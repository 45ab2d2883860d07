"""Sage 50 US: the Sales Journal and Customer List bytes Sage reads, their signs, and holds.

A small known invoice and its credit memo are written byte for byte (hand-checked against
Magento's totals: the sales-tax rows per agency, the discount lines, the fee); every item
distribution keeps Sage's line rule Amount = -(Quantity x Unit Price) and every document reads
back, with the sale's signs undone, to Magento's grand total to the cent, for any generated
store (composites, discounts, several rates, tax-inclusive prices, adjustments, payments). What
Sage cannot take is held with its cause: over 154 distributions, an Item ID over 20 characters,
an unmapped item when the recipe holds those; and a recipe that would post a fee as its own
document is refused.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sagesync.cli.main import cli
from sagesync.errors import RecipeError
from sagesync.ledger import Ledger
from sagesync.model import holds
from sagesync.pipeline import import_step
from sagesync.recipe import load_recipe
from sagesync.render import load_spec
from sagesync.sage import products
from sagesync.testing.factory import (
    AddressSpec,
    CustomerSpec,
    LineSpec,
    OrderSpec,
    build_creditmemo,
    build_invoice,
    build_order,
)
from sagesync.transform.mapping import load_customer_accounts
from tests.conformance.harness import (
    MagentoStore,
    Outcome,
    Row,
    document_of,
    few,
    per_magento_document,
    read_delivered,
    run_recipe_cli,
    write_magento,
    write_recipe,
)
from tests.strategies import TAX_RATES, creditmemo_args, money_order_specs

US = products.get("sage50_us")
US_JOURNAL = load_spec("sage50_us", "sales_journal")
CENT = Decimal("0.01")
WHEN = datetime(2026, 6, 1, 15, 30, tzinfo=UTC)
HEADING = (b"Customer ID,Invoice/CM #,Apply to Invoice Number,Credit Memo,Date,Date Due,"
           b"Accounts Receivable Account,Number of Distributions,Invoice/CM Distribution,"
           b"Quantity,Item ID,Description,G/L Account,Unit Price,Tax Type,Amount,"
           b"Sales Tax Agency ID,Transaction Number\r\n")
GUEST = CustomerSpec("ann@example.com", "Ann", "Lee",
                     AddressSpec("Ann", "Lee", ("1 Main St",), "Austin", "78701",
                                 "512 555 0100", country_id="US", region="Texas"))


def known_store(folder: Path) -> MagentoStore:
    """A guest's order: 3 mugs at 20 % and a book at 5 %, 10 % off both, 5.00 shipping at
    20 %; its invoice, and a credit memo refunding one mug and keeping a 1.00 fee."""
    spec = OrderSpec(entity_id=41, increment_id="000000041", created_at=WHEN, customer=GUEST,
                     lines=(LineSpec("MUG-01", "Coffee mug", 3, Decimal("4.00"), Decimal(20),
                                     Decimal(10)),
                            LineSpec("BOOK-9", "Field guide", 1, Decimal("12.50"), Decimal(5),
                                     Decimal(10))),
                     shipping_amount=Decimal("5.00"), coupon_code="SAVE10")
    order = build_order(spec, include_parent_item=False)
    invoice = build_invoice(order, 41, "000000041", WHEN + timedelta(minutes=5))
    memo = build_creditmemo(order, 7, "000000007", WHEN + timedelta(days=2), invoice_id=41,
                            lines={order["items"][0]["item_id"]: 1},
                            adjustment_negative=Decimal("1.00"))
    return write_magento(folder, [order], [invoice], [memo])


def journal(folder: Path) -> bytes:
    [path] = (folder / "out").glob("B*-2-sales_journal.csv")
    return path.read_bytes()


def test_a_known_invoice_and_credit_memo_byte_for_byte(tmp_path: Path) -> None:
    store = known_store(tmp_path / "pages")
    outcome = run_recipe_cli(US, write_recipe(US, tmp_path, store.source,
                                              mapping={"discount": "nominal"}))
    assert outcome.exit_code == 0 and not outcome.reasons
    # invoice 30.77: 12.00 - 1.20 + 12.50 - 1.25 + 5.00 + tax 2.16 + 1.00 (STATE) + 0.56
    # (CITY); credit memo 3.32: 4.00 - 0.40 - 1.00 fee + 0.72 tax. A sale's amounts are
    # negative, a credit memo's positive with a negative quantity; Sage's export does the same.
    assert journal(tmp_path) == HEADING + (
        b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,7,1,3.00,MUG-01,Coffee mug,40000,"
        b"4.0000,1,-12.00,,1\r\n"
        b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,7,2,1.00,,Discount MUG-01,49000,"
        b"-1.2000,1,1.20,,1\r\n"
        b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,7,3,1.00,BOOK-9,Field guide,40000,"
        b"12.5000,1,-12.50,,1\r\n"
        b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,7,4,1.00,,Discount BOOK-9,49000,"
        b"-1.2500,1,1.25,,1\r\n"
        b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,7,5,1.00,,Shipping,40800,"
        b"5.0000,1,-5.00,,1\r\n"
        b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,7,0,,,Sales tax STATE,23100,,0,"
        b"-3.16,STATE,1\r\n"
        b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,7,0,,,Sales tax CITY,23100,,0,"
        b"-0.56,CITY,1\r\n"
        b"WEBSALES,000000007,,TRUE,6/3/26,6/3/26,11000,4,1,-1.00,MUG-01,Coffee mug,40000,"
        b"4.0000,1,4.00,,2\r\n"
        b"WEBSALES,000000007,,TRUE,6/3/26,6/3/26,11000,4,2,-1.00,,Discount MUG-01,49000,"
        b"-0.4000,1,-0.40,,2\r\n"
        b"WEBSALES,000000007,,TRUE,6/3/26,6/3/26,11000,4,3,-1.00,,Adjustment fee,40000,"
        b"-1.0000,1,-1.00,,2\r\n"
        b"WEBSALES,000000007,,TRUE,6/3/26,6/3/26,11000,4,0,,,Sales tax STATE,23100,,0,"
        b"0.72,STATE,2\r\n")


def test_discounts_netted_keep_the_line_rule_with_the_net_unit_price(tmp_path: Path) -> None:
    store = known_store(tmp_path / "pages")
    run_recipe_cli(US, write_recipe(US, tmp_path, store.source, mapping={"discount": "net"}))
    lines = journal(tmp_path).split(b"\r\n")
    # 3 mugs at 4.00 less 10 %: 10.80, so a unit price of 3.6000
    assert lines[1] == (b"WEBSALES,000000041,,FALSE,6/1/26,6/1/26,11000,5,1,3.00,MUG-01,"
                        b"Coffee mug,40000,3.6000,1,-10.80,,1")
    assert b"Discount" not in journal(tmp_path)


def test_a_new_customer_is_a_customer_list_row_with_its_state_code(tmp_path: Path) -> None:
    customer = CustomerSpec("bo@example.com", "Bo", "Diaz",
                            AddressSpec("Bo", "Diaz", ("200 Congress Ave", "Suite 4"),
                                        "Austin", "78701", "512 555 0101", country_id="US",
                                        region="Texas"), customer_id=77)
    order = build_order(OrderSpec(entity_id=5, increment_id="000000005", created_at=WHEN,
                                  customer=customer,
                                  lines=(LineSpec("MUG-01", "Mug", 1, Decimal("4.00"),
                                                  Decimal(0)),)),
                        include_parent_item=False)
    store = write_magento(tmp_path / "pages", [order],
                          [build_invoice(order, 5, "000000005", WHEN)], [])
    run_recipe_cli(US, write_recipe(US, tmp_path, store.source))
    [path] = (tmp_path / "out").glob("B*-1-customers.csv")
    assert path.read_bytes() == (
        b"Customer ID,Customer Name,Bill to Address-Line One,Bill to Address-Line Two,"
        b"Bill to City,Bill to State,Bill to Zip,Bill to Country\r\n"
        b"DIAZBO01,Bo Diaz,200 Congress Ave,Suite 4,Austin,TX,78701,US\r\n")
    # a 0 % sale has no sales-tax row; its item is exempt from nothing else
    assert journal(tmp_path).count(b"\r\n") == 2


def items_of(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.rows == "lines"]


def assert_sage_50_us_rules(rows: list[Row]) -> None:
    """Sage's rules on every row: the line rule, one Transaction Number per document and a
    distinct one per document, Number of Distributions = its rows, item distributions numbered
    uniquely, tax rows 0, a credit memo's quantities not positive."""
    by_document: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        by_document[document_of(row, US)].append(row)
        cells = dict(zip([c.name for c in row.columns], row.cells, strict=True))
        amount = Decimal(cells["Amount"])
        if row.rows == "lines":
            quantity, price = Decimal(cells["Quantity"]), Decimal(cells["Unit Price"])
            assert (-(quantity * price)).quantize(CENT, ROUND_HALF_UP) == amount, cells
            if cells["Credit Memo"] == "TRUE":
                assert quantity <= 0, cells
        else:
            assert (cells["Invoice/CM Distribution"], cells["Tax Type"]) == ("0", "0")
            assert cells["Sales Tax Agency ID"] and cells["Quantity"] == ""
    numbers = set()
    for key, own in by_document.items():
        assert {r.fields["document_rows"] for r in own} == {str(len(own))}, key
        distributions = [r.fields["row_no"] for r in own if r.rows == "lines"]
        assert len(set(distributions)) == len(distributions), key
        [number] = {r.fields["document_no"] for r in own}
        numbers.add(number)
        assert len(own) <= 154
    assert len(numbers) == len(by_document), "a Transaction Number shared by two documents"


@few(12)
@given(data=st.data(), discount=st.sampled_from(["net", "nominal"]))
def test_any_store_balances_to_the_cent_and_keeps_sages_rules(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, discount: str) -> None:
    folder = tmp_path_factory.mktemp("us")
    specs = data.draw(st.lists(money_order_specs(), min_size=1, max_size=3,
                               unique_by=lambda s: s.entity_id))
    orders, invoices, memos = [], [], []
    for n, spec in enumerate(specs, start=1):
        order = build_order(spec)
        orders.append(order)
        invoices.append(build_invoice(order, n, f"{n:09d}", WHEN))
        if data.draw(st.booleans()):
            memos.append(build_creditmemo(order, n, f"{n:09d}", WHEN + timedelta(days=1),
                                          invoice_id=n, **data.draw(creditmemo_args(order))))
    store = write_magento(folder / "pages", orders, invoices, memos)
    agencies = {"20": "STATE", "5": "CITY", "0": "EXEMPT", "17.5": "COUNTY"}
    assert {f"{r.normalize():f}" for r in TAX_RATES} == set(agencies)
    outcome = run_recipe_cli(US, write_recipe(US, folder, store.source, mapping={
        "discount": discount, "tax_codes": agencies,
        "payment_nominals": {"gift_card": "24000", "store_credit": "24100",
                             "reward_points": "24200"},
        "extra_amounts": {"payment_surcharge_amount": "40900"}}))
    rows = read_delivered(US, folder / "out").amounts([US_JOURNAL])
    expected = store.postings(US)
    books = per_magento_document(US, rows, expected)
    assert {k: books[k] for k in books} == {k: expected[k] for k in books}, "to the cent"
    unposted = {k for k in expected if k not in books}
    assert all(not expected[k] for k in unposted), (unposted, outcome.reasons)
    assert outcome.exit_code == 0 and all("zero" in outcome.reasons[k] for k in outcome.reasons)
    assert_sage_50_us_rules(rows)


def test_transaction_numbers_stay_distinct_across_render_windows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents are rendered 2,000 at a time; a file holding more must still number each
    document once (here 3 at a time, 7 documents)."""
    monkeypatch.setattr(import_step, "WINDOW", 3)
    orders, invoices = [], []
    for n in range(1, 8):
        order = build_order(OrderSpec(entity_id=n, increment_id=f"{n:09d}", created_at=WHEN,
                                      customer=GUEST, lines=(LineSpec("MUG-01", "Mug", n,
                                                                      Decimal("4.00")),)),
                            include_parent_item=False)
        orders.append(order)
        invoices.append(build_invoice(order, n, f"{n:09d}", WHEN))
    store = write_magento(tmp_path / "pages", orders, invoices, [])
    run_recipe_cli(US, write_recipe(US, tmp_path, store.source))
    rows = read_delivered(US, tmp_path / "out").amounts([US_JOURNAL])
    numbers = {document_of(r, US)[1]: r.fields["document_no"] for r in rows}
    assert sorted(numbers.values(), key=int) == [str(n) for n in range(1, 8)]
    assert_sage_50_us_rules(rows)


def outcome_of(tmp_path: Path, specs: list[OrderSpec], **mapping: Any) -> Outcome:
    orders = [build_order(s, include_parent_item=False) for s in specs]
    invoices = [build_invoice(o, o["entity_id"], o["increment_id"], WHEN) for o in orders]
    store = write_magento(tmp_path / "pages", orders, invoices, [])
    return run_recipe_cli(US, write_recipe(US, tmp_path, store.source, mapping=mapping))


def order_of(entity_id: int, lines: tuple[LineSpec, ...]) -> OrderSpec:
    return OrderSpec(entity_id=entity_id, increment_id=f"{entity_id:09d}", created_at=WHEN,
                     customer=GUEST, lines=lines)


def test_a_document_over_154_distributions_is_held_whole(tmp_path: Path) -> None:
    """77 items at 20 % with a discount line each are 154 item rows, plus a sales-tax row."""
    lines = tuple(LineSpec(f"SKU-{n:03d}", f"Item {n}", 1, Decimal("2.00"), Decimal(20),
                           Decimal(10)) for n in range(77))
    outcome = outcome_of(tmp_path, [order_of(1, lines), order_of(2, lines[:76])],
                         discount="nominal")
    assert outcome.states[("SI", "000000001")] == "held"
    held = holds.recognise(outcome.reasons[("SI", "000000001")])
    assert (held.code, held.params) == ("too_many_lines", {"rows": 155, "limit": 154})
    assert outcome.states[("SI", "000000002")] == "sent"  # 152 + 1 rows fit


def test_an_item_id_sage_cannot_hold_is_held_and_an_unmapped_item_when_asked(
        tmp_path: Path) -> None:
    long = LineSpec("WIDGET-DELUXE-EDITION-XL", "Widget", 1, Decimal("9.00"))  # 24 > 20
    outcome = outcome_of(tmp_path / "a", [order_of(1, (long,))])
    assert outcome.states[("SI", "000000001")] == "held"
    assert "'Item ID' is 24 characters, Sage allows 20" in outcome.reasons[("SI", "000000001")]
    outcome = outcome_of(tmp_path / "b", [order_of(1, (long,))], unmapped_items="hold")
    assert outcome.states[("SI", "000000001")] == "held"
    assert holds.recognise(outcome.reasons[("SI", "000000001")]).code == "unmapped_item"


def test_a_recipe_without_negative_amounts_is_refused(tmp_path: Path) -> None:
    """A fee or a gift card cannot be a document of its own in a file of one document's
    lines: it would be written as a positive line of its credit memo and book the wrong way."""
    store = known_store(tmp_path / "pages")
    recipe = write_recipe(US, tmp_path, store.source, sage={"negative_amounts": False})
    with pytest.raises(RecipeError, match=r"negative_amounts.*negative line inside"):
        load_recipe(recipe)
    recipe = write_recipe(US, tmp_path, store.source, mapping={"tax_nominal": "23100 X"})
    with pytest.raises(RecipeError, match=r"mapping\.tax_nominal.*Sage 50 US"):
        load_recipe(recipe)


def test_existing_customer_ids_are_kept_as_sage_50_us_writes_them(tmp_path: Path) -> None:
    """Customer IDs are case-sensitive and take spaces (Sage's own export: '3 Dee
    Pharmacy'); Sage 50 UK's rule (upper case, 8 letters or digits) is not applied."""
    path = tmp_path / "customers.csv"
    path.write_text("email,account_ref\nann@example.com,3 Dee Pharmacy\n", encoding="utf-8")
    assert load_customer_accounts(path, US.capabilities) == {"ann@example.com": "3 Dee Pharmacy"}
    path.write_text("email,account_ref\nann@example.com,smithj01\n", encoding="utf-8")
    assert load_customer_accounts(path, products.get("sage50_uk").capabilities) == \
        {"ann@example.com": "SMITHJ01"}
    path.write_text(f"email,account_ref\nann@example.com,{'A' * 21}\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="20 characters"):
        load_customer_accounts(path, US.capabilities)


def sales_journal_export(rows: list[dict[str, str]]) -> str:
    """What Sage's Sales Journal export looks like for the columns ack reads (and others)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["Customer ID", "Invoice/CM #", "Credit Memo", "Date",
                                     "Amount", "Transaction Number"], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def test_ack_reads_the_sales_journal_export_telling_invoices_from_credit_memos(
        tmp_path: Path) -> None:
    """Invoice 000000041 and credit memo 000000041 share a number (Magento numbers them
    apart): the Credit Memo column tells Sage's answer for each."""
    spec = order_of(41, (LineSpec("MUG-01", "Mug", 2, Decimal("4.00")),))
    order = build_order(spec, include_parent_item=False)
    invoice = build_invoice(order, 41, "000000041", WHEN)
    memo = build_creditmemo(order, 9, "000000041", WHEN + timedelta(days=1), invoice_id=41)
    store = write_magento(tmp_path / "pages", [order], [invoice], [memo])
    recipe = write_recipe(US, tmp_path, store.source)
    run_recipe_cli(US, recipe)
    export = tmp_path / "SALES.CSV"
    export.write_text(sales_journal_export([
        {"Customer ID": "WEBSALES", "Invoice/CM #": "000000041", "Credit Memo": "FALSE",
         "Date": "6/1/26", "Amount": "-8.00", "Transaction Number": "270"},
        {"Customer ID": "WEBSALES", "Invoice/CM #": "000000041", "Credit Memo": "FALSE",
         "Date": "6/1/26", "Amount": "-1.60", "Transaction Number": "270"},
        {"Customer ID": "WEBSALES", "Invoice/CM #": "000000041", "Credit Memo": "TRUE",
         "Date": "6/2/26", "Amount": "8.00", "Transaction Number": "275"}]),
        encoding="cp1252")
    result = CliRunner().invoke(cli, ["-r", str(recipe), "ack", str(export)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Ledger(load_recipe(recipe).state_dir / "ledger.sqlite") as ledger:
        confirmed = {(r.key.entity_type, r.sage_ref) for r in ledger.rows()
                     if r.state == "confirmed"}
    assert confirmed == {("invoice", "270"), ("creditmemo", "275")}
