"""Text to a grid: the header row, the data rows column by column (Arrow strings), and the
line each data row starts on. Blank lines and rows made only of delimiters (",,,,", what Excel
leaves below the data) are dropped.

Two ways, same answer. Fast: pyarrow.csv splits the file in C++ from the header line on, and
the lines are worked out from the text (empty lines skipped, quoted line breaks counted): about
0.1 s for 300,000 rows. Exact: the csv module, whose `line_num` gives the line each record
starts on, for what the fast way cannot vouch for: rows of another width (reported, not
guessed), whitespace-only lines, CR-only line ends, and empty lines mixed with multi-line
values.

Row width. A row with fewer cells than the header's named columns is malformed: its missing
cells are never read as blank (a blank quantity would mean 0). Cells past the header are fine
only when empty (Excel writes `,,` past the data); a value there is reported by the caller.
Whether the file ends with a line terminator is recorded too (`Grid.open_end`): Sage and Excel
end every row with CRLF, so a last row without one may have been cut while being written.
"""

from __future__ import annotations

import _csv
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sagesync.sage.results import Problem

HEAD_RECORDS = 10  # records offered to the header picker


class Columns:
    """The data rows, column by column, as Arrow strings (untrimmed), one per header cell.

    Backed by Arrow arrays (pyarrow path) or by Python rows (csv-module path), in which case a
    column is converted on first use: a 40-column ITEM.CSV only pays for the few it needs."""

    def __init__(self, width: int, arrays: list[pa.Array] | None = None,
                 rows: list[list[str]] | None = None) -> None:
        self.width = width
        self._rows = rows
        self._arrays: dict[int, pa.Array] = dict(enumerate(arrays or []))

    def __getitem__(self, j: int) -> pa.Array:
        if j not in self._arrays:
            rows = self._rows or []
            self._arrays[j] = pa.array([row[j] for row in rows], pa.string())
        return self._arrays[j]

    def filter(self, keep: pa.Array) -> Columns:
        """The rows where `keep` is true."""
        arrays = {j: a.filter(keep) for j, a in self._arrays.items()}
        rows = None
        if self._rows is not None:
            rows = [row for row, k in zip(self._rows, keep.to_pylist(), strict=True) if k]
        out = Columns(self.width, rows=rows)
        out._arrays = arrays
        return out


@dataclass
class Grid:
    """The data rows of a file, column by column."""

    header: list[str]
    header_line: int
    columns: Columns
    lines: pa.Array  # int32, the 1-based line each data row starts on
    # Rows with extra non-blank cells beyond the header (row -> the extra cells, joined).
    overlong: dict[int, str] = field(default_factory=dict)
    # Rows with fewer cells than the header's named columns (row -> cells it has); the missing
    # cells are filled with "" only so that the columns stay aligned.
    short: dict[int, int] = field(default_factory=dict)
    # Cells in the last data row, and whether that row ends the file without a line terminator.
    last_width: int = 0
    open_end: bool = False

    @property
    def named(self) -> int:
        """Columns up to the last one with a header: the cells every row must have."""
        return named_width(self.header)


# Given the first records and their lines: the index of the header record, or None if none.
Picker = Callable[[list[list[str]], list[int]], int | None]


def named_width(header: list[str]) -> int:
    """1 + the index of the last header cell with a name (unnamed columns are never read)."""
    for i in range(len(header), 0, -1):
        if header[i - 1].strip():
            return i
    return 0


def ends_open(text: str, delimiter: str) -> bool:
    """Whether the last record of `text` is not followed by a line terminator.

    A last line made only of blanks, quotes and delimiters (a blank row, `,,,,`) does not
    count: the data row before it was terminated."""
    if not text or text[-1] in "\r\n":
        return False
    last = text[max(text.rfind("\n"), text.rfind("\r")) + 1:]
    return bool(last.strip(f' \t"{delimiter}'))


# What a blank row may hold: ASCII spaces only. A non-breaking space is content (an invisible
# character a cell is refused for), never a reason to drop a row unread.
_SPACE = " \t\r\n\f\v"


def _blank(record: list[str]) -> bool:
    """Empty, or only blanks and delimiters (",,,," under Excel data)."""
    return not record or (not record[0].strip(_SPACE) and not "".join(record).strip(_SPACE))


def _reader(text: str, delimiter: str) -> _csv.Reader:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)


def _head(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The first non-blank records and their start lines."""
    reader = _reader(text, delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    previous = 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if not _blank(record):
            rows.append(record)
            lines.append(start)
            if len(rows) == HEAD_RECORDS:
                break
    return rows, lines


def read_grid(text: str, delimiter: str, pick: Picker) -> Grid | Problem | None:
    """The grid of `text`; a Problem if it cannot be split; None if `pick` found no header."""
    try:
        head, head_lines = _head(text, delimiter)
    except csv.Error as exc:
        return _runaway(exc, 1)
    if not head:
        return Problem(1, None, None, "the file has no header row (only blank lines or "
                       "delimiters)", file_level=True)
    at = pick(head, head_lines)
    if at is None:
        return None
    grid = _fast(text, delimiter, head[at], head_lines[at])
    if grid is None:
        exact = _exact(text, delimiter, head_lines[at])
        if isinstance(exact, Problem):
            return exact
        grid = exact
    if len(grid.lines):
        grid.open_end = ends_open(text, delimiter)
        grid.last_width = grid.last_width or len(grid.header)
    return grid


def _fast(text: str, delimiter: str, header: list[str], header_line: int) -> Grid | None:
    """pyarrow.csv from the header line on, with each record's line worked out; None if unsure.

    Lines are exact when the header is one line and either (a) every record is one line, with
    or without empty lines between records, or (b) there are no empty lines and a record spans
    1 + (line breaks inside its quoted values) lines."""
    width = len(header)
    if any("\n" in cell or "\r" in cell for cell in header):
        return None
    offset = 0
    for _ in range(header_line - 1):  # report titles above the header: start at the header
        offset = text.find("\n", offset) + 1
        if offset == 0:
            return None
    before = text[:offset]
    if before.count("\r") != before.count("\r\n"):
        return None  # CR-only line ends above the header: line counting would disagree
    text = text[offset:]
    names = [f"c{i}" for i in range(width)]
    try:
        table = pcsv.read_csv(
            pa.BufferReader(text.encode("utf-8")),
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=1,
                                          block_size=1 << 22),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, ValueError):
        return None  # a row of another width, or something odd: let the csv module say where
    body = text.rstrip("\r\n")
    if body.count("\r") != body.count("\r\n"):
        return None  # CR-only line ends
    columns = [table.column(i).combine_chunks() for i in range(width)]
    lines = _record_lines(body, columns, table.num_rows)
    if lines is None:
        return None
    if header_line > 1:
        lines = pc.cast(pc.add(lines, header_line - 1), pa.int32())
    if table.num_rows:
        blank = pc.equal(pc.utf8_length(pc.ascii_trim_whitespace(columns[0])), 0)
        if pc.any(blank).as_py():
            for col in columns[1:]:
                blank = pc.and_(blank,
                                pc.equal(pc.utf8_length(pc.ascii_trim_whitespace(col)), 0))
            if pc.any(blank).as_py():
                keep = pc.invert(blank)
                columns = [c.filter(keep) for c in columns]
                lines = lines.filter(keep)
    return Grid(header, header_line, Columns(width, arrays=columns), lines)


def _record_lines(body: str, columns: list[pa.Array], records: int) -> pa.Array | None:
    """The start line of each data record (header on line 1), or None when it is ambiguous."""
    physical = body.count("\n") + 1
    if physical == records + 1:  # the usual case: one line per record, no empty lines
        return pa.array(range(2, records + 2), pa.int32())
    has_empty = "\n\n" in body or "\n\r\n" in body
    if not has_empty:  # quoted values with line breaks: a record spans 1 + its breaks
        breaks = reduce(pc.add, [pc.count_substring(col, "\n") for col in columns])
        if 1 + records + (pc.sum(breaks).as_py() or 0) != physical:
            return None
        spans = pc.add(breaks, 1)
        starts = pc.subtract(pc.cumulative_sum(spans), spans)  # exclusive running total
        return pc.cast(pc.add(starts, 2), pa.int32())
    empty = [m.start() for m in re.finditer(r"\n(?=\r?\n)", body)]
    if 1 + records + len(empty) != physical:
        return None  # empty lines and multi-line values at once: the csv module sorts it out
    skipped, line, previous = set(), 1, 0  # the empty lines' numbers, counted incrementally
    for pos in empty:
        line += body.count("\n", previous, pos + 1)
        previous = pos + 1
        skipped.add(line)
    numbers = [n for n in range(2, physical + 1) if n not in skipped]
    return pa.array(numbers, pa.int32())


def _exact(text: str, delimiter: str, header_line: int) -> Grid | Problem:
    """The csv module, record by record, from the header on line `header_line`."""
    reader = _reader(text, delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    add_row, add_line = rows.append, lines.append
    header: list[str] = []
    previous = 0
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if start > header_line:
                # Inline blank test (this loop is the slow path's hot spot).
                if record and (record[0].strip(_SPACE) or "".join(record).strip(_SPACE)):
                    add_row(record)
                    add_line(start)
            elif start == header_line:
                header = record
    except csv.Error as exc:
        return _runaway(exc, previous + 1)
    width = len(header)
    named = named_width(header)
    overlong: dict[int, str] = {}
    short: dict[int, int] = {}
    last_width = len(rows[-1]) if rows else 0
    if set(map(len, rows)) - {width}:
        for i, row in enumerate(rows):
            n = len(row)
            if n < width:
                if n < named:
                    short[i] = n
                row.extend([""] * (width - n))
            elif n > width:
                if any(cell.strip(_SPACE) for cell in row[width:]):
                    overlong[i] = delimiter.join(row[width:])
                del row[width:]
    return Grid(header, header_line, Columns(width, rows=rows), pa.array(lines, pa.int32()),
                overlong, short, last_width)


def _runaway(exc: csv.Error, line: int) -> Problem:
    return Problem(line, None, None, f"the file cannot be split into rows ({exc}): a quote (\") "
                   "is probably never closed", file_level=True)
