"""Rendered rows -> the exact bytes of one file: preamble, heading rows, tagged blocks, quoting.

Last line of defence against formula injection: a cell that would start a formula and is not
a plain number (negative money) means rows that bypassed the renderers - a bug, so nothing is
written. The encoding is strict, so each cell is exactly the text Sage reads.
"""

from __future__ import annotations

import codecs
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

    `header` is the recipe's header_row: the heading rows (the one all records share, else one
    per distinct record heading, at the top) are written when it and the template's `headings`
    are on.
    """
    documents = list(documents)
    _refuse_formulas(spec, documents)
    buffer = io.StringIO()
    end = spec.line_ending
    write_row = _row_writer(spec, buffer)
    for line in spec.preamble:
        buffer.write(line + end)
    if header and spec.headings:
        for heading in spec.heading_rows():
            write_row(heading)
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


def file_ends(spec: FileSpec, *, header: bool, encoding: str) -> tuple[bytes, bytes]:
    """What write_file puts before the first document and after the last, as bytes: with
    DocumentEncoder's documents between them, exactly write_file's bytes (a file can then be
    streamed document by document instead of held whole)."""
    buffer = io.StringIO()
    end = spec.line_ending
    for line in spec.preamble:
        buffer.write(line + end)
    if header and spec.headings:
        write_row = _row_writer(spec, buffer)
        for heading in spec.heading_rows():
            write_row(heading)
    if spec.block_open is not None and spec.block_per != "document":
        buffer.write(spec.block_open + end)
    tail = spec.block_close + end if spec.block_close is not None \
        and spec.block_per != "document" else ""
    return buffer.getvalue().encode(encoding), _started(encoding).encode(tail)


class DocumentEncoder:
    """One document's rows -> the bytes write_file gives them inside a file (block tags,
    quoting, encoding; a byte-order mark belongs to the file's head, see file_ends)."""

    def __init__(self, spec: FileSpec, encoding: str) -> None:
        self.spec = spec
        self._buffer = io.StringIO()
        self._write_row = _row_writer(spec, self._buffer)
        self._encoder = _started(encoding)

    def encode(self, rows: Rows) -> bytes:
        buffer, end = self._buffer, self.spec.line_ending
        buffer.seek(0)
        buffer.truncate()
        per_document = self.spec.block_per == "document"
        if self.spec.block_open is not None and per_document:
            buffer.write(self.spec.block_open + end)
        for row in rows:
            self._write_row(row)
        if self.spec.block_close is not None and per_document:
            buffer.write(self.spec.block_close + end)
        return self._encoder.encode(buffer.getvalue())


def running_cell(rows: Rows) -> tuple[int, str] | None:
    """(row index, cell) of the first cell in `rows` that would run as a formula, or None:
    write_file's last check, one document at a time."""
    distinct: set[str] = set()
    for row in rows:
        distinct.update(row)
    if not any(starts_formula(c) and not PLAIN_NUMBER.fullmatch(c) for c in distinct):
        return None
    for n, row in enumerate(rows):
        for cell in row:
            if starts_formula(cell) and not PLAIN_NUMBER.fullmatch(cell):
                return n, cell
    return None


def formula_error(spec: FileSpec, number: int, cell: str) -> ValueError:
    """The error write_file raises for a cell that would run, at 1-based row `number`."""
    return ValueError(f"{spec.name} row {number}: cell {cell[:40]!r} would run as a "
                      "spreadsheet formula; rows must come from the renderer")


def _started(encoding: str) -> codecs.IncrementalEncoder:
    """A strict incremental encoder past its start (any byte-order mark already given)."""
    encoder = codecs.getincrementalencoder(encoding)()
    encoder.encode("")
    return encoder


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
                    raise formula_error(spec, number, cell)
