"""Formula injection is checked on the text as it is written, not as it came in (fault issue 12).

Full-width and small forms (＝ ＋ － ＠ ﹦ ﹢ ﹣ ﹫) fold to plain = + - @ when a cp1252 file is
written; a check made before that folding let live formulas into customers.csv. Every test here
reads the file back the way Sage or a spreadsheet does: the bytes decoded, then split as CSV.
"""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.pipeline.catalog_step import _write_preview
from sagesync.render import RowRejected, RowRenderer, load_spec, write_csv

AUDIT = load_spec("sage50_uk", "audit_trail")
CUSTOMERS = load_spec("sage50_uk", "customers")
MONEY = {i for i, c in enumerate(AUDIT.columns) if c.kind == "money"}
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Each folds (NFKD, then cp1252) to a plain = + - or @.
LOOKALIKES = ["\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66", "\ufe62", "\ufe63", "\ufe6b",
              "\u207c", "\u207a", "\u208c", "\u208a"]


def audit_record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "transaction_type": "SI", "account_ref": "WEBSALES", "nominal_code": "4000",
        "department": None, "posting_date": date(2026, 11, 2), "reference": "000000123",
        "details": "Inv 000000123 goods", "net_amount": Decimal("-10.5"),
        "tax_code": "T1", "tax_amount": Decimal("2.10"), "extra_reference": "000000100"}
    base.update(overrides)
    return base


def customer_record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"account_ref": "WEB00001", "name": "Ann Lee", "street1": "1 Road",
                               "street2": None, "town": "Leeds", "county": None,
                               "postcode": "LS1 1AA", "contact_name": "Ann Lee",
                               "telephone": "0113 000", "vat_number": None}
    base.update(overrides)
    return base


def written_cells(spec, rows: list[list[str]], encoding: str = "cp1252") -> list[list[str]]:  # type: ignore[no-untyped-def]
    """What Sage (or Excel) sees: the file's bytes decoded and split."""
    data = write_csv(spec, rows, header=False, encoding=encoding)
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


@pytest.mark.parametrize("lookalike", LOOKALIKES)
def test_a_lookalike_sign_that_folds_to_a_formula_is_neutralised_in_the_file(
        lookalike: str) -> None:
    renderer = RowRenderer(CUSTOMERS, "cp1252")
    row = renderer.render(customer_record(name=f"{lookalike}1+1", street1=f"{lookalike}SUM(A1)"))
    cells = written_cells(CUSTOMERS, [row])[0]
    assert cells[1] == "'" + cells[1][1:] and cells[1][1:] in ("=1+1", "+1+1", "-1+1", "@1+1")
    assert cells[2].startswith("'")


def test_the_reported_case_hyperlink_in_full_width_reaches_the_file_inert() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    row = renderer.render(audit_record(details='\uff1dHYPERLINK("http://x","y")'))
    cell = written_cells(AUDIT, [row])[0][6]
    assert cell == "'=HYPERLINK('http://x','y')"


def test_text_that_folds_to_leading_blanks_then_a_sign_is_neutralised() -> None:
    renderer = RowRenderer(CUSTOMERS, "cp1252")
    row = renderer.render(customer_record(name="\u02d8\uff1d1+1"))  # breve folds to a space
    cell = written_cells(CUSTOMERS, [row])[0][1]
    assert not cell.lstrip().startswith(DANGEROUS)


@pytest.mark.parametrize("reference", ["=1+1", "+44", "-5", "@SUM(A1)", "\uff1d1"])
def test_a_code_that_would_run_as_a_formula_holds_the_document(reference: str) -> None:
    with pytest.raises(RowRejected, match="Reference"):
        RowRenderer(AUDIT, "cp1252").render(audit_record(reference=reference))


def test_a_code_starting_with_a_sign_says_why_it_is_held() -> None:
    with pytest.raises(RowRejected, match=r"spreadsheet.*formula.*change"):
        RowRenderer(AUDIT, "cp1252").render(audit_record(reference="=1+1"))


def test_negative_money_is_written_as_a_number() -> None:
    row = RowRenderer(AUDIT, "cp1252").render(audit_record())
    assert written_cells(AUDIT, [row])[0][7] == "-10.50"


def test_write_csv_refuses_a_cell_that_would_run_even_if_a_caller_skipped_the_renderer() -> None:
    row = RowRenderer(AUDIT, "cp1252").render(audit_record())
    row[6] = "\ufe66cmd|' /C calc'!A0"
    with pytest.raises(ValueError, match="formula"):
        write_csv(AUDIT, [row], header=False, encoding="cp1252")


def test_starts_formula_judges_the_folded_form() -> None:
    from sagesync.render import FORMULA_START, starts_formula

    assert FORMULA_START == ("=", "+", "-", "@", "\t", "\r", "\n")
    assert starts_formula("\uff1d1") and starts_formula(" \t=1") and starts_formula("\ufe63 2")
    assert not starts_formula("Ann") and not starts_formula("") and not starts_formula("'=1")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=12))
def test_no_string_through_the_renderer_is_written_as_a_formula(
        details: str, name: str, reference: str) -> None:
    audit = RowRenderer(AUDIT, "cp1252")
    customers = RowRenderer(CUSTOMERS, "cp1252")
    rendered: list[tuple[object, list[str], set[int]]] = []
    with contextlib.suppress(RowRejected):
        rendered.append((AUDIT, audit.render(audit_record(details=details, reference=reference)),
                         MONEY))
    with contextlib.suppress(RowRejected):
        rendered.append((CUSTOMERS, customers.render(customer_record(name=name, street1=details,
                                                                     telephone=reference)),
                         set()))
    for spec, row, numeric in rendered:
        for index, cell in enumerate(written_cells(spec, [row])[0]):
            if index in numeric:
                Decimal(cell)  # money: a plain number, which a spreadsheet never runs
                continue
            assert not cell.startswith(DANGEROUS), (index, cell)
            assert not cell.lstrip().startswith(DANGEROUS), (index, cell)


@pytest.mark.parametrize("sku", ["=HYPERLINK(\"http://x\")", "\uff1d1+1", "-SKU", "@x", "\tA"])
def test_preview_keys_are_neutralised(tmp_path: Path, sku: str) -> None:
    key = f"{sku}|store 0"
    path = _write_preview(tmp_path, "prices", [{"key": key}], {key: "-1.00"}, {key: "2.5"})
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert rows[1][0].startswith("'") and rows[1][0].endswith("|store 0")
    assert rows[1][1:] == ["-1.00", "2.5"]
