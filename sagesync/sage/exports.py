"""Parse a Sage stock, price, customer, receivables or despatch (shipments) export into a typed
Arrow table, or say what is wrong.

The one entry point is `parse_export`. Steps: decode (refuse non-text) -> sniff the delimiter ->
split into records with line numbers -> find the header row and each field's column -> refuse a
file cut off mid-row -> drop rows a product rule ignores -> check every row's width and every
cell (vectorised) -> refuse duplicate keys -> apply the tolerance. Bad content never raises;
it is a Problem. Only an unreadable path or a wrong option raises UsageError. A result that is
not `ok` has an empty table: never half-applied.
"""

from __future__ import annotations

import codecs
import re
from functools import partial, reduce
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.errors import UsageError
from sagesync.model.words import plural
from sagesync.sage.columns import Column, Resolution, check_mapping, resolve
from sagesync.sage.customers import build_customers
from sagesync.sage.decoding import decode, sniff_delimiter
from sagesync.sage.duplicates import report_duplicates
from sagesync.sage.frame import Built, Frame
from sagesync.sage.layouts import Layout, layout_for
from sagesync.sage.prices import build_prices
from sagesync.sage.receivables import build_receivables
from sagesync.sage.records import Grid, read_grid
from sagesync.sage.results import ParseOptions, ParseResult, Problem
from sagesync.sage.shipments import build_shipments
from sagesync.sage.stock import build_stock, extra_keys, sum_bins
from sagesync.sage.tables import KEYS, Kind, empty_table
from sagesync.sage.values import Collector

BUILDERS = {"stock": build_stock, "prices": build_prices, "customers": build_customers,
            "receivables": build_receivables, "shipments": build_shipments}


def parse_export(path: Path, *, product: str, kind: Kind,
                 options: ParseOptions | None = None) -> ParseResult:
    """Read `path` as `product`'s `kind` export. Raises UsageError only for an unreadable path
    or invalid options; everything wrong with the content is in `result.problems`."""
    options = options or ParseOptions()
    layout = layout_for(product, kind)
    check_options(layout, options)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _parse(data, layout, options)


def parse_bytes(data: bytes, *, product: str, kind: Kind,
                options: ParseOptions | None = None) -> ParseResult:
    """The same as parse_export for content already in memory."""
    options = options or ParseOptions()
    layout = layout_for(product, kind)
    check_options(layout, options)
    return _parse(data, layout, options)


def check_options(layout: Layout, options: ParseOptions) -> None:
    """Refuse options no file could satisfy: these are recipe errors, not bad input."""
    check_mapping(layout, options.columns)
    if not re.fullmatch(r"[A-Z]{3}", options.currency):
        raise UsageError(f"currency {options.currency!r} is not a 3-letter ISO code",
                         hint="For example GBP, EUR or USD.")
    if options.tolerance < 0 or options.max_problems < 1:
        raise UsageError("tolerance must be 0 or more and max_problems 1 or more")
    for name in ("sku_width", "warehouse_width"):
        width = getattr(options, name)
        if width is not None and not 1 <= width <= 64:
            raise UsageError(f"{name} must be between 1 and 64, not {width}")
    if options.delimiter is not None and len(options.delimiter) != 1:
        raise UsageError(f"delimiter must be one character, not {options.delimiter!r}")
    if options.encoding is not None:
        try:
            codecs.lookup(options.encoding)
        except LookupError:
            raise UsageError(f"unknown encoding {options.encoding!r}",
                             hint="For example utf-8 or cp1252.") from None


def _parse(data: bytes, layout: Layout, options: ParseOptions) -> ParseResult:
    result = ParseResult(empty_table(layout.kind), [], 0, 0, None, None, layout.product,
                         layout.kind, tolerance=options.tolerance)
    decoded = decode(data, options.encoding)
    if isinstance(decoded, Problem):
        result.problems.append(decoded)
        return result
    result.encoding, result.notes = decoded.encoding, decoded.notes
    result.delimiter = options.delimiter or sniff_delimiter(decoded.text)

    found: list[Resolution] = []

    def pick(head: list[list[str]], lines: list[int]) -> int | None:
        """The first of the first records that holds every required column."""
        for k, (record, line) in enumerate(zip(head, lines, strict=True)):
            resolution = resolve(record, line, layout, options)
            if not resolution.problems:
                found[:] = [resolution]
                return k
            found.append(resolution)
        return None

    grid = read_grid(decoded.text, result.delimiter, pick)
    if grid is None:
        result.problems.extend(found[0].problems)
        return result
    if isinstance(grid, Problem):
        result.problems.append(grid)
        return result
    resolution = found[-1]
    if grid.header_line > 1:
        result.notes.append(f"header row found on line {grid.header_line}; the lines above "
                            "it (report titles or blank lines) were skipped")
    result.columns = {name: col.header for name, col in resolution.fields.items()}
    result.columns.update({f"price:LEVEL{n}": col.header for n, col in resolution.levels})
    result.rows_read = len(grid.lines)
    if not result.rows_read:
        if not options.allow_empty:
            result.problems.append(Problem(
                grid.header_line, None, None, "the file has a header row but no data rows: "
                "was the export filtered to nothing? (set allow_empty to accept this)",
                file_level=True))
        return result
    cut = _cut_off(grid, resolution)
    if cut is not None:
        # The file is rejected whatever the tolerance (rows after the cut are missing); the
        # rest is still checked so that every problem is listed, without the cut row's cells.
        result.problems.append(cut)
        _drop_last_row(grid)
        if not len(grid.lines):
            return result
    frame = Frame(grid.columns, grid.lines, resolution, layout, options,
                  Collector(grid.lines, options.max_problems))
    _apply_rules(result, frame, grid)
    _fill(result, frame, grid)
    return result


def _cut_off(grid: Grid, resolution: Resolution) -> Problem | None:
    """A file-level problem when the file looks cut off inside its last row, else None.

    The rule: the last data row has no line terminator after it (Sage and Excel end every row
    with CRLF, so a writer still saving the file leaves exactly this) and either it has fewer
    cells than the header's named columns, or its last cell is one the parser reads, whose
    value may be incomplete (163 saved as far as 16). A last cell that is never read (a
    description, a date that is not mapped) changes nothing that is applied, so such a file is
    accepted; a trailing blank line or `,,,,` line means the row was terminated."""
    if not grid.open_end:
        return None
    width, named = grid.last_width, grid.named
    read = {c.index for c in resolution.fields.values()}
    read |= {c.index for _, c in resolution.levels}
    if width >= named and width - 1 not in read:
        return None
    j = width - 1  # the last cell written: the one that may be incomplete
    value = grid.columns[j][len(grid.lines) - 1].as_py() or ""
    fields = [name for name, c in resolution.fields.items() if c.index == j]
    missing = (f", and it has only {width} of the header's {named} columns"
               if width < named else "")
    return Problem(
        grid.lines[-1].as_py(), j + 1, fields[0] if fields else None,
        f"the file ends inside this row: there is no line break after its last value "
        f"{value!r}{missing}, so the file was probably cut off or still being written when it "
        "was read, and that value may be incomplete (163 cut to 16). Sage and Excel end every "
        "row with a line break (CRLF): export or copy the file again once it is complete; if "
        "it is complete, end it with a line break", value, grid.header[j].strip(),
        file_level=True)


def _drop_last_row(grid: Grid) -> None:
    """Leave the (incomplete) last row out of the checks."""
    keep = pa.array([True] * (len(grid.lines) - 1) + [False])
    last = len(grid.lines) - 1
    grid.columns = grid.columns.filter(keep)
    grid.lines = grid.lines.filter(keep)
    grid.short.pop(last, None)
    grid.overlong.pop(last, None)


def _fill(result: ParseResult, frame: Frame, grid: Grid) -> None:
    """Check the rows, build the table and decide: accept (within tolerance) or reject."""
    if not frame.n:  # every row was ignored by a product rule
        if not frame.options.allow_empty:
            result.problems.append(Problem(
                1, None, None, f"all {plural(result.rows_read, 'data row')} were ignored "
                f"({'; '.join(result.notes)}): nothing to apply (set allow_empty to accept "
                "this)", file_level=True))
        return
    sink = frame.sink
    width = len(grid.header)
    for row, extra in sorted(grid.overlong.items()):
        sink.add(row, "row", Column(width, "after the last header"),
                 f"the row has more values than the header's {width} columns: a value "
                 f"probably contains an unquoted {_name(result.delimiter)} (e.g. a thousands "
                 "separator); quote it or remove the separator", extra)
    for row, present in sorted(grid.short.items()):
        _report_short(sink, row, present, grid.header, grid.named, result.delimiter)
    built = BUILDERS[frame.layout.kind](frame)
    result.notes.extend(frame.notes)
    bins = extra_keys(frame) if frame.layout.kind == "stock" else {}
    keys = {k: built.table[k] for k in KEYS[frame.layout.kind]}
    keys.update({k: v.take(built.source_rows) for k, v in bins.items()})
    # Every row with a readable key takes part, even if another of its cells is bad: with a
    # tolerance, the good copy of a duplicated row must not slip through alone.
    readable = reduce(pc.and_, [pc.is_valid(v) for v in keys.values()])
    report_duplicates(keys, built.source_rows, readable, sink,
                      frame.column(KEYS[frame.layout.kind][0]))

    result.bad_rows = len(sink.bad)
    result.rows_skipped = result.bad_rows
    result.problems = sorted(result.problems + sink.problems,
                             key=lambda p: (not p.file_level, p.line, p.column or 0))
    result.problems_dropped = sink.dropped
    if not result.ok:
        return
    table = built.table.filter(_good(built, sink))
    if bins:
        merged = table.num_rows
        table = sum_bins(table)
        if table.num_rows < merged:
            result.notes.append(f"{merged} rows summed into {table.num_rows} (one per sku and "
                                "warehouse, over bins/lots)")
    result.table = table


def _good(built: Built, sink: Collector) -> pa.Array:
    if not sink.bad:
        return pa.repeat(pa.scalar(True), built.table.num_rows)
    bad = pa.array(sorted(sink.bad), pa.int64())
    return pc.invert(pc.is_in(built.source_rows, value_set=bad))


def _report_short(sink: Collector, row: int, present: int, header: list[str], named: int,
                  delimiter: str | None) -> None:
    """One problem for a row with fewer cells than the header, at its first missing column."""
    missing = [(i, header[i].strip()) for i in range(present, named) if header[i].strip()]
    names = [repr(h) for _, h in missing]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    first, heading = missing[0]
    sink.add(row, "row", Column(first, heading),
             f"the row has {present} value{'s' if present != 1 else ''} but the header has "
             f"{named} columns: {listed} {'is' if len(names) == 1 else 'are'} missing, and a "
             f"missing value is never read as blank or 0. Expected {named} values separated by "
             f"{_name(delimiter)}s (a line break inside an unquoted value splits a row in two; "
             "a file cut off while being saved loses the end of a row)", None)


def _apply_rules(result: ParseResult, frame: Frame, grid: Grid) -> None:
    """Drop the rows a product rule ignores (comments, DONOTIMPORT, supplier prices ...).

    Rows with a value the rule does not know stay in, with a problem. The grid's per-row
    findings (overlong, short) are re-indexed to the remaining rows, and the short rows' missing
    cells are not reported again cell by cell."""
    layout = frame.layout
    drop = pa.repeat(pa.scalar(False), frame.n)
    unknown: list[tuple[pa.Array, str, Column]] = []
    if layout.comment_prefix:
        first = pc.utf8_ltrim_whitespace(frame.columns[0])
        comments = pc.starts_with(first, layout.comment_prefix)
        count = pc.sum(comments).as_py() or 0
        if count:
            drop = comments
            result.notes.append(f"{plural(count, 'comment row')} starting with "
                                f"{layout.comment_prefix!r} ignored (reference §7)")
    # a row cut short is reported as such, never classified by the cells it lacks
    short = pa.array([i in grid.short for i in range(frame.n)]) if grid.short else None
    for rule in layout.rules:
        column = frame.resolution.fields.get(rule.field)
        if column is None:
            continue
        values = pc.utf8_lower(frame.at(column))
        kept = pc.is_in(values, value_set=pa.array(sorted(rule.keep), pa.string()))
        if rule.ignore is None:
            ignored = pc.invert(kept)
        else:
            ignored = pc.is_in(values, value_set=pa.array(sorted(rule.ignore), pa.string()))
            unknown.append((pc.invert(pc.or_(kept, ignored)), rule.field, column))
        ignored = pc.and_(ignored, pc.invert(drop))
        if short is not None:
            ignored = pc.and_(ignored, pc.invert(short))
        count = pc.sum(ignored).as_py() or 0
        if count:
            drop = pc.or_(drop, ignored)
            result.notes.append(f"{plural(count, 'row')} ignored: {rule.why}")
    if pc.any(drop).as_py():
        keep = pc.invert(drop)
        result.rows_ignored = frame.n - (pc.sum(keep).as_py() or 0)
        if grid.overlong or grid.short:
            old = pc.indices_nonzero(keep).to_pylist()
            grid.overlong = {new: grid.overlong[o] for new, o in enumerate(old)
                             if o in grid.overlong}
            grid.short = {new: grid.short[o] for new, o in enumerate(old) if o in grid.short}
        frame.columns = frame.columns.filter(keep)
        frame.lines = frame.lines.filter(keep)
        frame.sink = Collector(frame.lines, frame.options.max_problems)
        frame.clear_cache()
        unknown = [(mask.filter(keep), name, column) for mask, name, column in unknown]
    frame.sink.padded = grid.short
    rules = {rule.field: rule for rule in layout.rules}
    for mask, name, column in unknown:
        rule = rules[name]
        allowed = ", ".join(sorted(v.upper() for v in rule.keep | (rule.ignore or set()) if v))
        frame.sink.add_mask(mask, frame.at(column), name, column,
                            partial(_not_one_of, column.header, allowed))


def _not_one_of(header: str, allowed: str, text: str) -> str:
    return f"{header} {text!r} is not one of {allowed}: the row cannot be classified"


def _name(delimiter: str | None) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}.get(delimiter or ",", repr(delimiter))
