"""Record layouts, column-wise: a batch of documents -> each document's rows, or why it is held.

A template's records are written per document in order: a record made from `documents` gives
one row, one made from `splits` or `lines` one row per split or item line (a row's own non-empty
fields win over its document's). Every column of every record is rendered for the whole batch
at once (`columns.render_column`); the failures are then put back in the order the row-by-row
reference (`rows.RowRenderer.render_document`) meets them, so a document is held with the same
reason, whole, and the warnings are the same, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.model import holds
from sagesync.render.cells import CellRules
from sagesync.render.columns import Constant, RenderedColumn, Values, render_column
from sagesync.render.rows import missing_rows
from sagesync.render.spec import CHILD_COUNTS, DERIVED_FIELDS, Column, FileSpec, RecordSpec

#: Where a cell sits in its document's output: record, row (batch-wide), column.
Position = tuple[int, int, int]


@dataclass(frozen=True)
class Children:
    """Split or line rows of the documents being rendered: `group[i]` is the position, in the
    documents table, of row i's document. A document's rows are consecutive and in order."""

    table: pa.Table
    group: Sequence[int]


@dataclass
class Rendered:
    """Per document (in the order given): its rows, or None when held; why; the warnings."""

    rows: list[list[Sequence[str]] | None]
    held: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class ColumnRenderer:
    """Renders whole batches of documents (or accounts) for one file spec."""

    def __init__(self, spec: FileSpec, encoding: str, max_rows: int = 0) -> None:
        self.spec = spec
        self.encoding = encoding
        self.max_rows = max_rows  # the most rows one document may have (0: no limit)
        self._rules = CellRules.of(spec, encoding)

    def render(self, documents: pa.Table,
               children: Mapping[str, Children] | None = None, first_number: int = 1
               ) -> Rendered:
        """`first_number` is the first document's `document_no`: a step rendering a file's
        documents in several batches numbers them on, so no two documents of a file share one
        (Sage 300's ORDUNIQ links a header to its details)."""
        children = children or {}
        count = documents.num_rows
        empty = Children(pa.table({}), [])
        picked = [None if record.per_document
                  else _picked(record, documents, children.get(record.rows, empty))
                  for record in self.spec.records]
        counts = {}
        for name, field_name in CHILD_COUNTS.items():  # a document's rows of the first record
            first = next((own for record, own in zip(self.spec.records, picked, strict=True)
                          if record.rows == name), None)
            if first is None:
                first = children.get(name)
            if first is not None:
                counts[field_name] = _per_group(first.group, count)
        sizes = [[1] * count if own is None else _per_group(own.group, count) for own in picked]
        counts["document_rows"] = [sum(column) for column in zip(*sizes, strict=True)] \
            if sizes else [0] * count
        failures: dict[int, tuple[Position, str]] = {}
        if self.max_rows:
            for g, size in enumerate(counts["document_rows"]):
                if size > self.max_rows:  # before any cell: the whole document cannot go
                    failures[g] = ((-1, -1, -1), holds.too_many_lines(
                        rows=size, limit=self.max_rows).message)
        warnings: list[tuple[int, Position, tuple[str, ...]]] = []
        per_record: list[tuple[list[tuple[str, ...]], Sequence[int]]] = []
        for r, (record, own) in enumerate(zip(self.spec.records, picked, strict=True)):
            if own is None:
                group: Sequence[int] = range(count)
                source = _Source(documents, None, group, counts, first_number)
            else:
                group = own.group
                source = _Source(documents, own.table, group, counts, first_number)
            rows = len(group)
            cells = []
            for j, column in enumerate(record.columns):
                rendered = self._column(column, source, rows)
                for i, reason in rendered.failures.items():
                    g = group[i]
                    if g not in failures or (r, i, j) < failures[g][0]:
                        failures[g] = ((r, i, j), reason)
                warnings.extend((group[i], (r, i, j), texts)
                                for i, texts in rendered.warnings.items())
                cells.append(rendered.texts)
            if record.required:
                _hold_without_rows(record, r, group, count, failures)
            if record.code is not None:
                cells.insert(0, list(repeat(record.code, rows)))
            per_record.append((list(zip(*cells, strict=True)), group))
        return _assembled(count, per_record, failures, warnings)

    def _column(self, column: Column, source: _Source, rows: int) -> RenderedColumn:
        negate = source.negated(column) if column.negate_for else None
        skip = [n > 1 for n in source.row_no] if column.first_only else None
        return render_column(column, source.values(column), rows, self._rules, negate=negate,
                             skip=skip)


def _picked(record: RecordSpec, documents: pa.Table, own: Children) -> Children:
    """A child record's rows: those its `where` keeps, judged on the merged fields."""
    if not record.where:
        return own
    source = _Source(documents, own.table, own.group, {})
    keep = [True] * len(own.group)
    for name, values in record.where:
        keep = [k and m for k, m in zip(keep, source.among(name, values), strict=True)]
    return Children(own.table.filter(pa.array(keep, pa.bool_())),
                    [g for g, k in zip(own.group, keep, strict=True) if k])


def _per_group(group: Sequence[int], count: int) -> list[int]:
    counts = [0] * count
    for g in group:
        counts[g] += 1
    return counts


def _hold_without_rows(record: RecordSpec, r: int, group: Sequence[int], count: int,
                       failures: dict[int, tuple[Position, str]]) -> None:
    """A required record with no row holds its document, before any row of that record."""
    have = set(group)
    for g in range(count):
        if g not in have and (g not in failures or (r, -1, -1) < failures[g][0]):
            failures[g] = ((r, -1, -1), missing_rows(record))


def _assembled(count: int, per_record: list[tuple[list[tuple[str, ...]], Sequence[int]]],
               failures: dict[int, tuple[Position, str]],
               warnings: list[tuple[int, Position, tuple[str, ...]]]) -> Rendered:
    """Each document's rows in record order; the warnings the reference would have given (a
    held document's cells are rendered up to the first failure, not after)."""
    documents: list[list[Sequence[str]] | None] = [[] for _ in range(count)]
    for rows, group in per_record:
        for row, g in zip(rows, group, strict=True):
            documents[g].append(row)  # type: ignore[union-attr]
    for g in failures:
        documents[g] = None
    kept = [(g, position, texts) for g, position, texts in warnings
            if g not in failures or position < failures[g][0]]
    kept.sort(key=lambda w: (w[0], w[1]))
    return Rendered(documents, {g: reason for g, (_, reason) in failures.items()},
                    [text for *_, texts in kept for text in texts])


class _Source:
    """The fields of one record's rows: the child table's non-null values over its document's,
    plus the derived fields; each built once, when a column first asks for it."""

    def __init__(self, documents: pa.Table, child: pa.Table | None, group: Sequence[int],
                 counts: dict[str, list[int]], first_number: int = 1) -> None:
        if child is not None and child.num_rows != len(group):
            raise ValueError(f"{child.num_rows} rows but {len(group)} documents for them")
        self._documents = documents
        self._child = child
        self._group = group
        self._take = None if child is None else pa.array(group, pa.int64())
        self._derived: dict[str, list[int]] = {
            "document_no": [g + first_number for g in group],
            **{name: [values[g] for g in group] for name, values in counts.items()}}
        if child is None:
            self.row_no = [1] * len(group)
            self._derived["row_count"] = self.row_no
        else:
            sizes = _per_group(group, documents.num_rows)
            self.row_no, previous, n = [], -1, 0
            for g in group:
                n = n + 1 if g == previous else 1
                previous = g
                self.row_no.append(n)
            self._derived["row_count"] = [sizes[g] for g in group]
        self._derived["row_no"] = self.row_no
        for name in (*CHILD_COUNTS.values(), "document_rows"):
            self._derived.setdefault(name, [0] * len(group))
        self._cache: dict[str, pa.Array | list[Any] | None] = {}

    def values(self, column: Column) -> Values:
        if column.template is not None:
            template = column.template
            return [template.render(**fields) for fields in self._records()]
        if column.field is None:
            return Constant(column.value)
        found = self.field(column.field)
        return Constant(None) if found is None else found

    def negated(self, column: Column) -> list[bool]:
        return self.among(column.sign_field, column.negate_for)

    def among(self, name: str, values: tuple[str, ...]) -> list[bool]:
        """Per row: is the field one of these values? (as Python's `in` on the value)"""
        found = self.field(name)
        if found is None:
            return [None in values] * len(self._group)
        if isinstance(found, pa.Array) and pa.types.is_string(found.type):
            wanted = pa.array(values, pa.string())
            return pc.is_in(found, value_set=wanted).fill_null(False).to_pylist()
        listed = found.to_pylist() if isinstance(found, pa.Array) else found
        return [value in values for value in listed]

    def field(self, name: str) -> pa.Array | list[Any] | None:
        if name not in self._cache:
            self._cache[name] = self._field(name)
        return self._cache[name]

    def _field(self, name: str) -> pa.Array | list[Any] | None:
        if name in DERIVED_FIELDS:
            return self._derived[name]
        document = _column(self._documents, name)
        if self._child is None:
            return document
        child = _column(self._child, name)
        if document is not None:
            document = document.take(self._take)
            if child is None:
                return document
            try:
                return pc.coalesce(child if child.type == document.type
                                   else child.cast(document.type), document)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                return [c if c is not None else d
                        for c, d in zip(child.to_pylist(), document.to_pylist(), strict=True)]
        return child

    def _records(self) -> list[dict[str, Any]]:
        """Every field of every row as mappings, for Jinja columns (the escape hatch)."""
        names = list(dict.fromkeys([*self._documents.column_names,
                                    *(self._child.column_names if self._child else []),
                                    *DERIVED_FIELDS]))
        columns = {}
        for name in names:
            found = self.field(name)
            columns[name] = found.to_pylist() if isinstance(found, pa.Array) else found
        records = [dict(zip(names, values, strict=True))
                   for values in zip(*columns.values(), strict=True)]
        # as the reference merges: a field only the child rows have is absent where empty
        own = [n for n in (self._child.column_names if self._child else [])
               if n not in self._documents.column_names and n not in DERIVED_FIELDS]
        for fields in records:
            for name in own:
                if fields[name] is None:
                    del fields[name]
        return records


def _column(table: pa.Table, name: str) -> pa.Array | None:
    if name not in table.column_names:
        return None
    return table.column(name).combine_chunks()
