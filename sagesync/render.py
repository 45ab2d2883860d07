"""Template specs -> Sage-native file bytes: validation, neutralising, encoding, splitting.

A template (`sagesync/sage/products/<product>/<file>.toml`, package data) lists columns
declaratively; see the comment at the top of `sage/products/sage50_uk/audit_trail.toml`.
Rendering is per document, so a document that breaks a rule (a code too long, a required field
empty, a character the encoding cannot hold in a code) is held as a whole and never
half-written; descriptive text that is too long is cut with a warning instead.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2

from sagesync.errors import RecipeError
from sagesync.model.money import format_amount
from sagesync.sage import products

KINDS = ("code", "text", "money", "decimal", "date", "integer")
_COLUMN_KEYS = ("name", "field", "value", "template", "kind", "max_length", "required", "pattern")
_FILE_KEYS = ("description", "rows", "delimiter", "line_ending", "date_format")
#: A cell whose first character is one of these may be run by a spreadsheet (OWASP CSV
#: injection). `|` and `%` are not on the list: a DDE payload (`=cmd|' /C calc'!A0`) still needs
#: a leading = + - or @, and `%` starts no formula in Excel or LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_JINJA = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)


class RowRejected(Exception):
    """A value breaks the template's rules; the document it belongs to is held."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    field: str | None = None
    value: str | None = None
    template: jinja2.Template | None = None
    max_length: int | None = None
    required: bool = False
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class FileSpec:
    """A parsed template: the file rules and its columns in order."""

    name: str
    description: str
    rows: str
    delimiter: str
    line_ending: str
    date_format: str
    columns: tuple[Column, ...]

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


def load_spec(product: str, name: str, override_dir: Path | None = None) -> FileSpec:
    """Read `<name>.toml` from the recipe's template folder if it has one, else the product's.

    The shipped one is read through importlib.resources (package data), so a plain, non-editable
    install finds it as an editable one does.
    """
    shipped = products.get(product).template_file(name)
    candidates: list[Path | Traversable] = [
        *(d / f"{name}.toml" for d in (override_dir,) if d), shipped]
    source = next((p for p in candidates if p.is_file()), None)
    if source is None:
        raise RecipeError(f"No template '{name}' for {product} (looked in "
                          f"{', '.join(str(c) for c in candidates)}).")
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{source}: not valid TOML: {exc}") from None
    return _parse_spec(source, name, data)


def _parse_spec(path: Path | Traversable, name: str, data: dict[str, Any]) -> FileSpec:
    def fail(where: str, expected: str) -> RecipeError:
        return RecipeError(f"{path}: {where}: expected {expected}.")

    rules = data.get("file", {})
    for key in rules:
        if key not in _FILE_KEYS:
            raise fail(f"unknown key 'file.{key}'", "one of " + ", ".join(_FILE_KEYS))
    columns = []
    for n, raw in enumerate(data.get("columns", []), start=1):
        where = f"column {n} ({raw.get('name', '?')})"
        for key in raw:
            if key not in _COLUMN_KEYS:
                raise fail(f"{where}: unknown key '{key}'", "one of " + ", ".join(_COLUMN_KEYS))
        sources = [k for k in ("field", "value", "template") if k in raw]
        if len(sources) != 1 or "name" not in raw:
            raise fail(where, "a name and exactly one of field, value or template")
        kind = raw.get("kind", "text")
        if kind not in KINDS:
            raise fail(f"{where}: kind", "one of " + ", ".join(KINDS))
        try:
            template = _JINJA.from_string(raw["template"]) if "template" in raw else None
            pattern = re.compile(raw["pattern"]) if "pattern" in raw else None
        except (jinja2.TemplateSyntaxError, re.error) as exc:
            raise fail(where, f"a valid template or pattern ({exc})") from None
        columns.append(Column(name=raw["name"], kind=kind, field=raw.get("field"),
                              value=raw.get("value"), template=template,
                              max_length=raw.get("max_length"),
                              required=bool(raw.get("required", False)), pattern=pattern))
    if not columns:
        raise fail("columns", "at least one [[columns]] entry")
    return FileSpec(name=name, description=rules.get("description", name),
                    rows=rules.get("rows", "splits"), delimiter=rules.get("delimiter", ","),
                    line_ending=rules.get("line_ending", "\r\n"),
                    date_format=rules.get("date_format", "%d/%m/%Y"), columns=tuple(columns))


def starts_formula(text: str) -> bool:
    """Could a spreadsheet run this cell? Judged after blanks and in compatibility form.

    Full-width and small forms (＝ ＋ － ＠ ﹦ ﹢ ﹣ ﹫) become plain = + - @ when a file is
    folded to cp1252 or opened by some spreadsheets, so they count as what they become
    (fault issue 12); leading spaces do not hide a sign either.
    """
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
    return text if _PLAIN_NUMBER.fullmatch(text) else neutralise(text)


@dataclass
class RowRenderer:
    """Turns mappings of fields into validated rows of strings for one file spec."""

    spec: FileSpec
    encoding: str
    warnings: list[str] = field(default_factory=list)

    def render(self, record: Mapping[str, Any]) -> list[str]:
        return [self._cell(column, record) for column in self.spec.columns]

    def _cell(self, column: Column, record: Mapping[str, Any]) -> str:
        if column.field is not None:
            value = record.get(column.field)
        elif column.template is not None:
            value = column.template.render(**record)
        else:
            value = column.value
        if value is None or value == "":
            if column.required:
                raise RowRejected(f"'{column.name}' is required but empty")
            return ""
        if column.kind == "money":
            return format_amount(Decimal(value))
        if column.kind == "decimal":
            return self._decimal(column, Decimal(value))
        if column.kind == "date":
            if not isinstance(value, date):
                raise RowRejected(f"'{column.name}' is not a date: '{value}'")
            return value.strftime(self.spec.date_format)
        if column.kind == "integer":
            return str(int(value))
        text = str(value).replace('"', "'").replace("\r", " ").replace("\n", ", ").strip()
        if column.kind == "code":
            return self._code(column, text)
        return self._text(column, text)

    def _decimal(self, column: Column, value: Decimal) -> str:
        """A rate as written by hand: plain digits, no exponent, no trailing zeros (3.75)."""
        if not value.is_finite() or value <= 0:
            raise RowRejected(f"'{column.name}' must be a positive number: {value}")
        text = f"{value.normalize():f}"
        if column.max_length and len(text) > column.max_length:
            raise RowRejected(f"'{column.name}' {text} is longer than {column.max_length} "
                              "characters")
        return text

    def _code(self, column: Column, text: str) -> str:
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
            text.encode(self.encoding)
        except UnicodeEncodeError:
            raise RowRejected(f"'{column.name}' {text!r} has characters {self.encoding} "
                              "cannot hold") from None
        return text

    def _text(self, column: Column, text: str) -> str:
        # fold first, then judge: the check must see what is written, not what came in
        text = neutralise(self._encodable(column, text).strip())
        if column.max_length and len(text) > column.max_length:
            self.warnings.append(f"'{column.name}' cut to {column.max_length} characters: "
                                 f"{text!r}")
            text = text[: column.max_length]
        return text

    def _encodable(self, column: Column, text: str) -> str:
        """Fold accents the encoding lacks (Ł stays as '?'), and say so: never silently."""
        try:
            text.encode(self.encoding)
            return text
        except UnicodeEncodeError:
            pass
        out = []
        for char in text:
            try:
                char.encode(self.encoding)
                out.append(char)
            except UnicodeEncodeError:
                folded = unicodedata.normalize("NFKD", char).encode(self.encoding, "ignore")
                out.append(folded.decode(self.encoding) or "?")
        result = "".join(out)
        self.warnings.append(f"'{column.name}': {self.encoding} cannot hold every character of "
                             f"{text!r}; written as {result!r}")
        return result


def write_csv(spec: FileSpec, rows: Iterable[Sequence[str]], *, header: bool,
              encoding: str) -> bytes:
    """The exact bytes of one file: the spec's delimiter and line ending, minimal quoting.

    Last line of defence against formula injection: a cell that would start a formula and is
    not a plain number (negative money) means rows that bypassed RowRenderer - a bug, so
    nothing is written. The encoding is strict, so each cell is exactly the text Sage reads.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec.delimiter, lineterminator=spec.line_ending,
                        quoting=csv.QUOTE_MINIMAL)
    if header:
        writer.writerow(spec.header)
    for number, row in enumerate(rows, start=1):
        for cell in row:
            if starts_formula(cell) and not _PLAIN_NUMBER.fullmatch(cell):
                raise ValueError(f"{spec.name} row {number}: cell {cell[:40]!r} would run as a "
                                 "spreadsheet formula; rows must come from RowRenderer")
        writer.writerow(row)
    return buffer.getvalue().encode(encoding)
