"""Sage Business Cloud Accounting (`sage_accounting`): what Sage's importer reads, byte for byte.

A known invoice and credit memo give exact quick-entry and contact bytes (UK and the US
edition); amounts are positive with the Type carrying the direction and Total = Net + VAT on
every row; what Sage would refuse is held with its cause, or refused at recipe load; a big
batch stays under the 0.5 MB upload limit without splitting a document; and any drawn store
(composite products, discounts, several tax rates, payments, adjustments, credit memos)
balances in the file to the cent, read back from the bytes by the conformance reader.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.errors import RecipeError
from sagesync.model import holds
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
from tests.conformance.harness import (
    MagentoStore,
    document_of,
    document_specs,
    few,
    occurrences,
    per_magento_document,
    per_type,
    read_delivered,
    row_amount,
    run_recipe_cli,
    synthetic_store,
    write_magento,
    write_recipe,
)
from tests.conformance.test_balance import assert_balanced
from tests.strategies import creditmemo_args, money_order_specs

ACC = products.get("sage_accounting")
WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
HEADINGS = (b"Type,Customer Reference,Date,Customer name,Reference,Ledger Account,Details,Net,"
            b"VAT Rate,VAT,Total,Analysis Type 1,Analysis Type 2,Analysis Type 3\r\n")
CONTACT_HEADINGS = (
    b"Reference,Company Name,Currency,Credit Limit,Main Address Type,Main Address Line 1,"
    b"Main Address Line 2,Main Address Town,Main Address County,Main Address Post Code,"
    b"Main Address Country,Main Contact Name,Main Contact Phone,Main Contact Type,"
    b"Main Contact Mobile,Main Contact Email,Main Contact Fax,Address 2 Type,Address 2 Line 1,"
    b"Address 2 Line 2,Address 2 Town,Address 2 County,Address 2 Post Code,Address 2 Country,"
    b"VAT Number,Ledger Account\r\n")
#: The quick entries of the known store: an invoice at 20 %, 5 % and 0 % with carriage, and a
#: credit memo for one bag with a 2.50 adjustment refund and a 1.25 fee (its own Invoice).
QUICK_ENTRIES = HEADINGS + (
    b"Invoice,WHITFI01,20-11-2026,,000000041,4020,Goods,68.00,Standard,13.60,81.60,,,\r\n"
    b"Invoice,WHITFI01,20-11-2026,,000000041,4040,Goods,14.97,Lower Rate,0.75,15.72,,,\r\n"
    b"Invoice,WHITFI01,20-11-2026,,000000041,4030,Goods,12.99,Zero Rated,0.00,12.99,,,\r\n"
    b"Invoice,WHITFI01,20-11-2026,,000000041,4905,Carriage,5.00,Standard,1.00,6.00,,,\r\n"
    b"Cr Note,WHITFI01,23-11-2026,,000000007,4020,Goods,34.00,Standard,6.80,40.80,,,\r\n"
    b"Cr Note,WHITFI01,23-11-2026,,000000007,4000,Adjustment refund,2.50,No VAT,0.00,2.50,,,"
    b"\r\n"
    b"Invoice,WHITFI01,23-11-2026,,000000007-FEE,4000,Adjustment fee,1.25,No VAT,0.00,1.25,,,"
    b"\r\n")
CONTACTS = CONTACT_HEADINGS + (
    b"WHITFI01,Jane Whitfield,,,Accounts,27 Otley Road,Headingley,Leeds,West Yorkshire,LS6 3AA,"
    b"GB,Jane Whitfield,0113 496 0127,,,jane.whitfield@example.co.uk,,,,,,,,,GB123456789,\r\n"
)


def known_store(folder: Path, email: str = "jane.whitfield@example.co.uk") -> MagentoStore:
    """One registered customer's order at three VAT rates with carriage, its invoice, and a
    credit memo refunding one of the two bags with an adjustment refund and a fee."""
    address = AddressSpec("Jane", "Whitfield", ("27 Otley Road", "Headingley"), "Leeds",
                          "LS6 3AA", "0113 496 0127", region="West Yorkshire",
                          vat_id="GB123456789")
    customer = CustomerSpec(email, "Jane", "Whitfield", address, customer_id=501)
    spec = OrderSpec(
        entity_id=41, increment_id="000000041", created_at=WHEN, customer=customer,
        lines=(LineSpec("24-MB01", "Joust Duffle Bag", 2, Decimal("34.00"), Decimal(20)),
               LineSpec("HE-LED-10", "Energy Saving LED Bulb, 10W", 3, Decimal("4.99"),
                        Decimal(5)),
               LineSpec("BK-1001", "The Complete Yoga Handbook", 1, Decimal("12.99"),
                        Decimal(0))),
        shipping_amount=Decimal("5.00"))
    order = build_order(spec, include_parent_item=False)
    invoice = build_invoice(order, 41, "000000041", WHEN + timedelta(minutes=5))
    bag = order["items"][0]["item_id"]
    memo = build_creditmemo(order, 7, "000000007", WHEN + timedelta(days=3), invoice_id=41,
                            lines={bag: 1}, refund_shipping=Decimal(0),
                            adjustment_positive=Decimal("2.50"),
                            adjustment_negative=Decimal("1.25"))
    return write_magento(folder, [order], [invoice], [memo])


def delivered_bytes(folder: Path) -> dict[str, bytes]:
    """The files of the first batch by template name."""
    return {p.name.split("-", 2)[2]: p.read_bytes() for p in sorted((folder / "out").iterdir())}


def cause(reason: str) -> str:
    return holds.recognise(reason).code


def test_a_known_invoice_and_credit_memo_are_these_bytes(tmp_path: Path) -> None:
    store = known_store(tmp_path / "pages")
    outcome = run_recipe_cli(ACC, write_recipe(ACC, tmp_path, store.source))
    assert outcome.exit_code == 0 and not outcome.reasons, outcome.reasons
    files = delivered_bytes(tmp_path)
    assert files == {"contacts.csv": CONTACTS, "quick_entries.csv": QUICK_ENTRIES}
    assert not files["quick_entries.csv"].startswith(b"\xef\xbb\xbf"), "UTF-8 without a BOM"
    books = assert_balanced(ACC, tmp_path, store, outcome)  # read back from these bytes
    assert books == {("SI", "000000041"): Decimal("116.31"), ("SC", "000000007"): Decimal("42.05")}


def test_the_us_edition_dates_month_first_and_names_the_sites_tax_rates(tmp_path: Path
                                                                         ) -> None:
    store = known_store(tmp_path / "pages")
    recipe = write_recipe(ACC, tmp_path, store.source, sage={"region": "us"}, mapping={
        "tax_codes": {"20": "State 20%", "5": "State 5%", "0": "Zero Rated"},
        "adjustment_tax_code": "No Tax"})
    outcome = run_recipe_cli(ACC, recipe)
    assert outcome.exit_code == 0 and not outcome.reasons, outcome.reasons
    files = delivered_bytes(tmp_path)
    uk = QUICK_ENTRIES.decode()
    expected = (uk.replace("Customer name", "Customer Name")
                .replace("VAT Rate,VAT,", "Tax Rate,Tax,")
                .replace("20-11-2026", "11-20-2026").replace("23-11-2026", "11-23-2026")
                .replace(",Standard,", ",State 20%,").replace(",Lower Rate,", ",State 5%,")
                .replace(",No VAT,", ",No Tax,"))
    assert files["quick_entries.csv"].decode() == expected
    assert files["contacts.csv"] == CONTACTS
    us = products.get("sage_accounting", "us")
    assert us.capabilities.date_format == "%m-%d-%Y" and us.title.endswith(", US")
    assert load_spec("sage_accounting", "quick_entries", region="ca").header == \
        load_spec("sage_accounting", "quick_entries", region="us").header


def test_the_us_edition_has_no_default_tax_names_so_documents_wait_for_them(tmp_path: Path
                                                                           ) -> None:
    store = known_store(tmp_path / "pages")
    recipe = write_recipe(ACC, tmp_path, store.source, sage={"region": "us"})
    text = recipe.read_text(encoding="utf-8")  # the demo's UK names out: the edition's default
    recipe.write_text("".join(line for line in text.splitlines(keepends=True)
                              if not line.startswith('"tax_codes"')), encoding="utf-8")
    assert load_recipe(recipe).mapping.tax_codes == {}
    outcome = run_recipe_cli(ACC, recipe)
    assert set(outcome.states.values()) == {"held"}
    assert {cause(r) for r in outcome.reasons.values()} == {"unmapped_tax_rate"}


def test_uk_vat_rates_are_names_and_a_t_code_is_a_recipe_error(tmp_path: Path) -> None:
    store = known_store(tmp_path / "pages")
    recipe = write_recipe(ACC, tmp_path, store.source, mapping={"tax_codes": {"20": "T1"}})
    with pytest.raises(RecipeError, match=r"mapping\.tax_codes\.20.*Standard\|Zero Rated"):
        load_recipe(recipe)
    nominal = write_recipe(ACC, tmp_path, store.source, mapping={"carriage_nominal": "4905A"})
    with pytest.raises(RecipeError, match=r"mapping\.carriage_nominal.*\[0-9\]\{1,8\}"):
        load_recipe(nominal)
    loaded = load_recipe(write_recipe(ACC, tmp_path, store.source))
    assert (loaded.mapping.adjustment_tax_code, loaded.mapping.payment_tax_code) == \
        ("No VAT", "No VAT")
    assert loaded.sage.encoding == "utf-8"
    with pytest.raises(RecipeError, match=r"sage\.region.*'us', 'ca'"):
        load_recipe(write_recipe(ACC, tmp_path, store.source, sage={"region": "fr"}))


def test_a_new_customer_sage_would_refuse_holds_its_documents_with_the_cause(tmp_path: Path
                                                                             ) -> None:
    store = known_store(tmp_path / "pages", email="jane.whitfield@localhost")
    outcome = run_recipe_cli(ACC, write_recipe(ACC, tmp_path, store.source))
    assert set(outcome.states.values()) == {"held"}
    assert {cause(r) for r in outcome.reasons.values()} == {"account_not_writable"}
    assert all("Main Contact Email" in r for r in outcome.reasons.values())
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_negative_splits_are_held_even_when_the_recipe_allows_them(tmp_path: Path) -> None:
    """Net, VAT and Total are unsigned: a discount kept on its own nominal would be a negative
    row, so the document is held with the cause and its rows never reach Sage."""
    made = synthetic_store(tmp_path / "made", 20, 40, seed=3)
    discounted = [i for i in made.invoices if float(i.get("base_discount_amount") or 0)]
    assert discounted, "the store has no discount"
    outcome = run_recipe_cli(ACC, write_recipe(ACC, tmp_path, made.source,
                                               sage={"negative_amounts": True},
                                               mapping={"discount": "nominal"}))
    held = {k for k, state in outcome.states.items() if state == "held"}
    assert {("SI", str(i["increment_id"])) for i in discounted} <= held
    assert {cause(outcome.reasons[k]) for k in held} == {"negative_amount"}
    rows = read_delivered(ACC, tmp_path / "out").amounts(document_specs(ACC))
    assert rows and all(Decimal(c) >= 0 for r in rows for c, col in zip(r.cells, r.columns,
                                                                         strict=True)
                        if col.kind == "money" and c)
    assert not held & {document_of(r, ACC) for r in rows}


def test_a_big_batch_is_split_under_half_a_megabyte_never_inside_a_document(
        tmp_path: Path) -> None:
    store = synthetic_store(tmp_path / "pages", 1, 3000, seed=8)
    outcome = run_recipe_cli(ACC, write_recipe(ACC, tmp_path, store.source))
    assert outcome.exit_code == 0, outcome.reasons
    delivered = read_delivered(ACC, tmp_path / "out")
    sizes = {name: len(data) for name, data in delivered.files.items()}
    quick = sorted(n for n in sizes if "quick_entries" in n)
    assert len(quick) >= 2 and quick[0].endswith("-001.csv"), sizes
    assert max(sizes.values()) <= 500_000, sizes
    assert sum(sizes[n] for n in quick) > 500_000
    expected = {k for k, v in store.postings(ACC).items() if v}
    where = occurrences(ACC, delivered.of(document_specs(ACC)), expected)
    assert set(where) == expected and all(len(files) == 1 for files in where.values())
    assert all(data.startswith(HEADINGS) for name, data in delivered.files.items()
               if name in quick), "every file has its heading row"


@few(12)
@given(st.data())
def test_any_drawn_store_balances_in_the_file_to_the_cent(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("acc-drawn")
    orders, invoices, memos = [], [], []
    for n in range(data.draw(st.integers(1, 3), label="orders")):
        spec = replace(data.draw(money_order_specs()), entity_id=100 + n,
                       increment_id=f"{100 + n:09d}")
        order = build_order(spec, include_parent_item=False)
        orders.append(order)
        invoices.append(build_invoice(order, 100 + n, f"{100 + n:09d}", WHEN))
        if data.draw(st.booleans(), label="refunded"):
            memos.append(build_creditmemo(order, 100 + n, f"{100 + n:09d}",
                                          WHEN + timedelta(days=2), invoice_id=100 + n,
                                          **data.draw(creditmemo_args(order))))
    store = write_magento(folder / "pages", orders, invoices, memos)
    recipe = write_recipe(ACC, folder, store.source, mapping={
        "tax_codes": {"20": "Standard", "17.5": "Standard", "5": "Lower Rate",
                      "0": "Zero Rated"},
        "payment_nominals": {"gift_card": "2105", "store_credit": "2106",
                             "reward_points": "2107"},
        "extra_amounts": {"payment_surcharge_amount": "4910"}})
    outcome = run_recipe_cli(ACC, recipe)
    expected = store.postings(ACC)
    held = {k: r for k, r in outcome.reasons.items() if outcome.states[k] != "skipped"}
    assert not held, held  # skipped: nothing to book (a 100 % discount), total 0.00
    assert all(expected[k] == 0 for k in outcome.reasons)
    rows = read_delivered(ACC, folder / "out").amounts(document_specs(ACC))
    books = per_magento_document(ACC, rows, expected)
    # every document with a total is in the file at that total; one paid whole by a gift
    # card (total 0.00) is there too when it carries revenue, and then nets to 0.00
    assert {k: v for k, v in expected.items() if v} .items() <= books.items()
    assert all(expected[k] == v for k, v in books.items()), "to the cent"
    signed = {"SI": 1, "SC": -1}
    assert sum(row_amount(r) * signed[document_of(r, ACC)[0]] for r in rows) == \
        sum(v * signed[k[0]] for k, v in expected.items()), "the sum, credit notes negative"
    assert {k: Decimal(v) for k, v in outcome.summary["totals"].items()} == \
        per_type(ACC, rows), "the run's summary"
    per_reference: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        net, vat, total = (Decimal(row.cells[i]) for i in (7, 9, 10))
        assert net >= 0 and vat >= 0 and total == net + vat, row.cells
        per_reference[document_of(row, ACC)] += total
    grand = {k: v for k, v in store.postings(ACC).items() if v}
    for key, total in per_reference.items():  # a -FEE or -GIFT entry stands beside its own
        if key in grand and not any(k[1].startswith(f"{key[1]}-") for k in per_reference):
            assert total == grand[key], key


@pytest.mark.parametrize("region", ["", "us", "ca"])
def test_each_editions_rules_are_the_ones_its_templates_render(region: str) -> None:
    product = products.get("sage_accounting", region)
    caps = product.capabilities
    seen = set()
    for name in product.templates:
        spec = load_spec(product.key, name, region=region)
        assert (spec.delimiter, spec.line_ending) == (caps.delimiter, caps.line_ending)
        if any(c.kind == "date" for c in spec.columns):  # contacts have none, in every edition
            assert spec.date_format == caps.date_format, name
        for column in spec.columns:
            if column.kind == "code" and column.field in caps.code_lengths:
                seen.add(column.field)
                assert column.max_length == caps.code_lengths[column.field], (name, column.name)
                assert (column.pattern.pattern if column.pattern else None) == \
                    caps.code_patterns.get(column.field), (name, column.name)
    assert seen == set(caps.code_lengths)
    assert caps.max_bytes_per_file == 500_000 and caps.encoding == "utf-8"
