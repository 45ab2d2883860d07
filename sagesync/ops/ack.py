"""`sagesync ack FILE`: read what Sage says it imported, and confirm or reject records.

The file is an export from Sage listing imported documents; the recipe's [ack] section names
its columns (the reference that carries the Magento number, the Sage document number, and
optionally the type, an invoice number and a status/error column). A document is matched on
(type, reference): the Reference sagesync wrote is the Magento document's increment id. Which
Sage types answer which Magento kinds is the product's (`SageProduct.ack`, in its folder).

Only a clear answer changes a record, because a wrong confirmation loses a document and a
wrong rejection sends it to Sage twice:
- a row confirms only with a Sage number, no error text, and (when a status column is named)
  a status in ok_values;
- a row rejects when its status is outside ok_values, or, without a status column, when it
  carries an error text; the rejection is always recorded (attempts + 1);
- anything else (no Sage number, a blank status, an ok status with an error) is reported and
  changes nothing. All rows of a document are read together: one unclear row keeps the
  document as it is, and rows that both confirm and reject it send it to a person.

An answer counts once: the ledger remembers each (record, delivery, answer) it applied, in the
transaction that applies it, so the same file applied twice, a re-export holding the same answer
for the same delivery, or a killed and rerun `ack` changes nothing twice. The same answer after
the record was sent again is a new one (Sage refused the new delivery too), unless it comes from
a file like one already applied, byte for byte, last written before that new delivery began:
that is the old export read again (`ack` from cron on a file left in place), and counting it
would send the record to Sage once more.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagesync.errors import InputFormatError, UsageError
from sagesync.ledger import Ledger, RecordKey
from sagesync.model.words import nouns, plural
from sagesync.ops.quarantine import error_text, quarantine_report
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import AckSettings, Recipe
from sagesync.sage import products
from sagesync.sage.decoding import decode
from sagesync.sage.products import AckLayout
from sagesync.sage.results import Problem
from sagesync.transform.documents import CONTRA_SUFFIX, OTHER_TYPE


@dataclass
class AckResult:
    """What happened to each document, as lines a person reads (`key: why`)."""

    confirmed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    needs_attention: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)  # rows that neither confirm nor reject
    already_applied: list[str] = field(default_factory=list)  # the same answer, seen before
    ignored: int = 0  # rows of other transaction types (a full audit-trail export)

    @property
    def needs_a_person(self) -> bool:
        return bool(self.needs_attention or self.unmatched or self.ambiguous or self.unclear)


@dataclass(frozen=True)
class AckRow:
    """One row of the file and what it says: `confirm`, `reject` or `unclear` (and why)."""

    line: int
    sage_type: str | None
    reference: str
    sage_number: str
    invoice_number: str | None
    verdict: str
    reason: str
    amount: str = ""  # [ack] amount_column's text, for `reconcile`

    @property
    def label(self) -> str:
        return f"line {self.line} ({' '.join(filter(None, (self.sage_type, self.reference)))})"


class AckFileError(InputFormatError):
    """The ack file cannot be read; `problems` lists each with its line (and column)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: {plural(len(problems), 'problem')}; the first: "
                         f"{problems[0]}")
        self.path = path
        self.problems = problems


def _verdict(settings: AckSettings, number: str, status: str, error: str) -> tuple[str, str]:
    if settings.status_column:
        ok_values = {v.casefold() for v in settings.ok_values}
        if not status:
            return "unclear", ("no status and no Sage number" if not number else
                               f"no status (Sage {number})") + ": neither confirmed nor rejected"
        if status.casefold() not in ok_values:
            return "reject", error or f"Sage status '{status}'"
        if error:
            return "unclear", f"status '{status}' but an error: {error}; not confirmed"
    elif error:
        return "reject", error
    if not number:
        return "unclear", "no Sage number: not confirmed"
    return "confirm", ""


def _header_index(header: list[str], wanted: list[str]) -> tuple[dict[str, int], list[str]]:
    """Column of each wanted name (case and surrounding spaces ignored), and the problems."""
    folded = [h.strip().casefold() for h in header]
    index, problems = {}, []
    missing = [name for name in wanted if name.strip().casefold() not in folded]
    if missing:
        problems.append(
            f"line 1: missing {nouns(len(missing), 'column')} "
            + ", ".join(f"'{m}'" for m in missing) + "; the header "
            "has " + (", ".join(f"'{h.strip()}'" for h in header if h.strip()) or "nothing")
            + " (set the names in the recipe's [ack] section)")
    for name in wanted:
        hits = [i for i, h in enumerate(folded) if h == name.strip().casefold()]
        if len(hits) > 1:
            problems.append(f"line 1, columns {' and '.join(str(i + 1) for i in hits)}: "
                            f"'{name}' appears twice: which one to read is unclear")
        if hits:
            index[name] = hits[0]
    return index, problems


#: [ack] keys a row cannot be read without: the rest may be absent from an export.
_REQUIRED = ("reference_column", "sage_number_column")


def _product_columns(settings: AckSettings, layout: AckLayout, header: list[str]
                     ) -> tuple[AckSettings, list[str]]:
    """The settings with each column the recipe left out and the product names headings for
    (`AckLayout.columns`) set to the first of those in `header`, and the problems: a column
    every row needs that none of them heads."""
    folded = {h.strip().casefold(): h.strip() for h in reversed(header)}
    found: dict[str, Any] = {}  # None only for a column a row can do without
    problems = []
    for key, names in layout.columns.items():
        if key in settings.named:
            continue
        found[key] = next((folded[n.casefold()] for n in names if n.casefold() in folded),
                          None)
        if found[key] is None and key in _REQUIRED:
            problems.append(
                f"line 1: no {key.removesuffix('_column').replace('_', ' ')} column: expected "
                "one of " + ", ".join(f"'{n}'" for n in names) + "; the header has "
                + (", ".join(f"'{h.strip()}'" for h in header if h.strip()) or "nothing")
                + f" (or name it in the recipe: [ack] {key})")
    if problems:
        return settings, problems
    return replace(settings, **found), []


def ack_layout(recipe: Recipe) -> AckLayout:
    """The ack layout of the recipe's Sage product; a usage error if it has none."""
    product = products.get(recipe.sage.product)
    if product.ack is None:
        raise UsageError(f"ack: {product.title} ({product.key}) has no ack layout: sagesync "
                         "cannot read its export of imported documents yet")
    return product.ack


def read_ack_file(path: Path, settings: AckSettings,
                  layout: AckLayout) -> tuple[list[AckRow], int]:
    """The rows that concern sagesync (types of `layout`) and how many of other types were
    ignored; or AckFileError listing every problem with its line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"ack: no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"ack: cannot read {path}: {exc.strerror or exc}") from None
    decoded = decode(data, settings.encoding)  # sniffed as parse-sage does, unless named
    if isinstance(decoded, Problem):
        raise AckFileError(path, [decoded.describe()])
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter=settings.delimiter)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise AckFileError(path, [f"line 1: {exc}"]) from None
    settings, problems = _product_columns(settings, layout, header)
    if problems:
        raise AckFileError(path, problems)
    wanted = [settings.reference_column, settings.sage_number_column]
    wanted += [c for c in (settings.type_column, settings.invoice_number_column,
                           settings.status_column, settings.error_column,
                           settings.amount_column) if c]
    index, problems = _header_index(header, wanted)
    if problems:
        raise AckFileError(path, problems)
    rows: list[AckRow] = []
    ignored = 0
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            problems.append(f"line {line}: the file cannot be split into rows here ({exc})")
            break
        if cells is None:
            break
        first, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(header):
            problems.append(f"line {first}: {len(cells)} columns, the header has {len(header)}")
            continue

        def cell(name: str | None, cells: list[str] = cells) -> str:
            return cells[index[name]].strip() if name else ""

        reference = cell(settings.reference_column)
        said = cell(settings.type_column).upper()
        sage_type = layout.type_text.get(said, said) or None
        if sage_type is not None and sage_type not in layout.types:
            ignored += 1  # other transaction types in a full audit-trail export: not ours
            continue
        if not reference:
            problems.append(f"line {first}, column {index[settings.reference_column] + 1} "
                            f"({settings.reference_column}): empty; every row needs the "
                            "Magento document number sagesync wrote")
            continue
        number = cell(settings.sage_number_column)
        verdict, reason = _verdict(settings, number, cell(settings.status_column),
                                   cell(settings.error_column))
        rows.append(AckRow(first, sage_type, reference, number,
                           cell(settings.invoice_number_column) or None, verdict, reason,
                           cell(settings.amount_column)))
    if problems:
        raise AckFileError(path, problems)
    return rows, ignored


def apply_ack(recipe: Recipe, ledger: Ledger, path: Path) -> AckResult:
    """Confirm, reject or report every document the file names; nothing at all if the file
    is malformed (it is quarantined with its problems and AckFileError is raised)."""
    layout = ack_layout(recipe)
    try:
        rows, ignored = read_ack_file(path, recipe.ack, layout)
        source = hashlib.sha256(path.read_bytes()).hexdigest()
        written_at = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    except AckFileError as error:
        copy = quarantine_report(recipe.state_dir, path,
                                 error_text(path, error.problems, layout.expected))
        error.message += (f". Nothing was applied; every problem is listed in "
                          f"{copy}.error.txt.")
        raise
    index = ledger.sent_by_reference(dict(layout.types))
    result = AckResult(ignored=ignored)
    documents: dict[RecordKey, list[AckRow]] = {}
    for row in sorted(rows, key=lambda r: parent_of(r) is not None):
        types = [row.sage_type] if row.sage_type else list(layout.types)
        keys = [k for t in types for k in index.get((t, row.reference), [])]
        parent = parent_of(row)
        if not keys and parent is not None:  # a fee or payment posted beside its document
            keys = index.get(parent, [])
        if not keys:
            result.unmatched.append(_unmatched(ledger, row, types, layout))
        elif len(keys) > 1:
            result.ambiguous.append(f"{row.label} matches {', '.join(map(str, keys))}")
        else:
            documents.setdefault(keys[0], []).append(row)
    for key, answers in documents.items():
        _apply(ledger, recipe, key, answers, result, (source, written_at))
        crash_point("after-answer")
    return result


def parent_of(row: AckRow) -> tuple[str, str] | None:
    """(type, reference) of the document a contra row belongs to: `SI 000000001-FEE` is the
    fee of credit memo `SC 000000001`, delivered and confirmed with it as one record. Its rows
    sort after the parent's, so the parent's Sage number is the one kept."""
    base, _, suffix = row.reference.rpartition("-")
    if base and suffix in CONTRA_SUFFIX.values() and row.sage_type in OTHER_TYPE:
        return OTHER_TYPE[row.sage_type], base
    return None


def _unmatched(ledger: Ledger, row: AckRow, types: list[str], layout: AckLayout) -> str:
    """Why a row matches no sent record: none at all, or the record is in another state."""
    kinds = {kind for t in types for kind in layout.types[t]}
    others = [r for r in ledger.rows(increment_id=row.reference) if r.key.entity_type in kinds]
    if not others:
        return f"{row.label}: no record sent to Sage has this reference"
    states = ", ".join(f"{r.key} is {r.state.replace('_', ' ')}" for r in others)
    return f"{row.label}: {states}, not waiting for Sage's answer: not applied"


def _digest(answers: list[AckRow]) -> str:
    """What Sage said about a document, whatever the line numbers or the order of its rows."""
    said = sorted([a.sage_type or "", a.reference, a.sage_number, a.invoice_number or "",
                   a.verdict, a.reason] for a in answers)
    return hashlib.sha256(json.dumps(said).encode("utf-8")).hexdigest()


def _apply(ledger: Ledger, recipe: Recipe, key: RecordKey, answers: list[AckRow],
           result: AckResult, file: tuple[str, str]) -> None:
    """One document: all of its rows together decide; an answer applied before is not
    counted again (`file`: the file's digest and when it was last written)."""
    confirms = [a for a in answers if a.verdict == "confirm"]
    rejects = [a for a in answers if a.verdict == "reject"]
    unclear = [a for a in answers if a.verdict == "unclear"]
    answer = (_digest(answers), file[0])
    if (confirms or rejects) and ledger.answered(key, *answer, file[1]):
        result.already_applied.append(f"{key}: this answer from Sage was applied before "
                                      f"({answers[0].label}); not counted again")
        return
    current = ledger.find(key)
    state = current.state if current else "gone"
    if rejects and (confirms or state == "confirmed"):
        if confirms:
            said = f"{confirms[0].label} confirms it as Sage {confirms[0].sage_number}"
        else:
            said = f"it was confirmed before as Sage {(current and current.sage_ref) or '?'}"
        reason = (f"Sage's answers disagree: {said}, but {rejects[0].label} rejects it: "
                  f"{rejects[0].reason}; check Sage, then `sagesync retry` it if Sage does "
                  "not hold it")
        if ledger.dispute(key, reason, answer=answer):
            result.needs_attention.append(f"{key}: {reason}")
        else:
            result.unclear.append(f"{key}: is {state} now; not applied: {reason}")
    elif rejects:
        error = "; ".join(dict.fromkeys(a.reason for a in rejects))
        outcome = ledger.reject(key, error, recipe.ledger.max_attempts, answer=answer)
        if outcome == "needs_attention":
            result.needs_attention.append(f"{key}: rejected by Sage {recipe.ledger.max_attempts}"
                                          f" times, the last time: {error}")
        elif outcome == "rejected":
            result.rejected.append(f"{key}: {error}")
        else:
            result.unclear.append(f"{key}: rejected by Sage ({error}), but it is {state} "
                                  "now: not applied")
    elif confirms and not unclear:
        first = confirms[0]
        invoice = next((a.invoice_number for a in confirms if a.invoice_number), None)
        if ledger.confirm(key, first.sage_number, invoice, answer=answer):
            result.confirmed.append(f"{key} -> Sage {first.sage_number}"
                                    + (f", invoice {invoice}" if invoice else ""))
        else:
            result.unclear.append(f"{key}: confirmed by Sage as {first.sage_number}, but it "
                                  f"is {state} now: not applied")
    else:
        also = (" (other rows confirm it, but every row of a document must be clear)"
                if confirms else "")
        result.unclear += [f"{a.label}: {key}: {a.reason}{also}" for a in unclear]
