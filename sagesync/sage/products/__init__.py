"""The explicit registry of Sage products: one line per product, nothing discovered.

An explicit dict (as dlt's destinations list) rather than entry points or a folder scan, so
`[sage] product` is checked against one list, a typo fails at recipe load, and grep finds every
product. Add a product: create its folder (docs/adding-a-sage-product.md), then one line here.
"""

from __future__ import annotations

from sagesync.errors import RecipeError
from sagesync.sage.products import sage50_uk
from sagesync.sage.products.base import Capabilities, SageProduct

PRODUCTS: dict[str, SageProduct] = {
    "sage50_uk": sage50_uk.PRODUCT,
}


def keys() -> tuple[str, ...]:
    """Every registered product key, in registry order."""
    return tuple(PRODUCTS)


def get(key: str) -> SageProduct:
    """The product for a recipe's `[sage] product`; a RecipeError naming the choices if unknown."""
    try:
        return PRODUCTS[key]
    except KeyError:
        raise RecipeError(f"Unknown Sage product '{key}' (one of {', '.join(keys())}).") \
            from None


__all__ = ["PRODUCTS", "Capabilities", "SageProduct", "get", "keys"]
