"""What a Sage product is to the core: a key, its rules as data, its templates, its export layouts.

Modelled on dlt's destination capabilities: the core never asks "is this Sage 50 UK?", it reads
a fact (credit notes exist, negatives allowed, the largest amount) from `Capabilities`. A product
holds no code that touches the ledger, checkpoints, delivery or the CLI; it is data plus the
folder its templates live in, so adding a product means adding a folder (see
docs/adding-a-sage-product.md).

A product may be read before it can be written to: one with export layouts (stock, prices) and
no templates yet feeds the catalog flows, and recipe validation refuses it as `[sage] product`
(posting). `posts` is the one test of that, so nothing asks by key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import TypeVar

from sagesync.errors import UsageError
from sagesync.sage.layouts import KINDS, Layout

V = TypeVar("V")


def _frozen(mapping: Mapping[str, V]) -> Mapping[str, V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Capabilities:
    """The facts of one Sage import format, each with the source it came from in the README.

    Record types are the codes Sage reads in the type column; "line" types are separate item
    records (Sage X3 `L`, Sage 300 detail views) and stay empty for formats whose every row is a
    nominal split of its document. A limit of 0 means none is documented.
    """

    #: Record types that start (or, for split-per-row formats, make up) a document.
    document_record_types: tuple[str, ...]
    #: Separate item-line record types; () when each row is a split of its document.
    line_record_types: tuple[str, ...]
    #: The record type of a sale and of a credit note ("" when the product has no credit notes).
    sale_type: str
    credit_type: str
    #: Whether Sage accepts negative split amounts inside a document. Only used when the recipe
    #: opts in (`[sage] negative_amounts = true`); False refuses that recipe's negatives too.
    negative_amounts: bool
    #: Whether Sage computes tax from a code (True) or takes the tax amount as given (False).
    sage_computes_tax: bool
    #: The largest absolute amount one money cell holds.
    max_amount: Decimal
    #: Longest code per field of the document (the renderer holds a document over it).
    code_lengths: Mapping[str, int] = field(default_factory=dict, hash=False)
    #: Regular expressions a code must match, per field.
    code_patterns: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: strftime format of dates in the files.
    date_format: str = "%d/%m/%Y"
    max_lines_per_document: int = 0
    max_lines_per_file: int = 0
    #: The largest file Sage takes, in bytes (Sage Accounting's 0.5 MB upload): the import
    #: splits a batch between documents to stay under it, as it does at max_lines_per_file.
    max_bytes_per_file: int = 0
    #: The document field Sage groups rows on and the ack matches on.
    reference_field: str = "reference"
    encoding: str = "cp1252"
    delimiter: str = ","
    line_ending: str = "\r\n"
    #: How the bookkeeper enters a credit note by hand when the import takes none (the
    #: message a held credit memo carries); empty when credit notes import.
    credit_note_advice: str = ""
    #: Whether the import takes amounts in a currency other than the company's (with an
    #: exchange rate). False (Sage 50 Canada: home currency only): `[sage] currency = "order"`
    #: is refused, so a foreign order is posted in the base currency like any other.
    foreign_currency: bool = True
    #: The product's own defaults of `[mapping]` keys a recipe leaves out (MappingSettings
    #: field -> value; `tax_codes` as {"20": "code"}): Sage 50 UK's T1/T9 mean nothing to
    #: another product. Empty: MappingSettings' own (Sage 50 UK's).
    mapping_defaults: Mapping[str, object] = field(default_factory=dict, hash=False)
    #: Whether a split that takes money off its document (a credit memo's fee, a gift card)
    #: can be posted as a document of the other type when amounts must be positive. False
    #: when the file's rows are the lines of one document with a header repeated on each
    #: (Sage 50 US): such amounts can only be negative lines inside their document, so a
    #: recipe must set [sage] negative_amounts = true.
    contra_documents: bool = True
    #: Split purposes written as negative lines inside their own document even when amounts
    #: must otherwise be positive, rather than as a document of the other type: Sage 300's
    #: credit note takes a credit memo's fee as a negative miscellaneous charge, so the note
    #: alone is what Magento refunded (a debit note of its own would not be applied to it).
    negative_purposes: tuple[str, ...] = ()
    #: The Magento documents a recipe may post as sales (`[sage] post_from`): a product whose
    #: import takes no document made from an order (Sage 200: no sales-order import, and an
    #: order is not yet an invoice) lists "invoices" only.
    post_from: tuple[str, ...] = ("invoices", "orders")
    #: The post_from values whose documents file takes a credit note (Sage 100: A/R invoice
    #: entry takes one as an invoice of type CM, S/O Sales Order Entry none): a credit memo
    #: posted with another is held with credit_note_advice, as when credit_type is "".
    credit_post_from: tuple[str, ...] = ("invoices", "orders")
    #: Sage imports a file into the one company it is logged into (no company column): a
    #: recipe posts to one company, and `[sage] companies` naming two is refused.
    one_company: bool = False
    #: Constant fields the product's templates name besides the documents' own (Sage X3's
    #: order type and sales site), with the product's defaults: a recipe's `[sage] fields`
    #: sets them, and no other name.
    template_fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: 0 when Sage takes each line's amount; else the places of the unit price Sage computes
    #: a line's amount from (quantity x price, to cents): a line no such price makes holds
    #: its document (Sage X3's GROPRI: 4).
    unit_price_places: int = 0

    def __post_init__(self) -> None:
        # read-only views, so a capability cannot be changed by a caller after registration
        object.__setattr__(self, "code_lengths", _frozen(self.code_lengths))
        object.__setattr__(self, "code_patterns", _frozen(self.code_patterns))
        object.__setattr__(self, "mapping_defaults", _frozen(self.mapping_defaults))
        object.__setattr__(self, "template_fields", _frozen(self.template_fields))
        wrong = sorted(n for n in self.template_fields
                       if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", n))
        if wrong:  # a registration mistake; a name of the transform's tables is a test's check
            raise ValueError(f"template_fields {', '.join(wrong)}: lower-case names")
        if self.unit_price_places not in (0, 2, 3, 4):
            raise ValueError("unit_price_places: 0 (Sage takes line amounts), or 2 to 4")

    def code_rule(self, name: str, default_length: int = 8) -> tuple[re.Pattern[str], str]:
        """The rule a code of field `name` keeps (its pattern, else 1 to its length of any
        printable characters) and how a message words it, for recipe and mapping checks."""
        length = self.code_lengths.get(name, default_length)
        pattern = self.code_patterns.get(name)
        if pattern is not None:
            return re.compile(pattern), f"{length} characters at most, matching {pattern}"
        return re.compile(rf"[^\x00-\x1f]{{1,{length}}}"), f"1 to {length} characters"

    def code_fits(self, name: str, value: str) -> bool:
        """Does `value` keep the rule of field `name`: its pattern and its length?"""
        return bool(self.code_rule(name)[0].fullmatch(value)) and \
            len(value) <= self.code_lengths.get(name, len(value))

    @property
    def credit_notes(self) -> bool:
        """Can a credit note be imported? (Sage 50 Canada's .IMP cannot.)"""
        return bool(self.credit_type)

    def credit_notes_from(self, post_from: str) -> bool:
        """Can a credit note be imported beside the sales posted from `post_from`?"""
        return self.credit_notes and post_from in self.credit_post_from

    @property
    def transaction_types(self) -> tuple[str, ...]:
        return tuple(t for t in (self.sale_type, self.credit_type) if t)


#: The `[ack]` keys naming a column, which a product's AckLayout.columns may give headings for.
ACK_COLUMN_KEYS = ("reference_column", "type_column", "sage_number_column",
                   "invoice_number_column", "status_column", "error_column", "amount_column")


@dataclass(frozen=True)
class AckLayout:
    """How Sage's export of imported documents answers sagesync (`sagesync ack`).

    Which Sage record types answer which Magento document kinds (the ledger's entity types), so
    rows of other types in a full export are ignored rather than reported, and what the file
    looks like, for the error file of one that cannot be read. Column names are the site's own
    report layout and stay in the recipe's [ack] section.
    """

    #: Sage record type -> the Magento kinds a document of that type comes from.
    types: Mapping[str, tuple[str, ...]]
    #: What a readable ack file looks like (the `Expected:` line of its quarantine report).
    expected: str
    #: The type column's text, upper case -> the Sage record type, when the export states the
    #: type in its own words (Sage 50 US: Credit Memo TRUE/FALSE); text not listed is read as
    #: the type itself.
    type_text: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: The headings of the product's own export, per `[ack]` key (`reference_column` …),
    #: looked for when the recipe leaves that key out; the first in the file's header wins
    #: (Sage 200's transaction export, whose headings vary by report). A key not listed
    #: keeps the recipe's value or its default.
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", _frozen(self.types))
        object.__setattr__(self, "type_text", _frozen(self.type_text))
        object.__setattr__(self, "columns", _frozen(self.columns))
        wrong = sorted(k for k, names in self.columns.items()
                       if k not in ACK_COLUMN_KEYS or not names)
        if wrong:  # a registration mistake
            raise ValueError(f"ack columns {', '.join(wrong)}: one of "
                             f"{', '.join(ACK_COLUMN_KEYS)}, each with a heading")


@dataclass(frozen=True)
class Region:
    """A regional edition of a product's import format, chosen by a recipe's `[sage] region`:
    its own rules (Sage Accounting's US and Canadian quick entries date MM-DD-YYYY and name
    the site's own tax rates) and the shipped templates it reads instead of the product's."""

    title: str
    import_format: Capabilities
    #: template name -> the stem of the shipped file read for it in this region
    #: (quick_entries -> quick_entries_na); a template not listed is the product's own
    templates: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "templates", _frozen(self.templates))


@dataclass(frozen=True)
class SageProduct:
    """One registered Sage product: its key (the recipe's `[sage] product`) and its data.

    A product that posts has templates and the rules of its import format (`import_format`,
    read as `capabilities`); one that only has export layouts has neither yet.
    """

    key: str
    title: str
    #: The package holding `<template>.toml` and README.md (shipped as package data).
    package: str
    #: The rules of the import files sagesync writes; None while the product cannot post.
    import_format: Capabilities | None = None
    #: Template names in the order the files are written: accounts before the documents
    #: that post to them. Empty for a product that cannot post yet.
    templates: tuple[str, ...] = ()
    #: How its stock and price exports are read (Sage -> Magento), one Layout per kind.
    layouts: tuple[Layout, ...] = ()
    #: How its export of imported documents is read by `sagesync ack`; None: no ack.
    ack: AckLayout | None = None
    #: The recipe, relative to the project root, whose run makes the golden files.
    demo_recipe: str = "recipes/demo.toml"
    #: Regional editions a recipe picks with `[sage] region` (name -> Region); the product's
    #: own import_format and templates are what a recipe without one gets.
    regions: Mapping[str, Region] = field(default_factory=dict, hash=False)
    #: template name -> the stem of the shipped file read for it (set by `in_region`)
    template_files: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", _frozen(self.regions))
        object.__setattr__(self, "template_files", _frozen(self.template_files))
        # a registration mistake fails at import, not halfway through a run
        strays = [f"{name}: {t}" for name, region in self.regions.items()
                  for t in region.templates if t not in self.templates]
        if strays:
            raise ValueError(f"{self.key}: a region replaces the product's own templates only "
                             f"(got {', '.join(strays)})")
        if bool(self.templates) != (self.import_format is not None):
            raise ValueError(f"{self.key}: templates and import_format go together (a product "
                             "that posts has both, one that cannot post yet has neither)")
        if self.ack is not None and not self.templates:
            raise ValueError(f"{self.key}: an ack layout answers postings; it has no templates")
        kinds = [layout.kind for layout in self.layouts]
        wrong = [f"{lay.product} {lay.kind}" for lay in self.layouts
                 if lay.product != self.key or lay.kind not in KINDS]
        if wrong or len(set(kinds)) != len(kinds):
            raise ValueError(f"{self.key}: layouts must be this product's, one per kind of "
                             f"{', '.join(KINDS)} (got {', '.join(wrong or kinds)})")

    @property
    def posts(self) -> bool:
        """Does sagesync write Sage documents for it (it has templates)?"""
        return bool(self.templates)

    @property
    def capabilities(self) -> Capabilities:
        """The import format's rules; only a product that posts has them."""
        if self.import_format is None:
            raise UsageError(f"{self.title} ({self.key}) cannot post documents yet: only its "
                             "stock and price exports are read")
        return self.import_format

    def layout(self, kind: str) -> Layout | None:
        """Its export layout of `kind` (stock, prices), or None."""
        return next((lay for lay in self.layouts if lay.kind == kind), None)

    def in_region(self, region: str) -> SageProduct:
        """The product as a recipe with `[sage] region = region` sees it: that region's rules
        and templates ("" is the product itself). A KeyError for a region it does not have."""
        if not region:
            return self
        chosen = self.regions[region]
        return replace(self, title=f"{self.title}, {chosen.title}",
                       import_format=chosen.import_format, template_files=chosen.templates)

    def template_file(self, name: str) -> Traversable:
        """The shipped `<name>.toml` (or its region's file for it), read through
        importlib.resources so a wheel works."""
        return files(self.package) / f"{self.template_files.get(name, name)}.toml"

    def folder(self) -> Traversable:
        return files(self.package)
