"""Price rows: sku, price list, quantity break, currency and unit price.

Two shapes: long (one row per item, list and break: Sage 50 UK PRICE, Sage 200 selling prices,
Sage 300 ICPRICP, Intacct price lists) and wide (Sage 50 US ITEM.CSV: one row per item with
"Sales Price 1".."Sales Price 10", reference §2.3, which become price lists LEVEL1..LEVEL10).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.sage.frame import Built, Frame
from sagesync.sage.stock import date_column, sku_column
from sagesync.sage.tables import QTY, SAGE_PRICES
from sagesync.sage.values import codes, currencies, quantities

LEVEL_NAME = "LEVEL{}"


def _currency(frame: Frame) -> pa.Array:
    cells = frame.cells("currency")
    if cells is None:
        return frame.constant(frame.options.currency, pa.string())
    return currencies(cells, frame.column("currency"), frame.sink, frame.options.currency)


def _min_qty(frame: Frame) -> pa.Array:
    cells = frame.cells("min_qty")
    if cells is None:
        return frame.constant(1, QTY)
    return quantities(cells, "min_qty", frame.column("min_qty"), frame.sink, blank="one",
                      decimal_comma=frame.options.decimal_comma)


def build_prices(frame: Frame) -> Built:
    """Typed price rows; the wide layout yields one row per item and non-empty level."""
    if frame.resolution.levels:
        return _build_levels(frame)
    options = frame.options
    skus = sku_column(frame)
    default = options.price_list or frame.layout.default_price_list
    cells = frame.cells("price_list")
    if cells is None:
        lists = frame.constant(default, pa.string())
    else:
        lists = codes(cells, "price_list", frame.column("price_list"), frame.sink,
                      default=default, width=None)
    price_cells = frame.cells("price")
    assert price_cells is not None  # resolve() guarantees it without levels
    prices = quantities(price_cells, "price", frame.column("price"), frame.sink, blank="error",
                        decimal_comma=options.decimal_comma)
    table = pa.table([skus, lists, _min_qty(frame), _currency(frame), prices,
                      date_column(frame), pa.array(frame.lines, pa.int32())],
                     schema=SAGE_PRICES)
    return Built(table, pa.array(range(frame.n), pa.int64()))


def _build_levels(frame: Frame) -> Built:
    """Melt Sales Price N columns into rows. A blank or 0.00 level is unused: no row."""
    skus = sku_column(frame)
    currency = _currency(frame)
    dates_ = date_column(frame)
    min_qty = _min_qty(frame)
    lines = pa.array(frame.lines, pa.int32())
    tables, sources, order = [], [], []
    for level, column in frame.resolution.levels:
        cells = frame.at(column)
        prices = quantities(cells, "price", column, frame.sink, blank="zero",
                            decimal_comma=frame.options.decimal_comma)
        used = pc.fill_null(pc.not_equal(prices, pa.scalar(0, QTY)), True)
        rows = pc.indices_nonzero(used)
        name = LEVEL_NAME.format(level)
        tables.append(pa.table([
            skus.take(rows), pa.repeat(pa.scalar(name), len(rows)), min_qty.take(rows),
            currency.take(rows), prices.take(rows), dates_.take(rows), lines.take(rows),
        ], schema=SAGE_PRICES))
        sources.append(rows.cast(pa.int64()))
        order.append(pa.repeat(pa.scalar(level, pa.int32()), len(rows)))
    if not tables:
        return Built(SAGE_PRICES.empty_table(), pa.array([], pa.int64()))
    source = pa.concat_arrays(sources)
    # File order: by input row, then by level number (LEVEL2 before LEVEL10).
    by = pa.table({"row": source, "level": pa.concat_arrays(order)})
    sort = pc.sort_indices(by, sort_keys=[("row", "ascending"), ("level", "ascending")])
    return Built(pa.concat_tables(tables).take(sort), source.take(sort))
