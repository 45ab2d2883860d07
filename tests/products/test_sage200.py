"""Sage 200 (UK): one row per document with repeated nominal and tax groups, read back from the
delivered bytes.

What Sage reads is checked byte for byte on a small known invoice and credit memo; every row
of any generated store keeps Sage 200's identities (sum of the nominal nets = sum of the tax
goods, sum of the tax = TaxValue, gross = net + TaxValue) and every Magento document books its
grand total to the cent; what Sage 200 cannot take is held or refused with its cause.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.errors import RecipeError
from sagesync.model import holds
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
)
from tests.conformance.harness import (
    Row,
    document_specs,
    few,
    per_magento_document,
    per_type,
    read_delivered,
    run_recipe_cli,
    toml_text,
    write_magento,
    write_recipe,
)
from tests.conftest import ROOT, subprocess_env
from tests.strategies import creditmemo_args, money_order_specs

SAGE200 = products.get("sage200")
WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HEADER = ["AccountNumber", "TransactionReference", "SecondReference", "SYSTraderTranType",
          "TransactionDate", "PostedDate", "DueDate", "GoodsValueInAccountCurrency",
          "SalControlValueInBaseCurrency", "TaxValue", "DocumentToBaseCurrencyRate",
          "DocumentToAccountCurrencyRate"]
NOMINAL = ["NominalAnalysisTransactionValue", "NominalAnalysisNominalAccountNumber",
           "NominalAnalysisNominalCostCentre", "NominalAnalysisNominalDepartment",
           "NominalAnalysisNominalAnalysisNarrative", "NominalAnalysisTransactionAnalysisCode"]
TAX = ["TaxAnalysisTaxRate", "TaxAnalysisGoodsValueBeforeDiscount", "TaxAnalysisDiscountValue",
       "TaxAnalysisDiscountPercentage", "TaxAnalysisTaxOnGoodsValue"]
# Every rate the strategies draw, where payments taken off a total go, and the COD surcharge.
MAPPING = {"tax_codes": {"20": "1", "5": "5", "0": "2", "17.5": "3"},
           "payment_nominals": {"gift_card": "2105", "store_credit": "2106",
                                "reward_points": "2107"},
           "extra_amounts": {"payment_surcharge_amount": "4910"}}


def line(*cells: str) -> bytes:
    return ",".join(cells).encode("utf-8") + b"\r\n"


def transaction(head: list[str], nominal: list[list[str]], tax: list[list[str]]) -> bytes:
    """One row: the header cells, then 20 nominal and 5 tax groups, blank past those given."""
    groups = [*nominal, *[[""] * len(NOMINAL)] * (20 - len(nominal)),
              *tax, *[[""] * len(TAX)] * (5 - len(tax))]
    return line(*head, *[cell for group in groups for cell in group])


def known_store(folder: Path) -> tuple[Path, dict[str, Any]]:
    """One registered customer's order (20 % and zero-rated goods, shipping), its invoice, and
    a credit memo refunding one mug that keeps a 1.50 fee."""
    customer = CustomerSpec("jane@example.com", "Jane", "Doe",
                            AddressSpec("Jane", "Doe", ("1 High Street",), "Leeds", "LS1 1AA",
                                        "0113 496 0000", region="West Yorkshire"),
                            customer_id=101)
    order = build_order(OrderSpec(
        entity_id=1, increment_id="000000001", created_at=WHEN, customer=customer,
        lines=(LineSpec("MH-MUG", "Mug", 2, Decimal("10.00"), Decimal(20)),
               LineSpec("KD-TEE-7", "Kids tee", 1, Decimal("7.50"), Decimal(0))),
        shipping_amount=Decimal("5.00")), include_parent_item=False)
    invoice = build_invoice(order, 1, "000000001", WHEN + timedelta(minutes=5))
    mug = next(item["item_id"] for item in order["items"] if item["sku"] == "MH-MUG")
    memo = build_creditmemo(order, 5, "000000005", WHEN + timedelta(days=3), invoice_id=1,
                            lines={mug: 1}, adjustment_negative=Decimal("1.50"))
    store = write_magento(folder / "pages", [order], [invoice], [memo])
    return store.source, {"order": order, "invoice": invoice, "memo": memo}


def test_a_known_invoice_and_credit_memo_are_these_bytes(tmp_path: Path) -> None:
    source, made = known_store(tmp_path)
    assert (made["invoice"]["base_grand_total"], made["memo"]["base_grand_total"]) == \
        (37.5, 10.5)
    outcome = run_recipe_cli(SAGE200, write_recipe(SAGE200, tmp_path, source))
    assert outcome.exit_code == 0 and not outcome.reasons, outcome.reasons
    out = tmp_path / "out"
    heading = [*HEADER, *[f"{name}/{n}" for n in range(1, 21) for name in NOMINAL],
               *[f"{name}/{n}" for n in range(1, 6) for name in TAX]]
    dates = ["02/11/2026"] * 3
    credit = ["05/11/2026"] * 3
    assert (out / "B000001-2-transactions.csv").read_bytes() == (
        line(*heading)
        # the invoice: gross 37.50 = nets 20.00 + 7.50 + 5.00 + VAT 5.00; the 20 % goods and
        # the shipping share tax code 1, the zero-rated tee has code 2 to itself
        + transaction(["DOEJAN01", "000000001", "000000001", "4", *dates, "37.50", "37.50",
                       "5.00", "1", "1"],
                      [["20.00", "4000", "", "", "Inv 000000001 goods", ""],
                       ["7.50", "4010", "", "", "Inv 000000001 goods", ""],
                       ["5.00", "4905", "", "", "Inv 000000001 carriage", ""]],
                      [["1", "25.00", "0.00", "0.00", "5.00"],
                       ["2", "7.50", "0.00", "0.00", "0.00"]])
        # the credit note, every value positive: the mug and its VAT
        + transaction(["DOEJAN01", "000000005", "000000001", "5", *credit, "12.00", "12.00",
                       "2.00", "1", "1"],
                      [["10.00", "4000", "", "", "Cr 000000005 goods", ""]],
                      [["1", "10.00", "0.00", "0.00", "2.00"]])
        # the fee Magento kept is an invoice of its own: 12.00 - 1.50 = the 10.50 refunded
        + transaction(["DOEJAN01", "000000005-FEE", "000000001", "4", *credit, "1.50", "1.50",
                       "0.00", "1", "1"],
                      [["1.50", "4000", "", "", "Cr 000000005 adjustment fee", ""]],
                      [["9", "1.50", "0.00", "0.00", "0.00"]]))
    assert (out / "B000001-1-customers.csv").read_bytes() == (
        line("AccountNumber", "AccountName", "CurrencyISOCode", "AddressLine1", "AddressLine2",
             "City", "County", "PostCode", "CountryCode")
        + line("DOEJAN01", "Jane Doe", "GBP", "1 High Street", "", "Leeds", "West Yorkshire",
               "LS1 1AA", "GB"))


def sage200_identities(row: Row) -> Decimal:
    """Check one delivered row as Sage 200 validates it; return its gross."""
    cells = dict(zip([c.name for c in row.columns], row.cells, strict=True))

    def summed(name: str, times: int) -> Decimal:
        return sum((Decimal(cells[f"{name}/{n}"] or 0) for n in range(1, times + 1)),
                   Decimal(0))

    net = summed("NominalAnalysisTransactionValue", 20)
    gross, tax = Decimal(cells["GoodsValueInAccountCurrency"]), Decimal(cells["TaxValue"])
    assert net == summed("TaxAnalysisGoodsValueBeforeDiscount", 5), cells
    assert tax == summed("TaxAnalysisTaxOnGoodsValue", 5), cells
    assert gross == net + tax == Decimal(cells["SalControlValueInBaseCurrency"]), cells
    assert row.amount == gross, "the conformance reader counts each split once"
    assert not [c for c in row.cells if c.startswith("-")], "Sage 200 gets positive values"
    codes = [cells[f"TaxAnalysisTaxRate/{n}"] for n in range(1, 6)]
    given = [c for c in codes if c]
    assert len(set(given)) == len(given) and codes[:len(given)] == given, "one group a code"
    assert cells["SYSTraderTranType"] in ("4", "5")
    return gross


@few(8)
@given(data=st.data())
def test_generated_orders_and_credit_memos_always_balance_to_the_cent(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Composite products, discounts, four VAT rates, tax-inclusive prices, foreign order
    currencies (posted in base), gift cards, store credit and reward points up to the whole
    total, a COD surcharge, and credit memos with adjustments: every row keeps Sage 200's
    identities and every Magento document books its base grand total, sales less the credit
    notes taken off them."""
    folder = tmp_path_factory.mktemp("sage200")
    orders, invoices, memos = [], [], []
    for k in range(1, data.draw(st.integers(1, 4)) + 1):
        spec = replace(data.draw(money_order_specs(invoiced=True)), entity_id=k,
                       increment_id=f"{k:09d}")
        order = build_order(spec, include_parent_item=False)
        when = spec.created_at + timedelta(minutes=5)
        orders.append(order)
        invoices.append(build_invoice(order, k, spec.increment_id, when))
        if data.draw(st.booleans()):
            memos.append(build_creditmemo(order, k, f"9{k:08d}", when + timedelta(days=3),
                                          invoice_id=k, **data.draw(creditmemo_args(order))))
    store = write_magento(folder / "pages", orders, invoices, memos)
    outcome = run_recipe_cli(SAGE200, write_recipe(SAGE200, folder, store.source,
                                                   mapping=MAPPING))
    assert "held" not in outcome.states.values(), outcome.reasons
    rows = read_delivered(SAGE200, folder / "out").amounts(document_specs(SAGE200))
    for row in rows:
        sage200_identities(row)
    expected = store.postings(SAGE200)
    books = per_magento_document(SAGE200, rows, expected)
    skipped = {k for k, state in outcome.states.items() if state == "skipped"}
    assert books == {k: v for k, v in expected.items() if k not in skipped}
    assert not set(books) & skipped
    assert {k: Decimal(v) for k, v in outcome.summary["totals"].items()} == \
        per_type(SAGE200, rows)


def test_a_document_with_more_splits_than_nominal_groups_is_held_as_too_many_lines(
        tmp_path: Path) -> None:
    """21 goods on 21 nominals and the shipping: 22 splits, two more than the 20 groups."""
    nominals = tmp_path / "nominals.csv"
    nominals.write_text("kind,value,nominal\n" + "".join(
        f"sku,SKU-{n},{4100 + n}\n" for n in range(21)), encoding="utf-8")
    customer = CustomerSpec("g@example.com", "Gus", "Guest",
                            AddressSpec("Gus", "Guest", ("1 Road",), "York", "YO1 1AA", "01"))
    order = build_order(OrderSpec(
        entity_id=3, increment_id="000000003", created_at=WHEN, customer=customer,
        lines=tuple(LineSpec(f"SKU-{n}", f"Item {n}", 1, Decimal("1.00")) for n in range(21)),
        shipping_amount=Decimal("4.00")), include_parent_item=False)
    fine = build_order(OrderSpec(
        entity_id=4, increment_id="000000004", created_at=WHEN, customer=customer,
        lines=(LineSpec("SKU-1", "Item", 1, Decimal("1.00")),)), include_parent_item=False)
    store = write_magento(tmp_path / "pages", [order, fine],
                          [build_invoice(order, 3, "000000003", WHEN),
                           build_invoice(fine, 4, "000000004", WHEN)], [])
    outcome = run_recipe_cli(SAGE200, write_recipe(SAGE200, tmp_path, store.source,
                                                   mapping={"nominals_csv": nominals.as_posix()}))
    assert outcome.states[("SI", "000000003")] == "held"
    assert outcome.states[("SI", "000000004")] == "sent", "the rest of the batch goes on"
    reason = outcome.reasons[("SI", "000000003")]
    assert reason.startswith("it needs 22 rows, more than the 20 one Sage document takes")
    assert holds.recognise(reason).code == "too_many_lines"


def test_a_document_posted_in_a_foreign_currency_is_held_not_booked_at_a_rate(
        tmp_path: Path) -> None:
    customer = CustomerSpec("g@example.com", "Gus", "Guest",
                            AddressSpec("Gus", "Guest", ("1 Road",), "Paris", "75001", "01",
                                        country_id="FR"))
    euro = build_order(OrderSpec(
        entity_id=5, increment_id="000000005", created_at=WHEN, customer=customer,
        lines=(LineSpec("SKU-1", "Item", 1, Decimal("10.00")),), order_currency="EUR",
        base_to_order_rate=Decimal("1.1765")), include_parent_item=False)
    store = write_magento(tmp_path / "pages", [euro],
                          [build_invoice(euro, 5, "000000005", WHEN)], [])
    outcome = run_recipe_cli(SAGE200, write_recipe(SAGE200, tmp_path, store.source,
                                                   sage={"currency": "order"}))
    assert outcome.states[("SI", "000000005")] == "held"
    assert outcome.reasons[("SI", "000000005")] == \
        "'DocumentToBaseCurrencyRate' '1.1765' does not match 1"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    base = run_recipe_cli(SAGE200, write_recipe(SAGE200, tmp_path / "base", store.source))
    assert base.states[("SI", "000000005")] == "sent", "base-currency amounts at rate 1"


def recipe_with(folder: Path, **sage: Any) -> Path:
    data = {"name": "t", "state_dir": "state", "magento": {"source": "pages"},
            "sage": {"product": "sage200", **sage}}
    (folder / "pages").mkdir(exist_ok=True)
    path = folder / "r.toml"
    path.write_text(toml_text(data), encoding="utf-8")
    return path


def test_post_from_orders_and_two_companies_are_refused_at_recipe_load(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as orders:
        load_recipe(recipe_with(tmp_path, post_from="orders"))
    assert "key 'sage.post_from': expected 'invoices': Sage 200 (UK) cannot post a sale from " \
           "Magento's orders" in str(orders.value)
    with pytest.raises(RecipeError) as companies:
        load_recipe(recipe_with(tmp_path, companies={"1": "UK01", "2": "EU01"}))
    assert "key 'sage.companies': expected one company" in str(companies.value)
    assert "one recipe per company" in str(companies.value)
    one = load_recipe(recipe_with(tmp_path, companies={"1": "UK01", "2": "UK01"}))
    assert one.sage.companies == {1: "UK01", 2: "UK01"} and one.sage.post_from == "invoices"


def test_its_own_tax_codes_are_the_defaults_and_sage_50_codes_are_refused(
        tmp_path: Path) -> None:
    recipe = load_recipe(recipe_with(tmp_path))
    assert recipe.mapping.tax_codes == {Decimal(20): "1", Decimal(5): "5", Decimal(0): "2"}
    assert (recipe.mapping.adjustment_tax_code, recipe.mapping.payment_tax_code) == ("9", "9")
    assert recipe.sage.encoding == "utf-8"
    path = recipe_with(tmp_path)
    path.write_text(path.read_text(encoding="utf-8")
                    + '\n[mapping]\ntax_codes = { "20" = "T1" }\n', encoding="utf-8")
    with pytest.raises(RecipeError, match=r"mapping\.tax_codes\.20.*Sage 200 \(UK\) tax code"):
        load_recipe(path)


def test_the_cli_runs_the_sage200_recipe_offline(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sagesync", "--state-dir",
                           str(tmp_path / "state"), "run", str(ROOT / "recipes" / "sage200.toml"),
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        ["B000001-1-customers.csv", "B000001-2-transactions.csv"]
    rows = read_delivered(SAGE200, tmp_path / "out").amounts(document_specs(SAGE200))
    assert len(rows) == 11  # 8 invoices, 2 credit notes and the fee kept on one of them
    assert sum(sage200_identities(r) for r in rows if r.fields["transaction_type"] == "SI") \
        - sum(sage200_identities(r) for r in rows if r.fields["transaction_type"] == "SC") \
        == Decimal("932.46") - Decimal("101.19")
