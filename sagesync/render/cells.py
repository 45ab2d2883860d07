"""Cell kinds: one value of one column -> the exact text Sage reads, or the reason it cannot be.

This is the one definition of every kind's rules; the row-by-row reference renderer and the
column-wise renderer both call `render_cell`, the column-wise one once per distinct value, so
the two cannot drift apart. A code that breaks a rule raises RowRejected (its document is held,
since a changed code would post somewhere else); descriptive text is folded to the encoding,
neutralised and cut, each with a warning, because a person reads it but nothing matches on it.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sagesync.model.money import format_amount
from sagesync.render.spec import Column, FileSpec

#: A cell whose first character is one of these may be run by a spreadsheet (OWASP CSV
#: injection). `|` and `%` are not on the list: a DDE payload (`=cmd|' /C calc'!A0`) still needs
#: a leading = + - or @, and `%` starts no formula in Excel or LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
#: Kinds whose cells are numbers (never folded or neutralised).
NUMERIC_KINDS = frozenset({"money", "signed_money", "decimal", "quantity", "integer"})


class RowRejected(Exception):
    """A value breaks the template's rules; the document it belongs to is held."""


def starts_formula(text: str) -> bool:
    """Could a spreadsheet run this cell? Judged after blanks and in compatibility form.

    Full-width and small forms (＝ ＋ － ＠ ﹦ ﹢ ﹣ ﹫) become plain = + - @ when a file is
    folded to cp1252 or opened by some spreadsheets, so they count as what they become
    (fault issue 12); leading spaces do not hide a sign either.
    """
    if not text:
        return False
    first = text[0]
    if first.isascii() and first.isalnum():
        # NFKC keeps an ASCII letter or digit a letter or digit (at most composed with the
        # marks after it), so no blank or sign can come first: the common case, answered fast
        return False
    if text.startswith(FORMULA_START):
        return True
    return unicodedata.normalize("NFKC", text).lstrip().startswith(FORMULA_START)


def neutralise(text: str) -> str:
    """Stop a spreadsheet from running text as a formula (OWASP CSV injection advice).

    Call it on the text as it will be written (after folding to the file's encoding).
    """
    return "'" + text if starts_formula(text) else text


def csv_cell(value: object) -> str:
    """A cell of a CSV a person may open (previews, reports): numbers as they are, text inert."""
    text = "" if value is None else str(value)
    return text if PLAIN_NUMBER.fullmatch(text) else neutralise(text)


@dataclass(frozen=True)
class CellRules:
    """What a cell's text depends on beyond its column: the file's encoding and conventions."""

    encoding: str
    date_format: str = "%d/%m/%Y"
    true_text: str = "TRUE"
    false_text: str = "FALSE"

    @classmethod
    def of(cls, spec: FileSpec, encoding: str) -> CellRules:
        return cls(encoding=encoding, date_format=spec.date_format, true_text=spec.true_text,
                   false_text=spec.false_text)


def format_date(value: date, fmt: str) -> str:
    """strftime, plus `%-d` and `%-m` (day and month without a leading zero: Sage 50 US `M/D/YY`,
    Sage 50 Canada `m-d-yyyy`) done here, since the C library's `%-d` is not on Windows."""
    if "%-" in fmt:
        fmt = fmt.replace("%-d", str(value.day)).replace("%-m", str(value.month))
    return value.strftime(fmt)


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def render_cell(column: Column, value: object, rules: CellRules, warnings: list[str],
                negate: bool = False) -> str:
    """The text of one cell; RowRejected when the value breaks a rule that holds the document.

    `negate` is the row's sign rule (a signed_money or quantity column whose sign field is in
    `negate_for`). Warnings (text cut or folded) are appended to `warnings`.
    """
    value = column.mapped(value)
    if is_empty(value):
        if column.required:
            raise RowRejected(f"'{column.name}' is required but empty")
        return ""
    kind = column.kind
    if kind in ("money", "signed_money"):
        amount = _number(column, value)
        amount = -amount if negate else amount
        text = format_amount(amount)
        return text[1:] if text == "-0.00" else text  # a sign on nothing is noise
    if kind == "decimal":
        return _decimal(column, Decimal(value))  # type: ignore[arg-type]
    if kind == "quantity":
        return _quantity(column, _number(column, value), negate)
    if kind == "date":
        if isinstance(value, str):  # a template's date: Jinja writes one as YYYY-MM-DD
            with suppress(ValueError):
                value = date.fromisoformat(value)
        if not isinstance(value, date):
            raise RowRejected(f"'{column.name}' is not a date: '{value}'")
        return format_date(value, rules.date_format)
    if kind == "integer":
        return str(int(value))  # type: ignore[call-overload]
    if kind == "boolean":
        return _boolean(column, value, rules)
    text = str(value).replace('"', "'").replace("\r", " ").replace("\n", ", ").strip()
    if kind == "code":
        return _code(column, text, rules.encoding)
    return _text(column, text, rules.encoding, warnings)


def _number(column: Column, value: object) -> Decimal:
    try:
        number = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise RowRejected(f"'{column.name}' is not a number: {value!r}") from None
    if not number.is_finite():
        raise RowRejected(f"'{column.name}' is not a number: {value!r}")
    return number


def _decimal(column: Column, value: Decimal) -> str:
    """A rate as written by hand: plain digits, no exponent, no trailing zeros (3.75)."""
    if not value.is_finite() or value <= 0:
        raise RowRejected(f"'{column.name}' must be a positive number: {value}")
    return _within_length(column, f"{value.normalize():f}")


def _quantity(column: Column, value: Decimal, negate: bool) -> str:
    """A quantity with the template's places, half up (Sage 50 Canada: 2.0000)."""
    exponent = Decimal(1).scaleb(-column.places)
    quantity = value.quantize(exponent, rounding=ROUND_HALF_UP)
    if quantity.is_zero():
        quantity = abs(quantity)
    elif negate:
        quantity = -quantity
    return _within_length(column, f"{quantity:f}")


def _within_length(column: Column, text: str) -> str:
    """A number is never cut: one longer than its column holds the document."""
    if column.max_length and len(text) > column.max_length:
        raise RowRejected(f"'{column.name}' {text} is longer than {column.max_length} "
                          "characters")
    return text


def _boolean(column: Column, value: object, rules: CellRules) -> str:
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        if value:
            return column.true_text if column.true_text is not None else rules.true_text
        return column.false_text if column.false_text is not None else rules.false_text
    raise RowRejected(f"'{column.name}' is not true or false: {value!r}")


def _code(column: Column, text: str, encoding: str) -> str:
    if starts_formula(text):
        # a leading ' would make it another code (a reference Sage and the ledger no longer
        # match), so the document waits for a person instead
        raise RowRejected(f"'{column.name}' {text!r} starts with a sign a spreadsheet would "
                          "run as a formula, and a leading ' would change the code: fix it "
                          "in Magento or map it to a plain code")
    if column.max_length and len(text) > column.max_length:
        raise RowRejected(f"'{column.name}' is {len(text)} characters, Sage allows "
                          f"{column.max_length}: {text!r}")
    if column.pattern and not column.pattern.fullmatch(text):
        raise RowRejected(f"'{column.name}' {text!r} does not match {column.pattern.pattern}")
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        raise RowRejected(f"'{column.name}' {text!r} has characters {encoding} "
                          "cannot hold") from None
    return text


def _text(column: Column, text: str, encoding: str, warnings: list[str]) -> str:
    # fold first, then judge: the check must see what is written, not what came in
    text = neutralise(_encodable(column, text, encoding, warnings).strip())
    if column.max_length and len(text) > column.max_length:
        warnings.append(f"'{column.name}' cut to {column.max_length} characters: {text!r}")
        text = text[: column.max_length]
    return text


def _encodable(column: Column, text: str, encoding: str, warnings: list[str]) -> str:
    """Fold accents the encoding lacks (Ł stays as '?'), and say so: never silently."""
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode(encoding)
            out.append(char)
        except UnicodeEncodeError:
            folded = unicodedata.normalize("NFKD", char).encode(encoding, "ignore")
            out.append(folded.decode(encoding) or "?")
    result = "".join(out)
    warnings.append(f"'{column.name}': {encoding} cannot hold every character of "
                    f"{text!r}; written as {result!r}")
    return result
