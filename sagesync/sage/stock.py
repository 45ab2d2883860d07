"""Stock rows: sku, warehouse, on hand, allocated and on order per item and warehouse.

Mapping to Magento (reference §12 "Inventory parsers"): on_hand feeds the source-item
quantity; allocated is what Sage has promised to sales orders, so salable = on_hand - allocated.
Sage 100's committed quantity is on sales order + on back order (reference §3), so a
back_ordered column is added to allocated.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.model.words import plural
from sagesync.sage.frame import Built, Frame
from sagesync.sage.layouts import DEFAULT_WAREHOUSE
from sagesync.sage.tables import QTY, SAGE_STOCK
from sagesync.sage.values import SKU_MAX_LENGTH, codes, dates, quantities, stripped_zeros


def _qty(frame: Frame, name: str, blank: str) -> pa.Array:
    cells = frame.cells(name)
    if cells is None:
        return frame.constant(0, QTY)
    return quantities(cells, name, frame.column(name), frame.sink, blank=blank,
                      decimal_comma=frame.options.decimal_comma)


def sku_column(frame: Frame) -> pa.Array:
    """Checked SKUs (shared with prices): padded if configured, stripped zeros reported.

    A SKU Magento cannot hold (over 64 characters) or that is not what it looks like (an
    invisible character, a non-breaking space at either end) is a problem. Ordinary spaces and
    tabs around it are trimmed with a note: Sage pads fixed-width codes and ignores them
    (reference §1.1), Magento trims SKUs on save (magento2#16572) and its inventory API refuses
    a SKU with leading or trailing spaces, so no Magento SKU can have them."""
    options, column = frame.options, frame.column("sku")
    cells = frame.cells("sku")
    assert cells is not None and column is not None  # resolve() guarantees the sku column
    raw = frame.raw(column)
    skus = codes(cells, "sku", column, frame.sink, default=None, width=options.sku_width,
                 raw=raw, max_length=SKU_MAX_LENGTH)
    # Trimmed cells shorter than written, and not refused: ordinary spaces or tabs went.
    spaced = pc.and_(pc.is_valid(skus), pc.not_equal(pc.utf8_length(raw), pc.utf8_length(cells)))
    count = pc.sum(spaced).as_py() or 0
    if count:
        first = frame.lines[pc.index(spaced, True).as_py()].as_py()
        frame.notes.append(f"{plural(count, 'SKU')} had spaces before or after them, removed "
                           "(the first "
                           f"on line {first}): Magento SKUs never have them")
    if options.known_skus:
        stripped_zeros(skus, options.known_skus, column, frame.sink)
    return skus


def date_column(frame: Frame) -> pa.Array:
    """A mapped date column, checked against the recipe's or the product's format."""
    cells = frame.cells("date")
    if cells is None:
        return pa.nulls(frame.n, pa.date32())
    fmt = frame.options.date_format or frame.layout.date_format
    return dates(cells, frame.column("date"), frame.sink, fmt)


def build_stock(frame: Frame) -> Built:
    """Typed stock rows, one per input row; bad cells are already in the frame's sink."""
    options = frame.options
    skus = sku_column(frame)
    cells = frame.cells("warehouse")
    default = options.warehouse or (DEFAULT_WAREHOUSE if frame.layout.single_location else None)
    if cells is None:
        warehouses = frame.constant(default, pa.string())
    else:
        warehouses = codes(cells, "warehouse", frame.column("warehouse"), frame.sink,
                           default=default, width=options.warehouse_width,
                           digits=frame.layout.warehouse_digits)
    on_hand = _qty(frame, "on_hand", "error")
    allocated = _qty(frame, "allocated", "zero")
    if frame.column("back_ordered") is not None:
        allocated = pc.cast(pc.add(allocated, _qty(frame, "back_ordered", "zero")), QTY)
    on_order = _qty(frame, "on_order", "zero")
    table = pa.table([skus, warehouses, on_hand, allocated, on_order, date_column(frame),
                      pa.array(frame.lines, pa.int32())], schema=SAGE_STOCK)
    return Built(table, pa.array(range(frame.n), pa.int64()))


def extra_keys(frame: Frame) -> dict[str, pa.Array]:
    """Bin and lot codes (Sage X3 STOCK has a row per location and lot inside a site, §6)."""
    out = {}
    for name in ("bin", "lot"):
        cells = frame.cells(name)
        if cells is not None:
            out[name] = codes(cells, name, frame.column(name), frame.sink, default="",
                              width=None)
    return out


def sum_bins(table: pa.Table) -> pa.Table:
    """One row per sku and warehouse: bins and lots summed, first line kept, file order kept."""
    grouped = table.group_by(["sku", "warehouse"], use_threads=False).aggregate([
        ("on_hand", "sum"), ("allocated", "sum"), ("on_order", "sum"), ("date", "max"),
        ("source_line", "min"),
    ])
    grouped = grouped.sort_by("source_line_min")
    return pa.table([
        grouped["sku"], grouped["warehouse"],
        *(pc.cast(grouped[f"{q}_sum"], QTY) for q in ("on_hand", "allocated", "on_order")),
        grouped["date_max"], grouped["source_line_min"],
    ], schema=SAGE_STOCK)
