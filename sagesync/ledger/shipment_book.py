"""The ledger's memory of shipments told to Magento: one row per order and tracking number.

Magento creates a new shipment for every `POST /V1/order/{id}/ship` it is sent, so this book is
what makes a rerun of the same despatch file, an overlapping export or a crash mid-push ship
each consignment once: `sending` is committed before the POST and `posted` after it. A row
still `sending` is one a crash may or may not have posted; the caller settles it by looking
for the tracking number on the order in Magento before posting again. Kept apart from the
record store: it shares only the connection and the transaction helper.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sagesync.ledger.store import Ledger

SENDING = "sending"
POSTED = "posted"
REFUSED = "refused"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ShipmentRow:
    """What the ledger knows of one consignment of one order."""

    order_increment_id: str
    tracking_number: str
    order_id: int | None
    state: str
    lines: dict[str, Decimal]  # sku -> quantity shipped
    carrier_code: str
    shipment_id: int | None
    detail: str
    at: str


def lines_text(lines: dict[str, Decimal]) -> dict[str, str]:
    """Each SKU's quantity as plain text (no exponent, no trailing zeros), SKUs sorted."""
    return {sku: f"{qty.normalize():f}" for sku, qty in sorted(lines.items())}


def lines_json(lines: dict[str, Decimal]) -> str:
    return json.dumps(lines_text(lines))


class ShipmentBook:
    """Read and move shipment rows on one ledger connection."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.db = ledger.db

    def get(self, order_increment_id: str, tracking_number: str) -> ShipmentRow | None:
        found = self._rows("order_increment_id=? AND tracking_number=?",
                           (order_increment_id, tracking_number))
        return found[0] if found else None

    def _rows(self, where: str, params: tuple[object, ...], order: str = "") -> list[ShipmentRow]:
        """The shipments matching `where`, in one query."""
        return [ShipmentRow(r[0], r[1], r[2], r[3],
                            {sku: Decimal(qty) for sku, qty in json.loads(r[4]).items()},
                            r[5], r[6], r[7] or "", r[8])
                for r in self.db.execute(
                    "SELECT order_increment_id, tracking_number, order_id, state, lines, "
                    f"carrier_code, shipment_id, detail, at FROM shipments WHERE {where} "
                    f"{order}", params)]

    def sending(self, order_increment_id: str, tracking_number: str, order_id: int,
                lines: dict[str, Decimal], carrier_code: str, run_id: str) -> None:
        """About to post: from here a crash is settled by looking at the order's tracks."""
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO shipments VALUES (?,?,?,?,?,?,NULL,NULL,?,?) ON CONFLICT DO UPDATE "
                "SET order_id=excluded.order_id, state=excluded.state, lines=excluded.lines, "
                "carrier_code=excluded.carrier_code, shipment_id=NULL, detail=NULL, "
                "run_id=excluded.run_id, at=excluded.at",
                (order_increment_id, tracking_number, order_id, SENDING, lines_json(lines),
                 carrier_code, run_id, _now()))

    def posted(self, order_increment_id: str, tracking_number: str, shipment_id: int | None,
               detail: str = "") -> None:
        """Magento has the shipment (`shipment_id`, when known)."""
        with self.ledger.transaction() as db:
            db.execute("UPDATE shipments SET state=?, shipment_id=?, detail=?, at=? WHERE "
                       "order_increment_id=? AND tracking_number=?",
                       (POSTED, shipment_id, detail or None, _now(), order_increment_id,
                        tracking_number))

    def refused(self, order_increment_id: str, tracking_number: str, order_id: int | None,
                lines: dict[str, Decimal], carrier_code: str, run_id: str,
                detail: str) -> None:
        """Not shipped, and why; a later file with the same consignment tries again."""
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO shipments VALUES (?,?,?,?,?,?,NULL,?,?,?) ON CONFLICT DO UPDATE "
                "SET order_id=excluded.order_id, state=excluded.state, lines=excluded.lines, "
                "carrier_code=excluded.carrier_code, detail=excluded.detail, "
                "run_id=excluded.run_id, at=excluded.at WHERE shipments.state != 'posted'",
                (order_increment_id, tracking_number, order_id, REFUSED, lines_json(lines),
                 carrier_code, detail, run_id, _now()))

    def of_order(self, order_increment_id: str) -> list[ShipmentRow]:
        """Every consignment of one order the ledger knows, oldest first (for `trace`)."""
        return self._rows("order_increment_id=?", (order_increment_id,),
                          "ORDER BY at, tracking_number")

    def waiting(self, limit: int = 10) -> list[ShipmentRow]:
        """Consignments not shipped: refused (until a later file ships them) or left sending
        by an interrupted push (the next push settles them), newest first (for `status`)."""
        return self._rows("state != ?", (POSTED, limit),
                          "ORDER BY at DESC, order_increment_id, tracking_number LIMIT ?")

    def counts(self) -> dict[str, int]:
        """Rows per state, for status pages and tests."""
        return dict(self.db.execute("SELECT state, count(*) FROM shipments GROUP BY state"))

    def orders_known_as(self, number: str) -> tuple[set[str], set[str]]:
        """The Magento order numbers `number` may stand for: (those it is itself, those whose
        documents Sage numbered so, as `ack` read it: sage_ref). Not the reference sagesync
        wrote: that is a Magento invoice number, and Magento numbers its invoices and orders
        alike, so invoice 000000009 would pass for order 000000009."""
        itself = {row[0] for row in self.db.execute(
            "SELECT DISTINCT coalesce(order_increment_id, increment_id) FROM records WHERE "
            "order_increment_id=? OR (entity_type='order' AND increment_id=?)",
            (number, number)) if row[0]}
        sage = {row[0] for row in self.db.execute(
            "SELECT DISTINCT coalesce(order_increment_id, increment_id) FROM records WHERE "
            "state != 'void' AND sage_ref=?", (number,)) if row[0]}
        return itself, sage
