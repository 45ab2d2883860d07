"""Order comments: `POST /V1/orders/{id}/comments` and reading them back.

Magento does not deduplicate comments, so the caller marks each one (a marker in its text) and
reads the order's status history before posting one a crash may already have posted.
"""

from __future__ import annotations

import json

from sagesync.errors import SageSyncError
from sagesync.magento.answers import magento_message
from sagesync.magento.http import RestEndpoint, send_with_retries


class OrderComments(RestEndpoint):
    def comments(self, order_id: int) -> list[str]:
        """The texts of the order's status history (GET /V1/orders/{id})."""
        response = send_with_retries(
            self.session, "GET", f"{self.base_url}/V1/orders/{order_id}", retry=self.retry,
            timeout=self.timeout, describe=f"order {order_id}", auth_kind=self.auth_kind)
        if response.status_code != 200:
            raise SageSyncError(f"Magento answered {response.status_code} for order "
                                f"{order_id}: {magento_message(response)}")
        try:
            histories = json.loads(response.content).get("status_histories") or []
        except (ValueError, AttributeError):
            raise SageSyncError(f"Magento's answer for order {order_id} is not an order") \
                from None
        return [str(h.get("comment") or "") for h in histories if isinstance(h, dict)]

    def post(self, order_id: int, comment: str, *, status: str | None = None,
             notify: bool = False, visible: bool = False) -> str | None:
        """Add the comment (and move the order to `status`, if given; `visible` shows it to
        the customer in their account). None when Magento took it, else its reason (a 400:
        no such order, an unknown status)."""
        history: dict[str, object] = {"comment": comment, "is_customer_notified": int(notify),
                                       "is_visible_on_front": int(visible),
                                       "parent_id": order_id}
        if status:
            history["status"] = status
        response = send_with_retries(
            self.session, "POST", f"{self.base_url}/V1/orders/{order_id}/comments",
            body=json.dumps({"statusHistory": history}).encode("utf-8"), retry=self.retry,
            timeout=self.timeout, describe=f"a comment on order {order_id}",
            auth_kind=self.auth_kind,
            exhausted_note="The comment may have landed; the next run looks for it first.")
        if response.status_code == 200:
            return None
        return f"HTTP {response.status_code}: {magento_message(response)}"
