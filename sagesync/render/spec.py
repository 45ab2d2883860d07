"""Template specs: a declarative record layout read from TOML, checked once at load.

Two shapes are read. The Sage 50 UK shape, `[file]` plus `[[columns]]`, is one record written
once per row of `[file] rows`. The multi-record shape lists `[[records]]`, each with its own
`rows`, optional record-type `code` and `[[records.columns]]`; a document is written as its
records in order (a header record, then its line records), optionally wrapped in tags (a Sage 50
Canada `.IMP` block). A record of one row per document (or posting) may hold a column group
that repeats once per child row (`repeat`: Sage 200's `NominalAnalysis.../1`, `/2` ...). A
mistake in a template is a RecipeError naming the file and the key, since a site may copy and
edit templates (`[sage] templates`).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
#: one row per split or item line of its document, or one per posting: the document itself,
#: then each split posted as a document of its own (its own type and reference: a credit
#: memo's fee as an invoice when amounts must be positive), for one-row-per-document formats.
ROW_SOURCES = ("documents", "splits", "lines", "taxes", "accounts", "postings")
#: What a column group repeats over (once per child row of its document or posting).
REPEAT_ROWS = ("splits", "lines", "taxes")
#: The fields a posting row adds over its document's: its own type and reference (empty for
#: the document's own posting) and the sums of its splits.
POSTING_FIELDS = ("transaction_type", "reference", "net_total", "tax_total", "gross_total")
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
                "first_only", "map", "end_if_empty")
_FILE_KEYS = ("description", "rows", "delimiter", "line_ending", "date_format", "quoting",
              "true_text", "false_text", "headings", "code_heading", "extension", "preamble",
              "block", "post_from", "transaction_types")
_RECORD_KEYS = ("name", "code", "rows", "required", "where", "columns")
_GROUP_KEYS = ("name", "repeat", "columns")
_REPEAT_KEYS = ("rows", "times", "where", "by", "heading")
_BLOCK_KEYS = ("open", "close", "per")
_JINJA = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    return _JINJA.from_string(source)  # a Template only renders: one serves every column


@dataclass(frozen=True)
class Repeat:
    """A column group written once per child row of its record's document (or posting), up to
    `times`, blank when there are fewer; a document with more is held (too many lines).

    `where` picks the child rows as a record's does; `by` makes one row of the rows sharing
    that field's value (first seen first): their decimal amounts summed, the rest the first's
    (Sage 200's tax analysis: one group per tax code)."""

    name: str
    rows: str
    times: int
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    by: str | None = None

    def keeps(self, fields: Mapping[str, Any]) -> bool:
        return all(fields.get(name) in values for name, values in self.where)


class CellTemplate:
    """A column's Jinja template, kept with its source: a compiled Jinja template cannot be
    pickled, and the import hands specs to a worker process (pipeline.work_pool), so a
    pickled one carries its source and is compiled where it is unpickled, once per process
    (every window's job carries the spec: compiling Sage 300's again took 4.7 ms a job)."""

    __slots__ = ("compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.compiled = _compiled(source)

    def render(self, **fields: Any) -> str:
        return self.compiled.render(**fields)

    def __reduce__(self) -> tuple[type[CellTemplate], tuple[str]]:
        return CellTemplate, (self.source,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellTemplate) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


@dataclass(frozen=True)
class Column:
    """One cell of a record: where its value comes from, its kind and the rules it must keep."""

    name: str
    kind: str = "text"
    field: str | None = None
    value: str | None = None
    template: CellTemplate | None = None
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
    #: an empty cell here ends its row: this column and every one after it are not written
    #: (still checked), as Sage 50 Canada leaves out an optional tax group it has no tax for
    end_if_empty: bool = False
    #: the group this column repeats in, and which repetition it is (1-based)
    repeat: Repeat | None = None
    index: int = 0

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

    def ended(self, cells: Sequence[str]) -> Sequence[str]:
        """A rendered row (its code first, if any) up to its first empty `end_if_empty`
        column."""
        offset = 0 if self.code is None else 1
        for j, column in enumerate(self.columns):
            if column.end_if_empty and cells[offset + j] == "":
                return cells[:offset + j]
        return cells

    @property
    def ends(self) -> bool:
        """Can a row of this record end early (a column has `end_if_empty`)?"""
        return any(column.end_if_empty for column in self.columns)

    @property
    def per_document(self) -> bool:
        """One row per document (or account) rather than one per split or line."""
        return self.rows in ("documents", "accounts")

    @property
    def repeats(self) -> tuple[Repeat, ...]:
        """Its column groups, in column order."""
        return tuple(dict.fromkeys(c.repeat for c in self.columns if c.repeat is not None))


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
    #: one heading row for all records instead (`headings = "shared"`): a flat layout whose
    #: records have the same columns (Sage 50 US item and sales-tax distributions)
    shared_heading: bool = False
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
    #: the product's document types this documents file takes (Sage 300: O/E orders the
    #: sales, O/E credit notes the credit notes, two files); () for every one
    transaction_types: tuple[str, ...] = ()

    def serves(self, post_from: str) -> bool:
        """Is this file written when the recipe posts from `post_from`?"""
        return not self.post_from or post_from in self.post_from

    def takes(self, transaction_type: str) -> bool:
        """Does this documents file take documents of `transaction_type`?"""
        return not self.transaction_types or transaction_type in self.transaction_types

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

    def heading_rows(self) -> list[list[str]]:
        """The heading rows written at the top when headings are on: the one all records share
        (`headings = "shared"`), else one per distinct record heading (records of one layout,
        as Intacct's item and tax lines, share its row: a header-mapped import would read a
        second one as data)."""
        records = self.records[:1] if self.shared_heading else self.records
        rows: list[list[str]] = []
        for record in records:
            if (heading := self.heading(record)) not in rows:
                rows.append(heading)
        return rows

    def heading(self, record: RecordSpec) -> list[str]:
        names = [c.name for c in record.columns]
        if record.code is None:
            return names
        return [self.code_heading if self.code_heading is not None else record.code, *names]

    @property
    def child_rows(self) -> set[str]:
        """The child tables its records read: their rows (a posting is made of splits) and
        what their column groups repeat over."""
        found = {"splits" if r.rows == "postings" else r.rows for r in self.records
                 if not r.per_document}
        return found | {g.rows for r in self.records for g in r.repeats}

    @property
    def postings(self) -> bool:
        """Does a record write one row per posting?"""
        return any(r.rows == "postings" for r in self.records)

    @property
    def for_accounts(self) -> bool:
        """An account (customer) file rather than a documents file."""
        return self.records[0].rows == "accounts"


def load_spec(product: str, name: str, override_dir: Path | None = None,
              region: str = "") -> FileSpec:
    """Read `<name>.toml` from the recipe's template folder if it has one, else the product's
    (its `region`'s file for it, where the region has one).

    The shipped one is read through importlib.resources (package data), so a plain, non-editable
    install finds it as an editable one does.
    """
    shipped = products.get(product, region).template_file(name)
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
        columns = tuple(column for n, raw_column in enumerate(raw.get("columns", []), start=1)
                        for column in _columns(raw_column, f"{where} column {n}"
                                               if "records" in data else f"column {n}",
                                               rows, fail))
        if not columns:
            raise fail(f"{where}: columns" if "records" in data else "columns",
                       "at least one [[columns]] entry")
        picks = _where(raw, f"{where}: where", fail)
        if picks and rows in ("documents", "accounts"):
            raise fail(f"{where}: where", "rows = splits or lines (it picks rows of those)")
        records.append(RecordSpec(name=str(raw.get("name", name)), rows=rows, columns=columns,
                                  code=code, required=bool(raw.get("required", False)),
                                  where=picks))
    if any(r.rows == "accounts" for r in records) and \
            not all(r.rows == "accounts" for r in records):
        raise fail("records", "rows = accounts on every record of an accounts file (e.g. a "
                   "customer record and its address record), or on none")
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
    headings = rules.get("headings", True)
    if not isinstance(headings, bool) and headings != "shared":
        raise fail("file.headings", 'true, false or "shared" (one heading row for records '
                   "with the same columns)")
    if headings == "shared" and (
            any(r.code is not None for r in records)
            or len({tuple(c.name for c in r.columns) for r in records}) != 1):
        raise fail("file.headings", 'records without a code and with the same column names, '
                   'in the same order, for "shared"')
    extension = text(rules, "extension", "file.extension", "csv") or ""
    if not re.fullmatch(r"[A-Za-z0-9]{1,8}", extension):
        raise fail("file.extension", "1 to 8 letters or digits")
    post_from = rules.get("post_from", [])
    if not isinstance(post_from, list) or ("post_from" in rules and not post_from) \
            or not all(p in POST_FROM for p in post_from):
        raise fail("file.post_from", "a list of " + " or ".join(repr(p) for p in POST_FROM))
    types = rules.get("transaction_types", [])
    if not isinstance(types, list) or ("transaction_types" in rules and not types) \
            or not all(isinstance(t, str) and t for t in types):
        raise fail("file.transaction_types", 'a list of document types, e.g. ["SC"]')
    return FileSpec(
        name=name, description=text(rules, "description", "file.description", name) or name,
        delimiter=delimiter,
        line_ending=text(rules, "line_ending", "file.line_ending", "\r\n") or "\r\n",
        date_format=text(rules, "date_format", "file.date_format", "%d/%m/%Y") or "%d/%m/%Y",
        records=tuple(records), quoting=quoting, true_text=true_text, false_text=false_text,
        headings=bool(headings), shared_heading=headings == "shared",
        code_heading=text(rules, "code_heading", "file.code_heading", None),
        extension=extension, preamble=tuple(preamble),
        block_open=text(block, "open", "file.block.open", None),
        block_close=text(block, "close", "file.block.close", None), block_per=per,
        post_from=tuple(post_from), transaction_types=tuple(types))


def _where(raw: dict[str, Any], where: str, fail: Any
           ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A `where` table: field = [values], on fields of the rows (not derived ones)."""
    picks = raw.get("where", {})
    if not isinstance(picks, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in picks.values()):
        raise fail(where, 'a table of field = [values], e.g. { purpose = ["goods"] }')
    if any(name in DERIVED_FIELDS for name in picks):
        raise fail(where, "fields of the rows, not " + ", ".join(DERIVED_FIELDS))
    return tuple((k, tuple(v)) for k, v in picks.items())


def _columns(raw: dict[str, Any], where: str, rows: str, fail: Any) -> tuple[Column, ...]:
    """One column, or a group's columns repeated: `{name}/{n}` for n = 1..times."""
    if not isinstance(raw, dict):
        raise fail(where, "a table")
    if "repeat" not in raw:
        return (_column(raw, where, fail),)
    where = f"{where} ({raw.get('name', 'group')})"
    for key in raw:
        if key not in _GROUP_KEYS:
            raise fail(f"{where}: unknown key '{key}'", "one of " + ", ".join(_GROUP_KEYS))
    if rows not in ("documents", "postings"):
        raise fail(f"{where}: repeat", "a record of rows = documents or postings (one row "
                   "per document, its child rows in repeated columns)")
    spec = raw["repeat"]
    if not isinstance(spec, dict) or any(k not in _REPEAT_KEYS for k in spec):
        raise fail(f"{where}: repeat", "a table of " + ", ".join(_REPEAT_KEYS))
    source = spec.get("rows")
    allowed = ("splits",) if rows == "postings" else REPEAT_ROWS
    if source not in allowed:
        raise fail(f"{where}: repeat.rows", "one of " + ", ".join(allowed)
                   + (" (a posting is made of splits)" if rows == "postings" else ""))
    times = spec.get("times")
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 999:
        raise fail(f"{where}: repeat.times", "the most child rows one document takes (1 to 999)")
    by = spec.get("by")
    if by is not None and (not isinstance(by, str) or by in DERIVED_FIELDS):
        raise fail(f"{where}: repeat.by", "a field of the child rows, e.g. \"tax_code\"")
    heading = spec.get("heading", "{name}/{n}")
    if not isinstance(heading, str) or "{name}" not in heading or "{n}" not in heading:
        raise fail(f"{where}: repeat.heading", 'a heading with {name} and {n}, e.g. "{name}/{n}"')
    members = raw.get("columns")
    if not isinstance(members, list) or not members or \
            any(not isinstance(m, dict) or "repeat" in m for m in members):
        raise fail(f"{where}: columns", "at least one column (a group holds no group)")
    repeat = Repeat(name=str(raw.get("name", "group")), rows=str(source), times=times,
                    where=_where(spec, f"{where}: repeat.where", fail), by=by)
    columns = [_column(m, f"{where} column {k}", fail) for k, m in enumerate(members, start=1)]
    return tuple(replace(column, name=heading.replace("{name}", column.name)
                         .replace("{n}", str(n)), repeat=repeat, index=n)
                 for n in range(1, times + 1) for column in columns)


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
        template = CellTemplate(raw["template"]) if "template" in raw else None
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
                  map=tuple((str(k), v) for k, v in mapping.items()),
                  end_if_empty=bool(raw.get("end_if_empty", False)))
