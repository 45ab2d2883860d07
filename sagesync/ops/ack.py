"""`sagesync ack FILE`: read what Sage says it imported, and confirm or reject records.

The file is an export from Sage listing imported documents; the recipe's [ack] section names
its columns (the reference that carries the Magento number, the Sage document number, and
optionally the type, an invoice number and a status/error column). A document is matched on
(type, reference): the Reference sagesync wrote is the Magento document's increment id.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from sagesync.errors import InputFormatError, UsageError
from sagesync.ops.quarantine import quarantine
from sagesync.pipeline.ledger import Ledger, RecordKey
from sagesync.recipe import AckSettings, Recipe

SAGE_TYPES = {"SI": ("invoice", "order"), "SC": ("creditmemo",)}


@dataclass
class AckResult:
    confirmed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    needs_attention: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AckRow:
    line: int
    sage_type: str | None
    reference: str
    sage_number: str
    invoice_number: str | None
    ok: bool
    error: str


def read_ack_file(path: Path, settings: AckSettings) -> list[AckRow]:
    """Parse the file, or raise InputFormatError listing every problem with its line."""
    try:
        text = path.read_bytes().decode(settings.encoding)
    except FileNotFoundError:
        raise UsageError(f"ack: no such file: {path}") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputFormatError(f"{path}: line {line}: not {settings.encoding} text "
                               f"(byte {exc.start})") from None
    reader = csv.reader(text.splitlines(), delimiter=settings.delimiter)
    header = [h.strip() for h in next(reader, [])]
    wanted = [settings.reference_column, settings.sage_number_column]
    wanted += [c for c in (settings.type_column, settings.invoice_number_column,
                           settings.status_column, settings.error_column) if c]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputFormatError(
            f"{path}: line 1: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"the header has {', '.join(repr(h) for h in header) or 'nothing'} "
            "(set the names in the recipe's [ack] section)")
    index = {name: header.index(name) for name in wanted}
    rows, problems = [], []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(header):
            problems.append(f"line {line}: {len(cells)} columns, the header has {len(header)}")
            continue

        def cell(name: str | None, cells: list[str] = cells) -> str:
            return cells[index[name]].strip() if name else ""

        reference = cell(settings.reference_column)
        if not reference:
            column = index[settings.reference_column] + 1
            problems.append(f"line {line}, column {column}: empty {settings.reference_column}")
            continue
        sage_type = cell(settings.type_column).upper() or None
        if sage_type is not None and sage_type not in SAGE_TYPES:
            continue  # other transaction types in a full audit-trail export: not ours
        status = cell(settings.status_column)
        ok = not settings.status_column or status in settings.ok_values
        rows.append(AckRow(line, sage_type, reference, cell(settings.sage_number_column),
                           cell(settings.invoice_number_column) or None, ok,
                           cell(settings.error_column) or status))
    if problems:
        raise InputFormatError(f"{path}: " + "; ".join(problems))
    return rows


def apply_ack(recipe: Recipe, ledger: Ledger, path: Path) -> AckResult:
    try:
        rows = read_ack_file(path, recipe.ack)
    except InputFormatError as error:
        copy = quarantine(recipe.state_dir, path, [error.message],
                          "a CSV export from Sage with the columns named in [ack]")
        raise InputFormatError(f"{error.message}\nNothing was applied; the file is copied to "
                               f"{copy} with the reason beside it.") from None
    index = ledger.sent_by_reference(SAGE_TYPES)
    result = AckResult()
    seen: set[RecordKey] = set()
    for row in rows:
        types = [row.sage_type] if row.sage_type else list(SAGE_TYPES)
        keys = [k for t in types for k in index.get((t, row.reference), [])]
        label = f"line {row.line}: {row.sage_type or ''} {row.reference}".replace("  ", " ")
        if not keys:
            result.unmatched.append(label)
            continue
        if len(keys) > 1:
            result.ambiguous.append(f"{label} matches {', '.join(map(str, keys))}")
            continue
        key = keys[0]
        if key in seen:
            continue  # one row per split: the document's first row decides
        seen.add(key)
        if row.ok:
            if ledger.confirm(key, row.sage_number, row.invoice_number):
                result.confirmed.append(f"{key} -> Sage {row.sage_number}")
        else:
            state = ledger.reject(key, row.error or "rejected by Sage", recipe.ledger.max_attempts)
            if state == "needs_attention":
                result.needs_attention.append(f"{key}: {row.error}")
            elif state == "rejected":
                result.rejected.append(f"{key}: {row.error}")
    return result
