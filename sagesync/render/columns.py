"""Column-wise cells: one column of a record for a whole batch of rows at once.

Each DISTINCT value of a column (with its sign rule) goes through `render_cell` once, and the
outcome (text, the reason that holds a document, warnings) is mapped back to every row holding
that value; so a reference repeated on 3 splits, or an account on 9,000 rows, is checked once.
Money already in cents (decimal128 with two places) is formatted by Arrow without Python, and
text that is plainly harmless (printable ASCII, no quote, starting with a letter or digit,
short enough) is passed through as it is, since `render_cell` would return it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.render.cells import CellRules, RowRejected, render_cell
from sagesync.render.spec import Column

#: Printable ASCII without `"`, starting and ending with a letter or digit: `render_cell`
#: writes such a text or code value as it is (nothing to fold, neutralise or strip) when it
#: fits max_length; a code with a pattern still goes through `render_cell` for the pattern.
_PLAIN_TEXT = r"^[A-Za-z0-9](?:[ !#-~]*[A-Za-z0-9])?$"
_SKIP = -1  # the code of a first_only cell on a later row: written blank, not checked


@dataclass(frozen=True)
class Constant:
    """The same value on every row (a column's fixed `value`, or a field no table has)."""

    value: Any


Values: TypeAlias = "pa.Array | list[Any] | Constant"


@dataclass
class RenderedColumn:
    """The text of every row, plus the rows whose value holds their document, and warnings."""

    texts: list[str]
    failures: dict[int, str] = field(default_factory=dict)
    warnings: dict[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outcome:
    text: str
    reason: str | None
    warnings: tuple[str, ...]


def _outcome(column: Column, value: Any, rules: CellRules, negate: bool) -> _Outcome:
    warnings: list[str] = []
    try:
        return _Outcome(render_cell(column, value, rules, warnings, negate), None,
                        tuple(warnings))
    except RowRejected as rejected:
        return _Outcome("", str(rejected), tuple(warnings))


def render_column(column: Column, values: Values, rows: int, rules: CellRules, *,
                  negate: Sequence[bool] | None = None,
                  skip: Sequence[bool] | None = None) -> RenderedColumn:
    """Render `rows` cells of one column; `negate` and `skip` are per-row flags (the sign
    rule of signed columns, and first_only cells on a document's later rows)."""
    if isinstance(values, Constant) and negate is None and skip is None:
        once = _outcome(column, values.value, rules, False)
        return RenderedColumn(
            [once.text] * rows,
            dict.fromkeys(range(rows), once.reason) if once.reason is not None else {},
            dict.fromkeys(range(rows), once.warnings) if once.warnings else {})
    if isinstance(values, Constant):
        values = [values.value] * rows
    if isinstance(values, pa.Array) and skip is None and not column.map:
        fast = _fast_column(column, values, rules, negate)
        if fast is not None:
            return fast
    distinct, codes, dictionary = _encoded(values)
    if negate is not None:
        codes = [2 * c + n for c, n in zip(codes, negate, strict=True)]
    else:
        codes = [2 * c for c in codes]
    if skip is not None:
        codes = [_SKIP if s else c for c, s in zip(codes, skip, strict=True)]
    plain = _plain(column, dictionary, rules)
    texts = {_SKIP: ""}
    outcomes: dict[int, _Outcome] = {}  # of the values that are not plain
    for code in set(codes):
        if code == _SKIP:
            continue
        if code // 2 in plain:
            texts[code] = distinct[code // 2]
        else:
            outcome = outcomes[code] = _outcome(column, distinct[code // 2], rules,
                                                bool(code % 2))
            texts[code] = outcome.text
    return _mapped(list(map(texts.__getitem__, codes)), codes, outcomes)


def _mapped(texts: list[str], codes: Sequence[int], outcomes: dict[int, _Outcome]
            ) -> RenderedColumn:
    """Attach each distinct value's failure and warnings to the rows holding it."""
    result = RenderedColumn(texts)
    failing = {c for c, o in outcomes.items() if o.reason is not None}
    warning = {c for c, o in outcomes.items() if o.warnings}
    if failing or warning:
        for row, code in enumerate(codes):
            if code in failing:
                result.failures[row] = outcomes[code].reason or ""
            if code in warning:
                result.warnings[row] = outcomes[code].warnings
    return result


def _encoded(values: pa.Array | list[Any]
             ) -> tuple[list[Any], list[int], pa.Array | None]:
    """The distinct values, per row the index of its value among them, and the distinct
    values as Arrow (when they came as Arrow)."""
    if isinstance(values, pa.Array):
        try:
            encoded = values if pa.types.is_dictionary(values.type) else \
                pc.dictionary_encode(values)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            values = values.to_pylist()
        else:
            distinct = encoded.dictionary.to_pylist()
            distinct.append(None)
            null = len(distinct) - 1
            codes = [null if c is None else c for c in encoded.indices.to_pylist()]
            return distinct, codes, encoded.dictionary
    seen: dict[Any, int] = {}
    distinct = []
    codes = []
    for value in values:
        # by type and text too: Decimal('1.0') == Decimal('1.00') == 1 == True, yet they
        # may be written differently
        key = value if type(value) is str else (type(value), repr(value))
        code = seen.get(key)
        if code is None:
            code = seen[key] = len(distinct)
            distinct.append(value)
        codes.append(code)
    return distinct, codes, None


def _fast_column(column: Column, values: pa.Array, rules: CellRules,
                 negate: Sequence[bool] | None) -> RenderedColumn | None:
    """Arrow-only paths for the bulk of a batch; None when the column needs the general one."""
    if (column.kind in ("money", "signed_money") and pa.types.is_decimal(values.type)
            and values.type.scale == 2):
        # cents already: Arrow writes them as format_amount does (digits, a point, two places,
        # a minus on negatives, no exponent, no negative zero); only empty cells need the
        # general rules
        if negate is not None:
            values = pc.if_else(pa.array(negate, pa.bool_()), pc.negate(values), values)
        texts = values.cast(pa.string())
        return _with_nulls(column, texts, values, rules)
    return None


def _plain(column: Column, dictionary: pa.Array | None, rules: CellRules) -> set[int]:
    """The distinct values `render_cell` would write as they are, found by Arrow at once."""
    if (column.kind not in ("text", "code") or dictionary is None or not len(dictionary)
            or not pa.types.is_string(dictionary.type) or not _ascii_safe(rules)
            or (column.kind == "code" and column.pattern is not None) or column.map):
        return set()
    plain = pc.match_substring_regex(dictionary, _PLAIN_TEXT)
    if column.max_length:
        lengths = pc.utf8_length(dictionary)
        plain = pc.and_(plain, pc.less_equal(lengths, pa.scalar(column.max_length, lengths.type)))
    return {i for i, p in enumerate(plain.to_pylist()) if p}


def _with_nulls(column: Column, texts: pa.Array, values: pa.Array, rules: CellRules
                ) -> RenderedColumn:
    if not values.null_count:
        return RenderedColumn(texts.to_pylist())
    empty = _outcome(column, None, rules, False)
    filled = texts.fill_null(empty.text).to_pylist()
    if empty.reason is None:
        return RenderedColumn(filled)
    nulls = values.is_null().to_pylist()
    return RenderedColumn(filled, {row: empty.reason for row, null in enumerate(nulls) if null})


def _ascii_safe(rules: CellRules) -> bool:
    """Does the file's encoding write printable ASCII as itself (cp1252, UTF-8, Latin-1)?"""
    printable = bytes(range(0x20, 0x7F))
    try:
        return printable.decode("ascii").encode(rules.encoding) == printable
    except (UnicodeError, LookupError):
        return False
