"""What every call to Magento shares: reading its error bodies, and retrying what is transient.

One retry loop serves both directions (paging orders out, pushing stock and prices in):
429/500/502/503/504, timeouts and dropped connections are retried with exponential backoff and
full jitter, `Retry-After` honoured; 401/403 raise AuthError with a hint; 404 (no such route:
a wrong base URL, or the Inventory modules are off) raises MagentoNotFoundError saying what to
check; exhausted retries raise TransientError naming the request. Every other answer goes back
to the caller to judge.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from sagesync.errors import AuthError, MagentoNotFoundError, TransientError

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass
class RetryPolicy:
    """How hard to try one request before the run gives up for this cycle."""

    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform over [0, base * 2^attempt], capped."""
        return self.rng.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** attempt))


def magento_message(response: requests.Response) -> str:
    """Magento's error `message` with its %placeholders filled from `parameters` (§4)."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or (response.reason or "")
    if isinstance(data, dict) and "message" in data:
        message = str(data["message"])
        params = data.get("parameters")
        if isinstance(params, dict):
            for key, value in params.items():
                message = message.replace(f"%{key}", str(value))
        elif isinstance(params, list):
            for i, value in enumerate(params, start=1):
                message = message.replace(f"%{i}", str(value))
        return message
    if isinstance(data, dict) and "error" in data:  # IMS / OAuth 2 error shape (RFC 6749 §5.2)
        described = data.get("error_description")
        return f"{data['error']}: {described}" if described else str(data["error"])
    return str(data)[:200]


def retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds, given as a number or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def not_found(method: str, url: str, response: requests.Response) -> MagentoNotFoundError:
    """A 404 on a route every Magento 2.4 has means the URL is wrong; on the Inventory routes,
    that MSI is off. Either way retrying cannot help: a person fixes the setup."""
    base = url.split("/V1/", 1)[0]
    said = ""
    if "json" in response.headers.get("Content-Type", ""):
        said = f" ({magento_message(response)})"
    text = f"Magento answered 404 Not Found for {method} {url}{said}. "
    if "/V1/inventory/" in url:
        return MagentoNotFoundError(
            text + "The store has no Inventory (MSI) API: its Magento_Inventory modules are "
            "disabled or removed, so stock cannot be pushed as source items. Enable them "
            "(bin/magento module:enable for the Magento_Inventory* modules, then bin/magento "
            "setup:upgrade) or push prices only. If the price endpoints answer 404 too, "
            f"[magento] base_url ({base}) is wrong.")
    return MagentoNotFoundError(
        text + f"Retrying will not help. Check [magento] base_url (or --source), now {base}: "
        "it must be the store's REST root, such as https://shop.example.com/rest/default (the "
        "store code after /rest/, without /V1), or for Adobe Commerce as a Cloud Service "
        f"https://<server>.api.commerce.adobe.com/<tenant-id>. {base}/V1/store/storeViews, "
        "asked with the same token, should answer a JSON list.")


def short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:160] + "…"


def send_with_retries(session: requests.Session, method: str, url: str, *,
                      retry: RetryPolicy, timeout: float, describe: str,
                      params: Mapping[str, str] | None = None, body: bytes | None = None,
                      auth_kind: str = "bearer",
                      on_attempt: Callable[[], None] | None = None,
                      give_back: Callable[[requests.Response], bool] | None = None,
                      exhausted_note: str = "") -> requests.Response:
    """Send one request; return the first answer that is not transient (or that `give_back`
    wants to see at once, such as a 500 that retrying cannot cure)."""
    from sagesync.magento.auth import explain_401

    headers: dict[str, Any] = {"Content-Type": "application/json"} if body is not None else {}
    last_problem = ""
    wait = 0.0
    for attempt in range(retry.attempts):
        if attempt:
            retry.sleep(wait)
        wait = retry.backoff(attempt)
        if on_attempt:
            on_attempt()
        try:
            response = session.request(method, url, params=params, data=body, headers=headers,
                                       timeout=timeout)
        except requests.Timeout:
            last_problem = f"no answer within {timeout:g} s"
            continue
        except requests.ConnectionError as exc:
            last_problem = f"connection failed ({short(exc)})"
            continue
        status = response.status_code
        if status in (401, 403):
            message = magento_message(response)
            raise AuthError(f"Magento refused the credentials ({status}) for {describe}: "
                            f"{message}", hint=explain_401(message, auth_kind))
        if status == 404:
            raise not_found(method, url, response)
        if status not in RETRY_STATUSES or (give_back and give_back(response)):
            return response
        last_problem = f"HTTP {status} {magento_message(response)}"
        if status == 429:
            wait = max(wait, retry_after(response) or 0.0)
    raise TransientError(f"Magento kept failing on {describe} after {retry.attempts} attempts "
                         f"(last: {last_problem}). {exhausted_note}".rstrip())
