"""Sage despatches -> Magento shipments (issue 15 §2): the payload parse-sage writes for a
`--kind shipments` file, and the push that ships each consignment exactly once.

A consignment is the lines of one order under one tracking number. For each, the push finds
the Magento order (the number in the file is the Magento order number, or a Sage number the
ledger maps back to one), the order item of every SKU and what is left to ship of it, then
posts `POST /V1/order/{id}/ship` with the lines, quantities and the track.

Exactly once, though Magento keeps every shipment it is sent: the ledger's shipment book keys
each consignment on (order, tracking number), commits `sending` before the POST and `posted`
after. A consignment already posted is not sent again (a rerun, an overlapping export); one
left `sending` by a crash, or new to the ledger, is first looked for among the order's tracks
and only posted if its tracking number is not there. Nothing is guessed: an order or SKU that
cannot be found, or a quantity beyond what is left to ship, refuses that consignment with the
reason (exit 1) and ships none of its lines.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from sagesync.errors import MagentoNotFoundError, UsageError
from sagesync.ledger import Ledger
from sagesync.ledger.shipment_book import POSTED, SENDING, ShipmentBook
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import Recipe, ShipmentSettings

QUANTITY = pa.decimal128(18, 4)
SHIPMENTS = pa.schema([
    ("order", pa.string()), ("sku", pa.string()), ("quantity", QUANTITY),
    ("carrier", pa.string()), ("carrier_code", pa.string()), ("title", pa.string()),
    ("tracking_number", pa.string()), ("source_line", pa.int32()),
])
#: Magento's own carrier codes, known by their name in Sage; any other carrier is "custom"
#: (Magento shows the title) unless the recipe's [shipments] carriers names its code.
KNOWN_CARRIERS = {"ups": "ups", "usps": "usps", "fedex": "fedex", "dhl": "dhl"}
PREVIEW_HEADER = ("order", "tracking_number", "carrier_code", "title", "sku", "quantity",
                  "order_item_id", "outcome")


def carrier_code(carrier: str, settings: ShipmentSettings) -> str:
    """The Magento carrier code of a carrier as Sage writes it (case ignored)."""
    mapped = {k.casefold(): v for k, v in settings.carriers.items()}
    key = carrier.strip().casefold()
    return mapped.get(key) or KNOWN_CARRIERS.get(key, "custom")


def shipment_payload(rows: pa.Table, settings: ShipmentSettings) -> pa.Table:
    """The parsed despatch lines with each carrier's Magento code and title."""
    out = []
    for row in rows.to_pylist():
        out.append({"order": row["order"], "sku": row["sku"], "quantity": row["quantity"],
                    "carrier": row["carrier"],
                    "carrier_code": carrier_code(row["carrier"], settings),
                    "title": row["title"] or row["carrier"],
                    "tracking_number": row["tracking_number"],
                    "source_line": row["source_line"]})
    return pa.Table.from_pylist(out, schema=SHIPMENTS)


class Shipper(Protocol):
    def orders_numbered(self, increment_id: str) -> list[dict[str, Any]]: ...

    def tracks(self, order_id: int) -> list[Any]: ...

    def ship(self, order_id: int, items: list[tuple[int, Decimal]], track_number: str,
             title: str, carrier_code: str, *, notify: bool) -> Any: ...


@dataclass
class Consignment:
    """The lines of one order under one tracking number, in file order."""

    order: str  # as written in the file
    tracking_number: str
    carrier_code: str
    title: str
    lines: dict[str, Decimal] = field(default_factory=dict)  # sku -> quantity
    first_line: int = 0

    def describe(self) -> str:
        shipped = ", ".join(f"{sku} x {qty.normalize():f}" for sku, qty in self.lines.items())
        return f"order {self.order}, tracking {self.tracking_number}: {shipped}"


def consignments(table: pa.Table) -> list[Consignment]:
    found: dict[tuple[str, str], Consignment] = {}
    for row in table.to_pylist():
        key = (row["order"], row["tracking_number"])
        item = found.get(key)
        if item is None:
            item = found[key] = Consignment(row["order"], row["tracking_number"],
                                            row["carrier_code"], row["title"],
                                            first_line=row["source_line"])
        item.lines[row["sku"]] = item.lines.get(row["sku"], Decimal(0)) + row["quantity"]
    return list(found.values())


class Refused(Exception):
    """A consignment that is not shipped, and the words that say why."""


def _qty(item: dict[str, Any], name: str) -> Decimal:
    return Decimal(str(item.get(name) or 0))


def left_to_ship(item: dict[str, Any]) -> Decimal:
    """What Magento still lets ship of an order item: ordered - max(shipped, refunded) -
    cancelled (Magento's Item::getSimpleQtyToShip)."""
    return max(Decimal(0), _qty(item, "qty_ordered") - max(_qty(item, "qty_shipped"),
                                                           _qty(item, "qty_refunded"))
               - _qty(item, "qty_canceled"))


def plan_items(order: dict[str, Any], lines: dict[str, Decimal]
               ) -> list[tuple[int, str, Decimal]]:
    """(order item id, sku, quantity) for each line, or Refused naming every line that cannot
    ship. A SKU is looked for among the order's top-level items first (a configurable
    product's line carries its simple SKU and ships as one item), then among the children of
    a bundle shipped separately; a quantity is spread over the items of that SKU in order."""
    number = order.get("increment_id")
    items = [i for i in order.get("items") or [] if isinstance(i, dict)]
    planned: list[tuple[int, str, Decimal]] = []
    problems: list[str] = []
    for sku, wanted in lines.items():
        same = [i for i in items if str(i.get("sku")) == sku] or \
            [i for i in items if str(i.get("sku")).casefold() == sku.casefold()]
        top = [i for i in same if not i.get("parent_item_id")]
        candidates = top or same
        if not candidates:
            problems.append(f"SKU {sku} is not on order {number}")
            continue
        left = wanted
        for item in candidates:
            take = min(left, left_to_ship(item))
            if take > 0:
                planned.append((int(item["item_id"]), sku, take))
                left -= take
        if left > 0:
            ordered = sum((_qty(i, "qty_ordered") for i in candidates), Decimal(0))
            shipped = sum((_qty(i, "qty_shipped") for i in candidates), Decimal(0))
            problems.append(
                f"SKU {sku}: {wanted.normalize():f} to ship but only "
                f"{(wanted - left).normalize():f} left to ship on order {number} (ordered "
                f"{ordered.normalize():f}, shipped {shipped.normalize():f})")
    if problems:
        raise Refused("; ".join(problems))
    return planned


class OrderFinder:
    """The Magento order a despatch file's order number stands for, asked once per number.

    The ledger first: the number as a Magento order number sagesync sent, else Sage's own
    number of a document it sent (read by `ack`). Then the store. Two candidates (two orders
    in the ledger, or a Sage number that is also another Magento order's number) are
    refused, never chosen between."""

    def __init__(self, book: ShipmentBook, shipper: Shipper | None) -> None:
        self.book = book
        self.shipper = shipper
        self._increment: dict[str, str] = {}
        self._orders: dict[str, dict[str, Any]] = {}

    def increment_id(self, number: str) -> str:
        if number not in self._increment:
            itself, by_sage = self.book.orders_known_as(number)
            chosen = itself or by_sage
            if len(chosen) > 1:
                raise Refused(f"order {number} matches Magento orders "
                              f"{', '.join(sorted(chosen))} in the ledger: map the column that "
                              "holds the Magento order number ([sage_export] columns.order)")
            if not itself and by_sage and self.shipper is not None \
                    and self.shipper.orders_numbered(number):
                raise Refused(f"order {number} is both a Magento order number and Sage's "
                              f"number of Magento order {next(iter(by_sage))}: map the column "
                              "that holds the Magento order number ([sage_export] "
                              "columns.order)")
            self._increment[number] = next(iter(chosen)) if chosen else number
        return self._increment[number]

    def order(self, increment_id: str) -> dict[str, Any]:
        if increment_id not in self._orders:
            assert self.shipper is not None
            found = self.shipper.orders_numbered(increment_id)
            if not found:
                raise Refused(f"order {increment_id} is not in Magento")
            if len(found) > 1:
                raise Refused(f"order {increment_id} is the number of {len(found)} Magento "
                              "orders (stores with the same numbering)")
            self._orders[increment_id] = found[0]
        return self._orders[increment_id]

    def planned(self, increment_id: str, planned: list[tuple[int, str, Decimal]]) -> None:
        """A dry run's plan counted as shipped on the order it read, so a later consignment
        of the same order in the file is planned against what would be left."""
        order = self._orders.get(increment_id)
        if order is None:
            return
        by_id = {int(i["item_id"]): i for i in order.get("items") or [] if isinstance(i, dict)}
        for item_id, _, qty in planned:
            item = by_id[item_id]
            item["qty_shipped"] = _qty(item, "qty_shipped") + qty

    def forget(self, increment_id: str) -> None:
        """After a shipment: the order's shipped quantities changed."""
        self._orders.pop(increment_id, None)


@dataclass
class ShipmentOutcome:
    """What the push did with the file's consignments, for the push result."""

    new: int = 0  # not shipped before this push
    already: int = 0  # shipped by an earlier push (the same file again, an overlap)
    sent: int = 0
    found: list[str] = field(default_factory=list)  # already on the order in Magento
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    preview: list[list[str]] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # a dry run's shipments, in words


def ship_consignments(recipe: Recipe, table: pa.Table, ledger: Ledger, run_id: str, *,
                      dry_run: bool, shipper: Shipper | None) -> ShipmentOutcome:
    """Ship each consignment of the payload once (a dry run only plans, against the store
    when it has one)."""
    book = ShipmentBook(ledger)
    finder = OrderFinder(book, shipper)
    outcome = ShipmentOutcome()
    for consignment in consignments(table):
        _one(consignment, recipe, book, finder, shipper, outcome, run_id, dry_run)
    return outcome


def _one(c: Consignment, recipe: Recipe, book: ShipmentBook, finder: OrderFinder,
         shipper: Shipper | None, outcome: ShipmentOutcome, run_id: str, dry_run: bool) -> None:
    def show(verdict: str, planned: list[tuple[int, str, Decimal]] | None = None) -> None:
        rows = planned or [(0, sku, qty) for sku, qty in c.lines.items()]
        for item_id, sku, qty in rows:
            outcome.preview.append([c.order, c.tracking_number, c.carrier_code, c.title, sku,
                                    f"{qty.normalize():f}", str(item_id or ""), verdict])

    try:
        increment = finder.increment_id(c.order)
    except Refused as refusal:
        outcome.failed.append(f"{c.describe()}: {refusal}")
        show(f"refused: {refusal}")
        return
    known = book.get(increment, c.tracking_number)
    if known is not None and known.state == POSTED:
        outcome.already += 1
        if known.lines != c.lines:
            before = ", ".join(f"{s} x {q.normalize():f}" for s, q in known.lines.items())
            outcome.notes.append(
                f"order {increment}, tracking {c.tracking_number} was shipped before with "
                f"other lines ({before}); not shipped again: a change to a sent consignment "
                "is made in Magento")
        show("already shipped")
        return
    outcome.new += 1
    if shipper is None:  # a dry run without a store: the file's plan only
        show("would ship (not checked against the store: no [magento] base_url)")
        outcome.planned.append(f"{c.describe()} (not checked against the store)")
        return
    try:
        order = finder.order(increment)
        order_id = int(order["entity_id"])
        on_order = [t for t in shipper.tracks(order_id)
                    if str(t.track_number) == c.tracking_number]
        if on_order:
            outcome.found.append(f"order {increment}, tracking {c.tracking_number}")
            show(f"already on the order in Magento (shipment {on_order[0].shipment_id})")
            if not dry_run:
                if known is None:
                    book.sending(increment, c.tracking_number, order_id, c.lines,
                                 c.carrier_code, run_id)
                book.posted(increment, c.tracking_number, on_order[0].shipment_id,
                            "found on the order in Magento" + (
                                " after an interrupted run" if known and
                                known.state == SENDING else ""))
            return
        planned = plan_items(order, c.lines)
    except Refused as refusal:
        outcome.failed.append(f"{c.describe()}: {refusal}")
        show(f"refused: {refusal}")
        if not dry_run:
            book.refused(increment, c.tracking_number, None, c.lines, c.carrier_code, run_id,
                         str(refusal))
        return
    if dry_run:
        finder.planned(increment, planned)
        show("would ship", planned)
        lines = ", ".join(f"{sku} x {qty.normalize():f} (item {item_id})"
                          for item_id, sku, qty in planned)
        outcome.planned.append(f"order {increment}, tracking {c.tracking_number} "
                               f"({c.carrier_code}, {c.title}): {lines}")
        return
    _post(c, increment, order_id, planned, recipe, book, finder, shipper, outcome, run_id)


def _post(c: Consignment, increment: str, order_id: int,
          planned: list[tuple[int, str, Decimal]], recipe: Recipe, book: ShipmentBook,
          finder: OrderFinder, shipper: Shipper, outcome: ShipmentOutcome, run_id: str) -> None:
    book.sending(increment, c.tracking_number, order_id, c.lines, c.carrier_code, run_id)
    crash_point("shipment-sending")
    try:
        answer = shipper.ship(order_id, [(item_id, qty) for item_id, _, qty in planned],
                              c.tracking_number, c.title, c.carrier_code,
                              notify=recipe.shipments.notify)
        problem = answer.problem
        shipment_id = answer.shipment_id
    except MagentoNotFoundError as error:
        if "exist" not in str(error):  # the URL is wrong, not the order gone
            raise
        problem, shipment_id = "the order is not in Magento (404)", None
    crash_point("shipment-posted")
    finder.forget(increment)
    if problem:
        book.refused(increment, c.tracking_number, order_id, c.lines, c.carrier_code, run_id,
                     problem)
        outcome.failed.append(f"{c.describe()}: Magento refused it: {problem}")
        for item_id, sku, qty in planned:
            outcome.preview.append([c.order, c.tracking_number, c.carrier_code, c.title, sku,
                                    f"{qty.normalize():f}", str(item_id),
                                    f"refused by Magento: {problem}"])
        return
    book.posted(increment, c.tracking_number, shipment_id)
    outcome.sent += 1
    for item_id, sku, qty in planned:
        outcome.preview.append([c.order, c.tracking_number, c.carrier_code, c.title, sku,
                                f"{qty.normalize():f}", str(item_id),
                                f"shipped (shipment {shipment_id})"])


def write_preview(folder: Path, rows: list[list[str]]) -> Path:
    """One row per line: order, tracking, carrier, SKU, quantity, order item and outcome.
    Cells go through csv_cell: a person opens it in a spreadsheet."""
    from sagesync.render import csv_cell

    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(PREVIEW_HEADER)
    for row in rows:
        out.writerow([csv_cell(cell) for cell in row])
    path = folder / "preview.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def default_shipper(recipe: Recipe, *, dry_run: bool) -> Shipper | None:
    """The store's shipment API; None for a dry run without a store (the plan is then the
    file's own)."""
    from sagesync.magento.connect import magento_auth
    from sagesync.magento.http import RetryPolicy
    from sagesync.magento.shipments import OrderShipments

    if not recipe.magento.base_url:
        if dry_run:
            return None
        raise UsageError("push-magento needs a live store to ship: set [magento] base_url and "
                         "token (or use --dry-run to see the shipments).")
    return OrderShipments(recipe.magento.base_url, magento_auth(recipe, recipe.magento.base_url),
                          timeout=recipe.magento.timeout_seconds,
                          retry=RetryPolicy(
                              attempts=recipe.magento.retry_attempts,
                              max_retry_after=recipe.magento.max_retry_after_seconds),
                          auth_kind=recipe.magento.auth)

