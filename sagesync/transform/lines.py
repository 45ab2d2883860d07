"""Which Magento lines carry money, so a composite product is counted exactly once.

Magento puts the price of a configurable product on the parent line (the child is a dummy at
0), a dynamic-price bundle on its children (the parent is a dummy) and a fixed-price bundle on
its parent (magento-rest.md §6.2). Invoice and credit-memo lines say nothing of this: they are
classified through the order line they point at (`order_item_id`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]


def _has_money(item: Row) -> bool:
    return any(item.get(f) for f in ("base_row_total", "row_total"))


def money_item_ids(order_items: Sequence[Row], bundle_rule: str) -> set[int]:
    """The `item_id`s of an order whose amounts count; every other line is a dummy.

    bundle_rule: "auto" (children carry the money when any child is priced, as in a dynamic
    bundle; otherwise the parent, as in a fixed bundle), "children" or "parent".
    """
    by_id = {item["item_id"]: item for item in order_items}
    children: dict[int, list[Row]] = {}
    for item in order_items:
        parent_id = item.get("parent_item_id")
        if parent_id is not None:
            children.setdefault(parent_id, []).append(item)

    def children_priced(bundle: Row) -> bool:
        if bundle_rule == "children":
            return True
        if bundle_rule == "parent":
            return False
        return any(_has_money(child) for child in children.get(bundle["item_id"], []))

    counted: set[int] = set()
    for item in order_items:
        parent = by_id.get(item.get("parent_item_id"))
        if parent is not None:
            if parent.get("product_type") == "bundle" and children_priced(parent):
                counted.add(item["item_id"])
            continue  # configurable child, or child of a fixed bundle
        if item.get("product_type") == "bundle" and children_priced(item):
            continue  # dynamic bundle parent: its children carry the money
        counted.add(item["item_id"])
    return counted


def rate_of(item: Row) -> int | None:
    """The line's tax rate in percent, as units (20 % = 200000): one key for 20 and 20.0000."""
    return item.get("tax_percent")
