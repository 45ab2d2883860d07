"""Seeded synthetic stores: saved REST pages of orders, invoices and credit memos.

Used by the crash tests and the benchmark: the same seed gives the same bytes, and every
document is one Magento could produce (built by `factory`), so every one must balance.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from sagesync.testing.factory import (
    build_creditmemo,
    build_invoice,
    build_order,
    paginate,
    random_order_spec,
    search_page,
)

CREDITMEMO_EVERY = 20  # one order in twenty is refunded


def documents(first_id: int, count: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Orders first_id .. first_id+count-1 with their invoices and some credit memos.

    Each order's randomness comes from (seed, entity id), so any range can be built alone
    (the benchmark builds ranges in parallel) and still match a single-process build."""
    out: dict[str, list[dict[str, Any]]] = {"orders": [], "invoices": [], "creditmemos": []}
    for entity_id in range(first_id, first_id + count):
        rng = random.Random(seed * 1_000_003 + entity_id)
        spec = random_order_spec(rng, entity_id)
        order = build_order(spec, include_parent_item=False)
        out["orders"].append(order)
        if not spec.invoiced:
            continue
        when = spec.created_at + timedelta(minutes=5)
        invoice = build_invoice(order, entity_id, spec.increment_id, when)
        out["invoices"].append(invoice)
        if entity_id % CREDITMEMO_EVERY == 0:
            memo = build_creditmemo(order, entity_id, spec.increment_id,
                                    when + timedelta(days=3), invoice_id=entity_id,
                                    adjustment_positive=rng.choice((0, 1, 2)))
            out["creditmemos"].append(memo)
    return out


def write_pages(folder: Path, entity: str, items: list[dict[str, Any]], page_size: int,
                first_page: int = 1, total_count: int | None = None) -> int:
    """Write items as `page-NNNNNN.json` files; returns the number of pages written."""
    target = folder / entity
    target.mkdir(parents=True, exist_ok=True)
    pages = paginate(items, page_size)
    total = len(items) if total_count is None else total_count
    for offset, page in enumerate(pages):
        number = first_page + offset
        body = search_page(page, number, page_size, total)
        (target / f"page-{number:06d}.json").write_text(
            json.dumps(body, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return len(pages)


def write_store(folder: Path, orders: int, seed: int = 7, page_size: int = 100) -> dict[str, int]:
    """A whole small store in one process; returns the number of items of each entity."""
    made = documents(1, orders, seed)
    for entity, items in made.items():
        write_pages(folder, entity, items, page_size)
    return {entity: len(items) for entity, items in made.items()}
