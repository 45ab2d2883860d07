"""Row-by-row rendering: the reference the column-wise renderer must equal, and small callers.

A document is rendered as its records in template order; a split or line row sees its own
non-empty fields over its document's (a credit memo's fee split carries its own type and
reference). The first rule a cell breaks, in that order, holds the whole document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagesync.render.cells import CellRules, RowRejected, render_cell
from sagesync.render.spec import CHILD_COUNTS, Column, FileSpec, RecordSpec


def missing_rows(record: RecordSpec) -> str:
    """Why a document without a row of a required record is held."""
    return f"'{record.name}' needs at least one row, and the document has no {record.rows}"


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

    def render_row(self, record: RecordSpec, fields: Mapping[str, Any]) -> list[str]:
        cells = [] if record.code is None else [record.code]
        cells.extend(self._cell(column, fields) for column in record.columns)
        return list(record.ended(cells)) if record.ends else cells

    def render_document(self, document: Mapping[str, Any],
                        children: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                        document_no: int = 1) -> list[list[str]]:
        """Every row of one document (its records in order); RowRejected holds it whole."""
        children = children or {}
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
                items = [{**document, **counts, "row_no": 1, "row_count": 1}]
            else:
                items = [{**fields, **counts, "row_no": n, "row_count": len(own)}
                         for n, fields in enumerate(own, start=1)]
                if record.required and not items:
                    raise RowRejected(missing_rows(record))
            rows.extend(self.render_row(record, item) for item in items)
        return rows

    @staticmethod
    def _picked(record: RecordSpec, document: Mapping[str, Any],
                children: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """A child record's rows, each with its own non-empty fields over its document's."""
        if record.per_document:
            return []
        merged = [{**document, **{k: v for k, v in child.items() if v is not None}}
                  for child in children.get(record.rows, ())]
        return [fields for fields in merged if record.keeps(fields)]

    def _cell(self, column: Column, fields: Mapping[str, Any]) -> str:
        if column.first_only and (fields.get("row_no") or 1) > 1:
            return ""
        if column.field is not None:
            value = fields.get(column.field)
        elif column.template is not None:
            value = column.template.render(**fields)
        else:
            value = column.value
        negate = bool(column.negate_for) and fields.get(column.sign_field) in column.negate_for
        return render_cell(column, value, self._rules, self.warnings, negate)
