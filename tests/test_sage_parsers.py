"""Parsers of Sage stock and price exports: the samples, the Excel pitfalls, and properties.

Why: stock and prices flow from Sage into Magento, so a misread file changes what customers can
buy and what they pay. Every good sample must parse to exact values; every pitfall of reference
§9 must be rejected with the line and column a bookkeeper can find (or accepted, for the ones
that are valid); and any well-formed file, however Excel wrote it, must round-trip exactly.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.errors import UsageError
from sagesync.sage import (
    LAYOUTS,
    SAGE_PRICES,
    SAGE_STOCK,
    ParseOptions,
    ParseResult,
    error_report,
    parse_bytes,
    parse_export,
)
from sagesync.sage.synthetic import write_price_export, write_stock_export
from tests.sage_strategies import DrawnExport, amounts, exports

ROOT = Path(__file__).resolve().parent.parent
SAGE = ROOT / "samples" / "sage"
BROKEN = SAGE / "broken"
D = Decimal
# SAGE_EXAMPLES=5000 pytest tests/test_sage_parsers.py for a long randomized run.
PROPERTY = settings(max_examples=int(os.environ.get("SAGE_EXAMPLES", "80")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def parse(path: Path, product: str, kind: str, **options: Any) -> ParseResult:
    return parse_export(path, product=product, kind=kind, options=ParseOptions(**options))


def rows(result: ParseResult) -> list[dict[str, Any]]:
    return result.table.to_pylist()


def where(result: ParseResult) -> list[tuple[int, int | None]]:
    return [(p.line, p.column) for p in result.problems]


# ------------------------------------------------------------------ the samples are generated

def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sage_samples", SAGE / "make_samples.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["sage_samples"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_samples_equal_the_generator() -> None:
    for relative, data in _load_generator().render().items():
        assert (SAGE / relative).read_bytes() == data, f"rerun make_samples.py: {relative}"


# ------------------------------------------------------------------ good samples, per product

GOOD = [
    # file, product, kind, options, row count, {row index: expected subset}
    ("sage50_uk/stock.csv", "sage50_uk", "stock", {}, 17, {
        0: {"sku": "24-WG084", "warehouse": "DEFAULT", "on_hand": D("163"), "allocated": D(4),
            "on_order": D(24), "source_line": 2},
        14: {"sku": "HE-INS-ROLL", "on_hand": D("12.5")},
        16: {"sku": "GC-25", "source_line": 18}}),
    ("sage50_uk/prices.csv", "sage50_uk", "prices", {}, 16, {
        0: {"sku": "24-WG084", "price_list": "TRADE", "min_qty": D(1), "currency": "GBP",
            "price": D("4.25")},
        8: {"sku": "24-WG084", "price_list": "WHOLESAL", "price": D("3.50")},
        15: {"sku": "HE-INS-ROLL", "price_list": "OSULLIVA", "price": D("19.99"),
             "source_line": 17}}),
    ("sage50_us/ITEM.CSV", "sage50_us", "prices", {"currency": "USD"}, 33, {
        0: {"sku": "24-WG084", "price_list": "LEVEL1", "price": D("6.25"), "currency": "USD"},
        1: {"sku": "24-WG084", "price_list": "LEVEL2", "price": D("5.63")},
        2: {"sku": "24-WG088", "price_list": "LEVEL1", "price": D("23.75")}}),
    ("sage50_us/inventory_valuation.csv", "sage50_us", "stock",
     {"columns": {"on_hand": "Qty on Hand"}}, 12, {
         0: {"sku": "24-WG084", "warehouse": "DEFAULT", "on_hand": D(258), "allocated": D(0),
             "source_line": 6}}),
    ("sage100/IM_ItemWarehouse.csv", "sage100", "stock", {}, 28, {
        0: {"sku": "24-WG084", "warehouse": "000", "on_hand": D(87), "allocated": D(4),
            "on_order": D(46)}}),
    ("sage100/IM_PriceCode.csv", "sage100", "prices", {"currency": "USD"}, 19, {
        0: {"sku": "24-WG084", "price_list": "BASE", "min_qty": D(1), "price": D("6.25")},
        2: {"sku": "24-WG084", "price_list": "A", "min_qty": D(12), "price": D("5.00")},
        18: {"price_list": "B", "min_qty": D(48), "price": D("3.995")}}),
    ("sage200/stock_item_locations.csv", "sage200", "stock", {}, 22, {
        0: {"sku": "24-WG084", "warehouse": "Home", "on_hand": D(237), "allocated": D(26),
            "on_order": D(73)},
        1: {"warehouse": "Manchester", "on_hand": D(187)}}),
    ("sage200/stock_item_selling_prices.csv", "sage200", "prices", {}, 20, {
        1: {"sku": "24-WG084", "price_list": "Trade", "currency": "GBP", "price": D("4.00")},
        16: {"sku": "24-WG084", "price_list": "Euro Standard", "currency": "EUR",
             "price": D("5.85")}}),
    ("sage300/ICILOC.csv", "sage300", "stock", {}, 23, {
        0: {"sku": "24-WG084", "warehouse": "1", "on_hand": D(38), "allocated": D(4),
            "on_order": D(19)}}),
    ("sage300/ICPRICP.csv", "sage300", "prices", {}, 20, {
        1: {"sku": "24-WG084", "price_list": "STD", "min_qty": D(10), "currency": "CAD",
            "price": D("8.075")},
        18: {"price_list": "WHSALE", "min_qty": D(100), "price": D("8.3333")},
        19: {"sku": "24-WG088", "price": D("20.0000")}}),  # 19.999950 half-up to 4 places
    ("sagex3/STOCK.csv", "sagex3", "stock", {}, 12, {
        0: {"sku": "24-WG084", "warehouse": "GB011", "on_hand": D(147), "allocated": D(10),
            "source_line": 2}}),
    ("sagex3/price_list.csv", "sagex3", "prices", {}, 18, {
        1: {"sku": "24-WG084", "price_list": "T20", "min_qty": D(10), "price": D("4.60")},
        2: {"price_list": "T30", "currency": "EUR", "price": D("5.85")}}),
    ("intacct/item_warehouse.csv", "intacct", "stock", {}, 18, {
        0: {"sku": "MH01-M-Black", "warehouse": "WH-LDN", "on_hand": D(123), "allocated": D(9),
            "on_order": D(39)}}),
    ("intacct/price_list.csv", "intacct", "prices", {}, 18, {
        0: {"sku": "MH01-M-Black", "price_list": "Base Price List", "min_qty": D(1),
            "price": D(52), "source_line": 3},
        2: {"price_list": "Trade", "min_qty": D(10), "price": D("39.00")}}),
]


@pytest.mark.parametrize(("name", "product", "kind", "options", "count", "expected"), GOOD,
                         ids=[g[0] for g in GOOD])
def test_good_sample(name: str, product: str, kind: str, options: dict[str, Any], count: int,
                     expected: dict[int, dict[str, Any]]) -> None:
    result = parse(SAGE / name, product, kind, **options)
    assert result.ok, [p.describe() for p in result.problems]
    assert result.problems == []
    assert result.table.schema == (SAGE_STOCK if kind == "stock" else SAGE_PRICES)
    assert result.table.num_rows == count
    got = rows(result)
    for index, subset in expected.items():
        assert {k: got[index][k] for k in subset} == subset, index


def test_sample_details() -> None:
    """What the sample rules do: ignored rows, summed bins, levels in file order, notes."""
    uk = parse(SAGE / "sage50_uk/prices.csv", "sage50_uk", "prices")
    assert (uk.rows_read, uk.rows_ignored) == (18, 2)  # TYPE U supplier prices
    assert "SUPP001" not in {r["price_list"] for r in rows(uk)}
    us = parse(SAGE / "sage50_us/ITEM.CSV", "sage50_us", "prices")
    levels = [(r["sku"], r["price_list"]) for r in rows(us)]
    assert levels[:5] == [("24-WG084", "LEVEL1"), ("24-WG084", "LEVEL2"),
                          ("24-WG088", "LEVEL1"), ("24-WG088", "LEVEL2"), ("24-WG088", "LEVEL3")]
    assert ("24-WG086", "LEVEL10") in levels  # one item has a clearance level 10
    assert not any(r["price"] == 0 for r in rows(us))  # 0.00 levels are unused
    x3 = parse(SAGE / "sagex3/STOCK.csv", "sagex3", "stock")
    assert (x3.rows_read, x3.rows_ignored) == (19, 1)  # status Q
    assert any("summed" in n for n in x3.notes)
    report = parse(SAGE / "sage50_us/inventory_valuation.csv", "sage50_us", "stock",
                   columns={"on_hand": "Qty on Hand"})
    assert any("line 5" in n for n in report.notes)
    intacct = parse(SAGE / "intacct/price_list.csv", "intacct", "prices")
    assert intacct.rows_ignored == 3 and len(intacct.notes) == 3
    assert parse(SAGE / "intacct/item_warehouse.csv", "intacct", "stock").encoding == "utf-8-sig"
    assert parse(SAGE / "sage50_uk/stock.csv", "sage50_uk", "stock").encoding == "cp1252"


def test_sage50_us_stock_without_a_mapped_quantity_says_why() -> None:
    result = parse(SAGE / "sage50_us/ITEM.CSV", "sage50_us", "stock")
    assert not result.ok and result.table.num_rows == 0
    [problem] = result.problems
    assert problem.line == 1 and problem.field == "on_hand" and problem.file_level
    assert "§2.3" in problem.message and "columns.on_hand" in problem.message


# ------------------------------------------------------------------ broken samples (§9)

KNOWN = {"004510", "004512", "004517", "HE-LED-10"}
BROKEN_CASES = [
    # file, product, kind, options, accepted?, [(line, column, words in the message)]
    ("stripped_zeros.csv", "sage50_uk", "stock", {"known_skus": KNOWN}, False,
     [(3, 1, "'004512' is"), (4, 1, "leading zeros")]),
    ("stripped_zeros.csv", "sage50_uk", "stock", {}, True, []),  # undetectable without SKUs
    ("scientific_sku.csv", "sage200", "stock", {}, False,
     [(3, 1, "scientific notation"), (5, 1, "scientific notation")]),
    ("decimal_comma.csv", "sagex3", "stock", {}, False,
     [(2, 5, "decimal comma"), (3, 6, "decimal comma")]),
    ("decimal_comma.csv", "sagex3", "stock", {"decimal_comma": True}, True, []),
    ("semicolon_plain.csv", "sage200", "stock", {}, True, []),
    ("thousands_separator.csv", "sage200", "stock", {}, False,
     [(2, 4, "thousands separator or a decimal comma"), (3, 4, "thousands separator")]),
    ("thousands_unquoted.csv", "sage200", "stock", {}, False,
     [(2, 7, "unquoted comma")]),
    ("negative_quantity.csv", "sage300", "stock", {}, False,
     [(3, 3, "on_hand '-3.0000' is negative"), (4, 6, "allocated '-1.0000' is negative")]),
    ("non_numeric.csv", "sage200", "prices", {}, False,
     [(3, 5, "currency symbol"), (4, 5, "'TBC' is not a number"), (5, 5, "Excel error value"),
      (6, 5, "price is empty")]),
    ("duplicate_rows.csv", "sage100", "stock", {}, False,
     [(2, 1, "lines 2 and 5"), (5, 1, "lines 2 and 5")]),
    ("missing_column.csv", "sage200", "stock", {}, False,
     [(1, None, "'QtyInStock'; headers found: 'Code', 'Name', 'WarehouseName', 'Stock Level'")]),
    ("missing_column.csv", "sage200", "stock", {"columns": {"on_hand": "Stock Level"}}, True, []),
    ("cp1252_pounds_euros.csv", "sage200", "prices", {}, True, []),
    ("utf8_bom.csv", "sage50_uk", "stock", {}, True, []),
    ("trailing_blank_lines.csv", "sage300", "stock", {}, True, []),
    ("unicode_text.txt", "sage200", "stock", {}, True, []),
    ("empty.csv", "sage200", "stock", {}, False, [(1, None, "empty")]),
    ("header_only.csv", "intacct", "stock", {}, False, [(1, None, "no data rows")]),
    ("header_only.csv", "intacct", "stock", {"allow_empty": True}, True, []),
    ("binary_junk.csv", "sage200", "stock", {}, False, [(2, 84, "binary")]),
    ("excel_workbook.csv", "sage200", "stock", {}, False, [(1, 1, "Excel workbook")]),
    ("dates_reformatted.csv", "sage50_uk", "stock", {}, True, []),  # date not mapped: ignored
    ("dates_reformatted.csv", "sage50_uk", "stock", {"columns": {"date": "STOCK_TAKE_DATE"}},
     False, [(3, 6, "not in the DD/MM/YYYY format"), (4, 6, "reformatted"),
             (5, 6, "Excel date serial number")]),
    ("short_row.csv", "sage200", "stock", {}, False,
     [(3, 5, "'QtyAllocated' and 'QtyOnOrder' are missing")]),
    ("short_row.csv", "sage200", "stock", {"tolerance": 1}, True,
     [(3, 5, "never read as blank or 0")]),
    ("cut_off.csv", "sage200", "stock", {}, False, [(4, 4, "cut off or still being written")]),
    ("cut_off.csv", "sage200", "stock", {"tolerance": 9}, False, [(4, 4, "'16'")]),
    ("invisible_sku.csv", "sage200", "stock", {}, False,
     [(3, 1, "U+200B (zero width space)"), (4, 1, "U+00A0 (no-break space) at the end"),
      (5, 1, "U+00AD (soft hyphen)"), (6, 1, "69 characters long")]),
    ("padded_codes.csv", "sage300", "stock", {}, True, []),
]


@pytest.mark.parametrize(("name", "product", "kind", "options", "accepted", "expected"),
                         BROKEN_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(BROKEN_CASES)])
def test_broken_sample(name: str, product: str, kind: str, options: dict[str, Any],
                       accepted: bool, expected: list[tuple[int, int | None, str]]) -> None:
    result = parse(BROKEN / name, product, kind, **options)
    assert result.ok is accepted, [p.describe() for p in result.problems]
    assert where(result) == [(line, col) for line, col, _ in expected]
    for problem, (_, _, words) in zip(result.problems, expected, strict=True):
        assert words in problem.message, problem.message
    if not accepted:
        assert result.table.num_rows == 0  # never half-applied


def test_broken_samples_read_the_right_values_once_fixed_by_options() -> None:
    padded = parse(BROKEN / "stripped_zeros.csv", "sage50_uk", "stock", sku_width=6,
                   known_skus=KNOWN)
    assert [r["sku"] for r in rows(padded)] == ["004510", "004512", "004517", "HE-LED-10"]
    comma = parse(BROKEN / "decimal_comma.csv", "sagex3", "stock", decimal_comma=True)
    assert [(r["on_hand"], r["allocated"]) for r in rows(comma)] == [
        (D("12.5"), D(0)), (D(1250), D("3.75")), (D(80), D(0))]
    cp = parse(BROKEN / "cp1252_pounds_euros.csv", "sage200", "prices")
    assert cp.encoding == "cp1252" and rows(cp)[1]["price_list"] == "Détail"
    assert parse(BROKEN / "utf8_bom.csv", "sage50_uk", "stock").encoding == "utf-8-sig"
    utf16 = parse(BROKEN / "unicode_text.txt", "sage200", "stock")
    assert (utf16.encoding, utf16.delimiter) == ("utf-16", "\t")
    dated = parse(BROKEN / "dates_reformatted.csv", "sage50_uk", "stock", tolerance=3,
                  columns={"date": "STOCK_TAKE_DATE"})
    assert dated.ok and rows(dated)[0]["date"].isoformat() == "2025-12-31"
    assert parse(BROKEN / "semicolon_plain.csv", "sage200", "stock").delimiter == ";"
    blank = parse(BROKEN / "trailing_blank_lines.csv", "sage300", "stock")
    assert blank.rows_read == 2 and [r["source_line"] for r in rows(blank)] == [2, 3]
    short = parse(BROKEN / "short_row.csv", "sage200", "stock", tolerance=1)
    assert [r["sku"] for r in rows(short)] == ["24-WG084", "24-UG06"]
    padded = parse(BROKEN / "padded_codes.csv", "sage300", "stock")
    assert [r["sku"] for r in rows(padded)] == ["24-WG084", "24-WG088"]
    assert any("2 SKUs had spaces" in note for note in padded.notes)


def test_tolerance_skips_and_lists_bad_rows() -> None:
    strict = parse(BROKEN / "non_numeric.csv", "sage200", "prices", tolerance=3)
    assert not strict.ok and strict.bad_rows == 4 and strict.table.num_rows == 0
    loose = parse(BROKEN / "non_numeric.csv", "sage200", "prices", tolerance=4)
    assert loose.ok and loose.rows_skipped == 4 and len(loose.problems) == 4
    assert [r["sku"] for r in rows(loose)] == ["24-WG084"]


def test_duplicates_are_rejected_even_when_one_copy_is_bad() -> None:
    data = b"StockCode,Warehouse,QtyInStock\nA,Home,1\nA,Home,x\n"
    result = parse_bytes(data, product="sage200", kind="stock",
                         options=ParseOptions(tolerance=5))
    assert result.ok and result.table.num_rows == 0 and result.bad_rows == 2


def test_error_report_lists_every_problem_then_what_was_expected() -> None:
    path = BROKEN / "non_numeric.csv"
    result = parse(path, "sage200", "prices")
    text = error_report(result, path)
    assert text.startswith(f"{path}: REJECTED")
    assert "line 3, column 5 (Price): '£19.00' has a currency symbol" in text
    assert "line 6, column 5 (Price): price is empty" in text
    assert "Expected: " in text and "'ProductCode'" in text and "'PriceBand'" in text
    assert text.index("line 6") < text.index("Expected")
    missing = parse(BROKEN / "missing_column.csv", "sage200", "stock")
    assert "line 1: no column for on_hand" in error_report(missing, "x.csv")


# ------------------------------------------------------------------ a user's own layout

def test_column_mapping_reads_a_users_own_layout() -> None:
    data = ("Artikel;Lager;Bestand;Reserviert;Beschreibung\r\n"
            "24-WG084;Köln;1.250,5;3;Yogablock\r\n"
            "24-UG06;Köln;12;0;Trinkflasche\r\n").encode("cp1252")
    options = ParseOptions(columns={"sku": "artikel", "warehouse": "LAGER",
                                    "on_hand": "Bestand", "allocated": "Reserviert"},
                           decimal_comma=True)
    result = parse_bytes(data, product="sage200", kind="stock", options=options)
    assert result.ok, result.problems
    assert result.columns["on_hand"] == "Bestand"
    assert rows(result)[0] == {"sku": "24-WG084", "warehouse": "Köln", "on_hand": D("1250.5"),
                               "allocated": D(3), "on_order": D(0), "date": None,
                               "source_line": 2}


def test_a_mapping_to_a_header_that_is_not_there_is_a_file_problem() -> None:
    result = parse(SAGE / "sage200/stock_item_locations.csv", "sage200", "stock",
                   columns={"on_hand": "Free Stock"})
    assert not result.ok
    assert "maps on_hand to the header 'Free Stock'" in result.problems[0].message


def test_wrong_options_and_missing_files_raise_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        parse(tmp_path / "nope.csv", "sage200", "stock")
    with pytest.raises(UsageError):
        parse(SAGE / "sage200/stock_item_locations.csv", "sage201", "stock")
    with pytest.raises(UsageError):
        parse(SAGE / "sage200/stock_item_locations.csv", "sage200", "levels")
    with pytest.raises(UsageError, match="qty"):
        parse(SAGE / "sage200/stock_item_locations.csv", "sage200", "stock",
              columns={"qty": "QtyInStock"})
    with pytest.raises(UsageError):
        parse(SAGE / "sage200/stock_item_locations.csv", "sage200", "stock", currency="£")


def test_awkward_content_becomes_problems_not_exceptions() -> None:
    cases = {
        b'StockCode,Warehouse,QtyInStock\nA,Home,"1\nB,Home,2\n': "never closed",
        b"StockCode,Warehouse,QtyInStock\nA,Home,NaN\nB,Home,inf\n": "NaN and infinity",
        b"StockCode,Warehouse,QtyInStock\nA,Home,1.5e3\n": "scientific notation",
        b"StockCode,Warehouse,QtyInStock\n\x01A,Home,1\n": "control character",
        b"StockCode,Warehouse,QtyInStock\nA,Home,123456789012345\n": "too long",
        b"StockCode,Warehouse,QtyInStock,StockCode\nA,Home,1,A\n": "appears in columns 1 and 4",
        b"\r\n,,\r\n": "no header row",
    }
    for data, words in cases.items():
        result = parse_bytes(data, product="sage200", kind="stock")
        assert not result.ok
        assert any(words in p.message for p in result.problems), (data, result.problems)


def test_line_numbers_count_physical_lines_across_quoted_line_breaks() -> None:
    data = (b'StockCode,Name,Warehouse,QtyInStock\r\n'
            b'A,"two\r\nlines",Home,1\r\n\r\n'
            b'B,plain,Home,-2\r\n')
    result = parse_bytes(data, product="sage200", kind="stock")
    assert where(result) == [(5, 4)]


def test_more_than_four_places_round_half_up() -> None:
    data = b"ITEMNO,PRICELIST,CURRENCY,UNITPRICE\nA,STD,CAD,1.00005\nB,STD,CAD,2.123449\n"
    result = parse_bytes(data, product="sage300", kind="prices")
    assert [r["price"] for r in rows(result)] == [D("1.0001"), D("2.1234")]


# ------------------------------------------------------------------ properties

@PROPERTY
@given(exports())
def test_valid_files_round_trip_exactly(drawn: DrawnExport) -> None:
    result = parse_bytes(drawn.data, product=drawn.product, kind=drawn.kind,
                         options=ParseOptions(allow_empty=True))
    assert result.ok, [p.describe() for p in result.problems]
    assert result.delimiter == drawn.delimiter
    if drawn.encoding in ("utf-8-sig", "utf-16"):
        assert result.encoding == drawn.encoding
    assert rows(result) == drawn.expected


@PROPERTY
@given(exports(), st.integers(1, 5), st.sampled_from(["", "   ", "\r"]))
def test_fast_and_exact_splitting_agree(drawn: DrawnExport, at: int, filler: str) -> None:
    """A blank line in the middle: same rows, and the lines after it move down by one. An
    empty line keeps the pyarrow path (lines recomputed); spaces send the file down the
    csv-module path."""
    text = drawn.data.decode(drawn.encoding)
    lines = text.split("\n")
    if at >= len(lines) - 1:
        return
    shifted = "\n".join([*lines[:at], filler, *lines[at:]]).encode(drawn.encoding)
    result = parse_bytes(shifted, product=drawn.product, kind=drawn.kind,
                         options=ParseOptions(allow_empty=True))
    assert result.ok
    expected = [dict(r, source_line=r["source_line"] + (r["source_line"] > at))
                for r in drawn.expected]
    assert rows(result) == expected


PRODUCT_KINDS = st.sampled_from(sorted(LAYOUTS))


@PROPERTY
@given(st.binary(max_size=600), PRODUCT_KINDS)
def test_arbitrary_bytes_never_raise(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                     key: tuple[str, str]) -> None:
    path = tmp_path_factory.getbasetemp() / "arbitrary.csv"
    path.write_bytes(data)
    result = parse_export(path, product=key[0], kind=key[1])
    _consistent(result)


@PROPERTY
@given(st.text(max_size=400), PRODUCT_KINDS, st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_arbitrary_text_never_raises(tmp_path_factory: pytest.TempPathFactory, text: str,
                                     key: tuple[str, str], encoding: str) -> None:
    path = tmp_path_factory.getbasetemp() / "arbitrary.txt"
    path.write_bytes(text.encode(encoding, errors="replace"))
    _consistent(parse_export(path, product=key[0], kind=key[1]))


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.text("0123456789.,-eE ",
                                                                          max_size=6)),
                max_size=6), PRODUCT_KINDS)
def test_numberish_cells_never_raise(cells: list[tuple[str, str]], key: tuple[str, str]) -> None:
    layout = LAYOUTS[key]
    names = [aliases[0][0] for aliases in layout.aliases.values()]
    lines = [",".join(f'"{n}"' for n in names)]
    lines += [",".join(f'"{sku}{i}"' if j == 0 else f'"{value}"' for j in range(len(names)))
              for i, (sku, value) in enumerate(cells)]
    _consistent(parse_bytes("\n".join(lines).encode(), product=key[0], kind=key[1]))


NASTY = [b'"', b",", b";", b"\t", b"\n", b"\r", b"\r\n", b" ", b"-", b"e", b"E+", b".", b"0",
         b"\xe9", b"\xa3", b"\xef\xbb\xbf", b"#", b"", b"\x00", b"1,234", b"NaN"]


@PROPERTY
@given(st.sampled_from(GOOD), st.lists(st.tuples(st.floats(0, 1), st.sampled_from(NASTY),
                                                 st.integers(0, 3)), min_size=1, max_size=6))
def test_mutated_samples_never_raise(good: tuple[Any, ...],
                                     edits: list[tuple[float, bytes, int]]) -> None:
    """Real sample structure with a few nasty edits (insert, replace, delete) at random places."""
    name, product, kind, options = good[:4]
    data = bytearray((SAGE / name).read_bytes())
    for where_, text, cut in edits:
        at = int(where_ * len(data))
        data[at:at + cut] = text
    result = parse_bytes(bytes(data), product=product, kind=kind,
                         options=ParseOptions(**options))
    _consistent(result)


def _consistent(result: ParseResult) -> None:
    assert result.ok or result.table.num_rows == 0
    assert result.ok or result.problems
    for problem in result.problems:
        assert problem.line >= 1 and (problem.column is None or problem.column >= 1)
        assert problem.message
    error_report(result, "x.csv")


@PROPERTY
@given(st.lists(amounts(places=6, high=10**12), min_size=1, max_size=20))
def test_decimals_are_exact_and_rounded_half_up(values: list[Decimal]) -> None:
    lines = ["Code,WarehouseName,QtyInStock,QtyAllocated"]
    lines += [f"S{i},Home,{v},{format(v.normalize(), 'f')}" for i, v in enumerate(values)]
    # Every row ends with a line break, as Sage writes it (without one the last is cut off).
    result = parse_bytes("\n".join([*lines, ""]).encode(), product="sage200", kind="stock")
    assert result.ok, result.problems
    want = [v.quantize(D("0.0001"), ROUND_HALF_UP) for v in values]
    assert [r["on_hand"] for r in rows(result)] == want
    assert [r["allocated"] for r in rows(result)] == want


@PROPERTY
@given(st.lists(amounts(places=4), min_size=1, max_size=20))
def test_four_place_values_come_back_equal(values: list[Decimal]) -> None:
    lines = ["ITEMID,PRICELISTID,QTYLIMITMIN,VALUE"]
    lines += [f"S{i},L,{v},{v}" for i, v in enumerate(values)]
    result = parse_bytes("\n".join([*lines, ""]).encode(), product="intacct", kind="prices")
    assert result.ok
    assert [(r["min_qty"], r["price"]) for r in rows(result)] == [(v, v) for v in values]
    assert pa.types.is_decimal(result.table.schema.field("price").type)


def test_synthetic_benchmark_exports_parse(tmp_path: Path) -> None:
    stock = parse(write_stock_export(tmp_path / "s.csv", skus=50), "sage100", "stock")
    assert stock.ok and stock.table.num_rows == 150
    prices = parse(write_price_export(tmp_path / "p.csv", skus=50), "intacct", "prices")
    assert prices.ok and prices.table.num_rows == 150
