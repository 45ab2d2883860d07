"""Row-by-row rendering: the reference the column-wise renderer must equal, and small callers.

A document is rendered as its records in template order; a split or line row sees its own
non-empty fields over its document's (a credit memo's fee split carries its own type and
reference). A posting row is the document itself, or a split of its own type and reference
posted as its own document, with its splits' sums. A repeated column group is filled from the
row's child rows in order. The first rule a cell breaks, in that order, holds the whole
document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sagesync.model import holds
from sagesync.render.cells import CellRules, RowRejected, render_cell
from sagesync.render.spec import CHILD_COUNTS, Column, FileSpec, RecordSpec, Repeat

Fields = Mapping[str, Any]


def missing_rows(record: RecordSpec) -> str:
    """Why a document without a row of a required record is held."""
    return f"'{record.name}' needs at least one row, and the document has no {record.rows}"


def too_many(repeat: Repeat, count: int) -> str:
    """Why a document whose child rows outnumber a column group's repetitions is held."""
    return holds.too_many_lines(rows=count, limit=repeat.times).message


def postings(splits: Sequence[Fields]) -> list[tuple[dict[str, Any], list[int]]]:
    """A document's postings from its splits (own fields, in order): (the posting's fields,
    the positions of its splits). The document's own (splits without a type or reference of
    their own) comes first, then one per other (type, reference), first seen first."""
    keyed: dict[tuple[Any, Any], list[int]] = {}
    for n, split in enumerate(splits):
        keyed.setdefault((split.get("transaction_type"), split.get("reference")), []).append(n)
    own = keyed.pop((None, None), None)
    ordered = ([((None, None), own)] if own is not None else []) + list(keyed.items())
    found = []
    for (kind, reference), members in ordered:
        net = _total([splits[n].get("net_amount") for n in members])
        tax = _total([splits[n].get("tax_amount") for n in members])
        found.append(({"transaction_type": kind, "reference": reference, "net_total": net,
                       "tax_total": tax, "gross_total": _total([net, tax])}, members))
    return found


def _total(values: Sequence[Any]) -> Any:
    """The sum of the values given (None when none is)."""
    present = [v for v in values if v is not None]
    return sum(present[1:], present[0]) if present else None


def repeat_items(row: Fields, own: Sequence[Fields], repeat: Repeat) -> list[dict[str, Any]]:
    """What a column group is filled from, for one record row: its child rows' own non-empty
    fields over the row's, those `where` keeps, and with `by`, one per value of that field
    (first seen first) with the decimal amounts of its rows summed."""
    merged = [({**row, **{k: v for k, v in child.items() if v is not None}}, child)
              for child in own]
    kept = [(m, child) for m, child in merged if repeat.keeps(m)]
    if repeat.by is None:
        return [m for m, _ in kept]
    groups: dict[Any, tuple[dict[str, Any], dict[str, list[Decimal]]]] = {}
    for m, child in kept:
        sums = groups.setdefault(m.get(repeat.by), (m, {}))[1]
        for name, value in child.items():
            if type(value) is Decimal:
                sums.setdefault(name, []).append(value)
    return [{**item, **{name: _total(values) for name, values in sums.items()}}
            for item, sums in groups.values()]


def cell_value(column: Column, fields: Fields) -> Any:
    """A column's value in a row, before the kind's rules."""
    if column.field is not None:
        return fields.get(column.field)
    if column.template is not None:
        return column.template.render(**fields)
    return column.value


@dataclass
class RowRenderer:
    """Turns mappings of fields into validated rows of strings for one file spec."""

    spec: FileSpec
    encoding: str
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rules = CellRules.of(self.spec, self.encoding)

    def render(self, record: Mapping[str, Any]) -> list[str]:
        """One row of the template's first record (the one record of a Sage 50 UK file)."""
        return self.render_row(self.spec.records[0], record)

    def render_row(self, record: RecordSpec, fields: Mapping[str, Any],
                   children: Mapping[str, Sequence[Fields]] | None = None) -> list[str]:
        """One row; `children` are the own rows its column groups repeat over."""
        items = {repeat: repeat_items(fields, (children or {}).get(repeat.rows, ()), repeat)
                 for repeat in record.repeats}
        for repeat, found in items.items():
            if len(found) > repeat.times:
                raise RowRejected(too_many(repeat, len(found)))
        cells = [] if record.code is None else [record.code]
        for column in record.columns:
            if column.repeat is None:
                cells.append(self._cell(column, fields))
                continue
            found = items[column.repeat]
            cells.append(self._cell(column, found[column.index - 1])
                         if column.index <= len(found) else "")
        return list(record.ended(cells)) if record.ends else cells

    def render_document(self, document: Mapping[str, Any],
                        children: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                        document_no: int = 1) -> list[list[str]]:
        """Every row of one document (its records in order); RowRejected holds it whole."""
        children = dict(children or {})
        members: list[list[int]] = []
        if self.spec.postings:
            made = postings(children.get("splits", ()))
            children["postings"] = [fields for fields, _ in made]
            members = [own for _, own in made]
        picked = [self._picked(record, document, children) for record in self.spec.records]
        counts: dict[str, Any] = {"document_no": document_no}
        for name, count in CHILD_COUNTS.items():
            first = next((own for record, own in zip(self.spec.records, picked, strict=True)
                          if record.rows == name), None)
            counts[count] = len(children.get(name, ()) if first is None else first)
        counts["document_rows"] = sum(1 if record.per_document else len(own)
                                      for record, own in zip(self.spec.records, picked,
                                                             strict=True))
        rows: list[list[str]] = []
        for record, own in zip(self.spec.records, picked, strict=True):
            if record.per_document:
                rows.append(self.render_row(record, {**document, **counts, "row_no": 1,
                                                     "row_count": 1}, children))
                continue
            if record.required and not own:
                raise RowRejected(missing_rows(record))
            for n, (position, fields) in enumerate(own, start=1):
                item = {**fields, **counts, "row_no": n, "row_count": len(own)}
                sources = children
                if record.rows == "postings":
                    splits = children.get("splits", ())
                    sources = {"splits": [splits[k] for k in members[position]]}
                rows.append(self.render_row(record, item, sources))
        return rows

    @staticmethod
    def _picked(record: RecordSpec, document: Mapping[str, Any],
                children: Mapping[str, Sequence[Mapping[str, Any]]]
                ) -> list[tuple[int, dict[str, Any]]]:
        """A child record's rows (their positions among the child rows), each with its own
        non-empty fields over its document's."""
        if record.per_document:
            return []
        merged = [(n, {**document, **{k: v for k, v in child.items() if v is not None}})
                  for n, child in enumerate(children.get(record.rows, ()))]
        return [(n, fields) for n, fields in merged if record.keeps(fields)]

    def _cell(self, column: Column, fields: Mapping[str, Any]) -> str:
        if column.first_only and (fields.get("row_no") or 1) > 1:
            return ""
        negate = bool(column.negate_for) and fields.get(column.sign_field) in column.negate_for
        return render_cell(column, cell_value(column, fields), self._rules, self.warnings,
                           negate)
