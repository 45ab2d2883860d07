"""Seeded synthetic Magento REST pages: orders, invoices, credit memos and customers.

`generate(folder, orders)` writes `folder/<entity>/page-NNNNNN.json`, each one a `GET /V1/...`
search result built with `sagesync.testing.factory` (so every total adds up to the cent):

* orders: `random_order_spec` + `build_order` (by default with Magento's full shape: children
  repeat their `parent_item`, `shipping_assignments` repeat the items; `compact=True` drops both);
* invoices: one full invoice for every invoiced order (about 88 %), entity id = the order's;
* credit memos: about 5 % of orders (full refunds, some keeping a fee back; one unit of one line,
  some with an extra refund; all lines without carriage), entity id = the order's; the order then
  carries the refund (`record_refund`) and a full refund closes it;
* customers: every registered customer an order references (`customer_spec(id)`).

Ids are simplified (an invoice or memo has its order's entity and increment id) but unique, and
every page is sorted by entity id with `total_count` the full count, like Magento's.

Deterministic: page p is drawn from `random.Random("sagesync-bench:<seed>:<p>")`, so the output
does not depend on how pages are split between worker processes. Orders are built in a pool
(page ranges per task); invoices and memos go to per-task line files first and are cut into pages
of `page_size` afterwards, because their counts are only known once the orders exist. A marker
file written last makes the folder a cache: a folder without it is rebuilt.
"""

from __future__ import annotations

import functools
import json
import math
import multiprocessing
import random
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from sagesync.testing.factory import (
    DEFAULT_START,
    OrderSpec,
    build_creditmemo,
    build_customer,
    build_invoice,
    build_order,
    customer_spec,
    paginate,
    random_order_spec,
    record_refund,
    search_page,
    to_decimal,
)

Json = dict[str, Any]
ENTITIES = ("orders", "invoices", "creditmemos", "customers")
MARKER = ".complete.json"
PARTS = ".parts"
PAGES_PER_TASK = 10
WORKERS = 2
MEMO_SHARE = 0.05  # of all orders
INVOICED_SHARE = 0.88  # random_order_spec: 80 % complete + 8 % processing and invoiced

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def cache_root() -> Path:
    """`bench-data/` at the top of the project (gitignored)."""
    return Path(__file__).resolve().parent.parent / "bench-data"


def cache_folder(orders: int, seed: int, page_size: int, *, compact: bool = False,
                 root: Path | None = None) -> Path:
    name = f"{orders}-{seed}-{page_size}" + ("-compact" if compact else "")
    return (root or cache_root()) / name


def page_text(items_json: Iterable[str], page: int, page_size: int, total: int) -> str:
    """`json.dumps(search_page(items, ...))` from items already serialised (no re-parsing)."""
    envelope = search_page([], page, page_size, total)
    del envelope["items"]
    return '{"items": [' + ", ".join(items_json) + "], " + _dumps(envelope)[1:]


def page_name(page: int) -> str:
    return f"page-{page:06d}.json"


# --------------------------------------------------------------------------- one order


def _memo(rng: random.Random, order: Json, spec: OrderSpec, invoiced_at: datetime) -> Json:
    """A credit memo for a fully invoiced order, recorded on the order as Magento does."""
    created = invoiced_at + timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
    common: dict[str, Any] = {"invoice_id": spec.entity_id}
    roll = rng.random()
    full = roll < 0.5
    if full:  # everything back, carriage included; now and then a fee kept back
        fee = Decimal(0)
        if rng.random() < 0.3:
            fee = min(Decimal(rng.choice(("1.00", "2.50", "5.00"))),
                      to_decimal(order["grand_total"]))
        common.update(refund_shipping=to_decimal(order.get("shipping_amount")),
                      adjustment_negative=fee)
    elif roll < 0.85:  # one unit of one line, sometimes with an extra goodwill refund
        top = [item for item in order["items"] if "parent_item_id" not in item]
        common.update(lines={rng.choice(top)["item_id"]: 1},
                      adjustment_positive=Decimal(rng.choice(("0", "0", "2.50", "5.00"))))
    # else: every line, carriage kept
    memo = build_creditmemo(order, spec.entity_id, spec.increment_id, created, **common)
    record_refund(order, memo)
    if full:
        order["state"] = order["status"] = "closed"
    order["updated_at"] = max(order["updated_at"], memo["updated_at"])
    return memo


def build_documents(rng: random.Random, entity_id: int, *, compact: bool = False
                    ) -> tuple[OrderSpec, Json, Json | None, Json | None]:
    """(spec, order, invoice or None, credit memo or None) for one order id."""
    spec = random_order_spec(rng, entity_id)
    order = build_order(spec, include_parent_item=not compact,
                        include_shipping_items=not compact)
    invoice = memo = None
    if spec.invoiced:
        invoiced_at = spec.created_at + timedelta(minutes=rng.randint(1, 180))
        invoice = build_invoice(order, entity_id, spec.increment_id, invoiced_at)
        order["updated_at"] = max(order["updated_at"], invoice["updated_at"])
        if rng.random() < MEMO_SHARE / INVOICED_SHARE:
            memo = _memo(rng, order, spec, invoiced_at)
    return spec, order, invoice, memo


# --------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class _Task:
    folder: str
    chunk: int
    first_page: int
    last_page: int  # inclusive
    orders: int
    page_size: int
    seed: int
    compact: bool


@dataclass(frozen=True)
class _Done:
    chunk: int
    orders: int
    invoices: int
    creditmemos: int
    customers: list[int]
    bytes: int


def page_rng(seed: int, page: int) -> random.Random:
    return random.Random(f"sagesync-bench:{seed}:{page}")


def _run_task(task: _Task) -> _Done:
    folder = Path(task.folder)
    parts = folder / PARTS
    customers: set[int] = set()
    counts = {"orders": 0, "invoices": 0, "creditmemos": 0}
    written = 0
    with (parts / f"invoices-{task.chunk:06d}.jsonl").open("w", encoding="utf-8") as invoices, \
            (parts / f"creditmemos-{task.chunk:06d}.jsonl").open("w", encoding="utf-8") as memos:
        for page in range(task.first_page, task.last_page + 1):
            rng = page_rng(task.seed, page)
            first = (page - 1) * task.page_size + 1
            last = min(page * task.page_size, task.orders)
            items: list[str] = []
            for entity_id in range(first, last + 1):
                spec, order, invoice, memo = build_documents(rng, entity_id,
                                                             compact=task.compact)
                items.append(_dumps(order))
                if spec.customer.customer_id is not None:
                    customers.add(spec.customer.customer_id)
                if invoice is not None:
                    invoices.write(_dumps(invoice) + "\n")
                    counts["invoices"] += 1
                if memo is not None:
                    memos.write(_dumps(memo) + "\n")
                    counts["creditmemos"] += 1
            data = page_text(items, page, task.page_size, task.orders).encode("utf-8")
            (folder / "orders" / page_name(page)).write_bytes(data)
            written += len(data)
            counts["orders"] += len(items)
    return _Done(task.chunk, counts["orders"], counts["invoices"], counts["creditmemos"],
                 sorted(customers), written)


# --------------------------------------------------------------------------- assembly


def _lines(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                yield line.rstrip("\n")


def _write_pages(folder: Path, entity: str, items: Iterable[str], total: int,
                 page_size: int) -> int:
    """Cut serialised items into pages; an empty result is one empty page, as Magento sends."""
    target = folder / entity
    written = 0
    page = 0
    buffer: list[str] = []

    def flush() -> None:
        nonlocal page, written, buffer
        page += 1
        data = page_text(buffer, page, page_size, total).encode("utf-8")
        (target / page_name(page)).write_bytes(data)
        written += len(data)
        buffer = []

    for item in items:
        buffer.append(item)
        if len(buffer) == page_size:
            flush()
    if buffer or page == 0:
        flush()
    return written


def _customer(customer_id: int) -> Json:
    created = DEFAULT_START - timedelta(days=customer_id * 37 % 900, seconds=customer_id * 61)
    return build_customer(customer_spec(customer_id), created_at=created,
                          updated_at=created + timedelta(days=customer_id % 30))


def _say(out: TextIO | None, text: str) -> None:
    if out is not None:
        print(text, file=out, flush=True)


def generate(folder: Path, orders: int, page_size: int = 100, seed: int = 42, *,
             compact: bool = False, workers: int = WORKERS,
             progress: TextIO | None = sys.stderr) -> dict[str, Any]:
    """Write (or reuse) the pages; returns what the marker file records.

    The returned dict has `counts` per entity, `bytes` of page files, `seconds` generation took
    (when it was first made) and `cached` (True when an earlier run's folder was reused).
    """
    if orders < 1 or page_size < 1:
        raise ValueError("orders and page_size must be positive")
    marker = folder / MARKER
    if marker.exists():
        info: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        info["cached"] = True
        return info
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted generation: no marker, start again
    for entity in ENTITIES:
        (folder / entity).mkdir(parents=True)
    parts = folder / PARTS
    parts.mkdir()
    started = time.perf_counter()
    pages = math.ceil(orders / page_size)
    tasks = [_Task(str(folder), n, first, min(first + PAGES_PER_TASK - 1, pages), orders,
                   page_size, seed, compact)
             for n, first in enumerate(range(1, pages + 1, PAGES_PER_TASK))]
    done: list[_Done] = []
    step = max(1, len(tasks) // 10)
    with multiprocessing.get_context().Pool(max(1, workers)) as pool:
        for result in pool.imap(_run_task, tasks):
            done.append(result)
            if len(done) % step == 0 or len(done) == len(tasks):
                made = sum(d.orders for d in done)
                _say(progress, f"  generated {made:,} of {orders:,} orders "
                               f"({time.perf_counter() - started:.0f} s)")
    counts = {"orders": sum(d.orders for d in done)}
    written = sum(d.bytes for d in done)
    for entity in ("invoices", "creditmemos"):
        total = sum(getattr(d, entity) for d in done)
        files = [parts / f"{entity}-{d.chunk:06d}.jsonl" for d in done]
        written += _write_pages(folder, entity, _lines(files), total, page_size)
        counts[entity] = total
    customer_ids = sorted(set().union(*(d.customers for d in done)))
    chunks = paginate([_customer(c) for c in customer_ids], page_size)
    for number, chunk in enumerate(chunks, start=1):
        data = _dumps(search_page(chunk, number, page_size, len(customer_ids))).encode("utf-8")
        (folder / "customers" / page_name(number)).write_bytes(data)
        written += len(data)
    counts["customers"] = len(customer_ids)
    shutil.rmtree(parts)
    info = {"orders": orders, "page_size": page_size, "seed": seed, "compact": compact,
            "counts": counts, "bytes": written,
            "seconds": round(time.perf_counter() - started, 3), "workers": workers}
    marker.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")  # last: complete
    info["cached"] = False
    return info
