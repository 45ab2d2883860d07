"""Find each logical field's column by header name: recipe mapping first, then the aliases.

Why by name: Sage exports are header-mapped and users add, drop and reorder columns (reference
§3, §4, §7), so positions mean nothing. A missing column is a file-level problem on the header
line that lists the headers found and the names that would have been accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sagesync.errors import UsageError
from sagesync.sage.layouts import Layout, normalize_header
from sagesync.sage.results import ParseOptions, Problem
from sagesync.sage.tables import FIELDS


@dataclass(frozen=True)
class Column:
    """A column of the file: 0-based index and its header text as written."""

    index: int
    header: str


@dataclass
class Resolution:
    """Where each field is (absent fields are not in `fields`) and what is wrong."""

    fields: dict[str, Column] = field(default_factory=dict)
    levels: list[tuple[int, Column]] = field(default_factory=list)  # wide price layout
    problems: list[Problem] = field(default_factory=list)


def allowed_fields(layout: Layout) -> list[str]:
    """Logical field names a recipe may map for this layout."""
    return [spec.name for spec in FIELDS[layout.kind]] + [rule.field for rule in layout.rules]


def check_mapping(layout: Layout, columns: Mapping[str, str]) -> None:
    """Refuse a recipe mapping that names an unknown field (a recipe error, not bad content)."""
    allowed = allowed_fields(layout)
    unknown = sorted(set(columns) - set(allowed))
    if unknown:
        raise UsageError(f"unknown {layout.kind} field(s) in the column mapping: "
                         f"{', '.join(unknown)}", hint=f"Allowed: {', '.join(allowed)}.")


def _optional(layout: Layout, name: str, options: ParseOptions, has_levels: bool) -> bool:
    """Whether a required field may be absent because a default stands in for it."""
    if name == "warehouse":
        return layout.single_location or options.warehouse is not None
    if name == "price_list":
        return has_levels or bool(layout.default_price_list or options.price_list)
    if name == "price":
        return has_levels
    return False


def resolve(header: list[str], line: int, layout: Layout, options: ParseOptions) -> Resolution:
    """The columns of every field of `layout` in this header row."""
    positions: dict[str, list[int]] = {}
    for i, text in enumerate(header):
        key = normalize_header(text)
        if key:
            positions.setdefault(key, []).append(i)
    found = ", ".join(repr(h.strip()) for h in header if h.strip()) or "none"
    result = Resolution()

    def locate(name: str, names: list[str]) -> Column | None:
        for text in names:
            hits = positions.get(normalize_header(text))
            if not hits:
                continue
            if len(hits) > 1:
                cols = " and ".join(str(i + 1) for i in hits)
                result.problems.append(Problem(
                    line, hits[1] + 1, name, f"the header {header[hits[0]].strip()!r} appears "
                    f"in columns {cols}: which one holds {name} is unclear", file_level=True))
            return Column(hits[0], header[hits[0]].strip())
        return None

    rules = {rule.field: rule for rule in layout.rules}
    names: dict[str, list[str]] = {}
    for spec in FIELDS[layout.kind]:
        names[spec.name] = [a for a, _ in layout.aliases.get(spec.name, ())]
    for name, rule in rules.items():
        names[name] = [a for a, _ in rule.aliases]
    for name, text in options.columns.items():
        column = locate(name, [text])
        if column is None:
            result.problems.append(Problem(
                line, None, name, f"the recipe maps {name} to the header {text!r}, but no "
                f"column has it; headers found: {found}", file_level=True))
        else:
            result.fields[name] = column
    for name, candidates in names.items():
        if name not in result.fields and name not in options.columns:
            column = locate(name, candidates)
            if column is not None:
                result.fields[name] = column

    if layout.level_prefix and "price" not in result.fields:
        pattern = re.compile(re.escape(layout.level_prefix) + r"(\d+)$")
        for key, hits in positions.items():
            match = pattern.match(key)
            if match:
                result.levels.append((int(match.group(1)), Column(hits[0], header[hits[0]])))
        result.levels.sort()

    for spec in FIELDS[layout.kind]:
        if (spec.required and spec.name not in result.fields and spec.name not in options.columns
                and not _optional(layout, spec.name, options, bool(result.levels))):
            result.problems.append(_missing(spec.name, spec.purpose, names[spec.name], found,
                                            line, layout))
    return result


def _missing(name: str, purpose: str, aliases: list[str], found: str, line: int,
             layout: Layout) -> Problem:
    if layout.level_prefix and name == "price":
        expected = "columns 'Sales Price 1' .. 'Sales Price 10', or a mapped price column"
    elif aliases:
        expected = "a column named " + " or ".join(repr(a) for a in aliases)
    else:
        expected = f"a column mapped in the recipe (columns.{name} = \"...\")"
    message = f"no column for {name}, {purpose}: expected {expected}; headers found: {found}"
    hint = layout.hints.get(name)
    if hint:
        message += f". {hint}"
    return Problem(line, None, name, message, file_level=True)
