"""Sage 100: Visual Integrator H/L files for A/R invoices and credit memos or S/O sales orders,
and the A/R customers file, read back from their bytes.

The file carries Magento's tax, so each document balances to the grand total: its lines'
ExtensionAmt plus the header's FreightAmt and SalesTaxAmt. A credit memo is InvoiceType CM
with positive amounts (its fee a negative miscellaneous line); posting from orders, where S/O
Sales Order Entry takes none, it is held with advice. Sage 100 numbers its own documents (7
characters): the Magento number is CustomerPONo, `ack` reads Sage's numbers back and `trace`
shows them. The conformance suite (`tests/conformance`, `-k sage100`) covers exactly once,
splitting, encoding, codes and dates and the golden files.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sagesync.cli.main import cli
from sagesync.errors import ExitCode, RecipeError
from sagesync.ledger import Ledger
from sagesync.recipe import load_recipe
from sagesync.sage import products
from sagesync.testing.factory import (
    AddressSpec,
    CustomerSpec,
    LineSpec,
    OrderSpec,
    build_order,
    to_decimal,
)
from tests.conformance.harness import (
    Delivered,
    MagentoStore,
    Row,
    few,
    write_recipe,
)
from tests.products import common
from tests.products.common import causes, cell, run_json
from tests.strategies import creditmemo_args, money_order_specs, order_specs

SAGE100 = products.get("sage100")
CENT = Decimal("0.01")
#: every rate the strategies draw, on Sage 100 tax classes (17.5 % is an old UK rate)
TAX_CLASSES = {"20": "TX", "17.5": "TX", "5": "TX", "0": "NT"}
INVOICE_HEADINGS = (
    b"H,CustomerPONo,InvoiceType,InvoiceDate,ARDivisionNo,CustomerNo,Comment,FreightAmt,"
    b"SalesTaxAmt\r\n"
    b"L,ItemType,ItemCode,ItemCodeDesc,WarehouseCode,QuantityShipped,UnitPrice,ExtensionAmt,"
    b"TaxClass\r\n")
ORDER_HEADINGS = (
    b"H,CustomerPONo,OrderType,OrderDate,ARDivisionNo,CustomerNo,Comment,FreightAmt,"
    b"SalesTaxAmt\r\n"
    b"L,ItemType,ItemCode,ItemCodeDesc,WarehouseCode,QuantityOrdered,UnitPrice,ExtensionAmt,"
    b"TaxClass\r\n")


# --------------------------------------------------------------------------- helpers


def ann_lee(customer_id: int | None = 7) -> CustomerSpec:
    address = AddressSpec("Ann", "Lee", ("1 Park Row",), "Leeds", "LS1 5AB", "0113 496 0000",
                          region="West Yorkshire")
    return CustomerSpec("ann@example.com", "Ann", "Lee", address, customer_id=customer_id)


def known_order(entity_id: int = 42, **changes: Any) -> OrderSpec:
    """Two items at 20 % (one 10 % off), a book at 0 %, one at 5 %, shipping at 20 %."""
    spec = OrderSpec(
        entity_id=entity_id, increment_id=f"{entity_id:09d}",
        created_at=datetime(2026, 11, 2, 9, 15, 27, tzinfo=UTC), customer=ann_lee(),
        lines=(LineSpec("TEE-1", "Tee", 2, Decimal("10.00"), Decimal(20), Decimal(10)),
               LineSpec("BK-1001", "Handbook", 1, Decimal("12.99"), Decimal(0)),
               LineSpec("MUG-2", "Mug", 3, Decimal("2.33"), Decimal(5))),
        shipping_amount=Decimal("4.95"), state="complete", invoiced=True)
    return replace(spec, **changes)


def store_of(folder: Path, specs: list[OrderSpec], **kw: Any) -> MagentoStore:
    """The shared store, credit memos numbered in Sage 100's 7 characters (C + 6 digits)."""
    return common.store_of(folder, specs, credit_number=lambda increment: f"C{increment[1:]}", **kw)


def run(folder: Path, store: MagentoStore, *, sage: dict[str, Any] | None = None,
        mapping: dict[str, Any] | None = None) -> tuple[dict[str, Any], Delivered]:
    return run_json(SAGE100, TAX_CLASSES, folder, store, sage=sage, mapping=mapping)


def documents_file(folder: Path, template: str = "ar_invoices") -> bytes:
    (path,) = (folder / "out").glob(f"*-{template}*.csv")
    return path.read_bytes()


def documents(delivered: Delivered) -> dict[tuple[str, str], tuple[Row, list[Row]]]:
    """(type, CustomerPONo) -> (H row, its L rows), checking each L follows an H."""
    found: dict[tuple[str, str], tuple[Row, list[Row]]] = {}
    key: tuple[str, str] | None = None
    for row in delivered.rows:
        if row.template not in ("ar_invoices", "sales_orders"):
            continue
        if row.record.startswith(("invoice header", "order header")):
            kind = cell(row, "InvoiceType") if row.template == "ar_invoices" else "S"
            key = (kind, cell(row, "CustomerPONo"))
            assert key not in found, "a document written twice"
            found[key] = (row, [])
        else:
            assert key is not None and row.record.startswith(("invoice line", "order line"))
            found[key][1].append(row)
    return found


def booked(header: Row, lines: list[Row]) -> Decimal:
    """What Sage 100 books for one document: its lines, its freight and its tax."""
    return (sum((Decimal(cell(line, "ExtensionAmt")) for line in lines), Decimal(0))
            + Decimal(cell(header, "FreightAmt") or "0") + Decimal(cell(header, "SalesTaxAmt")))


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def quantity_of(row: Row) -> Decimal:
    name = "QuantityShipped" if row.template == "ar_invoices" else "QuantityOrdered"
    return Decimal(cell(row, name))


# --------------------------------------------------------------------------- exact bytes


def test_a_known_invoice_is_written_byte_for_byte(tmp_path: Path) -> None:
    """Net prices after the discount, the book from items_csv at its own warehouse, the rest
    at the recipe's default warehouse, shipping the header's FreightAmt, Magento's tax its
    SalesTaxAmt: 18.00 + 12.99 + 6.99 + 4.95 + 4.94 = 47.87, Magento's grand total."""
    store = store_of(tmp_path, [known_order()])
    report, _ = run(tmp_path, store)
    assert report["exit_code"] == 0 and not report["holds_by_cause"]
    assert documents_file(tmp_path) == INVOICE_HEADINGS + (
        b"H,000000042,IN,20261102,01,LEEANN01,Magento invoice 000000042,4.95,4.94\r\n"
        b"L,1,TEE-1,Tee,000,2.0000,9.000000,18.00,TX\r\n"
        b"L,1,BK1001,Handbook,001,1.0000,12.990000,12.99,NT\r\n"
        b"L,1,MUG-2,Mug,000,3.0000,2.330000,6.99,TX\r\n")
    assert to_decimal(store.invoices[0]["base_grand_total"]) == Decimal("47.87")
    (customers,) = (tmp_path / "out").glob("*-customers.csv")
    assert customers.read_bytes() == (
        b"ARDivisionNo,CustomerNo,CustomerName,AddressLine1,AddressLine2,City,State,ZipCode,"
        b"CountryCode,TelephoneNo,EmailAddress\r\n"
        b"01,LEEANN01,Ann Lee,1 Park Row,,Leeds,,LS1 5AB,GB,0113 496 0000,ann@example.com\r\n")
    assert report["steps"][2]["totals"] == {"SI": "47.87"}
    assert report["steps"][2]["totals_basis"] == "net + tax"


def test_a_credit_memo_is_type_cm_with_positive_amounts_and_its_fee_a_negative_line(
        tmp_path: Path) -> None:
    """Credit memo C00000042 refunds the mug and the shipping, an adjustment of 2.50, and
    keeps a fee of 1.00: positive lines, the fee a miscellaneous item taken off."""
    order = build_order(known_order())
    mug = next(i["item_id"] for i in order["items"] if i["sku"] == "MUG-2")
    store = store_of(tmp_path, [known_order()],
                     memos=[{"lines": {mug: 3}, "refund_shipping": Decimal("4.95"),
                             "adjustment_positive": Decimal("2.50"),
                             "adjustment_negative": Decimal("1.00")}])
    report, delivered = run(tmp_path, store)
    assert report["exit_code"] == 0, report["holds_by_cause"]
    body = documents_file(tmp_path).removeprefix(INVOICE_HEADINGS)
    assert body.split(b"\r\n")[4:8] == [
        b"H,C00000042,CM,20261104,01,LEEANN01,Magento credit memo C00000042,4.95,1.34",
        b"L,1,MUG-2,Mug,000,3.0000,2.330000,6.99,TX",
        b"L,5,/ADJUST,Adjustment refund,,1.0000,2.500000,2.50,NT",
        b"L,5,/ADJUST,Adjustment fee,,1.0000,-1.000000,-1.00,NT"]
    memo = store.creditmemos[0]
    header, lines = documents(delivered)[("CM", "C00000042")]
    assert booked(header, lines) == to_decimal(memo["base_grand_total"]).quantize(CENT)
    assert report["steps"][2]["totals"] == {"SI": "47.87", "SC": "14.78"}


def test_an_open_order_goes_to_sales_order_entry(tmp_path: Path) -> None:
    """post_from = "orders": S/O sales orders, a standard order type, QuantityOrdered."""
    store = store_of(tmp_path, [known_order(state="processing", invoiced=False)],
                     invoiced=False)
    report, _ = run(tmp_path, store, sage={"post_from": "orders"},
                    mapping={"default_warehouse": "MN"})
    assert report["exit_code"] == 0
    assert documents_file(tmp_path, "sales_orders") == ORDER_HEADINGS + (
        b"H,000000042,S,20261102,01,LEEANN01,Magento order 000000042,4.95,4.94\r\n"
        b"L,1,TEE-1,Tee,MN,2.0000,9.000000,18.00,TX\r\n"
        b"L,1,BK1001,Handbook,001,1.0000,12.990000,12.99,NT\r\n"
        b"L,1,MUG-2,Mug,MN,3.0000,2.330000,6.99,TX\r\n")
    assert not list((tmp_path / "out").glob("*-ar_invoices*"))


def test_posting_from_orders_holds_credit_memos_with_advice(tmp_path: Path) -> None:
    store = store_of(tmp_path, [known_order()], memos=[{"adjustment_positive": Decimal(2)}])
    report, delivered = run(tmp_path, store, sage={"post_from": "orders"})
    assert report["exit_code"] == ExitCode.HELD
    (held,) = causes(report)["no_credit_notes"]
    assert held["key"] == "creditmemo:1@1"
    assert held["message"].startswith("Sage 100 cannot import a credit note: not beside sales "
                                      "orders, as S/O Sales Order Entry takes none: enter it "
                                      "in A/R Invoice Data Entry as invoice type CM")
    assert set(documents(delivered)) == {("S", "000000042")}, "the order still goes"


# --------------------------------------------------------------------------- balance


@pytest.mark.parametrize("post_from", ["invoices", "orders"])
@few(8)
@given(data=st.data())
def test_generated_stores_balance_to_the_grand_total_from_the_bytes(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, post_from: str) -> None:
    """Composites, discounts (on prices with or without tax, on shipping), several rates, gift
    cards and store credit, a COD surcharge, foreign orders posted in the base currency,
    credit memos with adjustments: per document the lines'
    ExtensionAmt plus FreightAmt plus SalesTaxAmt is Magento's base grand total to the cent,
    each line's quantity x price gives its ExtensionAmt as Sage computes it, only a fee or a
    payment is negative, and the summary is the file's. Posting from orders, every credit
    memo with something to refund is held instead."""
    folder = tmp_path_factory.mktemp(f"sage100-balance-{post_from}")
    specs = data.draw(st.lists(money_order_specs(invoiced=True) | order_specs(invoiced=True,
                                                                                max_lines=4),
                               min_size=1, max_size=4, unique_by=lambda s: s.entity_id))
    memos: list[dict[str, Any] | None] = [
        data.draw(st.none() | creditmemo_args(build_order(spec))) for spec in specs]
    store = store_of(folder, specs, memos=memos)
    report, delivered = run(folder, store, sage={"post_from": post_from}, mapping={
        "payment_nominals": {"gift_card": "/GIFTCARD", "store_credit": "/CREDIT",
                             "reward_points": "/REWARD"},
        "extra_amounts": {"payment_surcharge_amount": {"nominal": "/COD", "tax_code": "NT"}}})
    written = documents(delivered)
    found = causes(report)
    if post_from == "orders":
        expected = {("S", str(d["increment_id"])): d for d in store.orders}
        held = {r["key"] for r in found.pop("no_credit_notes", [])}
        assert held == {f"creditmemo:{m['entity_id']}@{m['store_id']}"
                        for m in store.creditmemos if not _nothing_to_book(m)}
    else:
        expected = {("IN", str(d["increment_id"])): d for d in store.invoices} | \
            {("CM", str(d["increment_id"])): d for d in store.creditmemos}
    assert not found, report["holds_by_cause"]
    for key, document in expected.items():
        total = to_decimal(document["base_grand_total"]).quantize(CENT)
        if key not in written:  # nothing to book (a 100 % coupon, a zero credit memo)
            assert total == 0, key
            continue
        header, lines = written[key]
        assert lines and booked(header, lines) == total, key
        for line in lines:
            quantity, price = quantity_of(line), Decimal(cell(line, "UnitPrice"))
            extension = Decimal(cell(line, "ExtensionAmt"))
            assert quantity > 0 and half_up(quantity * price) == extension, line.cells
            if extension < 0:  # taken off its document: a fee or a payment, never goods
                assert cell(line, "ItemType") == "5" and cell(line, "ItemCodeDesc") in (
                    "Adjustment fee", "Gift card", "Store credit", "Reward points")
    assert set(written) <= set(expected)
    sage_types = {"IN": "SI", "S": "SI", "CM": "SC"}
    in_file = {t: sum((booked(*doc) for key, doc in written.items() if sage_types[key[0]] == t),
                      Decimal(0)) for t in ("SI", "SC")}
    assert {t: Decimal(v) for t, v in report["steps"][2]["totals"].items()} == \
        {t: v for t, v in in_file.items() if any(sage_types[k[0]] == t for k in written)}


def _nothing_to_book(memo: dict[str, Any]) -> bool:
    """A credit memo with nothing to book (skipped, never held)."""
    return all(to_decimal(memo.get(f"base_{name}")).quantize(CENT) == 0 for name in
               ("grand_total", "tax_amount", "adjustment_positive", "adjustment_negative"))


# --------------------------------------------------------------------------- holds


def test_codes_over_sage_100s_lengths_and_patterns_hold_their_document(tmp_path: Path) -> None:
    """An item code over ItemCode's 30 characters, a warehouse over WarehouseCode's 3: each
    document is held, the rest still go."""
    items = tmp_path / "items.csv"
    items.write_text("sku,item_code,warehouse\nTEE-1," + "X" * 31 + ",000\n"
                     "MUG-2,MUG,WARE\n", encoding="utf-8")
    lines = known_order().lines
    store = store_of(tmp_path, [known_order(42, lines=lines[:1]),
                                known_order(44, lines=lines[2:]),
                                known_order(45, lines=lines[1:2])])
    report, delivered = run(tmp_path, store, mapping={"items_csv": items.as_posix()})
    messages = {r["key"]: r["message"] for r in causes(report)["template_rule_broken"]}
    assert messages == {"invoice:42@1": f"'ItemCode' is 31 characters, Sage allows 30: "
                                        f"'{'X' * 31}'",
                        "invoice:44@1": "'WarehouseCode' is 4 characters, Sage allows 3: "
                                        "'WARE'"}
    assert set(documents(delivered)) == {("IN", "000000045")}



def test_a_customer_po_number_over_15_characters_holds_its_document(tmp_path: Path) -> None:
    """CustomerPONo holds 15: a store prefix making the Magento number longer is held, never
    cut (the cut number would trace nowhere)."""
    store = store_of(tmp_path, [known_order()])
    report, delivered = run(tmp_path, store, sage={"reference_prefixes": {"1": "WEBSHOP-"}})
    (held,) = causes(report)["template_rule_broken"]
    assert held["message"] == ("'CustomerPONo' is 17 characters, Sage allows 15: "
                               "'WEBSHOP-000000042'")
    assert not documents(delivered)


def test_recipe_codes_are_checked_by_sage_100s_rules(tmp_path: Path) -> None:
    store = store_of(tmp_path, [known_order()])
    for sage, mapping, key in (({}, {"tax_codes": {"20": "TAX"}}, "mapping.tax_codes.20"),
                               ({}, {"default_warehouse": "MAIN"}, "mapping.default_warehouse"),
                               ({}, {"guest_account": "web sales"}, "mapping.guest_account"),
                               ({"negative_amounts": False}, {}, "sage.negative_amounts"),
                               ({"fields": {"ar_division": "1"}}, {}, "sage.fields.ar_division"),
                               ({"currency": "order"}, {}, "sage.currency"),
                               ({"companies": {"1": "ABC", "2": "XYZ"}}, {}, "sage.companies")):
        recipe = write_recipe(SAGE100, tmp_path, store.source, sage=sage, mapping=mapping)
        with pytest.raises(RecipeError, match=key.replace(".", r"\.")):
            load_recipe(recipe)


# --------------------------------------------------------------------------- ack and trace


def _ack(folder: Path, export: str) -> None:
    path = folder / "AR_InvoiceHistoryHeader.csv"
    path.write_text(export, encoding="cp1252")
    result = CliRunner().invoke(cli, ["-r", str(folder / "recipe.toml"), "ack", str(path)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_ack_maps_sage_100s_own_numbers_and_trace_follows_them(tmp_path: Path) -> None:
    """Sage numbers its invoices (7 characters); the VI export of invoice history gives them
    by CustomerPONo and InvoiceType, and `trace` goes from the Magento order to them."""
    store = store_of(tmp_path, [known_order(), known_order(43)],
                     memos=[{"adjustment_positive": Decimal(2)}])
    run(tmp_path, store)
    _ack(tmp_path, "InvoiceNo,InvoiceType,CustomerPONo,CustomerNo\r\n"
                   "0100201,IN,000000042,LEEANN01\r\n"
                   "0100202,IN,000000043,LEEANN01\r\n"
                   "0100203,CM,C00000042,LEEANN01\r\n")
    with Ledger(load_recipe(tmp_path / "recipe.toml").state_dir / "ledger.sqlite") as ledger:
        confirmed = {r.increment_id: (r.key.entity_type, r.state, r.sage_ref)
                     for r in ledger.rows()}
    assert confirmed == {"000000042": ("invoice", "confirmed", "0100201"),
                         "000000043": ("invoice", "confirmed", "0100202"),
                         "C00000042": ("creditmemo", "confirmed", "0100203")}
    traced = CliRunner().invoke(cli, ["-r", str(tmp_path / "recipe.toml"), "trace",
                                      "000000042"], catch_exceptions=False)
    assert traced.exit_code == 0, traced.output
    assert "Magento 000000042 (order 000000042)" in traced.output
    assert "Sage: 0100201" in traced.output and "Sage: 0100203" in traced.output


def test_ack_of_orders_names_the_sage_order_and_its_invoice(tmp_path: Path) -> None:
    """Posting from orders: the export's SalesOrderNo is the Sage order, its InvoiceNo the
    invoice Sage made of it: trace shows Magento order -> Sage order -> Sage invoice."""
    store = store_of(tmp_path, [known_order()], invoiced=False)
    run(tmp_path, store, sage={"post_from": "orders"})
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(recipe.read_text(encoding="utf-8").replace(
        '"sage_number_column" = "InvoiceNo"',
        '"sage_number_column" = "SalesOrderNo"\n"invoice_number_column" = "InvoiceNo"'),
        encoding="utf-8")
    _ack(tmp_path, "SalesOrderNo,InvoiceNo,InvoiceType,CustomerPONo\r\n"
                   "0000731,0100204,IN,000000042\r\n")
    traced = CliRunner().invoke(cli, ["-r", str(recipe), "trace", "000000042"],
                                catch_exceptions=False)
    assert traced.exit_code == 0, traced.output
    assert "Sage: 0000731, invoice 0100204" in traced.output


def test_the_demo_recipe_loads_with_sage_100s_defaults() -> None:
    recipe = load_recipe(Path(__file__).resolve().parents[2] / SAGE100.demo_recipe)
    assert recipe.sage.product == "sage100" and recipe.sage.encoding == "cp1252"
    assert recipe.sage.negative_amounts and recipe.sage.fields == {"ar_division": "01"}
    assert recipe.mapping.adjustment_tax_code == "NT"
    assert recipe.mapping.default_warehouse == "000"
    assert (recipe.ack.reference_column, recipe.ack.type_column,
            recipe.ack.sage_number_column) == ("CustomerPONo", "InvoiceType", "InvoiceNo")
