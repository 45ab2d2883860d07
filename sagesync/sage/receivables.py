"""Receivables rows: what Sage says is still owed on each document sagesync posted.

A receivables export (an aged-debtors / open-items report, or the customer activity of every
account) has one row per Sage document. The reference is the one sagesync wrote (the Magento
increment id), so a row finds its Magento order through the ledger. Outstanding 0 means paid;
a credit note's balance may be negative, so amounts are signed here.
"""

from __future__ import annotations

import pyarrow as pa

from sagesync.sage.frame import Built, Frame
from sagesync.sage.stock import date_column
from sagesync.sage.tables import QTY, SAGE_RECEIVABLES
from sagesync.sage.values import codes, dates, quantities


def _text(frame: Frame, name: str) -> pa.Array:
    cells = frame.cells(name)
    if cells is None:  # blank rather than null: a row without a type still has its key
        return frame.constant("", pa.string())
    return codes(cells, name, frame.column(name), frame.sink, default="", width=None,
                 raw=frame.raw(frame.column(name)))  # type: ignore[arg-type]


def _money(frame: Frame, name: str, blank: str) -> pa.Array:
    cells = frame.cells(name)
    if cells is None:
        return pa.nulls(frame.n, QTY)
    return quantities(cells, name, frame.column(name), frame.sink, blank=blank,
                      decimal_comma=frame.options.decimal_comma, signed=True)


def _date(frame: Frame, name: str) -> pa.Array:
    cells = frame.cells(name)
    if cells is None:
        return pa.nulls(frame.n, pa.date32())
    fmt = frame.options.date_format or frame.layout.date_format
    return dates(cells, frame.column(name), frame.sink, fmt, field=name)


def build_receivables(frame: Frame) -> Built:
    """Typed receivables rows, one per input row."""
    column = frame.column("reference")
    cells = frame.cells("reference")
    assert cells is not None and column is not None  # resolve() guarantees it
    references = codes(cells, "reference", column, frame.sink, default=None, width=None,
                       raw=frame.raw(column))
    table = pa.table([
        references, _text(frame, "type"), _text(frame, "invoice"), _text(frame, "account"),
        _money(frame, "amount", "null"), _money(frame, "outstanding", "error"),
        _date(frame, "paid_date"), _date(frame, "due_date"), date_column(frame),
        pa.array(frame.lines, pa.int32()),
    ], schema=SAGE_RECEIVABLES)
    return Built(table, pa.array(range(frame.n), pa.int64()))
