"""Shipment rows: one despatched line of a Sage order, with its consignment's tracking.

A despatch export has a row per order line despatched: the order, the item, the quantity and
the consignment's carrier and tracking number. The tracking number is required: a shipment is
told to Magento once per order and tracking number (pipeline.shipment_step), so a line without
one could not be told apart from the same line read again. A tracking number is a long number
Excel turns into scientific notation; `codes` refuses that, as it does for SKUs.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.model.words import plural
from sagesync.sage.frame import Built, Frame
from sagesync.sage.stock import sku_column
from sagesync.sage.tables import QTY, SAGE_SHIPMENTS
from sagesync.sage.values import codes, dates, quantities


def _code(frame: Frame, name: str) -> pa.Array:
    column = frame.column(name)
    cells = frame.cells(name)
    assert cells is not None and column is not None  # resolve() guarantees required columns
    return codes(cells, name, column, frame.sink, default=None, width=None,
                 raw=frame.raw(column))


def _text(frame: Frame, name: str) -> pa.Array:
    """An optional text column: blank is null."""
    cells = frame.cells(name)
    if cells is None:
        return pa.nulls(frame.n, pa.string())
    return pc.if_else(pc.equal(pc.utf8_length(cells), 0), pa.scalar(None, pa.string()), cells)


def build_shipments(frame: Frame) -> Built:
    """Typed despatch lines; a line despatched with quantity 0 (Sage lists an order's lines
    not sent yet in some reports) is left out with a note, as it ships nothing."""
    cells = frame.cells("quantity")
    assert cells is not None
    quantity = quantities(cells, "quantity", frame.column("quantity"), frame.sink,
                          blank="error", decimal_comma=frame.options.decimal_comma)
    shipped_cells = frame.cells("shipped_at")
    shipped = (pa.nulls(frame.n, pa.date32()) if shipped_cells is None else
               dates(shipped_cells, frame.column("shipped_at"), frame.sink,
                     frame.options.date_format or frame.layout.date_format))
    table = pa.table([_code(frame, "order"), sku_column(frame), quantity,
                      _code(frame, "carrier"), _code(frame, "tracking_number"),
                      _text(frame, "title"), shipped, pa.array(frame.lines, pa.int32())],
                     schema=SAGE_SHIPMENTS)
    zero = pc.fill_null(pc.equal(quantity, pa.scalar(0, QTY)), False)
    count = pc.sum(zero).as_py() or 0
    rows = pa.array(range(frame.n), pa.int64())
    if count:
        frame.notes.append(f"{plural(count, 'line')} with quantity 0 left out: nothing of them "
                           "was despatched")
        keep = pc.invert(zero)
        return Built(table.filter(keep), rows.filter(keep))
    return Built(table, rows)
