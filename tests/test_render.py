"""Rendering rules of Sage 50 UK files: exact bytes, holds, truncation, neutralising."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.render import RowRejected, RowRenderer, load_spec, neutralise, write_csv

AUDIT = load_spec("sage50_uk", "audit_trail")


def record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "transaction_type": "SI", "account_ref": "WEBSALES", "nominal_code": "4000",
        "department": None, "posting_date": date(2026, 11, 2), "reference": "000000123",
        "details": "Inv 000000123 goods", "net_amount": Decimal("10.5"),
        "tax_code": "T1", "tax_amount": Decimal("2.10"), "extra_reference": "000000100"}
    base.update(overrides)
    return base


def test_one_row_is_exactly_the_fifteen_columns_sage_expects() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    data = write_csv(AUDIT, [renderer.render(record())], header=False, encoding="cp1252")
    assert data == (b"SI,WEBSALES,4000,,02/11/2026,000000123,Inv 000000123 goods,10.50,T1,2.10,,"
                    b"000000100,sagesync,,\r\n")


def test_header_row_matches_the_kb_column_names() -> None:
    data = write_csv(AUDIT, [], header=True, encoding="cp1252")
    assert data.startswith(b"Type,Account Reference,Nominal A/C Ref,Department Code,Date,")
    assert data.endswith(b"Project Refn,Cost Code Refn\r\n")


def test_text_with_comma_is_quoted_and_double_quotes_never_appear_inside() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    row = renderer.render(record(details='Tee "Classic", Fit'))
    data = write_csv(AUDIT, [row], header=False, encoding="cp1252")
    assert b"\"Tee 'Classic', Fit\"" in data
    assert data.count(b'"') == 2


def test_code_over_its_length_holds_and_text_is_cut_with_a_warning() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    with pytest.raises(RowRejected, match=r"Nominal A/C Ref.*9 characters, Sage allows 8"):
        renderer.render(record(nominal_code="123456789"))
    row = renderer.render(record(details="x" * 80))
    assert row[6] == "x" * 60
    assert any("cut to 60" in w for w in renderer.warnings)


def test_account_reference_must_be_sage_shaped() -> None:
    with pytest.raises(RowRejected, match="Account Reference"):
        RowRenderer(AUDIT, "cp1252").render(record(account_ref="web-01"))


def test_unencodable_text_is_reported_not_dropped() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    row = renderer.render(record(details="Łódź café €5"))
    assert row[6] == "?ódz café €5"
    assert renderer.warnings and "cp1252" in renderer.warnings[0]


@given(st.text(min_size=1))
def test_neutralised_text_never_starts_a_formula(text: str) -> None:
    result = neutralise(text)
    assert not result.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert result.endswith(text)


def test_formula_in_details_is_neutralised_in_the_file() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    row = renderer.render(record(details='=HYPERLINK("http://x")'))
    assert row[6] == "'=HYPERLINK('http://x')"


def test_exchange_rate_column_k_is_the_rate_as_written_or_blank() -> None:
    renderer = RowRenderer(AUDIT, "cp1252")
    assert renderer.render(record(exchange_rate=Decimal("3.75000000")))[10] == "3.75"
    assert renderer.render(record(exchange_rate=Decimal("188.5312")))[10] == "188.5312"
    assert renderer.render(record(exchange_rate=None))[10] == ""
    assert renderer.render(record())[10] == ""  # a base-currency document has no rate
    for wrong in (Decimal(0), Decimal("-1.2")):
        with pytest.raises(RowRejected, match="Exchange Rate"):
            renderer.render(record(exchange_rate=wrong))


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999"), places=8))
def test_a_rendered_rate_reads_back_as_the_same_number(rate: Decimal) -> None:
    cell = RowRenderer(AUDIT, "cp1252").render(record(exchange_rate=rate))[10]
    assert "E" not in cell and not cell.endswith(".") and Decimal(cell) == rate
