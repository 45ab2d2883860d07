"""The data rows of one file, as trimmed Arrow string columns, with their layout and options.

Why: the stock and price builders only ask "the cells of field X" and "report a problem on row
i"; how the rows were split, filtered and located stays in exports.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.sage.columns import Column, Resolution
from sagesync.sage.layouts import Layout
from sagesync.sage.records import Columns
from sagesync.sage.results import ParseOptions
from sagesync.sage.values import Collector


@dataclass
class Frame:
    """Data rows as string columns (one per header cell) and the 1-based line of each row."""

    columns: Columns
    lines: pa.Array
    resolution: Resolution
    layout: Layout
    options: ParseOptions
    sink: Collector
    _cache: dict[int, pa.Array] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for ParseResult.notes

    @property
    def n(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> Column | None:
        return self.resolution.fields.get(name)

    def at(self, column: Column) -> pa.Array:
        """The cells of one column, whitespace trimmed (Sage ignores it, reference §1.1)."""
        j = column.index
        if j not in self._cache:
            self._cache[j] = pc.utf8_trim_whitespace(self.columns[j])
        return self._cache[j]

    def raw(self, column: Column) -> pa.Array:
        """The cells of one column as written (untrimmed): what trimming would hide."""
        return self.columns[column.index]

    def clear_cache(self) -> None:
        """Forget trimmed columns (after rows were filtered)."""
        self._cache.clear()

    def cells(self, name: str) -> pa.Array | None:
        column = self.column(name)
        return None if column is None else self.at(column)

    def constant(self, value: object, type_: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, type_), self.n)


@dataclass
class Built:
    """Output rows (in the kind's schema) and the input row each came from."""

    table: pa.Table
    source_rows: pa.Array
