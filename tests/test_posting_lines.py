"""A posting keeps its lines: every item Magento sold, with SKU, quantity, row total, discount,
tax, rate and the nominal and tax code the recipe gave it; shipping, discounts, adjustments and
payments are lines too; the Sage 50 splits are a view of them (summed per split, rounded once).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.model.money import (
    UNITS,
    cents_of_units,
    decimal_of_cents,
    decimal_of_units,
    units_of,
)
from sagesync.model.schemas import MAGENTO_MONEY
from sagesync.pipeline.checkpoint import open_checkpoint
from sagesync.transform.documents import (
    HoldDocument,
    PostingLine,
    SageDocument,
    Split,
    _price_lines,
    split_columns,
    split_rows,
)
from sagesync.transform.lines import money_item_ids
from sagesync.transform.rows import as_units, cents_array, cents_of_money, units_array
from tests.conftest import DEMO_RECIPE
from tests.test_balance import build_drawn


def _lines_make_splits(document: SageDocument) -> None:
    """Each split is its lines' sum rounded once to cents (no rounding moved: see below)."""
    assert document.hold_reason is None, document.hold_reason
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line in document.lines:
        if line.split_no:
            sums[line.split_no][0] += line.net
            sums[line.split_no][1] += line.tax
        else:  # only a split summing to nothing is left out
            assert line.purpose in ("goods", "discount", "carriage", "adjustment_refund",
                                    "adjustment_fee")
    assert sorted(sums) == list(range(1, len(document.splits) + 1))
    moved = [w for w in document.warnings if w.startswith("rounding")]
    for number, split in enumerate(document.splits, start=1):
        net, tax = sums[number]
        sign = -1 if split.transaction_type else 1  # posted as the other type: flipped
        if not moved:
            assert (split.net, split.tax) == (sign * cents_of_units(net),
                                              sign * cents_of_units(tax))
        _posted_make_split(split, [line for line in document.lines if line.split_no == number],
                           sign)


def _posted_make_split(split: Split, members: list[PostingLine], sign: int) -> None:
    """The lines' posted cents make their split exactly (what a product writing lines at two
    places books), and each is its own amount rounded, moved by its share of the split's
    difference at most (the cents go to the largest lines first)."""
    for posted, own, target in (("posted_net", "net", split.net),
                                ("posted_tax", "tax", split.tax)):
        rounded = [sign * cents_of_units(getattr(line, own)) for line in members]
        assert sum(getattr(line, posted) for line in members) == target
        difference = target - sum(rounded)
        share = -(-abs(difference) // len(members))  # ceil
        for line, base in zip(members, rounded, strict=True):
            assert abs(getattr(line, posted) - base) <= share


def _items_kept(document: SageDocument, magento_lines: list[dict[str, Any]],
                order_items: list[dict[str, Any]], kind: str) -> None:
    """Every line that carries money is one goods line with Magento's own numbers."""
    counted = money_item_ids(order_items, "auto")
    by_id = {i["item_id"]: i for i in order_items}
    goods = [line for line in document.lines if line.purpose == "goods"]
    expected = []
    for line in magento_lines:
        item_id = line["item_id"] if kind == "order" else line["order_item_id"]
        if item_id in counted:
            expected.append((by_id[item_id]["sku"], item_id,
                             line["qty_ordered" if kind == "order" else "qty"],
                             line["base_row_total"] or 0, line["base_tax_amount"] or 0,
                             by_id[item_id]["tax_percent"]))
    assert [(g.sku, g.order_item_id, g.quantity, g.row_total, g.tax, g.rate) for g in goods] \
        == expected
    assert all(g.nominal_code and g.tax_code for g in goods)
    for g in goods:  # the unit price times the quantity is the row total, to Magento's places
        assert g.unit_price is not None and g.quantity
        assert abs(g.unit_price * g.quantity - g.row_total * UNITS) <= g.quantity * UNITS // 2


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["net", "nominal"]))
def test_lines_keep_every_item_and_the_splits_are_their_sums(data: st.DataObject,
                                                               discount: str) -> None:
    for kind, document, magento, lines, items in build_drawn(data, discount):
        if document.skip_reason:  # nothing to book (a zero total): nothing is kept either
            assert document.lines == [] and document.splits == []
            continue
        _lines_make_splits(document)
        _items_kept(document, lines, items, kind)
        # the splits table written column-wise is the rows split_rows describes
        columns = split_columns([document], 7)
        as_rows = [dict(zip(columns, values, strict=True))
                   for values in zip(*columns.values(), strict=True)]
        for row in as_rows:
            row["net_amount"] = decimal_of_cents(row["net_amount"])
            row["tax_amount"] = decimal_of_cents(row["tax_amount"])
        assert as_rows == split_rows(document, 7)
        # the lines' net and tax, in cents, make Magento's grand total within a cent a line
        net = sum(line.net for line in document.lines)
        tax = sum(line.tax for line in document.lines)
        grand = units_of(Decimal(str(magento["base_grand_total"])))
        assert abs(cents_of_units(net + tax) - cents_of_units(grand)) <= max(1, len(lines))
        discounted = {g.order_item_id for g in document.lines
                      if g.purpose == "goods" and g.discount}
        own = {d.order_item_id for d in document.lines
               if d.purpose == "discount" and d.order_item_id}
        # net: a line's discount is inside its net; nominal: a discount line of its own
        assert own == (set() if discount == "net" else discounted)


def test_the_pipeline_writes_the_lines_beside_the_splits(run_cli: Any, tmp_path: Path) -> None:
    """The sage-documents checkpoint's `lines` table (demo store): each ready document's lines,
    each naming its split, the splits' amounts the lines' sums rounded to cents."""
    state = tmp_path / "s"
    result = run_cli("--state-dir", str(state), "run", str(DEMO_RECIPE), "--out",
                     str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    documents = open_checkpoint(next(state.glob("runs/*/transform/manifest.json")))
    lines = documents.table("lines")
    splits = documents.table("splits")
    docs = documents.table("documents")
    ready = set(docs.filter(pc.equal(docs["status"], "ready"))["document_key"].to_pylist())
    assert lines.num_rows > 0
    assert set(lines["document_key"].to_pylist()) == ready
    sums: dict[tuple[str, int], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in lines.to_pylist():
        assert row["purpose"] and row["nominal_code"] and row["tax_code"]
        if row["purpose"] == "goods":
            assert row["sku"] and row["quantity"] > 0 and row["order_item_id"]
        sums[(row["document_key"], row["split_no"])][0] += row["net_amount"]
        sums[(row["document_key"], row["split_no"])][1] += row["tax_amount"]
    for split in splits.to_pylist():
        net, tax = sums[(split["document_key"], split["split_no"])]
        sign = -1 if split["transaction_type"] else 1
        assert abs(split["net_amount"] - sign * net.quantize(Decimal("0.01"))) <= \
            Decimal("0.01") * 5  # at most the rounding the balance moved onto it
        assert split["tax_amount"] == sign * tax.quantize(Decimal("0.01")) or \
            abs(split["tax_amount"] - sign * tax) <= Decimal("0.05")
    posted: dict[tuple[str, int], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in lines.to_pylist():
        posted[(row["document_key"], row["split_no"])][0] += row["posted_net"]
        posted[(row["document_key"], row["split_no"])][1] += row["posted_tax"]
    assert {(s["document_key"], s["split_no"]): [s["net_amount"], s["tax_amount"]]
            for s in splits.to_pylist()} == {k: v for k, v in posted.items() if k[1]}


def test_documents_carry_who_they_bill_and_the_carriage_tax(run_cli: Any,
                                                           tmp_path: Path) -> None:
    """Each document names who it bills (its order's billing address: the company, else the
    person) and its carriage split's tax code and rate, for formats that print them on every
    document (Sage 50 Canada's customer line and freight tax); none without carriage."""
    state = tmp_path / "s"
    result = run_cli("--state-dir", str(state), "run", str(DEMO_RECIPE), "--out",
                     str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    documents = open_checkpoint(next(state.glob("runs/*/transform/manifest.json")))
    docs = {(d["entity_type"], d["increment_id"]): d
            for d in documents.table("documents").to_pylist()}
    trade = docs[("invoice", "000000003")]
    assert [trade[k] for k in ("customer_name", "billing_street1", "billing_street2",
                               "billing_city", "billing_postcode", "billing_country_id",
                               "customer_email")] == [
        "Bartholomew O'Sullivan-Fitzgerald Trading Ltd", "Unit 4, Riverside Business Park",
        "Wharf Road", "Bristol", "BS1 6XY", "GB", "accounts@osf-trading.example.co.uk"]
    assert (trade["carriage_tax_code"], trade["carriage_tax_rate"]) == ("T1", Decimal(20))
    assert docs[("invoice", "000000001")]["customer_name"] == "Jane Whitfield"
    free = docs[("invoice", "000000006")]  # free shipping: no carriage split
    assert (free["carriage_net"], free["carriage_tax_code"], free["carriage_tax_rate"]) == \
        (Decimal("0.00"), None, None)


@given(st.integers(min_value=-(10 ** 17), max_value=10 ** 17))
def test_units_round_to_cents_exactly_as_decimal_half_up(units: int) -> None:
    """The one rounding rule of the hot path, against Decimal's ROUND_HALF_UP."""
    exact = (Decimal(units) / UNITS).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert decimal_of_cents(cents_of_units(units)) == exact
    assert units_of(decimal_of_units(units)) == units


@given(st.lists(st.one_of(st.none(), st.integers(min_value=-(10 ** 17), max_value=10 ** 17)),
                max_size=40))
def test_money_columns_go_to_units_and_back_without_a_decimal_per_value(
        values: list[int | None]) -> None:
    """Arrow decimal128 <-> integer units, one vectorised operation each way."""
    column = units_array(values)
    assert column.type == MAGENTO_MONEY
    assert column.to_pylist() == [None if v is None else decimal_of_units(v) for v in values]
    table = as_units(pa.table({"amount": column}))
    assert table["amount"].to_pylist() == values
    cents = [None if v is None else v // 100 for v in values]
    expected = [None if c is None else decimal_of_cents(c) for c in cents]
    assert cents_array(cents).to_pylist() == expected
    # the integers' buffers are read with the money type's scale: an Arrow array that is a
    # slice (an offset into its buffers) or chunked must come out the same
    padded = pa.array([7, None, *cents], pa.int64()).slice(2)
    assert cents_array(padded).to_pylist() == expected
    chunked = pa.chunked_array([padded.slice(0, len(cents) // 2),
                                padded.slice(len(cents) // 2)], pa.int64())
    assert cents_array(chunked).to_pylist() == expected
    assert units_array(chunked).to_pylist() == [None if c is None else decimal_of_units(c)
                                                for c in cents]
    # and back: a money column's integers are read where its slice starts
    money = cents_array([1, *cents])
    assert cents_of_money(money.slice(1)).to_pylist() == cents
    assert cents_of_money(pa.chunked_array([money.slice(1)])).to_pylist() == cents
    sliced = pa.table({"amount": units_array([5, *values]).slice(1)})
    assert as_units(sliced)["amount"].to_pylist() == values


def test_an_amount_past_a_money_columns_precision_is_refused() -> None:
    """Eighteen digits in all: one more is an error, never a number cut short."""
    assert cents_array([10 ** 18 - 1]).to_pylist() == [Decimal("9999999999999999.99")]
    for too_big in (10 ** 18, -(10 ** 18), 2 ** 63 - 1):
        with pytest.raises(pa.ArrowInvalid, match="precision"):
            cents_array([too_big])
        with pytest.raises(pa.ArrowInvalid, match="precision"):
            units_array(pa.array([too_big], pa.int64()))


def _priced(quantity: int | None, cents: int, places: int) -> PostingLine:
    line = PostingLine("goods" if quantity else "carriage", "4000", "T1", 0, sku="24-MB01"
                       if quantity else None, quantity=quantity, split_no=1, posted_net=cents)
    _price_lines([line], places)
    return line


def test_a_lines_unit_price_is_its_posted_net_per_unit_and_an_inexact_one_holds() -> None:
    assert _priced(3 * UNITS, 1000, 4).posted_price == 33333  # 3 x 3.3333 is 10.00 in cents
    assert _priced(None, 495, 4).posted_price == 49500  # shipping: one of 4.95
    assert _priced(150 * UNITS, 1000, 0).posted_price == 667  # a product taking amounts
    with pytest.raises(HoldDocument) as held:  # 150 x 0.0667 = 10.005, 10.01 in cents
        _priced(150 * UNITS, 1000, 4)
    assert held.value.hold.code == "unit_price_not_exact"
    assert dict(held.value.hold.params) == {"line": "'24-MB01'", "quantity": "150",
                                            "net": "10.00", "places": 4, "price": "0.0667",
                                            "amount": "10.01"}
    assert _priced(150 * UNITS, 1050, 4).posted_price == 700  # 150 x 0.07 is exact


@given(st.integers(1, 99 * UNITS + 9999), st.integers(0, 10**9), st.sampled_from([2, 3, 4]))
def test_under_a_hundred_units_some_price_always_makes_the_net(quantity: int, cents: int,
                                                               places: int) -> None:
    """quantity x the half-up price is within quantity x half a unit of the last place of the
    net: under half a cent for fewer than 100 units at four places, so never held; at fewer
    places, held exactly when no price makes it."""
    try:
        price = _priced(quantity, cents, places).posted_price
    except HoldDocument:
        assert places < 4
        return
    amount = Decimal(price).scaleb(-4) * Decimal(quantity).scaleb(-4)
    assert amount.quantize(Decimal("0.01"), ROUND_HALF_UP) == decimal_of_cents(cents)
