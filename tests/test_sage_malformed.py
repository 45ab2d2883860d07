"""Malformed Sage exports: rows of the wrong width, files cut off while being written, and SKUs
Magento cannot hold (too long, or with invisible characters).

Why: each of these used to be applied with a wrong value (a missing cell read as 0, `163` cut
to `16`, a SKU with a zero-width space that matches no product or creates a second one). A
malformed file must be rejected with the line and column a bookkeeper can find, quarantined by
the CLI with exit 65, and nothing of it may reach Magento.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sagesync.errors import ExitCode
from sagesync.sage import ParseOptions, ParseResult, parse_bytes
from tests.sage_strategies import WITH_SKUS, DrawnExport, exports, rewrite_row

PROPERTY = settings(max_examples=int(os.environ.get("SAGE_EXAMPLES", "80")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HEADER = "StockCode,WarehouseName,QtyInStock,QtyAllocated,QtyOnOrder\r\n"


def parse(data: bytes | str, product: str = "sage200", kind: str = "stock",
          **options: Any) -> ParseResult:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return parse_bytes(raw, product=product, kind=kind, options=ParseOptions(**options))


def where(result: ParseResult) -> list[tuple[int, int | None]]:
    return [(p.line, p.column) for p in result.problems]


def rows(result: ParseResult) -> list[dict[str, Any]]:
    return result.table.to_pylist()


def reparse(drawn: DrawnExport, text: str, **options: Any) -> ParseResult:
    return parse(text.encode(drawn.encoding), drawn.product, drawn.kind,
                 allow_empty=True, **options)


def _cells(text: str, delimiter: str) -> list[str]:
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])


# ------------------------------------------------------------------ rows shorter than the header

def test_a_short_row_is_a_bad_row_not_zeros() -> None:
    result = parse(HEADER + "A,Home,5,1,2\r\nB,Home,7\r\nC,Home,1,0,0\r\n")
    assert not result.ok and result.table.num_rows == 0
    assert where(result) == [(3, 4)]
    [problem] = result.problems
    assert problem.header == "QtyAllocated" and not problem.file_level
    assert "3 values but the header has 5 columns" in problem.message
    assert "'QtyAllocated' and 'QtyOnOrder'" in problem.message


def test_a_short_row_within_the_tolerance_is_skipped_and_listed() -> None:
    result = parse(HEADER + "A,Home,5,1,2\r\nB,Home,7\r\nC,Home,1,0,0\r\n", tolerance=1)
    assert result.ok and result.rows_skipped == 1 and where(result) == [(3, 4)]
    assert [r["sku"] for r in rows(result)] == ["A", "C"]


def test_a_header_with_unnamed_trailing_columns_does_not_make_rows_short() -> None:
    """Excel leaves `,,` after the last heading when a column to the right was once used: those
    unnamed columns are never read, so a row without them lacks nothing."""
    result = parse("StockCode,WarehouseName,QtyInStock,,\r\nA,Home,5\r\nB,Home,7,,\r\n")
    assert result.ok, result.problems
    assert [r["on_hand"] for r in rows(result)] == [5, 7]


@PROPERTY
@given(exports(), st.data())
def test_any_row_shorter_than_the_header_is_reported_where_it_is(drawn: DrawnExport,
                                                                  data: st.DataObject) -> None:
    assume(drawn.expected)
    index = data.draw(st.integers(0, len(drawn.expected) - 1), "row")
    width = len(drawn.headers)
    missing = data.draw(st.integers(1, width - 1), "cells missing")
    text, moved = rewrite_row(drawn, index, lambda cells: cells[:width - missing])
    kept = _cells(drawn.text[slice(*drawn.spans[index])], drawn.delimiter)[:width - missing]
    assume(any(cell.strip() for cell in kept))  # else it is a blank row, rightly dropped
    line = drawn.expected[index]["source_line"]

    strict = reparse(drawn, text)
    assert not strict.ok and strict.table.num_rows == 0
    assert (line, width - missing + 1) in where(strict)

    loose = reparse(drawn, text, tolerance=1)
    assert loose.ok, [p.describe() for p in loose.problems]
    assert {p.line for p in loose.problems} == {line}
    expected = [dict(r, source_line=r["source_line"] - moved * (r["source_line"] > line))
                for i, r in enumerate(drawn.expected) if i != index]
    assert rows(loose) == expected


# ------------------------------------------------------------------ rows longer than the header

@PROPERTY
@given(exports(), st.data())
def test_extra_cells_after_the_header_are_fine_only_when_empty(drawn: DrawnExport,
                                                                data: st.DataObject) -> None:
    """Excel writes empty cells past the last heading; a value there means the row's cells
    moved (an unquoted delimiter), so none of its values can be trusted."""
    assume(drawn.expected)
    index = data.draw(st.integers(0, len(drawn.expected) - 1), "row")
    extra = data.draw(st.lists(st.sampled_from(["", " ", "", "0", "x"]), min_size=1,
                               max_size=3), "extra cells")
    text, _ = rewrite_row(drawn, index, lambda cells: cells + extra)
    result = reparse(drawn, text)
    if any(cell.strip() for cell in extra):
        assert not result.ok
        assert (drawn.expected[index]["source_line"], len(drawn.headers) + 1) in where(result)
    else:
        assert result.ok, [p.describe() for p in result.problems]
        assert rows(result) == drawn.expected


# ------------------------------------------------------------------ a file cut off mid-write

@pytest.mark.parametrize(("tail", "column", "header"), [
    ("B,Home,163,1,16", 5, "QtyOnOrder"),   # the last number may be 16 of 163
    ("B,Home,16", 3, "QtyInStock"),         # cut mid-row: 16 of 163, the rest missing
    ("B,Home,163,1,", 5, "QtyOnOrder"),     # cut after a delimiter: blank would read as 0
])
def test_a_last_row_without_a_line_break_is_a_cut_off_file(tail: str, column: int,
                                                             header: str) -> None:
    for tolerance in (0, 5):  # an incomplete file is never applied, whatever the tolerance
        result = parse(HEADER + "A,Home,5,1,2\r\n" + tail, tolerance=tolerance)
        assert not result.ok and result.table.num_rows == 0
        assert where(result) == [(3, column)]
        [problem] = result.problems
        assert problem.file_level and problem.header == header
        assert "cut off or still being written" in problem.message
        assert "line break" in problem.message


def test_a_complete_file_ends_with_a_line_break_or_with_an_unread_cell() -> None:
    """A trailing blank line (or `,,,,`) is fine, and so is a last cell that is never read:
    the Sage 50 UK STOCK_TAKE_DATE, cut or not, changes nothing that is applied."""
    for end in ("\r\n", "\r\n\r\n", "\r\n,,,,", "\n", "\r", "\r\n   "):
        result = parse(HEADER + "A,Home,5,1,2\r\nB,Home,163,1,16" + end)
        assert result.ok, (end, result.problems)
        assert rows(result)[-1]["on_order"] == 16
    unread = parse("STOCK_CODE,QTY_IN_STOCK,STOCK_TAKE_DATE\r\nA,5,31/12/2025\r\nB,7,31/1",
                   product="sage50_uk")
    assert unread.ok and [r["on_hand"] for r in rows(unread)] == [5, 7]


@PROPERTY
@given(exports(), st.data())
def test_a_cut_off_file_is_never_applied_with_a_wrong_value(drawn: DrawnExport,
                                                             data: st.DataObject) -> None:
    """Cut the file anywhere inside its last row (as a writer still saving it would leave it):
    the parser may reject it or, when only unread cells were lost, accept it; it never accepts
    a value the complete file does not have."""
    assume(drawn.expected)
    start, end = drawn.spans[-1]
    row = drawn.text[start:end].rstrip("\r\n")
    cut = data.draw(st.integers(1, len(row)), "cut")
    kept = row[:cut]
    assume(kept.strip(f' "{drawn.delimiter}'))  # else the row is blank: the file looks whole
    result = reparse(drawn, drawn.text[:start] + kept)
    if result.ok:
        assert rows(result) == drawn.expected
    if cut == len(row) and drawn.columns and max(drawn.columns.values()) == len(drawn.headers):
        assert not result.ok  # the last cell is read: its value cannot be trusted


# ------------------------------------------------------------------ SKUs Magento cannot hold

INVISIBLE = ["\ufeff", "\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\u180e", "\u2028",
             "\u202e"]
EDGE_SPACES = ["\u00a0", "\u202f", "\u2007", "\u3000"]


@pytest.mark.parametrize("char", INVISIBLE)
def test_an_invisible_character_in_a_sku_is_refused(char: str) -> None:
    result = parse(HEADER + f"A,Home,5,0,0\r\n24-WG{char}084,Home,7,0,0\r\n")
    assert not result.ok and result.table.num_rows == 0
    assert where(result) == [(3, 1)]
    message = result.problems[0].message
    assert f"U+{ord(char):04X}" in message and "invisible" in message


@pytest.mark.parametrize("char", EDGE_SPACES)
@pytest.mark.parametrize("at", ["start", "end"])
def test_a_non_breaking_space_at_either_end_of_a_sku_is_refused(char: str, at: str) -> None:
    sku = f"{char}24-WG084" if at == "start" else f"24-WG084 {char}"
    result = parse(HEADER + f'"{sku}",Home,5,0,0\r\n')
    assert not result.ok and where(result) == [(2, 1)]
    assert f"U+{ord(char):04X}" in result.problems[0].message
    assert f"at the {at}" in result.problems[0].message


def test_skus_are_at_most_64_characters() -> None:
    ok = "S" * 63 + "é"
    result = parse(HEADER + f"{ok},Home,5,0,0\r\n{'L' * 65},Home,7,0,0\r\n")
    assert not result.ok and where(result) == [(3, 1)]
    assert "65 characters" in result.problems[0].message
    assert "64" in result.problems[0].message
    assert parse(HEADER + f"{ok},Home,5,0,0\r\n").ok


def test_ordinary_spaces_around_a_sku_are_trimmed_with_a_note() -> None:
    result = parse(HEADER + '"  24-WG084 ",Home,5,0,0\r\n\t24-UG06,Home,7,0,0\r\nX,Home,1,0,0\r\n')
    assert result.ok, result.problems
    assert [r["sku"] for r in rows(result)] == ["24-WG084", "24-UG06", "X"]
    [note] = [n for n in result.notes if "spaces" in n]
    assert note.startswith("2 SKUs") and "line 2" in note


@PROPERTY
@given(exports(WITH_SKUS), st.data())
def test_a_damaged_sku_anywhere_is_refused_where_it_is(drawn: DrawnExport,
                                                        data: st.DataObject) -> None:
    assume(drawn.expected)
    index = data.draw(st.integers(0, len(drawn.expected) - 1), "row")
    column = drawn.columns["sku"]
    sku = drawn.expected[index]["sku"]
    damage = data.draw(st.sampled_from(["invisible", "edge", "long"]), "damage")
    if damage == "invisible":
        at = data.draw(st.integers(0, len(sku)), "at")
        bad = sku[:at] + data.draw(st.sampled_from(INVISIBLE)) + sku[at:]
    elif damage == "edge":
        space = data.draw(st.sampled_from(EDGE_SPACES))
        bad = data.draw(st.sampled_from([space + sku, sku + space, f" {space}{sku}  "]))
    else:
        bad = sku + "X" * data.draw(st.integers(65 - len(sku), 80))
    try:
        bad.encode(drawn.encoding)
    except UnicodeEncodeError:
        assume(False)  # cp1252 cannot hold this character: Excel would have written '?'

    def edit(cells: list[str]) -> list[str]:
        return [*cells[:column - 1], bad, *cells[column:]]

    text, moved = rewrite_row(drawn, index, edit)
    assert moved == 0
    result = reparse(drawn, text)
    assert not result.ok and result.table.num_rows == 0
    assert (drawn.expected[index]["source_line"], column) in where(result)
    assert not any(p.file_level for p in result.problems)


# ------------------------------------------------------------------ through the CLI

def _recipe(folder: Path) -> Path:
    recipe = folder / "stock.toml"
    recipe.write_text("""name = "malformed"
state_dir = "state"
[magento]
base_url = "http://127.0.0.1:9/rest/default"
token = "never-used"
[sage]
product = "sage50_uk"
[sage_export]
product = "sage200"
""", encoding="utf-8")
    return recipe


@pytest.mark.parametrize(("content", "said"), [
    (HEADER + "A,Home,5,1,2\r\nB,Home,163,1,16", "line 3, column 5 (QtyOnOrder)"),
    (HEADER + "A,Home,5,1,2\r\nB,Home,7\r\n", "line 3, column 4 (QtyAllocated)"),
    (HEADER + "A\u200bB,Home,5,1,2\r\n", "line 2, column 1 (StockCode)"),
    (HEADER + "L" * 65 + ",Home,5,1,2\r\n", "line 2, column 1 (StockCode)"),
], ids=["cut-off", "short-row", "invisible-sku", "long-sku"])
def test_parse_sage_quarantines_a_malformed_export_and_exits_65(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, content: str, said: str) -> None:
    export = tmp_path / "stock.csv"
    export.write_bytes(content.encode("utf-8"))
    result = run_cli("-r", str(_recipe(tmp_path)), "parse-sage", str(export), "--kind", "stock")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert result.stdout.strip() == ""  # no manifest: nothing for push-magento to send
    assert said in result.stderr
    [report] = (tmp_path / "state" / "quarantine").rglob("*.error.txt")
    text = report.read_text(encoding="utf-8")
    assert "REJECTED" in text and said in text and "Expected: " in text
    assert not list((tmp_path / "state").glob("runs/*/parse-sage/manifest.json"))


def test_parse_sage_says_when_it_trimmed_spaces_around_skus(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    """Trimming is the one repair made silently to a value, so the person running the import
    is told (stderr) and the checkpoint keeps it (manifest summary)."""
    export = tmp_path / "stock.csv"
    export.write_bytes((HEADER + '"24-WG084   ",Home,5,1,2\r\n').encode("utf-8"))
    result = run_cli("-r", str(_recipe(tmp_path)), "parse-sage", str(export), "--kind", "stock")
    assert result.exit_code == 0, result.output
    assert "note: 1 SKU had spaces before or after them, removed" in result.stderr
    manifest = json.loads(Path(result.stdout.strip()).read_text(encoding="utf-8"))
    assert any("SKU had spaces" in note for note in manifest["summary"]["notes"])
