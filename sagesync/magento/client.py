"""A Magento REST reader that survives real stores (magento-rest.md §3, §4, §8).

- Explicit `pageSize`, sort on `entity_id`, stop on `total_count` (never on an empty or repeated
  page: 2.3 repeats the last page past the end, 2.4 returns none).
- Once page 1 has told `total_count`, the other pages are fetched concurrently (bounded), and
  yielded in order, so memory holds at most `concurrency` pages.
- Rows can only leave a frozen past `updated_at` window while it is paged (an update moves
  `updated_at` to now). If `total_count` changes between pages, offset paging may have skipped a
  row, so the window is swept again with keyset paging (`entity_id gt last`), which cannot skip.
  Rows that left are picked up by the next run's window.
- Retries with exponential backoff and full jitter on 429 (honouring Retry-After up to a cap),
  500, 502, 503, 504, timeouts, dropped connections and bodies cut off mid-answer (a short
  Content-Length, a broken chunk, or JSON that ends early). A page that still fails raises
  TransientError naming the page and the filter: never a silent skip.
- A 200 that is JSON but not a search result (no `total_count`) raises MagentoAnswerError
  (a setup problem: exit 2). `items: null` passes: the export quarantines that page alone.
- 400 "Maximum SearchCriteria pageSize is N": the page size drops to N and the export goes on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import msgspec
import requests
from requests.auth import AuthBase

from sagesync.errors import SageSyncError, TransientError
from sagesync.magento.http import (
    MagentoAnswerError,
    RetryPolicy,
    first_bytes,
    magento_message,
    send_with_retries,
)
from sagesync.magento.source import RawPage, Window

ENDPOINTS = {
    "orders": "/V1/orders",
    "invoices": "/V1/invoices",
    "creditmemos": "/V1/creditmemos",
    "customers": "/V1/customers/search",
}
RETRY_STATUSES = (429, 500, 502, 503, 504)
_MAX_PAGE_SIZE = re.compile(r"Maximum SearchCriteria pageSize is (\d+)")
_DUPLICATE_ID = re.compile(r"with the same ID .* already exists")


MAX_TOTAL_COUNT = 2 ** 31 - 1  # Magento's total_count is a PHP int from a SQL COUNT


class _Envelope(msgspec.Struct):
    total_count: int
    items: list[msgspec.Raw] | None = []


class _Identity(msgspec.Struct):
    entity_id: int | None = None
    id: int | None = None


def _cut_short(response: requests.Response) -> str | None:
    """Why a 200's body is not whole JSON (a cut), or None: wrong-shape JSON is not a cut."""
    try:
        msgspec.json.decode(response.content)
    except msgspec.DecodeError as exc:
        return f"the answer was cut off or is not JSON ({exc}; {len(response.content)} bytes)"
    except RecursionError:
        return None  # whole, only nested too deep: the page is quarantined later
    return None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_IDENTITY = msgspec.json.Decoder(_Identity)


class _PageSizeTooLarge(Exception):
    def __init__(self, maximum: int) -> None:
        self.maximum = maximum


class RestSource:
    """Pages of a live store, read with any `requests` auth (bearer, OAuth 1.0a, IMS...)."""

    def __init__(self, base_url: str, auth: AuthBase, *, page_size: int = 100,
                 timeout: float = 30.0, concurrency: int = 4,
                 retry: RetryPolicy | None = None, session: requests.Session | None = None,
                 on_request: Callable[[str], None] | None = None,
                 auth_kind: str = "bearer") -> None:
        self.auth_kind = auth_kind
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers["Accept"] = "application/json"
        self.on_request = on_request

    # Public ---------------------------------------------------------------------------------
    def pages(self, entity: str, window: Window) -> Iterator[RawPage]:
        while True:
            try:
                yield from self._pages(entity, window)
                return
            except _PageSizeTooLarge as too_large:
                if too_large.maximum >= self.page_size or too_large.maximum < 1:
                    raise SageSyncError(f"Magento refuses pageSize {self.page_size} for "
                                        f"{entity} and names no smaller maximum.") from None
                self.page_size = too_large.maximum  # and start the entity again

    def get_json(self, path: str) -> bytes:
        """One plain GET (the store and website lists are arrays, not search results)."""
        response = send_with_retries(self.session, "GET", self.base_url + path,
                                     retry=self.retry, timeout=self.timeout,
                                     describe=f"GET {path}", auth_kind=self.auth_kind)
        if response.status_code != 200:
            raise SageSyncError(f"Magento answered {response.status_code} for GET {path}: "
                                f"{magento_message(response)}")
        return response.content

    # Paging -----------------------------------------------------------------------------------
    def _pages(self, entity: str, window: Window) -> Iterator[RawPage]:
        criteria = self._criteria(entity, window)
        first = self._get(entity, criteria, 1)
        total = _ENVELOPE.decode(first).total_count
        last = max(1, math.ceil(total / self.page_size))
        yield RawPage(entity, 1, first, self._describe(entity, 1, criteria))
        stable = True
        number = 2
        for number, body in self._fetch_in_order(entity, criteria, range(2, last + 1)):
            if _ENVELOPE.decode(body).total_count != total:
                stable = False
            yield RawPage(entity, number, body, self._describe(entity, number, criteria))
        if not stable:
            yield from self._keyset_sweep(entity, window, start_number=max(number, last) + 1)

    def _fetch_in_order(self, entity: str, criteria: dict[str, str], numbers: range
                        ) -> Iterator[tuple[int, bytes]]:
        """Fetch pages `concurrency` at a time, yielding in page order."""
        if self.concurrency == 1:
            for number in numbers:
                yield number, self._get(entity, criteria, number)
            return
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            pending: list[tuple[int, Future[bytes]]] = []
            iterator = iter(numbers)
            try:
                for number in iterator:
                    pending.append((number, pool.submit(self._get, entity, criteria, number)))
                    if len(pending) >= self.concurrency:
                        done_number, future = pending.pop(0)
                        yield done_number, future.result()
                for done_number, future in pending:
                    yield done_number, future.result()
            finally:
                for _, future in pending:
                    future.cancel()

    def _keyset_sweep(self, entity: str, window: Window, start_number: int
                      ) -> Iterator[RawPage]:
        """Sequential `entity_id gt last` paging: nothing can shift under it."""
        last_id = 0
        number = start_number
        while True:
            criteria = self._criteria(entity, window, after_id=last_id)
            body = self._get(entity, criteria, 1)
            envelope = _ENVELOPE.decode(body)
            yield RawPage(entity, number, body, self._describe(entity, 1, criteria))
            if not envelope.items or len(envelope.items) < self.page_size:
                return
            last_id = _last_id(envelope.items, entity, criteria)
            number += 1

    def _criteria(self, entity: str, window: Window, after_id: int | None = None
                  ) -> dict[str, str]:
        """searchCriteria: OR inside a group, AND between groups, so each bound is its own
        group (§3.1); ids and stores use `in` (§3, magento2#3996)."""
        groups: list[tuple[str, str, str]] = []
        if window.since:
            groups.append(("updated_at", window.text(window.since) or "", "gteq"))
        if window.until:
            groups.append(("updated_at", window.text(window.until) or "", "lteq"))
        if window.store_ids and entity != "customers":
            groups.append(("store_id", ",".join(map(str, window.store_ids)), "in"))
        if window.statuses and entity == "orders":
            groups.append(("status", ",".join(window.statuses), "in"))
        if window.entity_ids:
            groups.append(("entity_id", ",".join(map(str, window.entity_ids)), "in"))
        if window.order_ids and entity in ("invoices", "creditmemos"):
            groups.append(("order_id", ",".join(map(str, window.order_ids)), "in"))
        if after_id is not None:
            groups.append(("entity_id", str(after_id), "gt"))
        params: dict[str, str] = {}
        for g, (name, value, condition) in enumerate(groups):
            prefix = f"searchCriteria[filter_groups][{g}][filters][0]"
            params[f"{prefix}[field]"] = name
            params[f"{prefix}[value]"] = value
            params[f"{prefix}[condition_type]"] = condition
        params["searchCriteria[sortOrders][0][field]"] = "entity_id"
        params["searchCriteria[sortOrders][0][direction]"] = "ASC"
        params["searchCriteria[pageSize]"] = str(self.page_size)
        return params

    def _describe(self, entity: str, number: int, criteria: dict[str, str]) -> str:
        filters = []
        for key, value in criteria.items():
            if key.startswith("searchCriteria[filter_groups]") and key.endswith("[field]"):
                stem = key.removesuffix("[field]")
                filters.append(f"{value} {criteria[stem + '[condition_type]']} "
                               f"{criteria[stem + '[value]']}")
        where = f" where {' and '.join(filters)}" if filters else ""
        return f"GET {ENDPOINTS[entity]} page {number} (pageSize {self.page_size}){where}"

    # One request ------------------------------------------------------------------------------
    def _get(self, entity: str, criteria: dict[str, str], number: int) -> bytes:
        url = self.base_url + ENDPOINTS[entity]
        query = {**criteria, "searchCriteria[currentPage]": str(number)}
        where = self._describe(entity, number, criteria)
        response = send_with_retries(
            self.session, "GET", url, params=query, retry=self.retry, timeout=self.timeout,
            describe=where, auth_kind=self.auth_kind, cut_short=_cut_short,
            on_attempt=partial(self.on_request, where) if self.on_request else None,
            give_back=lambda r: r.status_code == 500
            and bool(_DUPLICATE_ID.search(magento_message(r))),
            exhausted_note="Nothing was skipped and the bookmark did not move; the next run "
                           "tries again.")
        status = response.status_code
        if status == 200:
            try:
                total = _ENVELOPE.decode(response.content).total_count
            except (msgspec.DecodeError, RecursionError) as exc:
                raise MagentoAnswerError(
                    f"Magento's answer to {where} ({url}) is JSON but not a search result "
                    f"({exc}): \"{first_bytes(response.content)}\". Check [magento] base_url "
                    "(the store's REST root, such as https://shop.example.com/rest/default) "
                    "and that nothing between sagesync and Magento rewrites its answers."
                    ) from None
            if not 0 <= total <= MAX_TOTAL_COUNT:
                raise MagentoAnswerError(f"Magento's answer to {where} says total_count "
                                         f"{total}, which no store has: check what answers "
                                         f"at {url}.")
            return response.content
        message = magento_message(response)
        if status == 400 and (found := _MAX_PAGE_SIZE.search(message)):
            raise _PageSizeTooLarge(int(found.group(1)))
        if status == 500:
            raise TransientError(
                f"Magento failed on {where}: {message}. This is magento2#32306: an "
                "extension joins a second row per order (payment, tax or fraud modules do), "
                "so Magento cannot list these orders. Nothing was lost and the bookmark did "
                "not move, but this will fail again until the duplicate rows are removed or "
                "the extension is fixed; the exported page range narrows it down.")
        raise SageSyncError(f"Magento answered {status} for {where}: {message}")


def _last_id(items: list[msgspec.Raw], entity: str, criteria: dict[str, str]) -> int:
    """The id to continue keyset paging after: the last item whose id can be read (a record
    with a broken id is quarantined by the export, not a reason to stop paging)."""
    for raw in reversed(items):
        try:
            identity = _IDENTITY.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            continue
        found = identity.entity_id if identity.entity_id is not None else identity.id
        if found is not None:
            return found
    raise SageSyncError(f"No item of a keyset page of {entity} has a readable id, so paging "
                        f"cannot go on safely ({criteria}).")
