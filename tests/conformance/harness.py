"""What every conformance test needs, for any registered Sage product that posts documents.

Nothing here knows a product by its key: a product is chosen because it has templates, its
recipe is its own demo recipe with the test's store and folders put in, and its files are read
back by its capabilities (encoding, delimiter, line ending) and its templates' columns (which
field each column holds). A new product folder gets the whole suite without an edit here.

Files are read from their bytes, as Sage reads them: decoded strictly in the product's
encoding, split as CSV with its delimiter. Totals are compared with Magento's own numbers from
the pages the test wrote, never with what the transform computed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, settings

from bench.recipe import toml_value as _toml_value
from sagesync.cli.main import cli
from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from sagesync.recipe import MagentoSettings, MappingSettings, load_recipe
from sagesync.render import Column, FileSpec, RecordSpec, load_spec
from sagesync.render.cells import format_date
from sagesync.sage.products import PRODUCTS, SageProduct
from sagesync.testing.dataset import documents, write_pages
from sagesync.testing.factory import to_decimal
from tests.conftest import ROOT

#: Products that post documents (non-empty templates); export-only products have none.
POSTING: tuple[SageProduct, ...] = tuple(p for p in PRODUCTS.values() if p.templates)
CENT = Decimal("0.01")
#: `B000001-2-audit_trail-001.csv` -> `audit_trail`: the batch, file number and split suffix
#: are not the template's name.
_FILE_NAME = re.compile(r"^(?:B\d+|PREVIEW)-\d+-(?P<template>.+?)(?:-\d{3})?\.[A-Za-z0-9]+$")
#: Recipe keys holding a path relative to the recipe (beside the ones every test replaces).
_PATH_KEYS = {("sage", "templates")}


def require(product: SageProduct, capability: str, why: str = "") -> None:
    """Skip unless the product has `capability` (a truthy Capabilities attribute)."""
    value = getattr(product.capabilities, capability)
    if not value:
        pytest.skip(f"{product.key}: capability {capability} is {value!r}"
                    + (f" ({why})" if why else ""))


def few(examples: int) -> settings:
    """Hypothesis settings for examples that each run the whole pipeline: a handful, the same
    every run, no deadline, and no shrinking (a seed or a size shrinks to nothing simpler,
    and each shrink step is a whole run)."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


# --------------------------------------------------------------------------- recipes


def toml_text(data: Mapping[str, Any]) -> str:
    """A recipe as TOML: top-level keys, then one table per section (nested ones inline)."""
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data.items()
             if not isinstance(v, Mapping)]
    for section, table in data.items():
        if isinstance(table, Mapping):
            lines.append(f"\n[{section}]")
            lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def demo_recipe_data(product: SageProduct) -> dict[str, Any]:
    """The product's demo recipe as data, its relative paths made absolute."""
    path = ROOT / product.demo_recipe
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for section, table in data.items():
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if isinstance(value, str) and (key.endswith("_csv") or (section, key) in _PATH_KEYS):
                table[key] = (path.parent / value).resolve().as_posix()
    return data


def write_recipe(product: SageProduct, folder: Path, source: Path, *,
                 sage: Mapping[str, Any] | None = None,
                 mapping: Mapping[str, Any] | None = None,
                 magento: Mapping[str, Any] | None = None) -> Path:
    """`folder/recipe.toml`: the product's demo recipe reading `source`, with its state in
    `folder/state`, delivering to `folder/out`, writing the product's own encoding; `sage`,
    `mapping` and `magento` override single keys."""
    data = demo_recipe_data(product)
    data["name"] = f"conformance-{product.key}"
    data["state_dir"] = (folder / "state").as_posix()
    data.setdefault("magento", {}).update({"source": source.as_posix(), **(magento or {})})
    data["magento"].pop("base_url", None)
    data.setdefault("sage", {}).update({"product": product.key,
                                        "encoding": product.capabilities.encoding,
                                        **(sage or {})})
    data.setdefault("mapping", {}).update(mapping or {})
    data["delivery"] = {"kind": "folder", "path": (folder / "out").as_posix()}
    path = folder / "recipe.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_text(data), encoding="utf-8")
    return path


def demo_tax_codes(product: SageProduct) -> tuple[str, list[str]]:
    """(zero-rate code, other codes) of the product's demo recipe: codes its rules accept."""
    codes = {to_decimal(rate): code for rate, code in
             demo_recipe_data(product).get("mapping", {}).get("tax_codes", {}).items()}
    codes = codes or dict(MappingSettings().tax_codes)  # the demo keeps the default mapping
    zero = codes.get(Decimal(0), next(iter(codes.values())))
    others = [c for r, c in sorted(codes.items(), reverse=True) if r != 0] or [zero]
    return zero, others


# --------------------------------------------------------------------------- Magento stores


@dataclass(frozen=True)
class MagentoStore:
    """Saved REST pages and the Magento documents in them."""

    source: Path
    orders: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    creditmemos: list[dict[str, Any]]

    def sales(self, product: SageProduct) -> list[dict[str, Any]]:
        """The Magento documents the product's demo recipe posts as sales: the invoices, or
        with post_from = "orders" the orders in its order_states (never a cancelled one)."""
        demo = demo_recipe_data(product)
        if demo.get("sage", {}).get("post_from", product.capabilities.post_from[0]) \
                != "orders":
            return self.invoices
        states = demo.get("magento", {}).get("order_states", MagentoSettings().order_states)
        return [o for o in self.orders if o.get("state") in states]

    def posted(self, product: SageProduct) -> dict[tuple[str, str], dict[str, Any]]:
        """(Sage type, reference) -> the Magento document posted as it: each sale and each
        credit memo."""
        caps = product.capabilities
        out = {(caps.sale_type, str(d["increment_id"])): d for d in self.sales(product)}
        out.update({(caps.credit_type, str(m["increment_id"])): m for m in self.creditmemos})
        return out

    def postings(self, product: SageProduct) -> dict[tuple[str, str], Decimal]:
        """(Sage type, reference) -> Magento's base grand total of each posted document."""
        return {k: _money(d["base_grand_total"]) for k, d in self.posted(product).items()}

    def created(self, product: SageProduct) -> dict[tuple[str, str], str]:
        """(Sage type, reference) -> Magento's `created_at` of each posted document."""
        return {k: d["created_at"] for k, d in self.posted(product).items()}


def _money(value: Any) -> Decimal:
    return to_decimal(value).quantize(CENT)


def write_magento(folder: Path, orders: list[dict[str, Any]], invoices: list[dict[str, Any]],
                  creditmemos: list[dict[str, Any]], page_size: int = 50) -> MagentoStore:
    for entity, items in (("orders", orders), ("invoices", invoices),
                          ("creditmemos", creditmemos)):
        write_pages(folder, entity, items, page_size)
    return MagentoStore(folder, orders, invoices, creditmemos)


def synthetic_store(folder: Path, first_id: int, count: int, seed: int, *,
                    credit_notes: bool = True) -> MagentoStore:
    """Orders first_id.. from the benchmark's seeded generator (every one valid Magento), with
    their invoices and, when the product takes credit notes, their credit memos."""
    made = documents(first_id, count, seed)
    return write_magento(folder, made["orders"], made["invoices"],
                         made["creditmemos"] if credit_notes else [])


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Outcome:
    """What one `sagesync run` left: its exit code, manifest summary and ledger states."""

    exit_code: int
    output: str
    summary: dict[str, Any]
    #: (Sage type, increment id) -> ledger state, of every registered record
    states: dict[tuple[str, str], str]
    #: (Sage type, increment id) -> the reason of a held, skipped or needs-attention record
    reasons: dict[tuple[str, str], str]


def sage_type(product: SageProduct, entity_type: str) -> str:
    """The Sage type a Magento entity posts as (an order or invoice is a sale)."""
    caps = product.capabilities
    return caps.credit_type if entity_type == "creditmemo" else caps.sale_type


def run_recipe_cli(product: SageProduct, recipe: Path, out: Path | None = None) -> Outcome:
    """`sagesync run RECIPE` in this process, as a user runs it."""
    args = ["run", str(recipe)] + (["--out", str(out)] if out else [])
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code in (ExitCode.OK, ExitCode.HELD), result.output
    manifest = json.loads(Path(result.stdout.strip()).read_text(encoding="utf-8"))
    with Ledger(load_recipe(recipe).state_dir / "ledger.sqlite") as ledger:
        rows = ledger.rows()
    keys = [(sage_type(product, r.key.entity_type), r.increment_id or "") for r in rows]
    return Outcome(result.exit_code, result.output, manifest["summary"],
                   {k: r.state for k, r in zip(keys, rows, strict=True)},
                   {k: r.last_error for k, r in zip(keys, rows, strict=True) if r.last_error})


# --------------------------------------------------------------------------- reading files


@dataclass(frozen=True)
class Row:
    """One data row of a delivered file: its cells, the columns of its record, and the field
    each holds (a document field left blank on a later row of its document, as first-only
    columns and item-line records do, is the document's)."""

    file: str  # `<folder>/<file name>`: a file delivered again elsewhere is another file
    template: str
    record: str
    rows: str  # what the record is made from: documents, postings, splits, lines or accounts
    number: int  # 1-based data row within its file
    cells: tuple[str, ...]
    columns: tuple[Column, ...] = field(hash=False)
    fields: Mapping[str, str] = field(hash=False)
    #: net + tax as Sage books it (a sign the template writes by type undone); None when the
    #: record carries no amount
    amount: Decimal | None = None
    #: the row of the template's first record: it starts a document (or an account)
    starts: bool = False


@dataclass(frozen=True)
class Delivered:
    """Every row of every file in a folder, read as Sage reads them."""

    rows: list[Row]
    files: dict[str, bytes]  # by `<folder>/<file name>`

    def of(self, specs: Iterable[FileSpec]) -> list[Row]:
        names = {s.name for s in specs}
        return [r for r in self.rows if r.template in names]

    def amounts(self, specs: Iterable[FileSpec]) -> list[Row]:
        """The rows that carry money (splits or item lines) of these templates."""
        return [r for r in self.of(specs) if r.amount is not None]


def template_of(name: str) -> str:
    match = _FILE_NAME.match(name)
    assert match, f"{name}: not a delivered file name"
    return match.group("template")


def specs(product: SageProduct, templates: Path | None = None) -> dict[str, FileSpec]:
    return {name: load_spec(product.key, name, templates) for name in product.templates}


def document_specs(product: SageProduct) -> list[FileSpec]:
    """The templates of documents (not of account records)."""
    return [s for s in specs(product).values() if s.rows != "accounts"]


def require_amounts(product: SageProduct) -> None:
    """Skip a product whose files cannot be totalled from their bytes: Sage computes the tax
    from a code, or no record carries the split or line amounts."""
    require_not(product, "sage_computes_tax", "the files carry no tax to total")
    if not any(_amount_columns(r) for s in document_specs(product) for r in s.records
               if r.rows != "documents"):
        pytest.skip(f"{product.key}: its templates write no amount columns of splits, taxes "
                    "or lines for the conformance reader to total")


def require_not(product: SageProduct, capability: str, why: str = "") -> None:
    """Skip when the product has `capability` (a truthy Capabilities attribute)."""
    value = getattr(product.capabilities, capability)
    if value:
        pytest.skip(f"{product.key}: capability {capability} is {value!r}"
                    + (f" ({why})" if why else ""))


#: What a row books, per kind of row: a split's or a tax row's net and tax, an item line's
#: net and tax as posted (`net_amount` there keeps Magento's four places; a product writing a
#: line at two places writes `posted_net`), a header's shipping (Sage 50 Canada's Freight) or
#: its whole tax where its lines carry none (Sage 100's SalesTaxAmt). A
#: posting row books only what its repeated column groups hold.
_AMOUNT_FIELDS = {"splits": ("net_amount", "tax_amount"), "taxes": ("net_amount", "tax_amount"),
                  "lines": ("net_amount", "tax_amount", "posted_net", "posted_tax"),
                  "documents": ("carriage_net", "carriage_tax", "tax_total"), "postings": ()}
_MONEY = ("money", "signed_money")


def _amount_columns(record: RecordSpec) -> list[Column]:
    """The money columns of a record's amount fields (a column group's by its own rows)."""
    return [c for c in record.columns if c.kind in _MONEY and c.field in _AMOUNT_FIELDS.get(
        c.repeat.rows if c.repeat is not None else record.rows, ())]


def _amount(record: RecordSpec, fields: Mapping[str, str], cells: Sequence[str]
            ) -> Decimal | None:
    """Net + tax of a row: its own amount columns, plus, per amount field, the cells of the
    first column group that writes it (Sage 200 writes each split's net in its nominal group
    and again as the goods of its tax group: counted once)."""
    plain = [(c, fields.get(c.field or "", "")) for c in record.columns if c.repeat is None
             and c.field in _AMOUNT_FIELDS.get(record.rows, ()) and c.kind in _MONEY]
    grouped: list[tuple[Column, str]] = []
    counted: set[str] = set()
    for group in record.repeats:
        wanted = {c.field for c in record.columns if c.repeat == group and c.kind in _MONEY
                  and c.field in _AMOUNT_FIELDS[group.rows] and c.field not in counted}
        grouped += [(c, cell) for c, cell in zip(record.columns, cells, strict=True)
                    if c.repeat == group and c.field in wanted and c.kind in _MONEY]
        counted |= {f for f in wanted if f}
    if not plain and not grouped:
        return None
    total = Decimal(0)
    for column, text in [*plain, *grouped]:
        value = Decimal(text or "0")
        if column.kind == "signed_money" and _raw(column, fields.get(column.sign_field)) \
                in column.negate_for:
            value = -value  # written negated for this type: Sage books it the other way
        total += value
    return total


def _raw(column: Column, text: str | None) -> str | None:
    """The field's value before the column's `map` (the text written back to the value)."""
    return dict((written, value) for value, written in column.map).get(text or "", text)


def _data_groups(spec: FileSpec, text: str, name: str, header: bool) -> list[list[list[str]]]:
    """The CSV rows of a file after its preamble and heading rows: one group per tagged block
    when each document has its own (Sage 50 Canada's <SalInvoice>), else one group of all."""
    lines = text.split(spec.line_ending)[:-1]
    assert lines[:len(spec.preamble)] == list(spec.preamble), f"{name}: preamble"
    body = lines[len(spec.preamble):]
    if header and spec.headings:
        headings = spec.heading_rows()
        count = len(headings)
        assert _csv(spec, body[:count]) == headings, f"{name}: heading rows {body[:2]}"
        body = body[count:]
    if spec.block_open is None:
        return [_csv(spec, body)]
    if spec.block_per != "document":
        assert body[:1] == [spec.block_open] and body[-1:] == [spec.block_close], \
            f"{name}: the rows are not in one {spec.block_open} block"
        return [_csv(spec, body[1:-1])]
    groups: list[list[str]] = []
    current: list[str] | None = None
    for n, line in enumerate(body, start=1):
        if line == spec.block_open:
            assert current is None, f"{name}: a block opened inside another at line {n}"
            current = []
        elif line == spec.block_close:
            assert current is not None, f"{name}: a block closed but not opened at line {n}"
            groups.append(current)
            current = None
        else:
            assert current is not None, f"{name}: a row outside any block at line {n}: {line!r}"
            current.append(line)
    assert current is None, f"{name}: the last block is not closed"
    return [_csv(spec, group) for group in groups]


def _csv(spec: FileSpec, lines: list[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(f"{line}\n" for line in lines), newline=""),
                           delimiter=spec.delimiter))


def _records_of(spec: FileSpec, group: list[list[str]], where: str
                ) -> list[tuple[RecordSpec, list[str]]]:
    """Each row's record and its cells (without the type code). Records with codes are told
    by the code; uncoded records by their order in a block of one document (each one made
    of documents is one row, a single one made of splits or lines has the rest)."""
    coded = {r.code: r for r in spec.records if r.code is not None}
    if coded:
        for n, cells in enumerate(group, start=1):
            assert cells and cells[0] in coded, f"{where} row {n}: record type {cells[:1]}"
        return [(coded[cells[0]], cells[1:]) for cells in group]
    if len(spec.records) == 1:
        return [(spec.records[0], cells) for cells in group]
    children = [r for r in spec.records if not r.per_document]
    if spec.block_open is None or spec.block_per != "document" or len(children) > 1:
        return [(_fitting(spec, cells, f"{where} row {n}"), cells)
                for n, cells in enumerate(group, start=1)]
    rest = len(group) - (len(spec.records) - len(children))
    assert rest >= 0, f"{where}: a block of {len(group)} rows for {len(spec.records)} records"
    kinds = [r for r in spec.records for _ in range(1 if r.per_document else rest)]
    return list(zip(kinds, group, strict=True))


def _cells(record: RecordSpec, cells: list[str], where: str) -> list[str]:
    """A row's cells, one per column: a row that ended at an empty `end_if_empty` column is
    padded with the empty cells it left out."""
    if len(cells) < len(record.columns) and record.columns[len(cells)].end_if_empty:
        return cells + [""] * (len(record.columns) - len(cells))
    assert len(cells) == len(record.columns), f"{where}: {cells}"
    return cells


def _fitting(spec: FileSpec, cells: list[str], where: str) -> RecordSpec:
    """Records sharing their columns (Sage 50 US's item and sales-tax distributions): the one
    record whose fixed values the row has."""
    fitting = [r for r in spec.records if len(r.columns) == len(cells) and all(
        c.value is None or cell == c.value for c, cell in zip(r.columns, cells, strict=True))]
    if len(fitting) > 1 and all(_booking(r) == _booking(fitting[0]) for r in fitting):
        return fitting[0]  # they book alike (Intacct's item and tax lines): read as the first
    assert len(fitting) == 1, f"{where}: {len(fitting)} records have this row's fixed values"
    return fitting[0]


def _booking(record: RecordSpec) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """Per column of a record: its heading, and, where it carries an amount, its kind and the
    values that negate it (records without a code that book alike can be read as one)."""
    amounts = {c.field for c in _amount_columns(record)}
    return [(c.name, c.kind, c.negate_for) if c.field in amounts else (c.name, None, ())
            for c in record.columns]


def parse_date(cell: str, date_format: str) -> datetime | None:
    """The date a cell holds in `date_format` exactly as the renderer writes it (`%-d`, `%-m`:
    no leading zero), or None."""
    try:
        parsed = datetime.strptime(cell, date_format.replace("%-", "%"))
    except ValueError:
        return None
    return parsed if format_date(parsed, date_format) == cell else None


def read_delivered(product: SageProduct, *folders: Path, header: bool = True) -> Delivered:
    """Decode (strictly) and split every delivered file; checks line ends and heading rows.

    A file that writes no Sage type holds documents of the product's one type (Sage 50
    Canada's .IMP: sales invoices only) or of the one type its template takes, and each row
    of a tagged block of one document carries the fields every row of that block holds."""
    caps = product.capabilities
    by_template = specs(product)
    rows: list[Row] = []
    files: dict[str, bytes] = {}
    for path in sorted(p for folder in folders if folder.exists() for p in folder.iterdir()
                       if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        name = f"{path.parent.name}/{path.name}"
        files[name] = data
        spec = by_template[template_of(path.name)]
        text = data.decode(caps.encoding)  # strict: a byte Sage cannot read fails here
        assert text.endswith(spec.line_ending), f"{name}: last line not ended"
        untyped = not any(c.field == "transaction_type" for c in spec.columns)
        # a file of one type (Sage 300's credit notes file, `[file] transaction_types`)
        types = spec.transaction_types or caps.transaction_types
        implied = {"transaction_type": types[0]} if untyped and len(types) == 1 else {}
        blocked = spec.block_open is not None and spec.block_per == "document"
        number = 0
        document: dict[str, str] = {}  # the fields the current document's rows share
        for group in _data_groups(spec, text, name, header):
            read = []
            for record, raw in _records_of(spec, group, name):
                number += 1
                where = f"{name} row {number}"
                cells = _cells(record, raw, where)
                own = {c.field: _raw(c, cell) or "" for c, cell in zip(record.columns, cells,
                                                                        strict=True)
                       if c.field and c.repeat is None}  # a group's cells are not the row's
                read.append((number, record, cells, own))
            # a record of documents or accounts after the first (Sage X3's address record
            # after its customer record) adds to the document the first one started
            if blocked:  # the block is one document: its rows share its fields
                document = {**implied}
                for _, record, _, own in read:
                    if record.per_document:
                        document.update({k: v for k, v in own.items() if v})
            for number_of, record, cells, own in read:
                if blocked:
                    pass  # the block's fields, gathered above
                elif record.rows in ("documents", "accounts", "postings"):
                    if record is spec.records[0]:
                        document = {**implied, **{k: v for k, v in own.items() if v}}
                    else:
                        document.update({k: v for k, v in own.items() if v})
                else:
                    document.update({c.field: own[c.field] for c in record.columns
                                     if c.first_only and c.field in own and own[c.field]})
                fields = {**document,
                          **{k: v for k, v in own.items() if v or k not in document}}
                rows.append(Row(name, spec.name, record.name, record.rows, number_of,
                                tuple(cells), record.columns, fields,
                                _amount(record, fields, cells), record is spec.records[0]))
    return Delivered(rows, files)


def document_of(row: Row, product: SageProduct) -> tuple[str, str]:
    """(Sage type, reference) of the document a row belongs to; a file that writes no type
    holds sales only (a product without credit notes, such as Sage X3's orders)."""
    caps = product.capabilities
    kind = row.fields.get("transaction_type") or ("" if caps.credit_notes else caps.sale_type)
    return kind, row.fields[caps.reference_field]


def row_amount(row: Row) -> Decimal:
    """Net + tax of one split or line row, as Sage books it."""
    assert row.amount is not None, f"{row.file} row {row.number} carries no amount"
    return row.amount


def owner_of(product: SageProduct, row: Row, expected: Iterable[tuple[str, str]]
             ) -> tuple[str, str]:
    """The Magento document (Sage type, reference) a split row books for: its own, or, for a
    row posted as the other type under `<reference>-<suffix>` (a credit memo's fee SI when
    amounts must be positive), the document it was taken off. A row of no expected document
    fails."""
    caps = product.capabilities
    kind, reference = document_of(row, product)
    known = set(expected)
    if (kind, reference) in known:
        return kind, reference
    other = {caps.sale_type: caps.credit_type, caps.credit_type: caps.sale_type}.get(kind)
    owners = [key for key in known if key[0] == other and reference.startswith(key[1] + "-")]
    assert len(owners) == 1, f"{row.file} row {row.number} ({kind} {reference}) belongs to " \
                             f"no Magento document (candidates {owners})"
    return owners[0]


def per_magento_document(product: SageProduct, rows: Sequence[Row],
                         expected: Mapping[tuple[str, str], Decimal]
                         ) -> dict[tuple[str, str], Decimal]:
    """What Sage books for each Magento document, read from its split rows: its own rows, less
    the rows posted as the other type on its behalf."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        owner = owner_of(product, row, expected)
        sign = 1 if document_of(row, product)[0] == owner[0] else -1
        totals[owner] += sign * row_amount(row)
    return dict(totals)


def occurrences(product: SageProduct, rows: Sequence[Row],
                expected: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """Magento document -> the file of each run of consecutive rows it has: exactly one entry
    when it was delivered once, whole, in one file."""
    known = set(expected)
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    previous: tuple[str, tuple[str, str]] | None = None
    for row in rows:
        here = (row.file, owner_of(product, row, known))
        if here != previous:
            seen[here[1]].append(row.file)
        previous = here
    return dict(seen)


def per_type(product: SageProduct, rows: Sequence[Row]) -> dict[str, Decimal]:
    """Net + tax per Sage type as written (a fee SI counts as an SI), as the summary has it."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[document_of(row, product)[0]] += row_amount(row)
    return dict(totals)
