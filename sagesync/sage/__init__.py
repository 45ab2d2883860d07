"""Sage -> Magento: parsers of Sage stock-level and price-list exports (reference §12).

    from sagesync.sage import ParseOptions, parse_export, error_report
    result = parse_export(path, product="sage200", kind="stock", options=ParseOptions())
    if result.ok: use(result.table)           # SAGE_STOCK / SAGE_PRICES Arrow table
    else: write(error_report(result, path))   # every problem with line and column

The names below load on first use: most commands reach this package only for its product
registry (`sagesync.sage.products`), and the parsers would bring pyarrow's compute functions
into every one of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagesync.sage.exports import check_options, parse_bytes, parse_export
    from sagesync.sage.layouts import (
        Layout,
        export_products,
        layout_for,
        registered_layouts,
    )
    from sagesync.sage.report import error_report, expected, problem_lines
    from sagesync.sage.results import ParseOptions, ParseResult, Problem
    from sagesync.sage.tables import QTY, SAGE_PRICES, SAGE_STOCK

    # The registry as it is when first asked, for callers that want constants; layout_for
    # asks it live.
    LAYOUTS: dict[tuple[str, str], Layout]
    PRODUCTS: tuple[str, ...]

_FROM = {
    "check_options": "exports", "parse_bytes": "exports", "parse_export": "exports",
    "Layout": "layouts", "export_products": "layouts", "layout_for": "layouts",
    "registered_layouts": "layouts",
    "error_report": "report", "expected": "report", "problem_lines": "report",
    "ParseOptions": "results", "ParseResult": "results", "Problem": "results",
    "QTY": "tables", "SAGE_PRICES": "tables", "SAGE_STOCK": "tables",
}

__all__ = [
    "LAYOUTS", "PRODUCTS", "QTY", "SAGE_PRICES", "SAGE_STOCK", "Layout", "ParseOptions",
    "ParseResult", "Problem", "check_options", "error_report", "expected", "export_products",
    "layout_for", "parse_bytes", "parse_export", "problem_lines", "registered_layouts",
]


def __getattr__(name: str) -> Any:
    if name == "LAYOUTS":
        value: Any = import_module("sagesync.sage.layouts").registered_layouts()
    elif name == "PRODUCTS":
        value = import_module("sagesync.sage.layouts").export_products()
    elif name in _FROM:
        value = getattr(import_module(f"sagesync.sage.{_FROM[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # asked once
    return value
