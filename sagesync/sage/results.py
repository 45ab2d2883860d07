"""What a Sage export parser is told (ParseOptions) and what it answers (ParseResult, Problem).

Why separate: the recipe layer builds ParseOptions and the pipeline reads ParseResult without
importing the parsing machinery. Bad content never raises; it becomes a Problem with the line and
column a bookkeeper can find in the file (reference §9: bad input is expected input).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class ParseOptions:
    """How to read one export; every field has a safe default.

    columns: logical field -> header text, overriding the product's aliases (from the recipe).
    currency: ISO code for price rows without a currency column or with a blank cell.
    tolerance: how many bad rows may be skipped (and listed) before the whole file is rejected.
    sku_width: re-pad all-digit SKUs to this width with zeros (Excel strips them, reference §9).
    warehouse_width: the same for all-digit warehouse codes (Sage 100 uses "000", "001").
    known_skus: Magento's SKUs; an all-digit SKU that only matches one of them once zero-padded
        is reported as "leading zeros stripped" (reference §9).
    decimal_comma: numbers are written 1.234,56 (European locale) instead of 1234.56.
    warehouse: the warehouse for files without one (single-location products, or no column).
    price_list: the price list for price files without one.
    date_format: strptime format of a mapped date column (default: the product's, reference).
    encoding / delimiter: force them instead of sniffing.
    allow_empty: a file with a header and no data rows is accepted (zero rows) instead of rejected.
    max_problems: problems kept in the result; the rest are only counted.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    currency: str = "GBP"
    tolerance: int = 0
    sku_width: int | None = None
    warehouse_width: int | None = None
    known_skus: Set[str] | None = None
    decimal_comma: bool = False
    warehouse: str | None = None
    price_list: str | None = None
    date_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    allow_empty: bool = False
    max_problems: int = 1000


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where a person can find it: 1-based line and column (the header's position).

    `file_level` problems (empty, binary, missing column ...) reject the file whatever the
    tolerance; row problems reject only the row, up to `ParseOptions.tolerance` rows.
    """

    line: int
    column: int | None
    field: str | None
    message: str
    value: str | None = None
    header: str | None = None
    file_level: bool = False

    def describe(self) -> str:
        """`line 4, column 3 (QtyInStock): message` — the form used in .error.txt reports."""
        where = f"line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
            if self.header is not None:
                where += f" ({self.header})"
        return f"{where}: {self.message}"

    def __str__(self) -> str:
        """Messages and reports interpolate problems: they must read as `describe()`, never
        as the dataclass repr a person cannot use."""
        return self.describe()


@dataclass
class ParseResult:
    """A typed table plus everything that was wrong. Use `table` only when `ok` is True.

    rows_read: data rows in the file (header, blank and comment lines excluded).
    rows_skipped: rows left out because they had problems (within the tolerance).
    rows_ignored: rows left out on purpose by a product rule (e.g. Sage 50 supplier prices);
        `notes` says which and why.
    columns: logical field -> the header text it was read from.
    problems_dropped: problems beyond ParseOptions.max_problems (counted, not kept).
    """

    table: pa.Table
    problems: list[Problem]
    rows_read: int
    rows_skipped: int
    encoding: str | None
    delimiter: str | None
    product: str = ""
    kind: str = ""
    rows_ignored: int = 0
    bad_rows: int = 0
    tolerance: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems_dropped: int = 0

    @property
    def problem_count(self) -> int:
        """Every problem found, kept or only counted: the one number messages and reports use."""
        return len(self.problems) + self.problems_dropped

    @property
    def ok(self) -> bool:
        """True when nothing file-level is wrong and the bad rows are within the tolerance."""
        if any(p.file_level for p in self.problems):
            return False
        return self.bad_rows <= self.tolerance
