"""Sage price lists -> Magento base prices and tier prices per customer group.

One Sage price list (the recipe's `base_price_list`) becomes the base price; the others that the
recipe maps to Magento customer groups become tier prices, with Sage's quantity breaks as the
tier quantities. A quantity-1 row of the base list is the base price; its other breaks become
tier prices for ALL GROUPS.

Magento takes a tier price's group by its *code*, not its id: `POST /V1/products/tier-prices`
items are `{price, price_type, website_id, sku, customer_group, quantity}` with
`customer_group` a string (2.4.8 schema, catalog-data-tier-price-interface), looked up by
`customer_group_code`, case-insensitively, with "ALL GROUPS" for every group (Magento_Catalog
TierPriceValidator::checkGroup; reference magento-rest.md §7.2). An id such as "2" fails every
row with "No such entity with Customer Group = 2", so the recipe refuses ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ALL_GROUPS = "ALL GROUPS"  # Magento's name for every customer group in tier prices


@dataclass(frozen=True)
class PriceRules:
    base_price_list: str
    customer_groups: Mapping[str, str]  # Sage price list -> Magento customer group code
    store_id: int = 0
    website_id: int = 0
    currency: str | None = None  # only rows in this currency; None = all


@dataclass(frozen=True)
class PriceLine:
    """One price to push: kind base or tier, keyed so a snapshot can be diffed."""

    kind: str
    sku: str
    group: str
    quantity: Decimal
    price: Decimal
    scope: int

    @property
    def key(self) -> str:
        if self.kind == "base":
            return f"{self.sku}|store {self.scope}"
        return f"{self.sku}|website {self.scope}|{self.group}|{self.quantity.normalize():f}"


def price_lines(rows: Iterable[Mapping[str, Any]], rules: PriceRules
                ) -> tuple[list[PriceLine], set[str]]:
    """Prices to push, and the Sage price lists the recipe does not map (reported)."""
    lines: list[PriceLine] = []
    unmapped: set[str] = set()
    one = Decimal(1)
    for row in rows:
        if rules.currency and row.get("currency") and row["currency"] != rules.currency:
            continue
        price_list = str(row.get("price_list") or "")
        quantity = row.get("min_qty") or one
        if price_list == rules.base_price_list:
            if quantity <= one:
                lines.append(PriceLine("base", row["sku"], "", one, row["price"],
                                       rules.store_id))
            else:
                lines.append(PriceLine("tier", row["sku"], ALL_GROUPS, quantity, row["price"],
                                       rules.website_id))
        elif price_list in rules.customer_groups:
            lines.append(PriceLine("tier", row["sku"], rules.customer_groups[price_list],
                                   quantity, row["price"], rules.website_id))
        else:
            unmapped.add(price_list)
    return lines, unmapped
