"""Sage X3 (`sagex3`): SOH sales orders and BPC customers, judged on the delivered bytes.

X3 computes prices and taxes on import, so an order's file carries no tax: it reconciles with
Magento net of tax. Each `L` line is booked by X3 as QTY x GROPRI to the cent, and per order
those lines total Magento's grand total less its tax, to the cent (read here from the file,
never from what the transform computed). X3 imports orders only: invoices are refused at
recipe load and credit memos are held with their cause; the other holds name theirs too.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
    build_creditmemo,
    build_invoice,
    build_order,
    to_decimal,
)
from tests.conformance.harness import demo_recipe_data, few, write_magento, write_recipe
from tests.strategies import creditmemo_args, order_specs

X3 = products.get("sagex3")
CENT = Decimal("0.01")
WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TAX_CODES = {"20": "VAT20", "5": "VAT5", "0": "VAT0", "17.5": "VAT175"}


def run_json(recipe: Path, out: Path) -> tuple[int, dict[str, Any]]:
    """`sagesync run RECIPE --json`: the exit code and the report."""
    done = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(out), "--json"],
                              catch_exceptions=False)
    assert done.exit_code in (ExitCode.OK, ExitCode.HELD), done.output
    return done.exit_code, json.loads(done.stdout)


def causes(report: dict[str, Any]) -> dict[str, str]:
    """Held record key (`order:3@1`) -> the code of its cause."""
    return {r["key"]: g["code"] for g in report["holds_by_cause"] for r in g["records"]}


def records(out: Path, template: str) -> list[list[str]]:
    """The records of the delivered files of a template, as X3 splits them: ASCII, CR+LF,
    `;` (every byte must decode, every line end be CR+LF)."""
    rows: list[list[str]] = []
    for path in sorted(out.glob(f"*-{template}*.csv")):
        text = path.read_bytes().decode("ascii")
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
        rows += list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    return rows


def booked(out: Path) -> dict[str, Decimal]:
    """CUSORDREF -> the net X3 books for the order: each L line's QTY x GROPRI, to the cent
    (half up), summed. Every QTY is above zero, every price and discount cell a plain
    number that is not negative."""
    nets: dict[str, Decimal] = {}
    order = ""
    for row in records(out, "sales_orders"):
        if row[0] == "E":
            order = row[6]
            assert order not in nets, f"order {order} twice"
            nets[order] = Decimal(0)
            continue
        assert row[0] == "L" and order, row
        quantity, price = Decimal(row[4]), Decimal(row[5])
        assert quantity > 0 and price >= 0 and row[6:] == ["0", "0", "0"], row
        assert len(row[5].partition(".")[2]) == 4, row  # GROPRI: four places
        nets[order] += (quantity * price).quantize(CENT, ROUND_HALF_UP)
    return nets


def magento_net(order: dict[str, Any]) -> Decimal:
    """Magento's net of an order: grand total less tax, base currency."""
    return to_decimal(order["base_grand_total"]) - to_decimal(order["base_tax_amount"])


JANE = CustomerSpec("jane@example.co.uk", "Jane", "Whitfield",
                    AddressSpec("Jane", "Whitfield", ("27 Otley Road", "Headingley"), "Leeds",
                                "LS6 3AA", "0113 496 0127", region="West Yorkshire"),
                    customer_id=1)


def spec(entity_id: int, lines: tuple[LineSpec, ...], **changes: Any) -> OrderSpec:
    return replace(OrderSpec(entity_id=entity_id, increment_id=f"{entity_id:09d}",
                             created_at=WHEN + timedelta(hours=entity_id), customer=JANE,
                             lines=lines, shipping_amount=Decimal("4.95"), state="processing",
                             invoiced=False), **changes)


def test_the_capabilities_are_the_soh_and_bpc_facts() -> None:
    caps = X3.capabilities
    assert (caps.delimiter, caps.line_ending, caps.encoding, caps.date_format) == \
        (";", "\r\n", "ascii", "%Y%m%d")
    assert caps.sage_computes_tax and caps.post_from == ("orders",)
    assert not caps.credit_notes and "SIH" in caps.credit_note_advice
    assert caps.unit_price_places == 4 and not caps.negative_amounts
    assert caps.code_lengths["reference"] == 20 and caps.code_lengths["account_ref"] == 15
    assert X3.templates == ("customers", "sales_orders")


def test_a_small_order_is_these_exact_bytes(tmp_path: Path) -> None:
    """A registered customer's order: a 10 % coupon on two lines (20 % and 5 % VAT), shipping
    at 20 %; and a guest's order in store 2 with a configurable product, a mapped item and
    tax-inclusive prices. GROPRI is each line's net after discount, per unit: 3 x 4.5000 is
    the 13.50 Magento has after 1.50 off 15.00, 2 x 4.4900 the 8.98 after 1.00 off 9.98."""
    first = build_order(spec(1, (LineSpec("24-WG084", "Sprite Foam Yoga Brick", 3,
                                          Decimal("5.00"), Decimal(20), Decimal(10)),
                                 LineSpec("HE-LED-10", "Energy Saving LED Bulb, 10W", 2,
                                          Decimal("4.99"), Decimal(5), Decimal(10))),
                             coupon_code="SAVE10"))
    guest = CustomerSpec("guest@example.fr", "Hélène", "Dupont",
                         AddressSpec("Hélène", "Dupont", ("8 rue Cler",), "Paris", "75007",
                                     "+33 1 00 00 00 00", country_id="FR"))
    second = build_order(spec(2, (LineSpec("MH01-S-Gray", "Chaz Kangeroo Hoodie", 1,
                                           Decimal("62.40"), Decimal(20), kind="configurable"),),
                              customer=guest, store_id=2, prices_include_tax=True,
                              shipping_amount=Decimal("6.00")), include_parent_item=False)
    store = write_magento(tmp_path / "pages", [first, second], [], [])
    recipe = write_recipe(X3, tmp_path, store.source)
    code, report = run_json(recipe, tmp_path / "out")
    assert code == ExitCode.OK and not report["holds_by_cause"]
    assert (tmp_path / "out" / "B000001-2-sales_orders.csv").read_bytes() == (
        b"E;GB011;SON;;WHITFI01;20261120;000000001;GB011;GBP;\r\n"
        b"L;YOGABRICK;Sprite Foam Yoga Brick;;3;4.5000;0;0;0\r\n"
        b"L;HE-LED-10;Energy Saving LED Bulb, 10W;;2;4.4900;0;0;0\r\n"
        b"L;CARRIAGE;;;1;4.9500;0;0;0\r\n"
        b"E;FR011;SON;;WEBSALES;20261120;000000002;FR011;GBP;\r\n"
        b"L;HOODIE-CHAZ-S-GY;Chaz Kangeroo Hoodie;;1;52.0000;0;0;0\r\n"
        b"L;CARRIAGE;;;1;5.0000;0;0;0\r\n")
    assert (tmp_path / "out" / "B000001-1-customers.csv").read_bytes() == (
        b"B;WEB;WHITFI01;Jane Whitfield;WHITFI01;;MAIN;MAIN;MAIN;MAIN;;;;;;;;\r\n"
        b"A;MAIN;Magento billing address;27 Otley Road;Headingley;;LS6 3AA;Leeds;"
        b"West Yorkshire;GB;0113 496 0127;jane@example.co.uk;2\r\n")
    assert booked(tmp_path / "out") == {"000000001": magento_net(first),
                                        "000000002": magento_net(second)}
    assert report["steps"][2]["totals"] == {"SI": f"{magento_net(first) + magento_net(second)}"}
    assert report["steps"][2]["totals_basis"] == "net (Sage computes the tax)"


@few(8)
@given(specs=st.lists(order_specs(), min_size=1, max_size=4), data=st.data())
def test_every_order_books_magentos_net_to_the_cent(
        tmp_path_factory: pytest.TempPathFactory, specs: list[OrderSpec],
        data: st.DataObject) -> None:
    """Generated orders (simple, configurable, dynamic and fixed bundles; discounts up to
    100 %; 20, 17.5, 5 and 0 % VAT; tax-inclusive prices; free shipping; cancelled ones) and
    credit memos of the invoiced ones (part refunds, shipping, adjustment refunds and fees):
    each order's lines in the file make Magento's net to the cent, the run's net total is
    their sum, and each credit memo is held as one X3 cannot import; nothing else is held."""
    folder = tmp_path_factory.mktemp("x3-net")
    orders, invoices, memos = [], [], []
    for n, drawn in enumerate(specs, start=1):
        order = build_order(replace(drawn, entity_id=n, increment_id=f"{n:09d}"),
                            include_parent_item=False)
        orders.append(order)
        if drawn.state == "complete":
            invoices.append(build_invoice(order, n, f"{n:09d}", WHEN))
            if data.draw(st.booleans(), label=f"refund order {n}"):
                memos.append(build_creditmemo(order, n, f"{n:09d}", WHEN, invoice_id=n,
                                              **data.draw(creditmemo_args(order))))
    store = write_magento(folder / "pages", orders, invoices, memos)
    recipe = write_recipe(X3, folder, store.source, mapping={"tax_codes": TAX_CODES})
    _, report = run_json(recipe, folder / "out")
    expected = {o["increment_id"]: magento_net(o) for o in orders
                if o["state"] != "canceled" and magento_net(o)}
    books = booked(folder / "out")
    assert books == expected, "per order, net of tax, to the cent"
    assert Decimal(report["steps"][2]["totals"].get("SI", "0")) == sum(books.values())
    assert causes(report) == {f"creditmemo:{n}@{m['store_id']}": "no_credit_notes"
                              for n, m in ((m["entity_id"], m) for m in memos)}


def test_posting_from_invoices_is_refused_when_the_recipe_is_loaded(tmp_path: Path) -> None:
    store = write_magento(tmp_path / "pages", [], [], [])
    recipe = write_recipe(X3, tmp_path, store.source, sage={"post_from": "invoices"})
    with pytest.raises(RecipeError) as refused:
        load_recipe(recipe)
    assert "key 'sage.post_from'" in str(refused.value)
    assert "Sage X3 cannot post a sale from Magento's invoices" in str(refused.value)


def test_each_order_x3_cannot_take_is_held_with_its_cause(tmp_path: Path) -> None:
    """A credit memo (no X3 template), an unmapped SKU when those hold, 150 units no price of
    four places makes (X3 would book 100.01 for Magento's 100.00), a store with no site, a
    new customer with no category, a gift card with no payment nominal: each holds its own
    document, with its cause, and the others go on."""
    plain = (LineSpec("24-WG084", "Sprite Foam Yoga Brick", 1, Decimal("5.00")),)
    guest = replace(JANE, customer_id=None, email="guest@example.com")
    memo_order = build_order(spec(1, plain, customer=guest, state="complete", invoiced=True))
    built = [
        memo_order,
        build_order(spec(2, (LineSpec("NO-SUCH-ITEM", "Unknown", 1, Decimal("3.00")),),
                         customer=guest)),
        build_order(spec(3, (LineSpec("24-WG088", "Sprite Foam Roller", 150, Decimal("1.00"),
                                      Decimal(20), Decimal("33.33")),), customer=guest,
                         coupon_code="THIRD")),
        build_order(spec(4, plain, customer=guest, store_id=3)),
        build_order(spec(5, plain)),  # Jane: a new X3 customer
        build_order(spec(6, plain, customer=guest, gift_card_amount=Decimal("2.00"))),
        build_order(spec(7, plain, customer=guest)),  # nothing wrong
    ]
    memo = build_creditmemo(memo_order, 1, "000000001", WHEN, invoice_id=1)
    store = write_magento(tmp_path / "pages", built,
                          [build_invoice(memo_order, 1, "000000001", WHEN)], [memo])
    fields = {**demo_recipe_data(X3)["sage"]["fields"], "site": "", "customer_category": ""}
    recipe = write_recipe(X3, tmp_path, store.source,
                          magento={"store_ids": [1, 2, 3]},
                          sage={"fields": fields},
                          mapping={"unmapped_items": "hold"})
    code, report = run_json(recipe, tmp_path / "out")
    assert code == ExitCode.HELD
    assert causes(report) == {
        "creditmemo:1@1": "no_credit_notes", "order:2@1": "unmapped_item",
        "order:3@1": "unit_price_not_exact", "order:4@3": "template_rule_broken",
        "order:5@1": "account_not_writable", "order:6@1": "unmapped_payment_nominal"}
    messages = {r["key"]: r["message"] for g in report["holds_by_cause"] for r in g["records"]}
    assert messages["creditmemo:1@1"].startswith("Sage X3 cannot import a credit note: ")
    assert "0.6667, makes 100.01" in messages["order:3@1"]
    assert messages["order:4@3"] == "'SALFCY' is required but empty"
    assert "'BCGCOD' is required but empty" in messages["order:5@1"]
    assert set(booked(tmp_path / "out")) == {"000000001", "000000007"}


def test_a_gift_card_pays_for_the_order_and_is_no_line_of_it(tmp_path: Path) -> None:
    """With the payment mapped, the order carries the goods and shipping at their full net:
    the customer paid part of it by gift card, which is settled in X3, not ordered."""
    order = build_order(spec(1, (LineSpec("24-WG084", "Sprite Foam Yoga Brick", 2,
                                          Decimal("5.00")),),
                             customer=replace(JANE, customer_id=None),
                             gift_card_amount=Decimal("7.00")))
    store = write_magento(tmp_path / "pages", [order], [], [])
    recipe = write_recipe(X3, tmp_path, store.source,
                          mapping={"payment_nominals": {"gift_card": "GIFT"}})
    code, report = run_json(recipe, tmp_path / "out")
    assert code == ExitCode.OK, report["holds_by_cause"]
    assert booked(tmp_path / "out") == {"000000001": magento_net(order) + Decimal("7.00")}
    assert [r[1] for r in records(tmp_path / "out", "sales_orders")] == \
        ["GB011", "YOGABRICK", "CARRIAGE"]


def test_the_sites_order_export_confirms_orders_by_their_magento_number(tmp_path: Path) -> None:
    """`sagesync ack` reads the site's SORDER export (CUSORDREF;SOHNUM, no type column) and
    keeps X3's order number; an order X3 did not list stays sent."""
    made = [build_order(spec(n, (LineSpec("24-WG084", "Brick", 1, Decimal("5.00")),),
                             customer=replace(JANE, customer_id=None))) for n in (1, 2)]
    store = write_magento(tmp_path / "pages", made, [], [])
    recipe = write_recipe(X3, tmp_path, store.source)
    run_json(recipe, tmp_path / "out")
    export = tmp_path / "sorder.csv"
    export.write_bytes(b"SOHNUM;CUSORDREF;BPCORD\r\nGB0110001;000000001;WEBSALES\r\n")
    done = CliRunner().invoke(cli, ["-r", str(recipe), "ack", str(export)],
                              catch_exceptions=False)
    assert done.exit_code == ExitCode.OK, done.output
    with Ledger(load_recipe(recipe).state_dir / "ledger.sqlite") as ledger:
        states = {r.increment_id: (r.state, r.sage_ref) for r in ledger.rows()}
    assert states == {"000000001": ("confirmed", "GB0110001"), "000000002": ("sent", None)}


def test_the_demo_recipe_runs_offline_from_the_cli(tmp_path: Path) -> None:
    """`sagesync run recipes/sagex3.toml --out DIR`: the samples' orders delivered (their lines
    making Magento's net), the two credit memos held, exit 1."""
    recipe = Path(__file__).resolve().parents[2] / X3.demo_recipe
    done = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "s"), "run", str(recipe),
                                    "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert done.exit_code == ExitCode.HELD, done.output
    assert done.output.count("Sage X3 cannot import a credit note") == 2
    samples = recipe.parent.parent / "samples" / "magento" / "orders"
    orders = [o for page in sorted(samples.glob("page-*.json"))
              for o in json.loads(page.read_text(encoding="utf-8"))["items"]]
    assert booked(tmp_path / "out") == {o["increment_id"]: magento_net(o) for o in orders
                                        if o["state"] != "canceled"}
