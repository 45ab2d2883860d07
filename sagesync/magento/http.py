"""What every call to Magento shares: reading its error bodies, and retrying what is transient.

One retry loop serves both directions (paging orders out, pushing stock and prices in):
429/500/502/503/504, timeouts, dropped connections and bodies cut off mid-answer are retried
with exponential backoff and full jitter, `Retry-After` honoured up to a cap (past it the run
stops at once with TransientError rather than hold its lock for an hour); 401/403 raise
AuthError with a hint; 404 (no such route: a wrong base URL, or the Inventory modules are off)
raises MagentoNotFoundError saying what to check; exhausted retries raise TransientError naming
the request. Two answers are setup problems, never retried: a certificate that cannot be
verified (MagentoTLSError: verification stays on, the hint says how to trust a private CA), and
a 200 carrying an HTML page (MagentoAnswerError: a login page, a storefront, a firewall)
unless the page says maintenance, which is transient. Every other answer goes back to the
caller to judge.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.auth import AuthBase

from sagesync.errors import AuthError, MagentoNotFoundError, TransientError, UsageError
from sagesync.magento.answers import explain_401, magento_message, short, tls_failure

RETRY_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_MAX_RETRY_AFTER = 120.0
# An HTML page that says the store is down for a while (Magento's maintenance.flag page, a
# host's "be right back", a gateway's 503 page served with 200): worth retrying.
_MAINTENANCE = re.compile(rb"maintenance|temporarily unavailable|service unavailable|"
                          rb"be right back|back shortly|back soon", re.IGNORECASE)


class MagentoAnswerError(UsageError):
    """A 200 that is not Magento's REST API answering (an HTML page, or JSON of another
    shape): a wrong base URL, or a login page, single sign-on or firewall in front of /rest/.
    Retrying cannot help."""


@dataclass
class RetryPolicy:
    """How hard to try one request before the run gives up for this cycle.

    `max_retry_after` caps how long a `Retry-After` may make the run wait: a store asking for
    an hour would otherwise hold the run (and its lock) for that hour."""

    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform over [0, base * 2^attempt], capped."""
        return self.rng.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** attempt))



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



def first_bytes(body: bytes, limit: int = 120) -> str:
    """The start of a body as one line of text, for a message a person reads."""
    text = " ".join(body[:limit * 2].decode("utf-8", "replace").split())
    return text[:limit] + ("…" if len(body) > limit or len(text) > limit else "")


def html_answer(method: str, url: str, describe: str, response: requests.Response
                ) -> MagentoAnswerError:
    base = url.split("/V1/", 1)[0]
    return MagentoAnswerError(
        f"Magento answered {describe} ({method} {url}) with an HTML page, not JSON: "
        f"\"{first_bytes(response.content)}\". That is not Magento's REST API answering. "
        "Retrying will not help.", hint=(
            f"Check [magento] base_url (or --source), now {base}: it must be the store's REST "
            "root, such as https://shop.example.com/rest/default. Check too that no login "
            "page, single sign-on, firewall (WAF) or bot protection stands in front of /rest/ "
            "for this server (allow its address), that PHP does not print warnings before the "
            "JSON (display_errors off in production), and open the URL above with the same "
            "token to see what answers."))


def _looks_html(response: requests.Response) -> bool:
    kind = response.headers.get("Content-Type", "").lower()
    return "html" in kind or response.content[:64].lstrip()[:1] == b"<"


def _too_late(response: requests.Response, describe: str, retry: RetryPolicy,
              note: str) -> TransientError | None:
    """A Retry-After past the cap: the error to stop with at once, else None."""
    seconds = retry_after(response)
    if seconds is None or seconds <= retry.max_retry_after:
        return None
    try:
        when = f"at about {datetime.now(UTC) + timedelta(seconds=seconds):%Y-%m-%d %H:%M} UTC"
    except OverflowError:
        when = "in the far future"
    return TransientError(
        f"Magento asked sagesync to come back in {seconds:.0f} s ({when}; HTTP "
        f"{response.status_code} with Retry-After on {describe}). That is more than [magento] "
        f"max_retry_after_seconds ({retry.max_retry_after:g} s), so this run stopped at once "
        f"instead of waiting and holding its lock. {note}".rstrip())


def send_with_retries(session: requests.Session, method: str, url: str, *,
                      retry: RetryPolicy, timeout: float, describe: str,
                      params: Mapping[str, str] | None = None, body: bytes | None = None,
                      auth_kind: str = "bearer",
                      on_attempt: Callable[[], None] | None = None,
                      give_back: Callable[[requests.Response], bool] | None = None,
                      cut_short: Callable[[requests.Response], str | None] | None = None,
                      exhausted_note: str = "") -> requests.Response:
    """Send one request; return the first answer that is not transient (or that `give_back`
    wants to see at once, such as a 500 that retrying cannot cure). `cut_short` looks at a 200
    and names what is wrong when its body was cut off (invalid JSON), so it is fetched again."""
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
        except requests.exceptions.SSLError as exc:  # a ConnectionError, but not transient
            raise tls_failure(url, describe, exc) from None
        except requests.ConnectionError as exc:
            last_problem = f"connection failed ({short(exc)})"
            continue
        except (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            last_problem = f"the answer was cut off mid-body ({short(exc)})"
            continue
        status = response.status_code
        if status in (401, 403):
            message = magento_message(response)
            raise AuthError(f"Magento refused the credentials ({status}) for {describe}: "
                            f"{message}", hint=explain_401(message, auth_kind))
        if status == 404:
            raise not_found(method, url, response)
        if status == 200 and _looks_html(response):
            if not _MAINTENANCE.search(response.content[:4096]):
                raise html_answer(method, url, describe, response)
            last_problem = (f"HTTP 200 with a maintenance page instead of JSON "
                            f"(\"{first_bytes(response.content, 80)}\")")
            continue
        if status == 200 and cut_short is not None and (problem := cut_short(response)):
            last_problem = problem
            continue
        if status not in RETRY_STATUSES or (give_back and give_back(response)):
            return response
        last_problem = f"HTTP {status} {magento_message(response)}"
        if status in (429, 503) and response.headers.get("Retry-After"):
            too_late = _too_late(response, describe, retry, exhausted_note)
            if too_late is not None:
                raise too_late
            wait = max(wait, retry_after(response) or 0.0)
    raise TransientError(f"Magento kept failing on {describe} after {retry.attempts} attempts "
                         f"(last: {last_problem}). {exhausted_note}".rstrip())


class RestEndpoint:
    """What each small Magento REST client shares (order comments, customers, shipments):
    the base URL, the session with its credentials, the timeout and the retry policy."""

    def __init__(self, base_url: str, auth: AuthBase, *, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, auth_kind: str = "bearer",
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.auth_kind = auth_kind
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers["Accept"] = "application/json"
