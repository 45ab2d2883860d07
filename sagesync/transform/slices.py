"""A slice of documents built from plain rows: the part of the transform a worker can do.

The transform reads a slice's rows, orders and lines in its own process and hands them here
(in-process or in a worker, see `pipeline.worker_pool`). Building is pure: no ledger, no
files, and no account reference, which depends on every document before it and is given by
the caller afterwards, in order. Kept free of pyarrow so a worker stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagesync.transform.documents import DocumentBuilder, SageDocument

Row = dict[str, Any]


@dataclass
class SliceJob:
    """What building one slice needs: its document rows, their lines, their orders."""

    kind: str  # order, invoice or creditmemo
    rows: list[Row]
    lines: dict[int, list[Row]]  # by document entity id
    orders: dict[int, Row]  # by order entity id
    order_items: dict[int, list[Row]]  # by order entity id
    builder: DocumentBuilder


def order_id_of(kind: str, row: Row) -> int:
    return int(row["entity_id"] if kind == "order" else row["order_id"])


def build_slice(job: SliceJob) -> list[SageDocument | None]:
    """Each row's document, without its account reference; None where the export lacks the
    row's order (the caller holds it)."""
    built: list[SageDocument | None] = []
    for row in job.rows:
        order = job.orders.get(order_id_of(job.kind, row))
        if order is None:
            built.append(None)
            continue
        built.append(job.builder.build(job.kind, row, job.lines.get(row["entity_id"], []), order,
                                       job.order_items.get(order["entity_id"], []), ""))
    return built
