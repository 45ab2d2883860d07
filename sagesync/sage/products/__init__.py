"""The explicit registry of Sage products: one line per product, nothing discovered.

An explicit dict (as dlt's destinations list) rather than entry points or a folder scan, so
`[sage] product` is checked against one list, a typo fails at recipe load, and grep finds every
product. Add a product: create its folder (docs/adding-a-sage-product.md), then one line here.
Every product is listed once, whether it posts (has templates) or only has export layouts:
`posting_keys` and `export_keys` are views of this one list, never lists of their own.
"""

from __future__ import annotations

from sagesync.errors import RecipeError
from sagesync.sage.products import (
    intacct,
    sage50_ca,
    sage50_uk,
    sage50_us,
    sage100,
    sage200,
    sage300,
    sage_accounting,
    sagex3,
)
from sagesync.sage.products.base import AckLayout, Capabilities, Region, SageProduct

PRODUCTS: dict[str, SageProduct] = {
    "sage50_uk": sage50_uk.PRODUCT,
    "sage50_us": sage50_us.PRODUCT,
    "sage50_ca": sage50_ca.PRODUCT,
    "sage100": sage100.PRODUCT,
    "sage200": sage200.PRODUCT,
    "sage300": sage300.PRODUCT,
    "sagex3": sagex3.PRODUCT,
    "intacct": intacct.PRODUCT,
    "sage_accounting": sage_accounting.PRODUCT,
}


def keys() -> tuple[str, ...]:
    """Every registered product key, in registry order."""
    return tuple(PRODUCTS)


def posting_keys() -> tuple[str, ...]:
    """The products sagesync writes documents for (those with templates)."""
    return tuple(key for key, product in PRODUCTS.items() if product.posts)


def export_keys() -> tuple[str, ...]:
    """The products whose stock or price exports sagesync reads (those with layouts)."""
    return tuple(key for key, product in PRODUCTS.items() if product.layouts)


def get(key: str, region: str = "") -> SageProduct:
    """The product for a recipe's `[sage] product` (and `region`, its regional edition); a
    RecipeError naming the choices if either is unknown."""
    try:
        product = PRODUCTS[key]
    except KeyError:
        raise RecipeError(f"Unknown Sage product '{key}' (one of {', '.join(keys())}).") \
            from None
    if region and region not in product.regions:
        raise RecipeError(f"{product.title} ({key}) has no region '{region}' ("
                          + (f"one of {', '.join(product.regions)}" if product.regions
                             else "it has one edition: leave [sage] region out") + ").")
    return product.in_region(region)


__all__ = ["PRODUCTS", "AckLayout", "Capabilities", "Region", "SageProduct", "export_keys", "get",
           "keys", "posting_keys"]
