"""The customer export parser: any well-formed export of any product round-trips exactly
(header spelling and order, delimiter, encoding, quoting, yes/no spellings, blanks), and what
is wrong is a problem with its line and column, never a guess."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.sage import LAYOUTS, ParseOptions, parse_bytes
from sagesync.sage.customers import HOLD_NO, HOLD_YES
from tests.sage_strategies import codes

CUSTOMER_LAYOUTS = sorted(key for key in LAYOUTS if key[1] == "customers")
TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789-'.,éü", max_size=20)
EMAILS = st.builds(lambda a, b: f"{a}@{b}.example", st.from_regex(r"[a-z][a-z0-9._]{0,8}",
                                                                  fullmatch=True),
                   st.from_regex(r"[a-z]{1,8}", fullmatch=True))
HOLDS = st.sampled_from([*sorted(HOLD_YES | HOLD_NO), "Y", "N", "TRUE", "On Hold", ""])


@st.composite
def customer_export(draw: st.DrawFn) -> tuple[str, bytes, list[dict[str, Any]]]:
    product, kind = draw(st.sampled_from(CUSTOMER_LAYOUTS))
    layout = LAYOUTS[(product, kind)]
    optional = [name for name in layout.aliases if name != "account"]
    fields = ["account", *draw(st.lists(st.sampled_from(optional), unique=True))]
    headers = {name: draw(st.sampled_from([a for a, _ in layout.aliases[name]]))
               for name in fields}
    order = draw(st.permutations(fields))
    accounts = draw(st.lists(codes(8), min_size=1, max_size=8,
                             unique_by=lambda a: a))
    rows, expected = [], []
    for line, account in enumerate(accounts, start=2):
        row: dict[str, str] = {"account": account}
        want: dict[str, Any] = {"account": account, "source_line": line}
        for name in fields[1:]:
            if name == "email":
                value = draw(EMAILS | st.just(""))
                want[name] = value or None
            elif name == "on_hold":
                value = draw(HOLDS)
                want[name] = None if value == "" else value.lower() in HOLD_YES
            elif name == "credit_limit":
                amount = draw(st.decimals(min_value=0, max_value=10**7, places=2))
                value = draw(st.sampled_from([str(amount), ""]))
                want[name] = amount.quantize(Decimal("0.0001")) if value else None
            else:
                value = draw(TEXT).strip()
                want[name] = value or None
            row[name] = value
        rows.append(row)
        expected.append(want)
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(
        ["\r\n", "\n"])), quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    writer.writerow([headers[name] for name in order])
    for row in rows:
        writer.writerow([row[name] for name in order])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return product, out.getvalue().encode(encoding), expected


@settings(max_examples=60, deadline=None)
@given(customer_export())
def test_any_well_formed_customer_export_round_trips(drawn: tuple[str, bytes, list[Any]]
                                                     ) -> None:
    product, data, expected = drawn
    result = parse_bytes(data, product=product, kind="customers", options=ParseOptions())
    assert result.ok, [p.describe() for p in result.problems]
    got = result.table.to_pylist()
    assert len(got) == len(expected)
    for row, want in zip(got, expected, strict=True):
        assert {k: row[k] for k in want} == want


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["maybe", "2", "closed?"]), st.sampled_from(CUSTOMER_LAYOUTS))
def test_an_unreadable_hold_or_email_is_a_problem_at_its_cell(word: str,
                                                               key: tuple[str, str]) -> None:
    layout = LAYOUTS[key]
    names = {name: layout.aliases[name][0][0] for name in ("account", "email", "on_hold")}
    data = (f"{names['account']},{names['email']},{names['on_hold']}\r\n"
            f"A1,a@b.example,0\r\nA2,not-an-email,1\r\nA3,c@d.example,{word}\r\n").encode()
    result = parse_bytes(data, product=key[0], kind="customers", options=ParseOptions())
    assert not result.ok
    found = {(p.line, p.column, p.field) for p in result.problems}
    assert found == {(3, 2, "email"), (4, 3, "on_hold")}


def test_a_duplicated_account_and_a_missing_one_are_refused() -> None:
    data = b"A/C,e-mail\r\nWHITFIEL,a@b.example\r\nWHITFIEL,c@d.example\r\n,e@f.example\r\n"
    result = parse_bytes(data, product="sage50_uk", kind="customers", options=ParseOptions())
    assert not result.ok
    messages = {(p.line, p.field): p.message for p in result.problems}
    assert "duplicate rows for account 'WHITFIEL' on lines 2 and 3" in messages[(2, "account")]
    assert messages[(4, "account")] == "account is empty"
