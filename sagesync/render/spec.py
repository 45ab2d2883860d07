"""Template specs: a declarative record layout read from TOML, checked once at load.

Two shapes are read. The Sage 50 UK shape, `[file]` plus `[[columns]]`, is one record written
once per row of `[file] rows`. The multi-record shape lists `[[records]]`, each with its own
`rows`, optional record-type `code` and `[[records.columns]]`; a document is written as its
records in order (a header record, then its line records), optionally wrapped in tags (a Sage 50
Canada `.IMP` block). A mistake in a template is a RecipeError naming the file and the key,
since a site may copy and edit templates (`[sage] templates`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2

from sagesync.errors import RecipeError
from sagesync.recipe import POST_FROM
from sagesync.sage import products

KINDS = ("code", "text", "money", "signed_money", "decimal", "quantity", "boolean", "date",
         "integer")
#: What one record row is made from: one row per document (or account, for account files),
#: or one row per split or item line of its document.
ROW_SOURCES = ("documents", "splits", "lines", "taxes", "accounts")
#: child rows -> the derived field counting a document's rows of the first record made of
#: them (or, with no such record, all of them)
CHILD_COUNTS = {"splits": "split_count", "lines": "line_count", "taxes": "tax_count"}
#: Fields the renderer adds to every row: the document's position in the file's batch, the
#: row's position among its document's rows of the same record and their count, and the
#: document's split and line counts (Sage 50 Canada's "No. of Details", Sage 50 US's
#: "Number of Distributions"): its rows in the first record made of splits (lines), after
#: that record's `where`, or all of them when no record is.
#: `document_rows`: every row the document has in the file, all records (Sage 50 US's
#: Number of Distributions)
DERIVED_FIELDS = ("document_no", "row_no", "row_count", *CHILD_COUNTS.values(), "document_rows")
QUOTING = ("minimal", "all", "nonnumeric")
_COLUMN_KEYS = ("name", "field", "value", "template", "kind", "max_length", "required",
                "pattern", "places", "negate_for", "sign_field", "true_text", "false_text",
                "first_only", "map")
_FILE_KEYS = ("description", "rows", "delimiter", "line_ending", "date_format", "quoting",
              "true_text", "false_text", "headings", "code_heading", "extension", "preamble",
              "block", "post_from")
_RECORD_KEYS = ("name", "code", "rows", "required", "where", "columns")
_BLOCK_KEYS = ("open", "close", "per")
_JINJA = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class Column:
    """One cell of a record: where its value comes from, its kind and the rules it must keep."""

    name: str
    kind: str = "text"
    field: str | None = None
    value: str | None = None
    template: jinja2.Template | None = None
    max_length: int | None = None
    required: bool = False
    pattern: re.Pattern[str] | None = None
    #: quantity: decimal places written (half up)
    places: int = 0
    #: signed_money and quantity: the value is written negated when the row's `sign_field`
    #: is one of these (Sage 50 US writes a sale's line Amount and a credit's Quantity negative)
    negate_for: tuple[str, ...] = ()
    sign_field: str = "transaction_type"
    #: boolean: the text of true and false (None: the file's)
    true_text: str | None = None
    false_text: str | None = None
    #: written on the first row of its document only, blank after (Intacct's header fields)
    first_only: bool = False
    #: the field's value -> the text written, before the kind's rules (Sage Accounting's
    #: Type: {"SI" = "Invoice", "SC" = "Cr Note"}); a value not listed is written as itself
    map: tuple[tuple[str, str], ...] = ()

    def mapped(self, value: object) -> object:
        """The value after `map` (a value not listed, or empty, stays as it is)."""
        if not self.map or value is None:
            return value
        return dict(self.map).get(str(value), value)


@dataclass(frozen=True)
class RecordSpec:
    """One record type of a file: its rows' source, its type code and its columns."""

    name: str
    rows: str
    columns: tuple[Column, ...]
    #: record-type code written as the row's first cell (Sage 300 `1`/`2`, Sage X3 `E`/`L`)
    code: str | None = None
    #: a document without a row of this record is held (Sage 300, X3: at least one line)
    required: bool = False
    #: only the split or line rows whose field is one of the values, e.g. item lines only:
    #: (("purpose", ("goods",)),)
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def keeps(self, fields: Mapping[str, Any]) -> bool:
        """Is a row with these fields one of this record's rows (its `where`)?"""
        return all(fields.get(name) in values for name, values in self.where)

    @property
    def per_document(self) -> bool:
        """One row per document (or account) rather than one per split or line."""
        return self.rows in ("documents", "accounts")


@dataclass(frozen=True)
class FileSpec:
    """A parsed template: the file rules and its records in order."""

    name: str
    description: str
    delimiter: str
    line_ending: str
    date_format: str
    records: tuple[RecordSpec, ...]
    quoting: str = "minimal"
    true_text: str = "TRUE"
    false_text: str = "FALSE"
    #: heading rows at the top, one per distinct record heading (when header_row is on)
    headings: bool = True
    #: the heading of the record-type column (Sage 300 `RECTYPE`); None: the code itself
    code_heading: str | None = None
    extension: str = "csv"
    #: lines written verbatim first (a Sage 50 Canada `<Version>` block)
    preamble: tuple[str, ...] = ()
    #: tag lines around each document ("document") or around all rows ("file")
    block_open: str | None = None
    block_close: str | None = None
    block_per: str = "document"
    #: the recipe's `[sage] post_from` values this documents file is written for (Intacct:
    #: AR invoices from invoices, Order Entry transactions from orders); () for every one
    post_from: tuple[str, ...] = ()

    def serves(self, post_from: str) -> bool:
        """Is this file written when the recipe posts from `post_from`?"""
        return not self.post_from or post_from in self.post_from

    @property
    def rows(self) -> str:
        """What the first record is made from (the one record of a Sage 50 UK template)."""
        return self.records[0].rows

    @property
    def columns(self) -> tuple[Column, ...]:
        """Every column of every record, in order (one record: its columns)."""
        return tuple(c for r in self.records for c in r.columns)

    @property
    def header(self) -> list[str]:
        """The first record's heading row."""
        return self.heading(self.records[0])

    @property
    def heading_rows(self) -> list[list[str]]:
        """The heading rows written at the top: one per record, once per distinct heading
        (records sharing one layout, as Intacct's item and tax lines, share its one row)."""
        rows: list[list[str]] = []
        for record in self.records:
            if (heading := self.heading(record)) not in rows:
                rows.append(heading)
        return rows

    def heading(self, record: RecordSpec) -> list[str]:
        names = [c.name for c in record.columns]
        if record.code is None:
            return names
        return [self.code_heading if self.code_heading is not None else record.code, *names]

    @property
    def for_accounts(self) -> bool:
        """An account (customer) file rather than a documents file."""
        return self.records[0].rows == "accounts"


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
    return read_spec(source, name)


def read_spec(source: Path | Traversable, name: str | None = None) -> FileSpec:
    """Parse one template file (named after its stem unless `name` is given)."""
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{source}: not valid TOML: {exc}") from None
    return parse_spec(source, name or source.name.removesuffix(".toml"), data)


def parse_spec(path: Path | Traversable, name: str, data: dict[str, Any]) -> FileSpec:
    """Check a template's keys and values and build its spec; RecipeError on any mistake."""
    def fail(where: str, expected: str) -> RecipeError:
        return RecipeError(f"{path}: {where}: expected {expected}.")

    for key in data:
        if key not in ("file", "columns", "records"):
            raise fail(f"unknown table '{key}'", "[file], [[columns]] or [[records]]")
    rules = data.get("file", {})
    for key in rules:
        if key not in _FILE_KEYS:
            raise fail(f"unknown key 'file.{key}'", "one of " + ", ".join(_FILE_KEYS))

    def text(table: dict[str, Any], key: str, where: str, default: str | None) -> str | None:
        value = table.get(key, default)
        if value is not None and not isinstance(value, str):
            raise fail(where, "text")
        return value

    if "columns" in data and "records" in data:
        raise fail("columns", "either [[columns]] (one record) or [[records]], not both")
    if "records" in data:
        if "rows" in rules:
            raise fail("file.rows", "rows on each [[records]] entry instead")
        raw_records = data["records"]
        if not isinstance(raw_records, list) or not raw_records:
            raise fail("records", "at least one [[records]] entry")
    else:
        raw_records = [{"name": name, "rows": rules.get("rows", "splits"),
                        "columns": data.get("columns", [])}]
    true_text = text(rules, "true_text", "file.true_text", "TRUE") or ""
    false_text = text(rules, "false_text", "file.false_text", "FALSE") or ""
    records = []
    for r, raw in enumerate(raw_records, start=1):
        where = f"record {r} ({raw.get('name', '?')})" if "records" in data else "file"
        for key in raw:
            if key not in _RECORD_KEYS:
                raise fail(f"{where}: unknown key '{key}'", "one of " + ", ".join(_RECORD_KEYS))
        rows = raw.get("rows", "splits")
        if rows not in ROW_SOURCES:
            raise fail(f"{where}: rows", "one of " + ", ".join(ROW_SOURCES))
        code = text(raw, "code", f"{where}: code", None)
        columns = tuple(_column(raw_column, f"{where} column {n}" if "records" in data
                                else f"column {n}", fail)
                        for n, raw_column in enumerate(raw.get("columns", []), start=1))
        if not columns:
            raise fail(f"{where}: columns" if "records" in data else "columns",
                       "at least one [[columns]] entry")
        picks = raw.get("where", {})
        if not isinstance(picks, dict) or not all(
                isinstance(v, list) and all(isinstance(x, str) for x in v)
                for v in picks.values()):
            raise fail(f"{where}: where", 'a table of field = [values], e.g. { purpose = '
                       '["goods"] }')
        if any(name in DERIVED_FIELDS for name in picks):
            raise fail(f"{where}: where", "fields of the rows, not " + ", ".join(DERIVED_FIELDS))
        if picks and rows in ("documents", "accounts"):
            raise fail(f"{where}: where", "rows = splits or lines (it picks rows of those)")
        records.append(RecordSpec(name=str(raw.get("name", name)), rows=rows, columns=columns,
                                  code=code, required=bool(raw.get("required", False)),
                                  where=tuple((k, tuple(v)) for k, v in picks.items())))
    if any(r.rows == "accounts" for r in records) and len(records) > 1:
        raise fail("records", "a single record for an accounts file")
    block = rules.get("block", {})
    if not isinstance(block, dict) or any(k not in _BLOCK_KEYS for k in block):
        raise fail("file.block", "a table of " + ", ".join(_BLOCK_KEYS))
    if block and not ({"open", "close"} <= block.keys()):
        raise fail("file.block", "both open and close tag lines")
    per = block.get("per", "document")
    if per not in ("document", "file"):
        raise fail("file.block.per", "document or file")
    quoting = rules.get("quoting", "minimal")
    if quoting not in QUOTING:
        raise fail("file.quoting", "one of " + ", ".join(QUOTING))
    delimiter = text(rules, "delimiter", "file.delimiter", ",") or ""
    if len(delimiter) != 1 or delimiter in "0123456789.+-\"\r\n":
        raise fail("file.delimiter", "one character that is not a digit, sign, point or quote")
    preamble = rules.get("preamble", [])
    if not isinstance(preamble, list) or not all(isinstance(p, str) for p in preamble):
        raise fail("file.preamble", "a list of lines")
    extension = text(rules, "extension", "file.extension", "csv") or ""
    if not re.fullmatch(r"[A-Za-z0-9]{1,8}", extension):
        raise fail("file.extension", "1 to 8 letters or digits")
    post_from = rules.get("post_from", [])
    if not isinstance(post_from, list) or ("post_from" in rules and not post_from) \
            or not all(p in POST_FROM for p in post_from):
        raise fail("file.post_from", "a list of " + " or ".join(repr(p) for p in POST_FROM))
    return FileSpec(
        name=name, description=text(rules, "description", "file.description", name) or name,
        delimiter=delimiter,
        line_ending=text(rules, "line_ending", "file.line_ending", "\r\n") or "\r\n",
        date_format=text(rules, "date_format", "file.date_format", "%d/%m/%Y") or "%d/%m/%Y",
        records=tuple(records), quoting=quoting, true_text=true_text, false_text=false_text,
        headings=bool(rules.get("headings", True)),
        code_heading=text(rules, "code_heading", "file.code_heading", None),
        extension=extension, preamble=tuple(preamble),
        block_open=text(block, "open", "file.block.open", None),
        block_close=text(block, "close", "file.block.close", None), block_per=per,
        post_from=tuple(post_from))


def _column(raw: dict[str, Any], where: str, fail: Any) -> Column:
    where = f"{where} ({raw.get('name', '?')})"
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
    places = raw.get("places", 0)
    if kind == "quantity" and "places" not in raw:
        raise fail(f"{where}: places", "the decimal places of a quantity (0 to 10)")
    if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 10:
        raise fail(f"{where}: places", "a whole number from 0 to 10")
    negate_for = raw.get("negate_for", [])
    if not isinstance(negate_for, list) or not all(isinstance(v, str) for v in negate_for):
        raise fail(f"{where}: negate_for", "a list of values, e.g. [\"SI\"]")
    if negate_for and kind not in ("signed_money", "quantity"):
        raise fail(f"{where}: negate_for", "kind signed_money or quantity")
    if kind == "signed_money" and not negate_for:
        raise fail(f"{where}: negate_for", "the values of sign_field that negate the amount")
    max_length = raw.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise fail(f"{where}: max_length", "a whole number above 0")
    mapping = raw.get("map", {})
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise fail(f"{where}: map", 'a table of value = "text", e.g. { SI = "Invoice" }')
    for key in ("true_text", "false_text", "sign_field"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(f"{where}: {key}", "text")
    return Column(name=raw["name"], kind=kind, field=raw.get("field"), value=raw.get("value"),
                  template=template, max_length=max_length,
                  required=bool(raw.get("required", False)), pattern=pattern, places=places,
                  negate_for=tuple(negate_for),
                  sign_field=raw.get("sign_field", "transaction_type"),
                  true_text=raw.get("true_text"), false_text=raw.get("false_text"),
                  first_only=bool(raw.get("first_only", False)),
                  map=tuple((str(k), v) for k, v in mapping.items()))
