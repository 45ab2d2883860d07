"""Exact money: integers of a fixed unit on the hot path, Decimal at the edges.

Magento stores money as decimal(12,4), so a Magento amount is an integer number of *units*
(1/10,000 of the currency); what goes into Sage is an integer number of *cents*. The transform
adds and compares units and rounds a sum to cents once (half up, away from zero, as Sage and
Magento round). Decimal is for reading and writing text and Arrow's decimal128 columns only.

Magento sends money as JSON floats (sometimes with artefacts such as 29.949999999999999, see
shared/reference/magento-rest.md §3.7); they are decoded straight into Decimal and never pass
through binary floating point.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")
MAGENTO_PLACES = Decimal("0.0001")  # Magento stores money as decimal(12,4)
UNITS = 10_000  # units per currency unit: Magento's four places
UNITS_PER_CENT = 100


def to_cents(value: Decimal | int | str | None) -> Decimal:
    """Round to two places, half up (the way Sage and Magento round currency)."""
    if value is None:
        return ZERO.quantize(CENT)
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def format_amount(value: Decimal) -> str:
    """Two decimals with a point and no thousands separator: what Sage imports read."""
    return f"{to_cents(value):.2f}"


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (Decimal's ROUND_HALF_UP), exactly."""
    quotient = (2 * abs(numerator) + denominator) // (2 * denominator)
    return quotient if numerator >= 0 else -quotient


def cents_of_units(units: int) -> int:
    """A sum of Magento units rounded once to cents, half up."""
    return divide_half_up(units, UNITS_PER_CENT)


def units_of(value: Decimal | int | str) -> int:
    """A decimal amount as units, rounded half up to Magento's four places."""
    return int(Decimal(value).quantize(MAGENTO_PLACES, rounding=ROUND_HALF_UP).scaleb(4))


def decimal_of_cents(cents: int) -> Decimal:
    """Cents as a two-place Decimal (for text, messages and Arrow decimal columns)."""
    return Decimal(cents).scaleb(-2)


def decimal_of_units(units: int) -> Decimal:
    """Units as a four-place Decimal."""
    return Decimal(units).scaleb(-4)


def shown(units: int) -> str:
    """Units as a person writes the number: 20, 8.25, 5.33 (no trailing zeros)."""
    return f"{decimal_of_units(units).normalize():f}"
