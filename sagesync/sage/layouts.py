"""How a Sage stock or price export is read: the generic machinery, and the lookup by product.

Each product's layouts are data in its own folder (`sagesync/sage/products/<key>/exports.py`,
with the aliases and the source of each name); `layout_for` asks the product registry, so the
registry is the one list of products. Columns are found by header name, never by position (Sage
200, Intacct and Sage 300 exports are header-mapped; Sage 100 VI jobs are user-defined). Names
are matched ignoring case, spaces, `_` and `-` (so STOCK_CODE = "Stock Code" = StockCode), and
a recipe can map any logical field to its own header text. The first alias present in a file
wins. An alias's source tag is "§n" (shared/reference/sage-formats.md section n) or "assumed".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sagesync.errors import UsageError

if TYPE_CHECKING:
    from sagesync.sage.products.base import SageProduct

DEFAULT_WAREHOUSE = "DEFAULT"
BASE_PRICE_LIST = "BASE"
KINDS = ("stock", "prices", "customers", "receivables", "shipments")
ASSUMED = "assumed"  # the source tag of a name no reference confirms

Alias = tuple[str, str]  # (header text, source tag)


def normalize_header(text: str) -> str:
    """Header identity: no BOM, case-folded, without spaces, `_` and `-`."""
    text = text.replace("\ufeff", "").replace("ï»¿", "")
    return re.sub(r"[\s_\-]+", "", text).casefold()


@dataclass(frozen=True)
class RowRule:
    """Keep, ignore or reject a row by the value of one column (compared case-insensitively).

    keep: values that keep the row; ignore: values that drop it on purpose (None = any value not
    in keep); anything else is a row problem. `why` goes into the result's notes.
    """

    field: str
    aliases: tuple[Alias, ...]
    keep: frozenset[str]
    ignore: frozenset[str] | None
    why: str


@dataclass(frozen=True)
class Layout:
    """How one product's export of one kind is read."""

    product: str
    kind: str
    title: str
    aliases: Mapping[str, tuple[Alias, ...]]
    date_format: str
    single_location: bool = False
    default_price_list: str | None = None
    level_prefix: str | None = None  # wide price layout: "<prefix> N" columns -> LEVEL{N}
    rules: tuple[RowRule, ...] = ()
    comment_prefix: str | None = None  # rows whose first cell starts with this are ignored
    warehouse_digits: int | None = None  # all-digit warehouse codes are this wide
    hints: Mapping[str, str] = field(default_factory=dict)  # field -> advice when missing


def aliases(source: str, *names: str) -> tuple[Alias, ...]:
    """Header names that all come from one source (a "§n" tag or ASSUMED)."""
    return tuple((n, source) for n in names)


def _registry() -> Mapping[str, SageProduct]:
    # imported on use, not at the top: each product's exports module imports this one
    from sagesync.sage.products import PRODUCTS

    return PRODUCTS


def export_products(kind: str | None = None) -> tuple[str, ...]:
    """The registered products whose exports (of `kind`, or of any kind) can be read."""
    return tuple(key for key, product in _registry().items()
                 if (product.layout(kind) if kind else product.layouts))


def registered_layouts() -> dict[tuple[str, str], Layout]:
    """Every registered layout by (product, kind), in registry order."""
    return {(lay.product, lay.kind): lay for product in _registry().values()
            for lay in product.layouts}


def layout_for(product: str, kind: str) -> Layout:
    """The layout of a product's export; an unknown product or kind is a usage error."""
    if kind not in KINDS:
        raise UsageError(f"unknown export kind {kind!r}", hint=f"Allowed: {', '.join(KINDS)}.")
    found = _registry().get(product)
    layout = found.layout(kind) if found else None
    if layout is not None:
        return layout
    if found is None or not found.layouts:
        raise UsageError(f"unknown Sage product {product!r}",
                         hint=f"Allowed: {', '.join(export_products())}.")
    raise UsageError(f"{found.title} ({product}) has no {kind} export layout",
                     hint=f"Allowed for {kind}: {', '.join(export_products(kind))}.")
