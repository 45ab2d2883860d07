"""Money that balances only with knowledge beyond Magento's core fields.

Four rules, each a class of defect: a zero-total document is skipped (or posted as goods and an
equal discount), never held as an imbalance; a foreign order currency reaches Sage with Magento's
rate in column K, or is held; amounts outside the known fields (payments, an extension's fee,
WEEE) are posted as the recipe says or named in the hold reason; Sage gets positive amounts only
unless the recipe allows negative ones. Real documents come from ../shared/reference/magento/real
(skipped when that folder is absent); the rest are drawn by hypothesis, serialised as Magento
sends them and run through the real export, transform, import and render code.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sagesync.errors import ExitCode, RecipeError
from sagesync.magento.entities import PAGE_DECODERS
from sagesync.magento.tables import MagentoTableBuilder, content_hash
from sagesync.model.money import ZERO, decimal_of_cents, decimal_of_units
from sagesync.pipeline.amounts import amount_problem as _amount_problem
from sagesync.recipe import load_recipe
from sagesync.render import RowRejected, RowRenderer, load_spec, write_csv
from sagesync.testing.factory import (
    LineSpec,
    OrderSpec,
    build_creditmemo,
    build_invoice,
    build_order,
    customer_spec,
    search_page,
)
from sagesync.transform.documents import (
    DOCUMENT_CENTS,
    SageDocument,
    document_columns,
    split_rows,
)
from sagesync.transform.rows import posting_rows
from tests.conftest import DEMO_RECIPE, ROOT
from tests.strategies import creditmemo_args, money_order_specs, order_specs
from tests.test_balance import WHEN, assert_balanced, make_builder, signed, tables_of

REAL = ROOT.parent / "shared" / "reference" / "magento" / "real"
AUDIT = load_spec("sage50_uk", "audit_trail")
PAYMENTS = {"gift_card": "1210", "store_credit": "2110", "reward_points": "2120"}
SURCHARGE = {"payment_surcharge_amount": ("4910", None)}
CENT = Decimal("0.01")


def real(doc_id: str) -> tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, Any],
                                list[dict[str, Any]]]:
    """(kind, document row, its lines, order row, order lines) of a real corpus document,
    decoded from the saved pages by the export code (the files are read, never copied)."""
    if not REAL.is_dir():
        pytest.skip(f"real Magento corpus not found at {REAL}")
    entry = next(d for d in json.loads((REAL / "documents.json").read_text())
                 if d["id"] == doc_id)
    builder = MagentoTableBuilder()
    for entity in ("orders", "invoices", "creditmemos"):
        for page in sorted((REAL / "instances" / entry["instance"] / entity).glob("*.json")):
            for item in PAGE_DECODERS[entity].decode(page.read_bytes()).items:
                builder.add(entity, item)
    tables = {n: posting_rows(pa.Table.from_batches([b])) for n, b in builder.take().items()}
    kind = entry["kind"]
    row = next(r for r in tables[f"{kind}s"] if r["entity_id"] == entry["entity_id"])
    order = next(o for o in tables["orders"] if o["entity_id"] == entry["order_id"])
    items = [i for i in tables["order_items"] if i["order_id"] == order["entity_id"]]
    lines = items if kind == "order" else [
        i for i in tables[f"{kind}_items"] if i["document_id"] == row["entity_id"]]
    return kind, row, lines, order, items


US_TAX = {Decimal(0): "T0", Decimal("8.25"): "T2", Decimal(20): "T1"}


def build_real(doc_id: str, currency: str = "base", **mapping: Any) -> SageDocument:
    kind, row, lines, order, items = real(doc_id)
    builder = make_builder(mapping.pop("discount", "net"), currency, **mapping)
    builder = replace(builder, mapping=replace(builder.mapping, tax_codes=US_TAX))
    return builder.build(kind, row, lines, order, items, "WEBSALES")


def document_row(d: SageDocument) -> dict[str, Any]:
    """One document's row of the `documents` table as it reads back (amounts as Decimal),
    but for who it bills (taken from the orders, column-wise)."""
    row = {name: values[0] for name, values in document_columns([d]).items()}
    for name in DOCUMENT_CENTS:
        row[name] = None if row[name] is None else decimal_of_cents(row[name])
    rate = row["carriage_tax_rate"]
    row["carriage_tax_rate"] = None if rate is None else decimal_of_units(rate)
    return row


def rendered(document: SageDocument) -> list[list[str]]:
    """The audit-trail rows import-sage writes for a document (the same merge of fields)."""
    doc = document_row(document)
    renderer = RowRenderer(AUDIT, "cp1252")
    return [renderer.render({**doc, **{k: v for k, v in s.items() if v is not None}})
            for s in split_rows(document, None)]


def documents_of(spec: OrderSpec, memo_args: dict[str, Any] | None = None
                 ) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(kind, Magento JSON, export tables) for the order, its invoice and a credit memo."""
    order = build_order(spec)
    out = [("order", order, tables_of("orders", [order]))]
    if spec.invoiced:
        invoice = build_invoice(order, 1, "000000001", WHEN)
        out.append(("invoice", invoice, tables_of("invoices", [invoice])))
        memo = build_creditmemo(order, 1, "000000001", WHEN, invoice_id=1, **(memo_args or {}))
        out.append(("creditmemo", memo, tables_of("creditmemos", [memo])))
    return out


def build_all(builder: Any, spec: OrderSpec, memo_args: dict[str, Any] | None = None
              ) -> list[tuple[SageDocument, dict[str, Any]]]:
    order_tables = tables_of("orders", [build_order(spec)])
    order_row, items = order_tables["orders"][0], order_tables["order_items"]
    built = []
    for kind, magento, tables in documents_of(spec, memo_args):
        row = tables[f"{kind}s"][0]
        lines = items if kind == "order" else tables.get(f"{kind}_items", [])
        built.append((builder.build(kind, row, lines, order_row, items, "WEBSALES"), magento))
    return built


def in_both_currencies(magento: dict[str, Any]) -> bool:
    """Whether every payment is in both currencies. One too small to survive the conversion to
    base (a 0.03 SAR reward refund on a memo worth 0.00 GBP) exists in the order currency only:
    such a document is held ("only given in the order currency"), never posted unbalanced."""
    extension = magento.get("extension_attributes") or {}
    return all(f"base_{name}" in extension for name in extension
               if not name.startswith("base_") and name.endswith("_amount"))


def write_recipe(tmp_path: Path, sage: str = "", mapping: str = "") -> Path:
    path = tmp_path / "r.toml"
    path.write_text(f'name = "r"\nstate_dir = "s"\n[magento]\nsource = "m"\n'
                    f'[sage]\nproduct = "sage50_uk"\n{sage}\n[mapping]\n{mapping}\n')
    return path


# --------------------------------------------------------------------- 3. zero-total documents


def test_the_real_zero_total_order_is_skipped_and_said_never_held() -> None:
    document = build_real("oca-order-17-zero")  # 100 % coupon on goods and shipping
    assert document.hold_reason is None
    assert document.skip_reason and "zero_total_documents" in document.skip_reason
    assert any(w.startswith("not posted") for w in document.warnings)
    assert document_row(document)["status"] == "skipped"
    assert split_rows(document, None) == []


def _free(spec: OrderSpec) -> OrderSpec:
    """Every line and the shipping discounted 100 %, as a 100 % coupon does."""
    def line(item: LineSpec) -> LineSpec:
        return replace(item, discount_percent=Decimal(100),
                       children=tuple(line(c) for c in item.children))
    return replace(spec, lines=tuple(line(item) for item in spec.lines),
                   discount_applies_to_shipping=True, shipping_discount_percent=Decimal(100))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_specs(invoiced=True).map(_free))
def test_a_100_percent_coupon_is_skipped_or_posted_as_goods_and_an_equal_discount(
        spec: OrderSpec) -> None:
    skipping = make_builder("net")
    posting = make_builder("nominal", zero_total_documents="post")
    for (skipped, magento), (posted, _) in zip(build_all(skipping, spec),
                                               build_all(posting, spec), strict=True):
        assert Decimal(str(magento["base_grand_total"])) == 0
        assert skipped.hold_reason is None and skipped.skip_reason is not None
        assert not rendered(skipped)
        assert posted.hold_reason is None, posted.hold_reason
        if posted.skip_reason is None:  # something was priced: the sale and its discount
            assert_balanced(posted, magento)
            goods = sum((s.net_amount for s in posted.splits if s.purpose != "discount"), ZERO)
            discount = sum((s.net_amount for s in posted.splits if s.purpose == "discount"), ZERO)
            assert goods > 0 and goods == -discount
        else:
            assert all(s.net_amount == 0 for s in posted.splits)


def test_posting_zero_totals_needs_the_nominal_discount_mode(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"zero_total_documents.*0\.00"):
        load_recipe(write_recipe(tmp_path, mapping='zero_total_documents = "post"'))
    recipe = load_recipe(write_recipe(tmp_path, "negative_amounts = true",
                                      'discount = "nominal"\nzero_total_documents = "post"'))
    assert recipe.mapping.zero_total_documents == "post"
    assert load_recipe(write_recipe(tmp_path)).mapping.zero_total_documents == "skip"


def test_a_skipped_document_reaches_no_file_and_the_run_is_not_held(run_cli, demo_copy: Path,  # type: ignore[no-untyped-def]
                                                                    tmp_path: Path) -> None:
    """A zero-total invoice added to the demo store: said in the run, in no file, exit 0."""
    samples = demo_copy.parent.parent / "samples" / "magento"
    spec = _free(OrderSpec(
        entity_id=90, increment_id="000000090", created_at=datetime(2026, 11, 20, tzinfo=UTC),
        customer=replace(customer_spec(4242), customer_id=None),
        lines=(LineSpec("24-MB01", "Joust Duffle Bag", 1, Decimal("34.00")),),
        shipping_amount=Decimal(5)))
    order = build_order(spec)
    invoice = build_invoice(order, 90, "000000090", datetime(2026, 11, 20, 1, tzinfo=UTC))
    for entity, item in (("orders", order), ("invoices", invoice)):
        page = sorted((samples / entity).glob("page-*.json"))[-1]
        data = json.loads(page.read_text(encoding="utf-8"))
        data["items"].append(item)
        data["total_count"] += 1
        page.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("--state-dir", str(tmp_path / "s"), "run", str(demo_copy), "--out", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    assert "not posted: its total is zero" in result.output
    manifest = json.loads(Path(result.stdout.strip()).read_text())
    assert manifest["summary"]["skipped"] == 1 and manifest["summary"]["held"] == 0
    audit = next(out.glob("*audit_trail*.csv")).read_text(encoding="cp1252")
    assert "000000090" not in audit
    # a dry run on a state of its own: the ledger never heard of the invoice, so the import
    # step gives the transform's reason, read from the document itself
    dry = run_cli("--state-dir", str(tmp_path / "dry"), "run", str(demo_copy), "--dry-run",
                  "--out", str(tmp_path / "dry-out"))
    assert dry.exit_code == ExitCode.OK, dry.output
    assert "not posted, by the recipe's rule: invoice:90@1 (000000090): its total is zero" \
        in dry.output


# --------------------------------------------------------------------- 4. foreign currency


def test_the_real_sar_order_posts_in_sar_with_the_rate_in_column_k() -> None:
    _, row, _, order, _ = real("outlet-order-361")
    assert row["base_to_order_rate"] == Decimal("3.75")  # extracted by the export
    document = build_real("outlet-order-361", "order", extra_amounts=SURCHARGE)
    assert document.hold_reason is None, document.hold_reason
    assert document.exchange_rate == Decimal("3.75")
    assert signed(document, "net_amount") + signed(document, "tax_amount") == \
        decimal_of_units(order["grand_total"])  # SAR 3001.58
    assert {r[10] for r in rendered(document)} == {"3.75"}  # column K, on every row
    base = build_real("outlet-order-361", "base", extra_amounts=SURCHARGE)
    assert base.exchange_rate is None and {r[10] for r in rendered(base)} == {""}
    assert signed(base, "net_amount") == decimal_of_units(order["base_grand_total"])  # USD 804.33


def test_the_real_eur_order_at_rate_1_carries_the_rate_and_a_warning() -> None:
    document = build_real("oca-order-13-eur", "order")
    assert document.exchange_rate == Decimal(1)
    assert any("exchange rate from USD to EUR is 1" in w for w in document.warnings)
    assert "base_to_order_rate" not in (document.hold_reason or "")
    assert build_real("oca-order-13-eur", "base").exchange_rate is None


def test_foreign_amounts_without_a_rate_are_held_in_order_currency_only() -> None:
    kind, row, lines, order, items = real("outlet-order-361")
    row = order = {**order, "base_to_order_rate": None}
    mapping = {"extra_amounts": SURCHARGE}
    held = make_builder("net", "order", **mapping).build(kind, row, lines, order, items, "W")
    assert held.hold_reason is not None and "base_to_order_rate" in held.hold_reason
    assert held.hold is not None and held.hold.code == "no_exchange_rate"
    assert held.hold.params == {"currency": "SAR", "base": "USD"}
    posted = make_builder("net", "base", **mapping).build(kind, row, lines, order, items, "W")
    assert posted.hold_reason is None and posted.exchange_rate is None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_foreign_orders_balance_in_either_currency_and_carry_their_rate(
        data: st.DataObject) -> None:
    spec = data.draw(money_order_specs().filter(lambda s: s.order_currency is not None))
    memo_args = data.draw(creditmemo_args(build_order(spec)))
    mapping = {"payment_nominals": PAYMENTS, "extra_amounts": SURCHARGE}
    for currency, prefix in (("order", ""), ("base", "base_")):
        builder = make_builder("net", currency, **mapping)
        for document, magento in build_all(builder, spec, memo_args):
            assume(in_both_currencies(magento))
            assert_balanced(document, magento, prefix)
            if currency == "base":
                assert document.exchange_rate is None
            else:
                assert document.exchange_rate == spec.base_to_order_rate
                if document.splits:
                    assert {r[10] for r in rendered(document)} == \
                        {f"{spec.base_to_order_rate.normalize():f}"}


# --------------------------------------------------------------------- 5. amounts outside


def test_the_real_cod_surcharge_is_named_with_how_to_map_it() -> None:
    held = build_real("outlet-order-361")
    assert held.hold_reason is not None
    assert "extension_attributes.payment_surcharge_amount 5.33 (the difference)" in \
        held.hold_reason
    assert '[mapping] extra_amounts = { "payment_surcharge_amount" = "<nominal>" }' in \
        held.hold_reason
    posted = build_real("outlet-order-361", extra_amounts=SURCHARGE)
    extra = [s for s in posted.splits if s.purpose == "extra"]
    assert [(s.nominal_code, s.net_amount) for s in extra] == [("4910", Decimal("5.33"))]
    assert any(r[6] == "Ord 2000000189 payment surcharge" for r in rendered(posted))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_payments_and_surcharges_post_to_their_nominals_and_balance(data: st.DataObject) -> None:
    spec = data.draw(money_order_specs())
    memo_args = data.draw(creditmemo_args(build_order(spec)))
    builder = make_builder("net", payment_nominals=PAYMENTS, extra_amounts=SURCHARGE)
    for document, magento in build_all(builder, spec, memo_args):
        assume(in_both_currencies(magento))
        assert_balanced(document, magento)
        for split in document.splits:
            assert split.net_amount >= 0 and split.tax_amount >= 0  # positive amounts only
            if split.purpose in PAYMENTS:
                assert split.nominal_code == PAYMENTS[split.purpose]
                assert split.transaction_type != document.transaction_type
                assert split.reference and split.reference.startswith(document.reference + "-")
        extension = magento.get("extension_attributes", {})

        def magento_sum(*names: str, ext: dict[str, Any] = extension) -> Decimal:
            return sum((Decimal(str(ext.get(n, 0))) for n in names), ZERO)

        def posted(*purposes: str, doc: SageDocument = document) -> Decimal:
            return sum((s.net_amount for s in doc.splits if s.purpose in purposes), ZERO)

        # each payment is its own split, at Magento's amount: revenue is not netted by it
        assert posted(*PAYMENTS) == magento_sum("base_gift_cards_amount",
                                                "base_customer_balance_amount",
                                                "base_reward_currency_amount")
        assert posted("extra") == magento_sum("base_payment_surcharge_amount")


@settings(max_examples=20, deadline=None)
@given(money_order_specs().filter(lambda s: s.gift_card_amount > 0))
def test_a_payment_stays_inside_its_invoice_under_negative_amounts(spec: OrderSpec) -> None:
    """With [sage] negative_amounts = true an invoice's gift card is a negative split of the
    invoice (products without credit notes, Intacct and Sage 50 Canada, post it so), not a
    credit note of its own."""
    builder = make_builder("net", payment_nominals=PAYMENTS, extra_amounts=SURCHARGE)
    inside, magento = build_all(replace(builder, negative_amounts=True), spec)[1]
    assume(in_both_currencies(magento))
    assert_balanced(inside, magento)
    assert {s.transaction_type for s in inside.splits} == {None}
    assert [s.net_amount for s in inside.splits if s.purpose == "gift_card"] == \
        [-Decimal(str(magento["extension_attributes"]["base_gift_cards_amount"]))]


@settings(max_examples=20, deadline=None)
@given(money_order_specs().filter(lambda s: s.gift_card_amount > 0))
def test_an_unmapped_payment_holds_naming_the_recipe_key(spec: OrderSpec) -> None:
    document, _ = build_all(make_builder("net", extra_amounts=SURCHARGE), spec)[0]
    assert document.hold_reason is not None
    assert "gift card paid" in document.hold_reason
    assert "payment_nominals = { gift_card" in document.hold_reason
    assert document.hold is not None and document.hold.code == "unmapped_payment_nominal"
    assert document.hold.params["kind"] == "gift_card"


def test_weee_on_the_lines_is_named_then_posted_when_mapped() -> None:
    """Fixed product tax adds to the total outside the lines' row totals (order lines)."""
    spec = OrderSpec(entity_id=7, increment_id="000000007", created_at=WHEN,
                     customer=customer_spec(4242),
                     lines=(LineSpec("HE-LED-10", "LED Bulb", 2, Decimal("4.99"), Decimal(20)),))
    order = build_order(spec)
    for key in ("weee_tax_applied_row_amount", "base_weee_tax_applied_row_amnt"):
        order["items"][0][key] = 0.5
    for key in ("grand_total", "base_grand_total"):
        order[key] = float(Decimal(str(order[key])) + Decimal("0.5"))
    tables = tables_of("orders", [order])
    row, items = tables["orders"][0], tables["order_items"]
    held = make_builder("net").build("order", row, items, row, items, "W")
    assert held.hold_reason and "items.weee_tax_applied_row_amount 0.5 (the difference)" in \
        held.hold_reason
    mapped = make_builder("net", extra_amounts={"weee_tax_applied_row_amount": ("2200", "T9")})
    document = mapped.build("order", row, items, row, items, "W")
    assert document.hold_reason is None, document.hold_reason
    assert [(s.nominal_code, s.tax_code, s.net_amount) for s in document.splits
            if s.purpose == "extra"] == [("2200", "T9", Decimal("0.50"))]


def _decoded(order: dict[str, Any]) -> Any:
    return PAGE_DECODERS["orders"].decode(msgspec.json.encode(search_page([order], 1, 1, 1))
                                          ).items[0]


def test_the_content_hash_ignores_extras_that_say_nothing_and_sees_money() -> None:
    spec = OrderSpec(entity_id=8, increment_id="000000008", created_at=WHEN,
                     customer=customer_spec(4242),
                     lines=(LineSpec("24-MB01", "Joust Duffle Bag", 1, Decimal(34)),))
    order = build_order(spec)
    bare = {k: v for k, v in order.items() if k not in ("extension_attributes",
                                                        "base_to_order_rate")}
    same = content_hash(_decoded(bare))
    assert content_hash(_decoded(order)) == same  # rate 1, shipping assignments: no change
    noisy = {**order, "extension_attributes": {**order["extension_attributes"],
                                               "gw_price": "0.0000", "staff_code": "9994"}}
    assert content_hash(_decoded(noisy)) == same
    fee = {**order, "extension_attributes": {"payment_surcharge_amount": "5.3300"}}
    assert content_hash(_decoded(fee)) != same
    assert content_hash(_decoded({**order, "base_to_order_rate": 3.75})) != same


def test_payment_and_extra_amount_mappings_are_checked(tmp_path: Path) -> None:
    recipe = load_recipe(write_recipe(tmp_path, mapping=(
        'payment_nominals = { gift_card = "1210" }\nextra_amounts = { '
        '"payment_surcharge_amount" = "4910", cod_fee = { nominal = "4911", tax_code = "T1" } }')))
    assert recipe.mapping.payment_nominals == {"gift_card": "1210"}
    assert recipe.mapping.extra_amounts == {"payment_surcharge_amount": ("4910", None),
                                            "cod_fee": ("4911", "T1")}
    for wrong, key in (('payment_nominals = { voucher = "1210" }', "payment_nominals.voucher"),
                       ('extra_amounts = { cod_fee = { nominal = "49 10" } }',
                        r"extra_amounts\.cod_fee\.nominal"),
                       ('extra_amounts = { cod_fee = { nominal = "4910", tax_code = "X" } }',
                        r"extra_amounts\.cod_fee\.tax_code"),
                       ("extra_amounts = { cod_fee = 4910 }", r"extra_amounts\.cod_fee")):
        with pytest.raises(RecipeError, match=key):
            load_recipe(write_recipe(tmp_path, mapping=wrong))


# --------------------------------------------------------------------- 6. positive amounts


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_credit_memo_fees_are_positive_sis_that_net_to_magentos_total(
        data: st.DataObject) -> None:
    order = build_order(data.draw(order_specs(invoiced=True)))
    args = data.draw(creditmemo_args(order))
    memo = build_creditmemo(order, 3, "000000003", WHEN, invoice_id=1, **args)
    order_tables, memo_tables = tables_of("orders", [order]), tables_of("creditmemos", [memo])
    row, lines = memo_tables["creditmemos"][0], memo_tables.get("creditmemo_items", [])
    fee = Decimal(str(memo["base_adjustment_negative"]))
    for negative in (False, True):
        builder = replace(make_builder("net"), negative_amounts=negative)
        document = builder.build("creditmemo", row, lines, order_tables["orders"][0],
                                 order_tables["order_items"], "WEBSALES")
        assert_balanced(document, memo)
        fees = [s for s in document.splits if s.purpose == "adjustment_fee"]
        assert sum((s.net_amount for s in fees), ZERO).copy_abs() == fee
        splits = split_rows(document, None)
        problem = _amount_problem(document_row(document), splits, negative)
        assert problem is None, problem
        if negative:
            assert all(s.transaction_type is None for s in fees)
            continue
        assert all(s["net_amount"] >= 0 and s["tax_amount"] >= 0 for s in splits)
        assert [(s.transaction_type, s.reference) for s in fees] == \
            [("SI", "000000003-FEE")] * len(fees)
        assert document.splits[-len(fees) or len(document.splits):] == fees  # after the SC rows
        totals: dict[str, Decimal] = {}
        for s in splits:
            kind = s["transaction_type"] or document.transaction_type
            totals[kind] = totals.get(kind, ZERO) + s["net_amount"] + s["tax_amount"]
        assert totals.get("SC", ZERO) - totals.get("SI", ZERO) == document.grand_total
        rows = rendered(document)
        assert [r[0] for r in rows] == ["SC"] * (len(rows) - len(fees)) + ["SI"] * len(fees)


def test_the_golden_fee_si_follows_its_sc_and_nets_to_the_memo_total() -> None:
    data = (ROOT / "sagesync" / "sage" / "products" / "sage50_uk" / "golden" / "audit_trail.csv"
            ).read_bytes().decode("cp1252")
    rows = [r.split(",") for r in data.split("\r\n")[1:-1]]
    memos = [m for p in sorted((ROOT / "samples" / "magento" / "creditmemos").glob("*.json"))
             for m in json.loads(p.read_text())["items"]]
    memo = next(m for m in memos if m.get("base_adjustment_negative"))
    ref = memo["increment_id"]
    sc = [r for r in rows if r[0] == "SC" and r[5] == ref]
    fee = [r for r in rows if r[5] == f"{ref}-FEE"]
    assert [r[0] for r in fee] == ["SI"] and rows.index(fee[0]) == rows.index(sc[-1]) + 1
    assert all(Decimal(r[7]) >= 0 and Decimal(r[9]) >= 0 for r in rows)
    booked = sum((Decimal(r[7]) + Decimal(r[9]) for r in sc), ZERO) - Decimal(fee[0][7])
    assert booked == Decimal(str(memo["base_grand_total"])).quantize(CENT)
    assert Decimal(fee[0][7]) == Decimal(str(memo["base_adjustment_negative"]))


def test_import_totals_per_type_count_the_fee_as_an_si(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--state-dir", str(tmp_path / "s"), "run", str(DEMO_RECIPE), "--out",
                     str(tmp_path / "out"))
    assert result.exit_code == ExitCode.OK, result.output
    totals = json.loads(Path(result.stdout.strip()).read_text())["summary"]["totals"]
    pages = ROOT / "samples" / "magento"

    def items(kind: str) -> list[dict[str, Any]]:
        return [i for p in sorted((pages / kind).glob("*.json"))
                for i in json.loads(p.read_text())["items"]]

    def grand(docs: list[dict[str, Any]], key: str) -> Decimal:
        return sum((Decimal(str(d.get(key, 0))) for d in docs), ZERO).quantize(CENT)

    invoices, memos = items("invoices"), items("creditmemos")
    fees = grand(memos, "base_adjustment_negative")
    assert fees > 0
    assert Decimal(totals["SI"]) == grand(invoices, "base_grand_total") + fees
    assert Decimal(totals["SC"]) == grand(memos, "base_grand_total") + fees


def test_negative_splits_are_refused_unless_the_recipe_allows_them(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"mapping\.discount.*negative_amounts = true"):
        load_recipe(write_recipe(tmp_path, mapping='discount = "nominal"'))
    recipe = load_recipe(write_recipe(tmp_path, "negative_amounts = true",
                                      'discount = "nominal"'))
    assert recipe.sage.negative_amounts and recipe.mapping.discount == "nominal"
    doc = {"transaction_type": "SI", "grand_total": Decimal("8.00")}
    discount = [{"purpose": "goods", "nominal_code": "4000", "net_amount": Decimal(10),
                 "tax_amount": ZERO},
                {"purpose": "discount", "nominal_code": "4009", "net_amount": Decimal(-2),
                 "tax_amount": ZERO}]
    refused = _amount_problem(doc, discount, False)
    assert refused is not None and refused.code == "negative_amount"
    assert "negative_amounts = true" in refused.message
    assert _amount_problem(doc, discount, True) is None
    goods = _amount_problem(doc, [{**discount[0], "net_amount": Decimal(-1)}, discount[1]], True)
    assert goods is not None and goods.params["nominal"] == "4000"  # goods: never
    short = _amount_problem({**doc, "grand_total": Decimal(9)}, discount, True)
    assert short is not None and short.code == "rows_do_not_make_total"
    assert short.params == {"rows_total": "8", "total": "9"}


def test_a_split_overrides_only_the_fields_it_sets() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    doc = {"transaction_type": "SC", "account_ref": "WEBSALES", "posting_date": WHEN.date(),
           "reference": "000000001", "extra_reference": "000000002", "exchange_rate": None}
    split = {"nominal_code": "4000", "department": None, "details": "Cr 000000001 adjustment fee",
             "net_amount": Decimal(5), "tax_code": "T9", "tax_amount": ZERO,
             "transaction_type": None, "reference": None}
    merged = [renderer.render({**doc, **{k: v for k, v in s.items() if v is not None}})
              for s in (split, {**split, "transaction_type": "SI", "reference": "000000001-FEE"})]
    assert [(r[0], r[5]) for r in merged] == [("SC", "000000001"), ("SI", "000000001-FEE")]
    data = write_csv(AUDIT, merged, header=False, encoding="cp1252")
    assert data.count(b"\r\n") == 2 and b"-5.00" not in data
    with pytest.raises(RowRejected, match="Exchange Rate"):
        renderer.render({**doc, "exchange_rate": Decimal(-1), "nominal_code": "4000",
                         "net_amount": Decimal(5)})

