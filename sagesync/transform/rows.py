"""Export tables -> the rows the posting rules read: every Magento amount as integer units.

The conversion is one vectorised Arrow operation per money column: a decimal128(18,4)'s
unscaled integers are its amounts in units (UNITS to the unit), read with scale 0 and cast to
int64, so the rules add and compare Python ints and never build a Decimal per value. Exchange
rates stay Decimal: they are not money and have eight places.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.model.schemas import MAGENTO_MONEY, SAGE_MONEY

_HUNDRED = pa.scalar(Decimal(100), pa.decimal128(3, 0))
_WHOLE = pa.decimal128(19, 0)


def as_units(table: pa.Table) -> pa.Table:
    """The table with each Magento money column replaced by int64 units (null stays null)."""
    for index, field in enumerate(table.schema):
        if field.type == MAGENTO_MONEY:
            table = table.set_column(index, pa.field(field.name, pa.int64()),
                                     _unscaled(table.column(index)))
    return table


def posting_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows as dicts, amounts in units (what DocumentBuilder.build takes)."""
    return as_units(table).to_pylist()


Integers: TypeAlias = "list[int | None] | pa.Array | pa.ChunkedArray"


def _scaled(values: Integers, type_: pa.Decimal128Type) -> pa.Array | pa.ChunkedArray:
    """Integers read as the unscaled values of `type_` (cents as decimal128(18,2), units as
    decimal128(18,4)): cast to decimal128(19,0) (an int64 needs 19 digits), the same 16-byte
    integers taken with `type_`'s scale, then narrowed to its precision, which checks that
    each fits. No division: dividing decimals took four times as long."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pa.array(values, pa.int64())
    whole = values.cast(_WHOLE)
    wide = pa.decimal128(_WHOLE.precision, type_.scale)
    if isinstance(whole, pa.ChunkedArray):
        return pa.chunked_array([_as(wide, chunk) for chunk in whole.chunks], wide).cast(type_)
    return _as(wide, whole).cast(type_)


def _as(type_: pa.DataType, array: pa.Array) -> pa.Array:
    """The array's buffers as `type_`, of the same physical layout."""
    return pa.Array.from_buffers(type_, len(array), array.buffers(), array.null_count,
                                 array.offset)


def cents_of_money(money: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A Sage money column (two places) as int64 cents, exactly: the inverse of cents_array."""
    if money.type == SAGE_MONEY:
        return _unscaled(money)
    return pc.cast(pc.multiply(money, _HUNDRED), pa.int64())


def _unscaled(money: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A money column's unscaled integers (cents at two places, units at four) as int64: its
    16-byte integers read with scale 0, no multiplication (18 digits always fit in int64)."""
    if isinstance(money, pa.ChunkedArray):
        return pa.chunked_array([_unscaled(chunk) for chunk in money.chunks], pa.int64())
    return _as(pa.decimal128(money.type.precision, 0), money).cast(pa.int64())


def cents_array(cents: Integers) -> pa.Array:
    """Integer cents as a Sage money column (decimal128(18,2)), exactly."""
    return _scaled(cents, SAGE_MONEY)


def units_array(units: Integers) -> pa.Array:
    """Integer units as a Magento money column (decimal128(18,4)), exactly."""
    return _scaled(units, MAGENTO_MONEY)


def typed_table(schema: pa.Schema, columns: Mapping[str, Any], cents: tuple[str, ...] = (),
                units: tuple[str, ...] = ()) -> pa.Table:
    """A table of `schema` from columns of Python values or Arrow arrays: the `cents` and
    `units` columns (integers) become their decimal types in one operation each."""
    if all(len(columns[column.name]) == 0 for column in schema):
        # no row: a slice taken column-wise builds no document one at a time, and converting
        # nothing cost some forty Arrow calls a table
        return schema.empty_table()
    arrays = []
    for column in schema:
        values = columns[column.name]
        if column.name in cents:
            arrays.append(cents_array(values))
        elif column.name in units:
            arrays.append(units_array(values))
        elif isinstance(values, pa.Array | pa.ChunkedArray):  # a cast to its own type costs
            arrays.append(values if values.type == column.type else values.cast(column.type))
        else:
            arrays.append(pa.array(values, column.type))
    return pa.Table.from_arrays(arrays, schema=schema)
