"""Exact money: every amount is a Decimal, rounded half-up to the currency's minor unit.

Magento sends money as JSON floats (sometimes with artefacts such as 29.949999999999999, see
shared/reference/magento-rest.md §3.7); they are decoded straight into Decimal and never pass
through binary floating point.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")
MAGENTO_PLACES = Decimal("0.0001")  # Magento stores money as decimal(12,4)


def to_cents(value: Decimal | int | str | None) -> Decimal:
    """Round to two places, half up (the way Sage and Magento round currency)."""
    if value is None:
        return ZERO.quantize(CENT)
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_magento_places(value: Decimal | None) -> Decimal:
    """Round a decoded Magento amount to the four places Magento stores (drops float artefacts)."""
    if value is None:
        return ZERO.quantize(MAGENTO_PLACES)
    return value.quantize(MAGENTO_PLACES, rounding=ROUND_HALF_UP)


def total(values: Iterable[Decimal]) -> Decimal:
    """Sum exactly, starting from a Decimal zero."""
    return sum(values, ZERO)


def format_amount(value: Decimal) -> str:
    """Two decimals with a point and no thousands separator: what Sage imports read."""
    return f"{to_cents(value):.2f}"
