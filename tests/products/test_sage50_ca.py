"""Sage 50 Canada (`sage50_ca`): the exact .IMP bytes of a small known store, the file's own
rules read back from the bytes (Total, No. of Details, Quantity x Price = Amount, positive
amounts), what is held and why, and a property: any drawn store's invoices balance to the cent
in the delivered file while its credit memos are held with Sage's advice."""

from __future__ import annotations

import shutil
from collections import defaultdict
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
from sagesync.errors import RecipeError
from sagesync.ledger import Ledger
from sagesync.model import holds
from sagesync.recipe import load_recipe
from sagesync.sage.products import get
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
    MagentoStore,
    Outcome,
    Row,
    document_specs,
    few,
    per_magento_document,
    read_delivered,
    run_recipe_cli,
    write_magento,
    write_recipe,
)
from tests.conftest import ROOT
from tests.strategies import creditmemo_args, money_order_specs, order_specs

PRODUCT = get("sage50_ca")
WHEN = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 10:30 in Toronto
CANADIAN = {"13": "HST", "5": "GST", "0": "GST"}
ANN = CustomerSpec("ann.ng@example.ca", "Ann", "Ng", AddressSpec(
    "Ann", "Ng", ("100 King St W", "Suite 5700"), "Toronto", "M5V 2T6", "+1 416 555 0100",
    country_id="CA", region="Ontario"), customer_id=501)
LI = CustomerSpec("li.wei@example.ca", "Li", "Wei", AddressSpec(
    "Li", "Wei", ("102-3701 East Hastings St.",), "Vancouver", "V5C 2H6", "604 555 0199",
    country_id="CA", region="British Columbia"))
VERSION = b'<Version>\r\n"12001","1"\r\n</Version>\r\n'
CUSTOMER_LINE = (b'"NGANN01","0","Ann Ng","100 King St W","Suite 5700","Toronto","Ontario",'
                 b'"M5V2T6","Canada","1 416 555 0100","","","ann.ng@example.ca"\r\n')


def order(entity_id: int, customer: CustomerSpec, *lines: LineSpec, **spec: Any
          ) -> dict[str, Any]:
    return build_order(OrderSpec(entity_id, f"1000000{entity_id:02d}", WHEN, customer, lines,
                                 **spec), include_parent_item=False)


def invoice(made: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return build_invoice(made, made["entity_id"], made["increment_id"],
                         WHEN + timedelta(minutes=5), **extra)


def run(folder: Path, orders: list[dict[str, Any]], invoices: list[dict[str, Any]],
        memos: list[dict[str, Any]] | None = None, **mapping: Any
        ) -> tuple[MagentoStore, Outcome]:
    store = write_magento(folder / "pages", orders, invoices, memos or [])
    recipe = write_recipe(PRODUCT, folder, store.source,
                          mapping={"tax_codes": CANADIAN, **mapping})
    return store, run_recipe_cli(PRODUCT, recipe)


def delivered(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "out").iterdir())}


def small_store() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A registered Ontario customer (HST 13 %, a zero-rated book, taxed shipping) and a
    Vancouver guest with a 12.5 % coupon, free shipping and GST 5 % only."""
    ann = order(42, ANN, LineSpec("MUG-01", "Mug", 3, Decimal("10.00"), Decimal(13)),
                LineSpec("BOOK-9", "Book", 1, Decimal("24.99"), Decimal(0)),
                shipping_amount=Decimal("7.50"), shipping_tax_percent=Decimal(13))
    li = order(43, LI, LineSpec("TEE-7", "Tee", 3, Decimal("14.99"), Decimal(5),
                                Decimal("12.5")),
               coupon_code="SAVE12", shipping_method="freeshipping_freeshipping")
    return [ann, li], [invoice(ann), invoice(li)]


def test_a_small_store_is_exactly_these_imp_bytes(tmp_path: Path) -> None:
    """The new customer first (its <customers> block), then one <SalInvoice> per invoice:
    customer line (postal unformatted, before the country), options line (details, no order
    number, invoice number, m-d-yyyy, pay later, total, freight and, only with carriage, its
    tax group), then one detail line per item with its tax group; every field quoted, CRLF."""
    orders, invoices = small_store()
    _, outcome = run(tmp_path, orders, invoices)
    assert outcome.exit_code == 0 and not outcome.reasons, outcome.reasons
    assert delivered(tmp_path) == {
        "B000001-1-customers.imp": VERSION + b"<customers>\r\n" + CUSTOMER_LINE
        + b"</customers>\r\n",
        "B000001-2-sales_invoices.imp": VERSION + b"<SalInvoice>\r\n" + CUSTOMER_LINE
        # 30.00 + 3.90 + 24.99 + 0.00 + freight 7.50 + its tax 0.98 = 67.37
        + b'"2","","100000042","11-2-2026","0","","67.37","7.50","HST","0","1","13.00","0.98"'
          b'\r\n'
          b'"MUG-01","3.0000","10.0000","30.00","HST","0","1","13.00","3.90"\r\n'
          b'"BOOK-9","1.0000","24.9900","24.99","GST","0","1","0.00","0.00"\r\n'
          b"</SalInvoice>\r\n<SalInvoice>\r\n"
          b'"Web Sales","0","Li Wei","102-3701 East Hastings St.","","Vancouver",'
          b'"British Columbia","V5C2H6","Canada","604 555 0199","","","li.wei@example.ca"\r\n'
          # no carriage: the options line ends at the freight; 39.35 + 1.97 = 41.32
          b'"1","","100000043","11-2-2026","0","","41.32","0.00"\r\n'
          # 44.97 less 12.5 % (5.62) = 39.35 for 3: 13.1167 each, and 3 x 13.1167 = 39.3501
          b'"TEE-7","3.0000","13.1167","39.35","GST","0","1","5.00","1.97"\r\n'
          b"</SalInvoice>\r\n"}
    assert [i["base_grand_total"] for i in invoices] == [67.37, 41.32]


def _cells(row: Row) -> dict[str, str]:
    return {c.name: cell for c, cell in zip(row.columns, row.cells, strict=True)}


def assert_imp_rules(folder: Path) -> dict[str, Decimal]:
    """The .IMP's own rules, from the delivered bytes: per invoice, No. of Details is its
    detail lines, Quantity x Price rounds (half up, to the cent) to each line's Amount, Total
    is the amounts, their taxes, freight and freight tax, no tax is included in a price, and
    no amount, quantity or price is negative. Returns each invoice's Total."""
    rows = read_delivered(PRODUCT, folder / "out").of(document_specs(PRODUCT))
    blocks: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        blocks[row.fields["reference"]].append(row)
    totals = {}
    for reference, block in blocks.items():
        customer, options, *details = block
        assert (customer.record, options.record) == ("customer", "options"), reference
        assert {d.record for d in details} <= {"detail"}
        head = _cells(options)
        assert int(head["No. of Details"]) == len(details)
        summed = Decimal(head["Freight Amount"]) + Decimal(head["Freight Tax Amount"] or 0)
        for detail in details:
            line = _cells(detail)
            quantity, price = Decimal(line["Quantity"]), Decimal(line["Price"])
            amount = Decimal(line["Amount"])
            assert (quantity * price).quantize(Decimal("0.01"), ROUND_HALF_UP) == amount, line
            assert min(quantity, price, amount, Decimal(line["Tax Amount"])) >= 0, line
            assert line["Tax Included"] == "0"
            summed += amount + Decimal(line["Tax Amount"])
        assert head["Freight Tax Included"] in ("", "0")  # "": no freight tax group
        assert Decimal(head["Total Amount"]) == summed, reference
        totals[reference] = summed
    return totals


def test_the_files_keep_the_imp_rules_and_balance_to_magento(tmp_path: Path) -> None:
    orders, invoices = small_store()
    store, _ = run(tmp_path, orders, invoices)
    totals = assert_imp_rules(tmp_path)
    assert totals == {i["increment_id"]: Decimal(str(i["base_grand_total"])) for i in invoices}
    rows = read_delivered(PRODUCT, tmp_path / "out").amounts(document_specs(PRODUCT))
    assert per_magento_document(PRODUCT, rows, store.postings(PRODUCT)) == {
        ("SI", "100000042"): Decimal("67.37"), ("SI", "100000043"): Decimal("41.32")}


def test_what_the_imp_cannot_take_is_held_with_its_cause(tmp_path: Path) -> None:
    """A credit memo (no .IMP credit note: Sage's advice), an invoice paid partly by gift card
    (it would be a credit note of its own), a combined GST + PST rate of 12 % (one Magento
    rate, two Sage taxes: not mapped by default) and a quantity no price of 4 places makes
    the amount of (300 for 798.04) are held; a plain invoice goes on."""
    plain = order(50, ANN, LineSpec("MUG-01", "Mug", 1, Decimal("10.00"), Decimal(13)))
    refunded = order(51, LI, LineSpec("TEE-7", "Tee", 2, Decimal("20.00"), Decimal(5)))
    gift = order(52, LI, LineSpec("TEE-7", "Tee", 1, Decimal("20.00"), Decimal(5)),
                 gift_card_amount=Decimal("5.00"))
    combined = order(53, LI, LineSpec("LAMP-2", "Lamp", 1, Decimal("40.00"), Decimal(12)))
    bulk = order(54, ANN, LineSpec("BOLT-M6", "Bolts", 300, Decimal("3.99"), Decimal(13),
                                   Decimal("33.33")), coupon_code="TRADE")
    invoices = [invoice(plain), invoice(refunded), invoice(gift), invoice(combined),
                invoice(bulk)]
    memo = build_creditmemo(refunded, 51, "100000051", WHEN + timedelta(days=2), invoice_id=51)
    _, outcome = run(tmp_path, [plain, refunded, gift, combined, bulk], invoices, [memo],
                     payment_nominals={"gift_card": "2300"})
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        states = {(r.key.entity_type, r.increment_id): r.state for r in ledger.rows()}
        causes = {(r.key.entity_type, r.increment_id): holds.recognise(r.last_error or "").code
                  for r in ledger.rows() if r.state == "held"}
    assert states == {("invoice", "100000050"): "sent", ("invoice", "100000051"): "sent",
                      ("creditmemo", "100000051"): "held", ("invoice", "100000052"): "held",
                      ("invoice", "100000053"): "held", ("invoice", "100000054"): "held"}
    assert causes == {("creditmemo", "100000051"): "no_credit_notes",
                      ("invoice", "100000052"): "no_credit_notes",
                      ("invoice", "100000053"): "unmapped_tax_rate",
                      ("invoice", "100000054"): "template_rule_broken"}
    reasons = {(k[0] or "credit", k[1]): why for k, why in outcome.reasons.items()}
    assert "by hand as a sales return" in reasons[("credit", "100000051")]
    assert "negative quantity" in reasons[("credit", "100000051")]
    assert "the gift card 5.00 (100000052-GIFT) taken off this invoice" in \
        reasons[("SI", "100000052")]
    assert "no Sage tax code for a 12% rate" in reasons[("SI", "100000053")]
    assert reasons[("SI", "100000054")] == ("'Price' is not a number: 'none of 4 places "
                                            "makes 300.0000 x price = 798.04'")
    written = delivered(tmp_path)["B000001-2-sales_invoices.imp"]
    assert written.count(b"<SalInvoice>") == 2
    assert b'"100000050"' in written and b'"100000051"' in written
    # the refund entered by hand as a sales return, as the hold says: closed for good
    recipe = tmp_path / "recipe.toml"
    closed = CliRunner().invoke(cli, ["-r", str(recipe), "resolve", "creditmemo:51@1",
                                      "--note", "sales return 100000051 entered by hand"])
    assert closed.exit_code == 0, closed.output
    again = run_recipe_cli(PRODUCT, recipe)
    assert again.states[("", "100000051")] == "resolved"


def test_the_order_currency_is_refused_for_a_home_currency_import(tmp_path: Path) -> None:
    store = write_magento(tmp_path / "pages", [], [], [])
    recipe = write_recipe(PRODUCT, tmp_path, store.source, sage={"currency": "order"})
    with pytest.raises(RecipeError, match=r"sage\.currency.*home currency only"):
        load_recipe(recipe)


def test_a_2025_release_writes_its_version_through_a_template_override(tmp_path: Path) -> None:
    """As the README says: copy the two templates, change 12001 to 32101, point [sage]
    templates at the copy."""
    override = tmp_path / "templates"
    override.mkdir()
    for name in PRODUCT.templates:
        shipped = PRODUCT.template_file(name).read_text(encoding="utf-8")
        assert """preamble = ["<Version>", '"12001","1"', "</Version>"]""" in shipped
        (override / f"{name}.toml").write_text(shipped.replace('"12001","1"', '"32101","1"'),
                                               encoding="utf-8")
    orders, invoices = small_store()
    store = write_magento(tmp_path / "pages", orders, invoices, [])
    recipe = write_recipe(PRODUCT, tmp_path, store.source,
                          sage={"templates": override.as_posix()},
                          mapping={"tax_codes": CANADIAN})
    run_recipe_cli(PRODUCT, recipe)
    files = delivered(tmp_path)
    assert len(files) == 2
    assert all(data.startswith(b'<Version>\r\n"32101","1"\r\n</Version>\r\n')
               for data in files.values())


def test_the_sales_journal_export_confirms_what_was_delivered(tmp_path: Path) -> None:
    """The demo's [ack]: Sage 50's Sales Journal exported to CSV, the invoice number in
    Source and Sage's journal entry number in JE #, without a type column."""
    recipe = write_recipe(PRODUCT, tmp_path, ROOT / "samples" / "magento")
    run_recipe_cli(PRODUCT, recipe)
    export = tmp_path / "sales-journal.csv"
    export.write_text("Date,Source,JE #,Account,Debits,Credits\r\n"
                      "10-24-2026,000000001,J101,1200,26.40,\r\n"
                      "11-30-2026,000000008,J102,1200,334.19,\r\n", encoding="cp1252")
    result = CliRunner().invoke(cli, ["-r", str(recipe), "ack", str(export)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        confirmed = {r.increment_id: r.sage_ref for r in ledger.rows()
                     if r.state == "confirmed"}
    assert confirmed == {"000000001": "J101", "000000008": "J102"}


PAYMENTS = ("gift_cards_amount", "customer_balance_amount", "reward_currency_amount")


@few(8)
@given(data=st.data(), count=st.integers(1, 4))
def test_any_store_balances_in_the_file_to_the_cent_and_credit_memos_are_held(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, count: int) -> None:
    """Drawn orders (composites, discounts, tax-inclusive prices, 20/5/0/17.5 % named as
    Canadian taxes, guests and registered customers; some with gift cards, store credit or
    reward points, a cash-on-delivery surcharge, a foreign order currency) with invoices and
    credit memos (part refunds, adjustments): every invoice is delivered and balances to its
    Magento grand total in the bytes, keeping the .IMP's rules, unless a payment was taken off
    it; credit memos and those invoices are held, each with Sage's advice."""
    folder = tmp_path_factory.mktemp("ca-property")
    orders, invoices, memos = [], [], []
    for n in range(1, count + 1):
        spec = data.draw(st.one_of(order_specs(invoiced=True), money_order_specs()))
        if data.draw(st.booleans()):  # a surcharge or foreign currency without payments
            spec = replace(spec, gift_card_amount=Decimal(0), store_credit_amount=Decimal(0),
                           reward_amount=Decimal(0))
        made = build_order(replace(spec, entity_id=n, increment_id=f"{n:09d}"),
                           include_parent_item=False)
        orders.append(made)
        invoices.append(build_invoice(made, n, made["increment_id"], WHEN))
        if data.draw(st.booleans()):
            memos.append(build_creditmemo(made, n, made["increment_id"], WHEN, invoice_id=n,
                                          **data.draw(creditmemo_args(made))))
    _, outcome = run(folder, orders, invoices, memos,
                     tax_codes={"20": "HST", "5": "GST", "0": "GST", "17.5": "PST"},
                     extra_amounts={"payment_surcharge_amount": "COD"},
                     payment_nominals={"gift_card": "2300", "store_credit": "2310",
                                       "reward_points": "2320"})
    paid = {i["increment_id"] for i in invoices
            if any(i.get("extension_attributes", {}).get(name) for name in PAYMENTS)}
    held = {key: why for key, why in outcome.reasons.items()
            if outcome.states[key] == "held"}  # (a zero total is skipped, and says so)
    refunds = {("", m["increment_id"]): to_decimal(m["base_grand_total"]) for m in memos}
    assert {k for k in held if k[0]} == {("SI", i) for i in paid}
    assert {k for k in held if not k[0]} <= set(refunds)
    for key, total in refunds.items():  # a refund of nothing is skipped, never sent
        assert outcome.states[key] == "held" if total else outcome.states[key] in (
            "held", "skipped"), (key, outcome.states[key])
    assert all("cannot import a credit note" in why for why in held.values()), held
    totals = assert_imp_rules(folder) if (folder / "out").exists() else {}
    expected = {i["increment_id"]: Decimal(str(i["base_grand_total"])).quantize(
        Decimal("0.01")) for i in invoices if i["increment_id"] not in paid}
    assert totals == {k: v for k, v in expected.items() if v}, "to the cent, per invoice"
    rows = read_delivered(PRODUCT, folder / "out").amounts(document_specs(PRODUCT))
    assert per_magento_document(PRODUCT, rows, {("SI", k): v for k, v in expected.items()}) \
        == {("SI", k): v for k, v in expected.items() if v}
    shutil.rmtree(folder)


def test_a_mapped_extra_amount_is_one_unit_of_the_item_it_names(tmp_path: Path) -> None:
    """A cash-on-delivery surcharge mapped in [mapping] extra_amounts (its "nominal" names a
    Sage service item) is a detail line of its own: one unit at its amount, in the Total."""
    made = order(60, ANN, LineSpec("MUG-01", "Mug", 2, Decimal("10.00"), Decimal(13)),
                 cod_fee=Decimal("5.33"), payment_method="cashondelivery")
    _, outcome = run(tmp_path, [made], [invoice(made)],
                     extra_amounts={"payment_surcharge_amount": "COD"})
    assert outcome.exit_code == 0 and not outcome.reasons, outcome.reasons
    written = delivered(tmp_path)["B000001-2-sales_invoices.imp"]
    assert b'"2","","100000060","11-2-2026","0","","27.93","0.00"\r\n' \
           b'"MUG-01","2.0000","10.0000","20.00","HST","0","1","13.00","2.60"\r\n' \
           b'"COD","1.0000","5.3300","5.33","GST","0","1","0.00","0.00"\r\n' in written
    assert assert_imp_rules(tmp_path) == {"100000060": Decimal("27.93")}
