"""Where Magento pages come from: a folder of saved REST responses, or a live store.

Both yield the verbatim response bodies page by page; decoding is the caller's job, so the
export can keep every raw page for audit and replay exactly as it was received.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import requests

from sagesync.errors import AuthError, SageSyncError, TransientError, UsageError

ENDPOINTS = {
    "orders": "/V1/orders",
    "invoices": "/V1/invoices",
    "creditmemos": "/V1/creditmemos",
    "customers": "/V1/customers/search",
}
MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"  # UTC, no offset (magento-rest.md §3.6)


@dataclass(frozen=True)
class RawPage:
    """One response body and where it came from (a file path or a request description)."""

    entity: str
    number: int
    body: bytes
    origin: str


@dataclass(frozen=True)
class Window:
    """The `updated_at` window of an export, in UTC; either end may be open."""

    since: datetime | None = None
    until: datetime | None = None
    store_ids: tuple[int, ...] = ()

    def text(self, value: datetime | None) -> str | None:
        return None if value is None else value.strftime(MAGENTO_TIME)


class PageSource(Protocol):
    def pages(self, entity: str, window: Window) -> Iterator[RawPage]: ...


class FolderSource:
    """Saved pages: `<folder>/<entity>/*.json`, read in name order.

    The window is applied by the caller after decoding (the files hold whatever was saved).
    """

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError(f"Magento source folder not found or not a folder: {folder}",
                             hint="Set [magento] source in the recipe, or pass --source.")
        self.folder = folder

    def pages(self, entity: str, window: Window) -> Iterator[RawPage]:
        entity_dir = self.folder / entity
        if not entity_dir.is_dir():
            return
        for number, path in enumerate(sorted(entity_dir.glob("*.json")), start=1):
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise UsageError(f"Cannot read {path}: {exc.strerror}") from None
            yield RawPage(entity, number, body, str(path))


class RestSource:
    """A live store over REST with a bearer token: explicit pageSize, sort on entity_id,
    stop on total_count (never on an empty or repeated page, magento-rest.md §3.3)."""

    def __init__(self, base_url: str, token: str, *, page_size: int = 100,
                 timeout: float = 30.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    def pages(self, entity: str, window: Window) -> Iterator[RawPage]:
        url = self.base_url + ENDPOINTS[entity]
        params = self._criteria(entity, window)
        page, last = 1, 1
        while page <= last:
            query = {**params, "searchCriteria[currentPage]": str(page)}
            body = self._get(url, query, entity, page)
            total = _total_count(body, url)
            last = max(1, math.ceil(total / self.page_size))
            yield RawPage(entity, page, body, f"GET {ENDPOINTS[entity]} page {page}")
            page += 1

    def _criteria(self, entity: str, window: Window) -> dict[str, str]:
        groups: list[tuple[str, str, str]] = []
        if window.since:
            groups.append(("updated_at", window.text(window.since) or "", "gteq"))
        if window.until:
            groups.append(("updated_at", window.text(window.until) or "", "lteq"))
        if window.store_ids and entity != "customers":
            groups.append(("store_id", ",".join(map(str, window.store_ids)), "in"))
        params: dict[str, str] = {}
        for g, (field, value, condition) in enumerate(groups):
            prefix = f"searchCriteria[filter_groups][{g}][filters][0]"
            params[f"{prefix}[field]"] = field
            params[f"{prefix}[value]"] = value
            params[f"{prefix}[condition_type]"] = condition
        params["searchCriteria[sortOrders][0][field]"] = "entity_id"
        params["searchCriteria[sortOrders][0][direction]"] = "ASC"
        params["searchCriteria[pageSize]"] = str(self.page_size)
        return params

    def _get(self, url: str, query: dict[str, str], entity: str, page: int) -> bytes:
        where = f"{entity} page {page} ({url})"
        try:
            response = self.session.get(url, params=query, timeout=self.timeout)
        except requests.Timeout:
            raise TransientError(f"Magento did not answer in {self.timeout:g} s for {where}. "
                                 "Nothing was lost; the next run retries.") from None
        except requests.ConnectionError as exc:
            raise TransientError(f"Cannot reach Magento for {where}: {_reason(exc)}. "
                                 "Nothing was lost; the next run retries.") from None
        status = response.status_code
        if status in (401, 403):
            raise AuthError(f"Magento refused the credentials ({status}) for {where}: "
                            f"{_message(response)}",
                            hint="Check [magento] token. With an integration token on Magento "
                                 "2.4.4+, 'Allow OAuth Access Tokens to be used as standalone "
                                 "Bearer tokens' must be enabled.")
        if status == 429 or status >= 500:
            raise TransientError(f"Magento answered {status} for {where}: {_message(response)}. "
                                 "Nothing was lost; the next run retries.")
        if status != 200:
            raise SageSyncError(f"Magento answered {status} for {where}: {_message(response)}")
        return response.content


def _total_count(body: bytes, url: str) -> int:
    import msgspec

    class _Envelope(msgspec.Struct):
        total_count: int

    try:
        return msgspec.json.decode(body, type=_Envelope).total_count
    except msgspec.DecodeError as exc:
        raise SageSyncError(f"Magento's answer from {url} is not a search result "
                            f"(no total_count): {exc}") from None


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
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
    return str(data)[:200]


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "…"
