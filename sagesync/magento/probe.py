"""Look at a live store without changing it: one request per question, answered as data.

`sagesync doctor` asks whether each endpoint a recipe's steps call lets the credentials in
(naming the ACL resource when not), and `sagesync init` reads the store views and tax rates to
fill a new recipe. Nothing here retries for long or raises on a refusal: a refusal is the
answer. Secrets never reach an answer's text (Magento's messages do not echo them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from requests.auth import AuthBase

from sagesync.errors import SageSyncError
from sagesync.magento.answers import magento_message, short, tls_failure

#: What each probe asks, and the ACL resource Magento's webapi.xml puts on the route (the
#: resource a 401/403 body names wins when it names one).
ENDPOINTS: dict[str, tuple[str, str, str]] = {
    # name: (method, path, ACL resource)
    "orders": ("GET", "/V1/orders", "Magento_Sales::actions_view"),
    "invoices": ("GET", "/V1/invoices", "Magento_Sales::sales_invoice"),
    "creditmemos": ("GET", "/V1/creditmemos", "Magento_Sales::sales_creditmemo"),
    "customers": ("GET", "/V1/customers/search", "Magento_Customer::customer"),
    "store views": ("GET", "/V1/store/storeViews", "Magento_Backend::store"),
    "tax rates": ("GET", "/V1/taxRates/search", "Magento_Tax::manage_tax"),
    "stock (source items)": ("GET", "/V1/inventory/source-items", "Magento_InventoryApi::source"),
    "prices": ("POST", "/V1/products/base-prices-information", "Magento_Catalog::products"),
}
ONE_ROW = {"searchCriteria[pageSize]": "1", "searchCriteria[currentPage]": "1"}


@dataclass(frozen=True)
class Answer:
    """What one request got: an HTTP status (0: no answer at all) and Magento's words."""

    status: int
    message: str
    resource: str = ""  # the ACL resource a refusal names, else the route's
    body: Any = None  # the decoded JSON of a 200

    @property
    def refused(self) -> bool:
        return self.status in (401, 403)


class StoreReader:
    """A session on one store: `ask` one endpoint, or read the facts `init` fills in."""

    def __init__(self, base_url: str, auth: AuthBase, *, timeout: float = 20.0,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers["Accept"] = "application/json"

    def ask(self, name: str, params: dict[str, str] | None = None) -> Answer:
        """One probe of `ENDPOINTS[name]` (a search asks for one row only)."""
        method, path, resource = ENDPOINTS[name]
        body = json.dumps({"skus": []}) if method == "POST" else None
        if method == "GET" and path.endswith(("/search", "/orders", "/invoices",
                                               "/creditmemos", "/source-items")):
            params = {**ONE_ROW, **(params or {})}
        return self.request(method, path, resource, params=params, body=body)

    def request(self, method: str, path: str, resource: str = "", *,
                params: dict[str, str] | None = None, body: str | None = None) -> Answer:
        url = self.base_url + path
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            response = self.session.request(method, url, params=params, data=body,
                                            headers=headers, timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            return Answer(0, str(tls_failure(url, f"{method} {path}", exc)))
        except requests.RequestException as exc:
            return Answer(0, f"no answer from {url}: {short(exc)}")
        except SageSyncError as exc:  # a token mode (admin, ims) could not get its token
            return Answer(401, str(exc), resource)
        if response.status_code in (401, 403):
            return Answer(response.status_code, magento_message(response),
                          _named_resource(response) or resource)
        if response.status_code != 200:
            return Answer(response.status_code, magento_message(response), resource)
        try:
            return Answer(200, "", resource, response.json())
        except ValueError:
            return Answer(-1, "the answer is not JSON (is base_url the store's REST root, "
                          "such as https://shop.example.com/rest/default?)", resource)

    def search(self, path: str, params: dict[str, str], limit: int = 1000) -> list[Any]:
        """The items of a search, page by page up to `limit`; a refusal or an odd answer
        raises SageSyncError saying which."""
        items: list[Any] = []
        page = 1
        while len(items) < limit:
            answer = self.request("GET", path, params={
                **params, "searchCriteria[pageSize]": "100",
                "searchCriteria[currentPage]": str(page)})
            if answer.status != 200 or not isinstance(answer.body, dict):
                raise SageSyncError(f"GET {path}: {answer.status} {answer.message}".strip())
            found = answer.body.get("items") or []
            items.extend(found)
            if not found or len(items) >= int(answer.body.get("total_count") or 0):
                break
            page += 1
        return items[:limit]


def _named_resource(response: requests.Response) -> str:
    """The `%resources` parameter of Magento's "isn't authorized" answer, if it has one."""
    try:
        data = response.json()
    except ValueError:
        return ""
    params = data.get("parameters") if isinstance(data, dict) else None
    if isinstance(params, dict) and isinstance(params.get("resources"), str):
        return params["resources"]
    return ""


@dataclass(frozen=True)
class StoreView:
    id: int
    code: str
    name: str
    website_id: int


@dataclass(frozen=True)
class TaxRate:
    """A Magento tax rate (Stores > Tax Zones and Rates): its percent and its code."""

    rate: Decimal
    code: str
    country: str


def store_views(reader: StoreReader) -> list[StoreView]:
    """The store views, admin (id 0) left out: orders never belong to it."""
    answer = reader.request("GET", "/V1/store/storeViews", ENDPOINTS["store views"][2])
    if answer.status != 200 or not isinstance(answer.body, list):
        raise SageSyncError(f"GET /V1/store/storeViews: {answer.status} {answer.message}")
    return [StoreView(int(v["id"]), str(v.get("code", "")), str(v.get("name", "")),
                      int(v.get("website_id") or 0))
            for v in answer.body if isinstance(v, dict) and int(v.get("id") or 0) > 0]


def tax_rates(reader: StoreReader) -> list[TaxRate]:
    found: list[TaxRate] = []
    for item in reader.search("/V1/taxRates/search", {}):
        rate = percent(item.get("rate"))
        if rate is not None:
            found.append(TaxRate(rate, str(item.get("code", "")),
                                 str(item.get("tax_country_id", ""))))
    return found


def percent(value: Any) -> Decimal | None:
    """A tax percent as the recipe's `tax_codes` keys it (20.0000 -> 20)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number.normalize() if number.is_finite() else None


def percent_text(rate: Decimal) -> str:
    """20 for 2E+1 and 20.000, 17.5 for 17.50: as a recipe's `tax_codes` key is written."""
    text = f"{rate:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
