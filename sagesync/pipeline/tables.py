"""Checkpoint tables read a few row groups at a time, so memory stays flat however large the
checkpoint: the rows holding some values of a key (`KeyedTable`), or the rows in an order of
the caller's, a window of it at a time (`OrderedTable`).

Steps write their tables in row groups of a few thousand rows (checkpoint.CheckpointWriter),
mostly in the order the next step reads them (Magento's pages come sorted by entity id; the
transform keeps that order), so a window finds its rows in one or two row groups, and the last
one read stays decoded for the next one. Any other order is read right, only more slowly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# The helper columns a window's rows carry while they are put in order.
PLACE, _ROW = "_place", "_row"


class _Groups:
    """A Parquet file's row groups, decoded on demand (`columns` only), the last CACHED kept."""

    # A window read in order spans one or two groups, each decoded once within the window,
    # and the next window starts in the last: at 200,000 orders keeping two decoded one group
    # no fewer than keeping one, and cost the transform's processes 7 MB more.
    CACHED = 1

    def __init__(self, file: pq.ParquetFile, columns: Sequence[str] | None,
                 prepare: Callable[[pa.Table], pa.Table]) -> None:
        self.file, self.columns, self.prepare = file, columns, prepare
        self.cache: OrderedDict[int, pa.Table] = OrderedDict()

    def group(self, number: int) -> pa.Table:
        table = self.cache.pop(number, None)
        if table is None:  # on Arrow's threads: the columns decode side by side
            table = self.prepare(self.file.read_row_group(number, columns=self.columns))
        self.cache[number] = table
        while len(self.cache) > self.CACHED:
            self.cache.popitem(last=False)
        return table


class KeyedTable:
    """A checkpoint table read by one int64 key: `rows(values)` decodes only the row groups
    whose key range, from the key column's Parquet statistics, can hold one of the values (a
    group without statistics is always read). Rows come back in the table's own order."""

    def __init__(self, path: Path, column: str,
                 prepare: Callable[[pa.Table], pa.Table] = lambda t: t,
                 columns: Sequence[str] | None = None) -> None:
        self.file = pq.ParquetFile(path)
        self.column = column
        index = self.file.schema_arrow.get_field_index(column)
        metadata = self.file.metadata
        self.bounds: dict[int, tuple[int, int] | None] = {}
        for number in range(metadata.num_row_groups):
            group = metadata.row_group(number)
            if group.num_rows == 0:
                continue  # an empty table's only group has no column chunks
            stats = group.column(index).statistics
            known = stats is not None and stats.has_min_max
            self.bounds[number] = (stats.min, stats.max) if known else None
        self.groups = _Groups(self.file, columns, prepare)
        schema = self.file.schema_arrow
        self.empty = prepare(schema.empty_table().select(columns) if columns is not None
                             else schema.empty_table())

    @property
    def cache(self) -> OrderedDict[int, pa.Table]:
        return self.groups.cache

    def rows(self, values: Iterable[int]) -> pa.Table:
        wanted = sorted(set(values))
        if not wanted:
            return self.empty
        low, high = wanted[0], wanted[-1]
        value_set = pa.array(wanted, pa.int64())
        parts = []
        for number, bounds in self.bounds.items():
            if bounds is not None and (bounds[1] < low or bounds[0] > high):
                continue
            group = self.groups.group(number)
            parts.append(group.filter(pc.is_in(group[self.column], value_set=value_set)))
        return pa.concat_tables(parts) if parts else self.empty


class SlicedTable:
    """A checkpoint table read a run of consecutive rows at a time (`rows(start, end)`, in
    stored order), from the row groups that hold them only: any run can be read on its own,
    by whichever process is given it."""

    def __init__(self, path: Path) -> None:
        file = pq.ParquetFile(path)
        self.spans: list[tuple[int, int, int]] = []  # number, first row, rows
        first = 0
        for number in range(file.metadata.num_row_groups):
            rows = file.metadata.row_group(number).num_rows
            if rows:
                self.spans.append((number, first, rows))
            first += rows
        self.groups = _Groups(file, None, lambda t: t)
        self.empty = file.schema_arrow.empty_table()

    def rows(self, start: int, end: int) -> pa.Table:
        parts = [self.groups.group(number).slice(max(start - first, 0),
                                                 min(end, first + rows) - max(start, first))
                 for number, first, rows in self.spans if first < end and start < first + rows]
        return pa.concat_tables(parts) if parts else self.empty


class OrderedTable:
    """A checkpoint table read in an order of the caller's, a window of places at a time. The
    place of every row is given up front (`places`, one int32 per row; null for a row that is
    never read), so each row group's lowest and highest place is known and a window reads
    only the row groups that can hold its rows. No file (an older checkpoint without the
    table): no rows, of `schema`."""

    def __init__(self, file: pq.ParquetFile | None, places: pa.Array, schema: pa.Schema,
                 columns: Sequence[str] | None = None) -> None:
        self.places = places
        self.schema = schema if columns is None else pa.schema([schema.field(c)
                                                                 for c in columns])
        self.spans: list[tuple[int, int, int, int, int]] = []  # number, start, rows, low, high
        start = 0
        metadata = file.metadata if file is not None else None
        for number in range(metadata.num_row_groups if metadata is not None else 0):
            rows = metadata.row_group(number).num_rows  # type: ignore[union-attr]
            bounds = pc.min_max(places.slice(start, rows)).as_py()
            if rows and bounds["min"] is not None:
                self.spans.append((number, start, rows, bounds["min"], bounds["max"]))
            start += rows
        self.groups = None if file is None else _Groups(file, columns, lambda t: t)

    @property
    def cache(self) -> OrderedDict[int, pa.Table]:
        return self.groups.cache if self.groups is not None else OrderedDict()

    def rows(self, first: int, end: int) -> pa.Table:
        """The rows placed first..end-1, by place and, within a place, in stored order, with
        their place in the column PLACE. Which rows is worked out on the places alone; only
        those rows of a row group are taken (a window is a fifth of a group or less)."""
        parts = []
        for number, start, rows, low, high in self.spans:
            if high < first or low >= end:
                continue
            assert self.groups is not None
            places = self.places.slice(start, rows)
            # Arrow scalars: a compute function given a Python int looks for NumPy each call
            wanted = pc.indices_nonzero(pc.and_(
                pc.greater_equal(places, pa.scalar(first, places.type)),
                pc.less(places, pa.scalar(end, places.type))))
            parts.append(self.groups.group(number).take(wanted)
                         .append_column(PLACE, pc.take(places, wanted)))
        if not parts:
            return self.schema.empty_table().append_column(PLACE, pa.array([], pa.int32()))
        found = pa.concat_tables(parts)  # in stored order: a stable sort by place keeps it
        return found.take(pc.sort_indices(found[PLACE]))


def sorted_places(keys: pa.Table) -> pa.Array:
    """Each row's place when the rows are sorted by the columns of `keys` in turn, ascending
    (nulls last), stored order breaking ties: a Python `sorted` on the same key tuples."""
    rows = keys.append_column(_ROW, pa.array(range(keys.num_rows), pa.int64()))
    order = pc.sort_indices(rows, sort_keys=[(name, "ascending") for name in rows.column_names])
    return pc.sort_indices(order).cast(pa.int32())  # the inverse: position -> place
