"""Rendered rows -> the exact bytes of one file: preamble, heading rows, tagged blocks, quoting.

Last line of defence against formula injection: a cell that would start a formula and is not
a plain number (negative money) means rows that bypassed the renderers - a bug, so nothing is
written. The encoding is strict, so each cell is exactly the text Sage reads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence

from sagesync.render.cells import PLAIN_NUMBER, starts_formula
from sagesync.render.spec import FileSpec

Rows = Sequence[Sequence[str]]


def write_csv(spec: FileSpec, rows: Iterable[Sequence[str]], *, header: bool,
              encoding: str) -> bytes:
    """The exact bytes of one file of rows (each row its own document, for blocks)."""
    return write_file(spec, [[row] for row in rows], header=header, encoding=encoding)


def write_file(spec: FileSpec, documents: Iterable[Rows], *, header: bool,
               encoding: str) -> bytes:
    """The exact bytes of one file: each document's rows, in order, with the spec's rules.

    `header` is the recipe's header_row: the heading rows (one per record, at the top) are
    written when it and the template's `headings` are on.
    """
    documents = list(documents)
    _refuse_formulas(spec, documents)
    buffer = io.StringIO()
    end = spec.line_ending
    write_row = _row_writer(spec, buffer)
    for line in spec.preamble:
        buffer.write(line + end)
    if header and spec.headings:
        for record in spec.records:
            write_row(spec.heading(record))
    per_document = spec.block_per == "document"
    if spec.block_open is not None and not per_document:
        buffer.write(spec.block_open + end)
    for rows in documents:
        if spec.block_open is not None and per_document:
            buffer.write(spec.block_open + end)
        for row in rows:
            write_row(row)
        if spec.block_close is not None and per_document:
            buffer.write(spec.block_close + end)
    if spec.block_close is not None and not per_document:
        buffer.write(spec.block_close + end)
    return buffer.getvalue().encode(encoding)


def _row_writer(spec: FileSpec, buffer: io.StringIO) -> Callable[[Sequence[str]], object]:
    """A function writing one row as the spec quotes: minimal (Python's csv), every cell, or
    every cell that is not a plain number (Sage 300: text quoted, numbers bare)."""
    if spec.quoting in ("minimal", "all"):
        writer = csv.writer(buffer, delimiter=spec.delimiter, lineterminator=spec.line_ending,
                            quoting=csv.QUOTE_MINIMAL if spec.quoting == "minimal"
                            else csv.QUOTE_ALL)
        return writer.writerow
    delimiter, end = spec.delimiter, spec.line_ending

    def quoted(cell: str) -> str:
        if not cell or PLAIN_NUMBER.fullmatch(cell):
            return cell
        return '"' + cell.replace('"', '""') + '"'

    def write_row(row: Sequence[str]) -> None:
        buffer.write(delimiter.join(map(quoted, row)) + end)

    return write_row


def _refuse_formulas(spec: FileSpec, documents: list[Rows]) -> None:
    """Check every distinct cell once; name the first row holding a cell that would run."""
    distinct: set[str] = set()
    for rows in documents:
        for row in rows:
            distinct.update(row)
    running = {cell for cell in distinct
               if starts_formula(cell) and not PLAIN_NUMBER.fullmatch(cell)}
    if not running:
        return
    number = 0
    for rows in documents:
        for row in rows:
            number += 1
            for cell in row:
                if cell in running:
                    raise ValueError(f"{spec.name} row {number}: cell {cell[:40]!r} would run "
                                     "as a spreadsheet formula; rows must come from the "
                                     "renderer")
