"""Available to Web = on hand - allocated - safety buffer, floored, never negative.

Magento deducts its own reservations (unshipped web orders) from the quantity pushed per source
(magento-rest.md §7.1). So whether Sage's allocated figure is deducted depends on what it holds:

* `allocated_includes_web_orders = false` (Sage 50 UK, where sagesync posts invoices, never sales
  orders): allocated means other channels' orders, so it is deducted.
* `allocated_includes_web_orders = true` (web orders imported into Sage as sales orders):
  deducting it would count web orders twice, so only on hand minus the buffer is pushed and
  Magento's reservations do the rest. The buffer should then cover other channels' allocations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sagesync.errors import RecipeError

ZERO = Decimal(0)


@dataclass(frozen=True)
class Buffer:
    """Held back from the web: the larger of a percent of on hand (rounded up) and units."""

    percent: Decimal = ZERO
    units: Decimal = ZERO

    def of(self, on_hand: Decimal) -> Decimal:
        by_percent = Decimal(math.ceil(on_hand * self.percent / 100)) if on_hand > 0 else ZERO
        return max(by_percent, self.units)


@dataclass(frozen=True)
class StockRules:
    buffer: Buffer
    by_sku: Mapping[str, Buffer]
    by_prefix: tuple[tuple[str, Buffer], ...]  # longest prefix first
    allocated_includes_web_orders: bool
    sources: Mapping[str, str]  # Sage warehouse -> Magento MSI source code
    default_source: str

    def buffer_for(self, sku: str) -> Buffer:
        if sku in self.by_sku:
            return self.by_sku[sku]
        for prefix, buffer in self.by_prefix:
            if sku.startswith(prefix):
                return buffer
        return self.buffer

    def source_for(self, warehouse: str | None) -> str | None:
        """The MSI source of a Sage warehouse; single-location Sage -> the default source."""
        if not self.sources:
            return self.default_source
        return self.sources.get(warehouse or "")


@dataclass(frozen=True)
class StockLine:
    sku: str
    source_code: str
    quantity: Decimal
    status: int
    on_hand: Decimal
    allocated: Decimal
    buffer: Decimal
    warehouse: str


def available(row: Mapping[str, Any], rules: StockRules) -> tuple[Decimal, Decimal]:
    """(quantity for the web, buffer applied) for one parsed stock row."""
    on_hand = row.get("on_hand") or ZERO
    allocated = ZERO if rules.allocated_includes_web_orders else (row.get("allocated") or ZERO)
    buffer = rules.buffer_for(row["sku"]).of(on_hand)
    quantity = (on_hand - allocated - buffer).to_integral_value(rounding=ROUND_FLOOR)
    return max(quantity, ZERO), buffer


def stock_lines(rows: Iterable[Mapping[str, Any]], rules: StockRules
                ) -> tuple[list[StockLine], list[str]]:
    """Source items to push, and the warehouses that map to no source (reported, skipped)."""
    lines: list[StockLine] = []
    unmapped: set[str] = set()
    for row in rows:
        source = rules.source_for(row.get("warehouse"))
        if source is None:
            unmapped.add(str(row.get("warehouse")))
            continue
        quantity, buffer = available(row, rules)
        lines.append(StockLine(row["sku"], source, quantity, 1 if quantity > 0 else 0,
                               row.get("on_hand") or ZERO, row.get("allocated") or ZERO, buffer,
                               str(row.get("warehouse") or "")))
    return lines, sorted(unmapped)


def parse_overrides(path: Any, rows: list[tuple[int, dict[str, str]]]
                    ) -> tuple[dict[str, Buffer], tuple[tuple[str, Buffer], ...]]:
    """`kind,value,buffer_percent,buffer_units` rows (kind sku or sku_prefix)."""
    by_sku: dict[str, Buffer] = {}
    prefixes: list[tuple[str, Buffer]] = []
    for line, row in rows:
        try:
            buffer = Buffer(Decimal(row.get("buffer_percent") or 0),
                            Decimal(row.get("buffer_units") or 0))
        except ArithmeticError:
            raise RecipeError(f"{path}: line {line}: buffer_percent and buffer_units must be "
                              "numbers.") from None
        if buffer.percent < 0 or buffer.units < 0:
            raise RecipeError(f"{path}: line {line}: a buffer cannot be negative.")
        if row.get("kind") == "sku":
            by_sku[row["value"]] = buffer
        elif row.get("kind") == "sku_prefix":
            prefixes.append((row["value"], buffer))
        else:
            raise RecipeError(f"{path}: line {line}, column kind: expected sku or sku_prefix.")
    prefixes.sort(key=lambda pair: -len(pair[0]))
    return by_sku, tuple(prefixes)
