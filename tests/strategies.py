"""Hypothesis strategies for Magento orders and credit memos, built on sagesync.testing.factory.

Why: property tests must show the Sage transform balances to the cent for *any* order Magento
could produce — composite products, discounts, several VAT rates, tax-inclusive prices — so the
inputs are drawn here from the same specs the samples and the benchmark use.

    from tests.strategies import creditmemo_args, order_specs

    @given(order_specs())
    def test_x(spec): order = build_order(spec) ...

    @given(st.data())
    def test_y(data): order = build_order(data.draw(order_specs(invoiced=True)))
                      memo = build_creditmemo(order, 1, "1", when, **data.draw(
                          creditmemo_args(order)))

`money_order_specs()` adds what the core fields do not carry: Adobe Commerce payments (gift
card, store credit, reward points, up to the whole total), a third-party COD surcharge, and a
foreign order currency with its rate.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from sagesync.testing.factory import (
    AddressSpec,
    CustomerSpec,
    LineSpec,
    OrderSpec,
    build_creditmemo,
    build_order,
    customer_spec,
    to_decimal,
)

TAX_RATES = (Decimal(20), Decimal(5), Decimal(0), Decimal("17.5"))
DISCOUNTS = (Decimal(0), Decimal(5), Decimal(10), Decimal("12.5"), Decimal(15),
             Decimal("33.33"), Decimal(50), Decimal(100))
# Text that has broken CSV writers and spreadsheets before: separators, quotes, formulas, accents.
TRICKY_TEXT = ("O'Neill", "Smith, Jones & Co", 'Tee "Classic" Fit', "=HYPERLINK(\"x\")",
               "+44 20 7946 0000", "-5", "@SUM(A1)", "Zoë Brontë", "Ní Bhriain", "line\nbreak",
               "tab\there", "  padded  ", "ÆØÅ æøå")


def cents(low: int = 1, high: int = 99_999) -> st.SearchStrategy[Decimal]:
    """Two-place Decimal amounts between low/100 and high/100."""
    return st.integers(low, high).map(lambda c: Decimal(c) / 100)


def texts() -> st.SearchStrategy[str]:
    """Names and labels: known troublemakers or any short printable text."""
    return st.one_of(
        st.sampled_from(TRICKY_TEXT),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                min_size=1, max_size=30),
    )


skus = st.from_regex(r"[A-Z0-9]{2,4}-[A-Z0-9]{2,6}(-[A-Za-z0-9]{1,5})?", fullmatch=True)


@st.composite
def line_specs(draw: st.DrawFn) -> LineSpec:
    """One cart row of any kind; bundle children carry their own price, rate and discount."""
    kind = draw(st.sampled_from(("simple", "configurable", "bundle_dynamic", "bundle_fixed")))
    sku, name, qty = draw(skus), draw(texts()), draw(st.integers(1, 12))
    rate, discount = draw(st.sampled_from(TAX_RATES)), draw(st.sampled_from(DISCOUNTS))
    price = draw(cents(1, 250_000))
    if kind == "simple":
        return LineSpec(sku, name, qty, price, rate, discount)
    if kind == "configurable":
        return LineSpec(sku, name, qty, price, rate, discount, "configurable",
                        (LineSpec(sku, f"{name}-{sku}"),))
    count = draw(st.integers(1, 4))
    if kind == "bundle_fixed":
        children = tuple(LineSpec(draw(skus), draw(texts()), draw(st.integers(1, 3)))
                         for _ in range(count))
        return LineSpec(sku, name, qty, price, rate, discount, "bundle_fixed", children)
    children = tuple(
        LineSpec(draw(skus), draw(texts()), draw(st.integers(1, 3)), draw(cents(1, 50_000)),
                 draw(st.sampled_from(TAX_RATES)), discount)
        for _ in range(count))
    return LineSpec(sku, name, qty, kind="bundle_dynamic", children=children)


@st.composite
def customers(draw: st.DrawFn) -> CustomerSpec:
    """A guest with arbitrary names, or one of the benchmark's registered customers."""
    if draw(st.booleans()):
        return customer_spec(draw(st.integers(1, 5_000)))
    first, last = draw(texts()), draw(texts())
    address = AddressSpec(first, last, (draw(texts()),), draw(texts()), "SW1A 1AA",
                          "020 7946 0000", company=draw(st.none() | texts()))
    return CustomerSpec("guest@example.com", first, last, address)


@st.composite
def order_specs(
    draw: st.DrawFn, *, invoiced: bool | None = None, max_lines: int = 6,
) -> OrderSpec:
    """A valid order spec. `invoiced=True` forces a fully invoiced order (refundable)."""
    entity_id = draw(st.integers(1, 10_000_000))
    state = ("complete" if invoiced else
             "processing" if invoiced is False else
             draw(st.sampled_from(("complete", "processing", "canceled"))))
    is_invoiced = invoiced if invoiced is not None else state == "complete"
    free = draw(st.booleans())
    apply_to_shipping = draw(st.booleans())
    created = draw(st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31),
                                timezones=st.just(UTC)))
    return OrderSpec(
        entity_id=entity_id,
        increment_id=f"{entity_id:09d}",
        created_at=created,
        customer=draw(customers()),
        lines=tuple(draw(st.lists(line_specs(), min_size=1, max_size=max_lines))),
        store_id=draw(st.sampled_from((1, 2))),
        shipping_amount=Decimal(0) if free else draw(cents(1, 5_000)),
        shipping_tax_percent=draw(st.sampled_from(TAX_RATES)),
        shipping_method="freeshipping_freeshipping" if free else "flatrate_flatrate",
        shipping_description="Free Shipping - Free" if free else "Flat Rate - Fixed",
        coupon_code=draw(st.none() | st.just("SAVE")),
        discount_applies_to_shipping=apply_to_shipping,
        shipping_discount_percent=(draw(st.none() | st.sampled_from(DISCOUNTS))
                                   if apply_to_shipping else None),
        prices_include_tax=draw(st.booleans()),
        state=state,
        invoiced=is_invoiced,
        updated_at=created + timedelta(seconds=draw(st.integers(0, 86_400))),
    )


# (order currency, rate) against a GBP base: a real rate, a rate of 1, and the corpus's SAR one.
FOREIGN = (("EUR", Decimal("1.1765")), ("USD", Decimal("1.2644")), ("SAR", Decimal("3.75")),
           ("EUR", Decimal(1)), ("JPY", Decimal("188.5312")))


@st.composite
def money_order_specs(draw: st.DrawFn, *, invoiced: bool | None = True) -> OrderSpec:
    """An order spec with payments off the total, a COD surcharge and maybe a foreign currency.

    Payments are drawn up to the whole total (a gift card may pay for everything, which makes
    a zero-total document that still carries revenue)."""
    spec = draw(order_specs(invoiced=invoiced))
    if draw(st.booleans()):
        currency, rate = draw(st.sampled_from(FOREIGN))
        spec = replace(spec, order_currency=currency, base_to_order_rate=rate)
    spec = replace(spec, cod_fee=draw(st.just(Decimal(0)) | cents(1, 1_500)))
    probe = build_order(spec)
    rate = spec.base_to_order_rate
    room = min(to_decimal(probe["base_grand_total"]),
               (to_decimal(probe["grand_total"]) / rate).quantize(Decimal("0.01"), ROUND_DOWN))
    room -= Decimal("0.02") if rate != 1 else 0  # each payment is converted and rounded alone
    payments = {}
    for name in ("gift_card_amount", "store_credit_amount", "reward_amount"):
        cap = int(max(room, Decimal(0)) * 100)
        amount = Decimal(draw(st.sampled_from((0, cap)) | st.integers(0, cap))) / 100
        payments[name] = amount
        room -= amount
    spec = replace(spec, **payments)
    try:
        build_order(spec)
    except ValueError:  # a rounding corner the room above did not cover
        assume(False)
    return spec


@st.composite
def creditmemo_args(draw: st.DrawFn, order: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for `build_creditmemo`.

    Without an order: only the adjustments (positive refund, negative fee). With a fully
    invoiced `order`: also `lines` (a non-empty subset of its top-level rows, part quantities
    allowed) and `refund_shipping` (none, part or all), and the fee is capped so the memo's
    grand total stays >= 0 — Magento refuses a credit memo with a negative total.
    """
    positive = draw(st.just(Decimal(0)) | cents(1, 10_000))
    if order is None:
        return {"adjustment_positive": positive,
                "adjustment_negative": draw(st.just(Decimal(0)) | cents(1, 10_000))}
    top = [item for item in order["items"] if "parent_item_id" not in item]
    chosen = draw(st.lists(st.sampled_from(top), min_size=1, unique_by=lambda i: i["item_id"]))
    lines = {item["item_id"]: draw(st.integers(1, int(to_decimal(item["qty_ordered"]))))
             for item in chosen}
    shipping_cents = int(to_decimal(order.get("shipping_amount")) * 100)
    refund_shipping = (Decimal(draw(st.sampled_from((0, shipping_cents))
                                    | st.integers(0, shipping_cents))) / 100)
    args: dict[str, Any] = {"lines": lines, "refund_shipping": refund_shipping,
                            "adjustment_positive": positive}
    probe = build_creditmemo(order, 1, "probe", datetime(2027, 12, 31, tzinfo=UTC), **args)
    rate = to_decimal(order.get("base_to_order_rate", 1))  # both currencies must stay >= 0
    ceiling = int(min(to_decimal(probe["grand_total"]),
                      to_decimal(probe["base_grand_total"]) * rate - Decimal("0.01") * rate
                      if rate != 1 else to_decimal(probe["grand_total"])) * 100)
    args["adjustment_negative"] = Decimal(draw(st.just(0) | st.integers(0, max(ceiling, 0)))) / 100
    return args
