"""Shipments: find an order by its number, read its shipments' tracks, and ship it.

`POST /V1/order/{id}/ship` creates a new shipment every time it is sent: Magento has no key to
deduplicate on. So the POST is sent once, never retried by this client (a timeout may hide a
shipment that was made); the caller records it before and after, and settles a doubt by
reading the order's tracks (`GET /V1/shipments`) before it posts again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sagesync.errors import SageSyncError
from sagesync.magento.answers import magento_message
from sagesync.magento.http import RestEndpoint, RetryPolicy, send_with_retries


@dataclass(frozen=True)
class Track:
    """One tracking number on one of the order's shipments."""

    shipment_id: int
    track_number: str
    carrier_code: str


@dataclass(frozen=True)
class ShipAnswer:
    """Magento's shipment id, or why it refused (a 400: over-shipping, a closed order)."""

    shipment_id: int | None
    problem: str | None


def _search(field: str, value: str | int, page_size: int = 100) -> dict[str, str]:
    prefix = "searchCriteria[filter_groups][0][filters][0]"
    return {f"{prefix}[field]": field, f"{prefix}[value]": str(value),
            f"{prefix}[condition_type]": "eq", "searchCriteria[pageSize]": str(page_size),
            "searchCriteria[currentPage]": "1"}


def _number(qty: Decimal) -> int | float:
    """A JSON number for a quantity: whole quantities as integers (the usual case); Magento
    keeps four places, which a float holds exactly enough for any stock quantity."""
    return int(qty) if qty == qty.to_integral_value() else float(qty)


class OrderShipments(RestEndpoint):
    def _get(self, path: str, params: dict[str, str], describe: str) -> Any:
        response = send_with_retries(self.session, "GET", f"{self.base_url}{path}",
                                     params=params, retry=self.retry, timeout=self.timeout,
                                     describe=describe, auth_kind=self.auth_kind)
        if response.status_code != 200:
            raise SageSyncError(f"Magento answered {response.status_code} for {describe}: "
                                f"{magento_message(response)}")
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise SageSyncError(f"Magento's answer for {describe} is not JSON") from None

    def orders_numbered(self, increment_id: str) -> list[dict[str, Any]]:
        """The orders whose increment id is `increment_id` (one, or none; two stores with the
        same numbering give two)."""
        data = self._get("/V1/orders", _search("increment_id", increment_id, 10),
                         f"order {increment_id}")
        items = data.get("items") if isinstance(data, dict) else None
        return [o for o in items or [] if isinstance(o, dict)
                and str(o.get("increment_id")) == increment_id]

    def tracks(self, order_id: int) -> list[Track]:
        """Every tracking number on the order's shipments."""
        data = self._get("/V1/shipments", _search("order_id", order_id, 300),
                         f"the shipments of order {order_id}")
        found = []
        for shipment in (data.get("items") if isinstance(data, dict) else None) or []:
            for track in shipment.get("tracks") or []:
                found.append(Track(int(shipment.get("entity_id") or 0),
                                   str(track.get("track_number") or ""),
                                   str(track.get("carrier_code") or "")))
        return found

    def ship(self, order_id: int, items: list[tuple[int, Decimal]], track_number: str,
             title: str, carrier_code: str, *, notify: bool) -> ShipAnswer:
        """Create the shipment of `items` (order item id, quantity) with one track."""
        body = {"items": [{"order_item_id": item_id, "qty": _number(qty)}
                          for item_id, qty in items],
                "notify": notify,
                "tracks": [{"track_number": track_number, "title": title,
                            "carrier_code": carrier_code}]}
        response = send_with_retries(
            self.session, "POST", f"{self.base_url}/V1/order/{order_id}/ship",
            body=json.dumps(body).encode("utf-8"),
            retry=RetryPolicy(attempts=1, max_retry_after=self.retry.max_retry_after),
            timeout=self.timeout, describe=f"the shipment of order {order_id}",
            auth_kind=self.auth_kind,
            exhausted_note="The shipment may have been made; the next run looks for its "
                           "tracking number on the order before it ships again.")
        if response.status_code == 200:
            try:
                return ShipAnswer(int(json.loads(response.content)), None)
            except (ValueError, TypeError):
                return ShipAnswer(None, None)  # made; its id is read back with its tracks
        return ShipAnswer(None, f"HTTP {response.status_code}: {magento_message(response)}")
