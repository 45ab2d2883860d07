"""The text of a rejected (or partly skipped) export's `.error.txt`: what is wrong, where, and
what the file should look like instead.

The problem list has the shape of every quarantine error file (sagesync.model.problems):
`N problems:` and then exactly those N problems, so the count can be trusted.
"""

from __future__ import annotations

from pathlib import Path

from sagesync.model.problems import REJECTED, problem_list
from sagesync.model.words import nouns, plural
from sagesync.sage.layouts import DEFAULT_WAREHOUSE, layout_for
from sagesync.sage.results import ParseOptions, ParseResult
from sagesync.sage.tables import FIELDS, KEYS

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_BLANK = {"zero": ", blank = 0", "one": ", blank = 1", "default": ", blank = the default"}


def problem_lines(result: ParseResult) -> list[str]:
    """One line per problem: `line 4, column 3 (QtyInStock): message`."""
    out = [p.describe() for p in result.problems]
    if result.problems_dropped:
        out.append(f"... and {result.problems_dropped} more "
                   f"{nouns(result.problems_dropped, 'problem')} of the same kinds")
    return out


def expected(product: str, kind: str, options: ParseOptions | None = None) -> str:
    """What a readable export of this product and kind looks like, in a few sentences."""
    options = options or ParseOptions()
    layout = layout_for(product, kind)
    parts = []
    for spec in FIELDS[kind]:
        mapped = options.columns.get(spec.name)
        names = [mapped] if mapped else [a for a, _ in layout.aliases.get(spec.name, ())]
        if spec.name == "price" and layout.level_prefix and not mapped:
            names = ["Sales Price 1", "...", "Sales Price 10"]
        if not names:
            continue
        need = "required" if spec.required else f"optional{_BLANK.get(spec.blank, '')}"
        if spec.name == "currency":
            need = f"optional, blank = {options.currency}"
        if spec.name == "warehouse" and layout.single_location:
            need = f"optional, default {options.warehouse or DEFAULT_WAREHOUSE}"
        parts.append(f"{spec.name} ({need}): {' or '.join(repr(n) for n in names)}")
    if layout.single_location and "warehouse" not in options.columns:
        parts.append(f"warehouse: always {options.warehouse or DEFAULT_WAREHOUSE} "
                     "(one location)")
    numbers = ("1234,56 (decimal comma, as configured)" if options.decimal_comma
               else "1234.56 (a point, no thousands separators)")
    return (f"a {layout.title} file: CSV text (UTF-8, with or without BOM, or Windows-1252), "
            f"delimited by commas, semicolons or tabs, with a header row naming the columns "
            f"(case, spaces and underscores ignored): {'; '.join(parts)}. Quantities and "
            f"prices are plain non-negative numbers such as {numbers}; codes are text, never "
            "in scientific notation, and a SKU has at most 64 characters and no invisible ones; "
            "every row has a value (empty if need be) for each named column and ends with a line "
            "break, the last row too; one row per "
            + " + ".join(KEYS[kind]))


def error_report(result: ParseResult, path: Path | str,
                 options: ParseOptions | None = None) -> str:
    """The whole `.error.txt`: verdict, how the file was read, every problem, then what was
    expected."""
    verdict = (REJECTED if not result.ok
               else f"ACCEPTED with {plural(result.rows_skipped, 'bad row')} skipped (tolerance "
               f"{result.tolerance})" if result.problems else "ACCEPTED")
    rows = (f"{result.bad_rows} of {plural(result.rows_read, 'row')} "
            f"{'has' if result.bad_rows == 1 else 'have'} problems"
            if result.rows_read else "no data rows read")
    how = [f"product {result.product}, {result.kind} export"]
    if result.encoding:
        how.append(f"encoding {result.encoding}")
    if result.delimiter:
        how.append(f"delimiter {_DELIMITER_NAMES.get(result.delimiter, repr(result.delimiter))}")
    lines = [f"{path}: {verdict}.", f"Read as: {', '.join(how)}; {rows}."]
    if result.columns:
        lines.append("Columns used: " + ", ".join(f"{k} = '{v}'"
                                                   for k, v in result.columns.items()) + ".")
    lines += [f"Note: {note}" for note in result.notes]
    lines += ["", *problem_list([p.describe() for p in result.problems],
                                result.problems_dropped)]
    lines += ["", "Expected: " + expected(result.product, result.kind, options) + ".", ""]
    return "\n".join(lines)
