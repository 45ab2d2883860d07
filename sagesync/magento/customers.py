"""Customers: `GET /V1/customers/{id}`, `PUT /V1/customers/{id}` and the e-mail search.

Magento's PUT replaces the customer: a field left out is cleared (addresses included), so the
caller reads the whole customer, changes what Sage owns and sends all of it back.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from sagesync.errors import MagentoNotFoundError, SageSyncError
from sagesync.magento.answers import magento_message
from sagesync.magento.http import RestEndpoint, send_with_retries

#: Fields of a customer that Magento computes or keeps itself: never sent back.
_READ_ONLY = ("created_at", "updated_at", "created_in")


class CustomerGone(SageSyncError):
    """The customer is not in Magento (deleted since it was mapped)."""


class CustomerAccounts(RestEndpoint):
    def _send(self, method: str, path: str, describe: str, *, body: bytes | None = None,
              params: dict[str, str] | None = None) -> requests.Response:
        try:
            return send_with_retries(
                self.session, method, f"{self.base_url}{path}", retry=self.retry,
                timeout=self.timeout, describe=describe, auth_kind=self.auth_kind, body=body,
                params=params)
        except MagentoNotFoundError as error:
            if "No such entity" in str(error):  # the customer, not the route
                raise CustomerGone(f"{describe} is not in Magento (404)") from None
            raise

    def get(self, customer_id: int) -> dict[str, Any]:
        """The whole customer as Magento keeps it."""
        describe = f"customer {customer_id}"
        response = self._send("GET", f"/V1/customers/{customer_id}", describe)
        if response.status_code != 200:
            raise SageSyncError(f"Magento answered {response.status_code} for {describe}: "
                                f"{magento_message(response)}")
        try:
            found = json.loads(response.content)
        except ValueError:
            found = None
        if not isinstance(found, dict) or "id" not in found:
            raise SageSyncError(f"Magento's answer for {describe} is not a customer")
        return found

    def put(self, customer_id: int, customer: dict[str, Any]) -> str | None:
        """Save the customer; None when Magento took it, else its reason (a 400)."""
        body = {k: v for k, v in customer.items() if k not in _READ_ONLY}
        response = self._send("PUT", f"/V1/customers/{customer_id}",
                              f"customer {customer_id}",
                              body=json.dumps({"customer": body}).encode("utf-8"))
        if response.status_code == 200:
            return None
        return f"HTTP {response.status_code}: {magento_message(response)}"

    def find_by_email(self, email: str) -> list[dict[str, Any]]:
        """Every customer with this e-mail, compared without regard to case (Magento keeps
        one per website, so there may be several)."""
        prefix = "searchCriteria[filterGroups][0][filters][0]"
        response = self._send("GET", "/V1/customers/search", f"customers with e-mail {email}",
                              params={f"{prefix}[field]": "email", f"{prefix}[value]": email,
                                      f"{prefix}[conditionType]": "eq",
                                      "searchCriteria[pageSize]": "20"})
        if response.status_code != 200:
            raise SageSyncError(f"Magento answered {response.status_code} to a customer "
                                f"search: {magento_message(response)}")
        try:
            items = json.loads(response.content).get("items") or []
        except (ValueError, AttributeError):
            raise SageSyncError("Magento's answer to a customer search is not a list") \
                from None
        wanted = email.casefold()
        return [c for c in items if isinstance(c, dict)
                and str(c.get("email") or "").casefold() == wanted]
