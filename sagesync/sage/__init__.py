"""Sage -> Magento: parsers of Sage stock-level and price-list exports (reference §12).

    from sagesync.sage import ParseOptions, parse_export, error_report
    result = parse_export(path, product="sage200", kind="stock", options=ParseOptions())
    if result.ok: use(result.table)           # SAGE_STOCK / SAGE_PRICES Arrow table
    else: write(error_report(result, path))   # every problem with line and column
"""

from sagesync.sage.exports import check_options, parse_bytes, parse_export
from sagesync.sage.layouts import Layout, export_products, layout_for, registered_layouts
from sagesync.sage.report import error_report, expected, problem_lines
from sagesync.sage.results import ParseOptions, ParseResult, Problem
from sagesync.sage.tables import QTY, SAGE_PRICES, SAGE_STOCK

# The registry as it is at import, for callers that want constants; layout_for asks it live.
LAYOUTS: dict[tuple[str, str], Layout] = registered_layouts()
PRODUCTS: tuple[str, ...] = export_products()

__all__ = [
    "LAYOUTS", "PRODUCTS", "QTY", "SAGE_PRICES", "SAGE_STOCK", "Layout", "ParseOptions",
    "ParseResult", "Problem", "check_options", "error_report", "expected", "export_products",
    "layout_for", "parse_bytes", "parse_export", "problem_lines", "registered_layouts",
]
