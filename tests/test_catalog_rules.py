"""Stock and price rules: the vectorised stock computation equals the plain rule row by row,
and the price guard trips exactly when too many prices jump."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.catalog.guard import check_prices
from sagesync.catalog.prices import ALL_GROUPS, PriceRules, price_lines
from sagesync.catalog.stock import Buffer, StockRules, available, stock_table

QTY = pa.decimal128(18, 4)
quantities = st.decimals(min_value=0, max_value=10**7, places=4, allow_nan=False)
buffers = st.builds(Buffer, st.decimals(0, 100, places=2), st.decimals(0, 50, places=1))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["A1", "A2", "B1", "C9"]),
                               st.sampled_from(["W1", "W2", "W3"]), quantities, quantities),
                     max_size=30),
       default=buffers, sku_buffer=buffers, prefix_buffer=buffers,
       includes_web=st.booleans())
def test_vectorised_stock_equals_the_plain_rule(rows: list, default: Buffer, sku_buffer: Buffer,
                                                prefix_buffer: Buffer,
                                                includes_web: bool) -> None:
    rules = StockRules(default, {"B1": sku_buffer}, (("A", prefix_buffer),), includes_web,
                       {"W1": "default", "W2": "east"}, "default")
    table = pa.table({"sku": [r[0] for r in rows], "warehouse": [r[1] for r in rows],
                      "on_hand": pa.array([r[2] for r in rows], QTY),
                      "allocated": pa.array([r[3] for r in rows], QTY)})
    payload, unmapped = stock_table(table, rules)
    expected = []
    for sku, warehouse, on_hand, allocated in rows:
        if warehouse == "W3":
            continue
        quantity, buffer = available({"sku": sku, "on_hand": on_hand, "allocated": allocated},
                                     rules)
        expected.append((sku, rules.sources[warehouse], quantity, 1 if quantity > 0 else 0,
                         buffer))
    got = [(r["sku"], r["source_code"], r["quantity"], r["status"], r["buffer"])
           for r in payload.to_pylist()]
    assert got == expected
    assert all(q >= 0 and q == q.to_integral_value() for _, _, q, _, _ in got)
    assert unmapped == (["W3"] if any(r[1] == "W3" for r in rows) else [])


def test_guard_trips_on_many_big_moves_and_not_on_a_few() -> None:
    previous = {f"S{n}": Decimal("10.00") for n in range(100)}
    few = {**previous, "S1": Decimal("30.00"), "S2": Decimal("0")}
    assert not check_prices(few, previous, Decimal(25), Decimal(10)).tripped
    shifted = {k: v / 10 for k, v in previous.items()}
    verdict = check_prices(shifted, previous, Decimal(25), Decimal(10))
    assert verdict.tripped and len(verdict.suspicious) == 100
    new_only = {"NEW": Decimal("1.00")}
    assert not check_prices(new_only, previous, Decimal(25), Decimal(10)).tripped


def test_price_lists_become_base_and_group_tier_prices() -> None:
    rules = PriceRules("BASE", {"TRADE": "Wholesale"})
    rows = [{"sku": "A", "price_list": "BASE", "min_qty": Decimal(1), "price": Decimal("9.99")},
            {"sku": "A", "price_list": "BASE", "min_qty": Decimal(10), "price": Decimal("8")},
            {"sku": "A", "price_list": "TRADE", "min_qty": Decimal(5), "price": Decimal("7")},
            {"sku": "A", "price_list": "STAFF", "min_qty": Decimal(1), "price": Decimal("5")}]
    lines, unmapped = price_lines(rows, rules)
    assert [(p.kind, p.group, p.quantity, p.price) for p in lines] == [
        ("base", "", Decimal(1), Decimal("9.99")),
        ("tier", ALL_GROUPS, Decimal(10), Decimal(8)),
        ("tier", "Wholesale", Decimal(5), Decimal(7))]
    assert unmapped == {"STAFF"}
