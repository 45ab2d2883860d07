"""Push stock (MSI source items) and prices to Magento over REST (magento-rest.md §3.4, §7).

- Items go in chunks of `chunk_size` (default 20, Magento's sync input limit when input limits
  are on). A 400 `Maximum items of type "%type" is %max` lowers the chunk size to `max` and
  the push goes on.
- `POST /V1/inventory/source-items` is all-or-nothing: a 400 rejects the whole request. The
  unknown SKUs Magento names in `errors[]` ('Product with requested "sku": "X" was was not
  found.') are taken out at once; any other 400 ("Validation Failed: ...", "Could not save
  Source Item") is bisected: halves are sent recursively until each bad item stands alone
  and is reported with Magento's message; every good item is still sent. A half that is
  known to hold the fault (its sibling went through) is split without being sent again, so
  one bad item among 20 costs at most 9 requests. `source-items-delete` is never called.
- `POST /V1/products/base-prices` and `/V1/products/tier-prices` save the valid rows and answer
  200 with a list of failed rows; each failure is matched back to the rows it names (see
  `match_price_failure`) and the other rows count as sent. A 400 there is bisected as above.
- Unknown SKUs are reported (`PushReport.unknown_skus`), never created.
- 401/403 raise AuthError; 429, 5xx, timeouts and dropped connections are retried with backoff
  (`RetryPolicy`) and then raise TransientError; any other answer raises SageSyncError.
  Retrying a POST is safe: all three calls are upserts of the values sent.
- Numbers are encoded from Decimal as JSON numbers, digit for digit (never through float).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import msgspec
import requests
from requests.auth import AuthBase

from sagesync.errors import AuthError, SageSyncError
from sagesync.magento.auth import explain_401
from sagesync.magento.http import RetryPolicy, magento_message, send_with_retries

SOURCE_ITEMS_PATH = "/V1/inventory/source-items"
BASE_PRICES_PATH = "/V1/products/base-prices"
TIER_PRICES_PATH = "/V1/products/tier-prices"
DEFAULT_CHUNK_SIZE = 20  # webapi/validation/complex_array_limit default (magento-rest.md §3.4)

_MAX_ITEMS = re.compile(r'Maximum items of type "(.*)" is (\d+)')
#: 400s about the request's OAuth signature, not its items (Magento's OAuth helper): never
#: bisected, since every half would fail the same way.
_OAUTH_400 = re.compile(r"Oauth version|token length is invalid|Signature method .* is not "
                        r'supported|"oauth_\w+" is required', re.IGNORECASE)
_NO_ENVELOPE = re.compile(r'"(sourceItems|prices)" is required')
_NOT_FOUND = re.compile(r"not\s+found|does\s*n[o']t\s+exist", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*|\d+)")
#: Labels of the "Row ID: ..." clause of price failures, and the placeholder each one fills.
_ROW_LABELS = {
    "SKU": "SKU",
    "Store ID": "storeId",
    "Website ID": "websiteId",
    "Customer Group": "customerGroup",
    "Quantity": "qty",
}
_ROW_LABEL = re.compile(r"(SKU|Store ID|Website ID|Customer Group|Quantity)\s*[:=]")
_ENCODER = msgspec.json.Encoder(decimal_format="number")


# --------------------------------------------------------------------------- items


def _decimal(value: Any, name: str) -> Decimal:
    """Decimal from Decimal, int, str, or float (via its shortest repr, e.g. 19.99 -> "19.99")."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if isinstance(value, int | str):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise TypeError(f"{name} must be a number, not {value!r}") from None
    if isinstance(value, float):
        return Decimal(repr(value))
    raise TypeError(f"{name} must be a number, not {type(value).__name__}")


@dataclass(frozen=True)
class SourceItem:
    """Physical quantity of one SKU at one MSI source; status 1 in stock, 0 out of stock."""

    sku: str
    source_code: str
    quantity: Decimal
    status: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", _decimal(self.quantity, "quantity"))

    def row(self) -> dict[str, Any]:
        return {"sku": self.sku, "source_code": self.source_code,
                "quantity": self.quantity, "status": self.status}

    def problem(self) -> str | None:
        if not self.source_code.strip():
            return "source_code is empty"
        if not self.quantity.is_finite():
            return f"quantity {self.quantity} is not a finite number"
        if self.status not in (0, 1):
            return f'status {self.status} is not 0 or 1 (Magento: "status" should a known status)'
        return None


@dataclass(frozen=True)
class BasePrice:
    """Base price of one SKU; store_id 0 = global (default) scope."""

    sku: str
    price: Decimal
    store_id: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "price", _decimal(self.price, "price"))

    def row(self) -> dict[str, Any]:
        return {"price": self.price, "store_id": self.store_id, "sku": self.sku}

    def problem(self) -> str | None:
        if not self.price.is_finite():
            return f"price {self.price} is not a finite number"
        if self.price < 0:
            return f"price {self.price} is negative (Magento: Invalid attribute Price)"
        if self.store_id < 0:
            return f"store_id {self.store_id} is negative"
        return None


@dataclass(frozen=True)
class TierPrice:
    """Tier price: `customer_group` is the group code ("General", "ALL GROUPS"); website 0 = all.
    price_type "fixed" (a price) or "discount" (a percentage, 0-100).

    The code, never the id: the 2.4.8 schema's catalog-data-tier-price-interface has
    `customer_group` (string), and TierPriceValidator::checkGroup looks it up by
    `customer_group_code` (case-insensitive; "all groups" for every group), answering 200 with
    the failed row "No such entity with Customer Group = %customerGroup. Row ID: ..." for an
    id like "2" (magento-rest.md §7.2). That failure is matched back like any other."""

    sku: str
    price: Decimal
    website_id: int
    customer_group: str
    quantity: Decimal
    price_type: str = "fixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "price", _decimal(self.price, "price"))
        object.__setattr__(self, "quantity", _decimal(self.quantity, "quantity"))

    def row(self) -> dict[str, Any]:
        return {"price": self.price, "price_type": self.price_type,
                "website_id": self.website_id, "sku": self.sku,
                "customer_group": self.customer_group, "quantity": self.quantity}

    def problem(self) -> str | None:
        if not self.price.is_finite() or not self.quantity.is_finite():
            return "price and quantity must be finite numbers"
        if self.price < 0:
            return f"price {self.price} is negative (Magento: Invalid attribute Price)"
        if self.price_type not in ("fixed", "discount"):
            return f'price_type {self.price_type!r} is not "fixed" or "discount"'
        if self.price_type == "discount" and self.price > 100:
            return f"discount {self.price}% is over 100 (Magento: Invalid attribute Price)"
        if self.quantity <= 0:
            return f"quantity {self.quantity} is not positive"
        if not self.customer_group.strip():
            return "customer_group is empty"
        return None


Item = TypeVar("Item", SourceItem, BasePrice, TierPrice)


@dataclass
class PushReport(Generic[Item]):
    """What one push did. `failed` holds (item, reason): Magento's message with placeholders
    filled, or "not sent: ..." for items refused before sending. `requests` counts HTTP
    requests, retries included. `unknown_skus` (first-seen order) are SKUs Magento does not
    know (or, for prices, that are not of a priceable type): reported, never created."""

    sent: list[Item] = field(default_factory=list)
    failed: list[tuple[Item, str]] = field(default_factory=list)
    requests: int = 0
    unknown_skus: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def _unknown(self, sku: str) -> None:
        if sku not in self.unknown_skus:
            self.unknown_skus.append(sku)


# --------------------------------------------------------------------------- HTTP


@dataclass
class _Answer:
    """Magento's answer to one push request: 200 (with failed price rows) or 400."""

    status: int
    message: str = ""  # 400: Magento's message, placeholders filled
    errors: list[dict[str, Any]] = field(default_factory=list)  # 400: the `errors` list
    failures: list[dict[str, Any]] = field(default_factory=list)  # 200: failed price rows

    @property
    def ok(self) -> bool:
        return self.status == 200

    def reason(self) -> str:
        """The message, plus the errors[] entries it does not already say."""
        extra = []
        for error in self.errors:
            text = fill_message(str(error.get("message", "")), error.get("parameters"))
            if text and text not in self.message and text not in extra:
                extra.append(text)
        return self.message + (f" ({'; '.join(extra)})" if extra else "")

    def unknown_skus(self) -> set[str]:
        """SKUs that errors[] says do not exist: 'Product with requested "%field": "%value"
        was was not found.' with {"field": "sku", "value": SKU} (magento/inventory
        NotExistentSku, used by ExistentSkuValidator)."""
        found: set[str] = set()
        for error in self.errors:
            params = error.get("parameters")
            if (isinstance(params, dict) and str(params.get("field", "")).lower() == "sku"
                    and "value" in params and _NOT_FOUND.search(str(error.get("message", "")))):
                found.add(str(params["value"]))
        return found


class _TooManyItems(Exception):
    def __init__(self, maximum: int) -> None:
        self.maximum = maximum


@dataclass(frozen=True)
class _Endpoint:
    path: str
    envelope: str  # "sourceItems" or "prices"
    noun: str
    partial: bool  # 200 may list failed rows


_SOURCE_ITEMS = _Endpoint(SOURCE_ITEMS_PATH, "sourceItems", "source items", partial=False)
_BASE_PRICES = _Endpoint(BASE_PRICES_PATH, "prices", "base prices", partial=True)
_TIER_PRICES = _Endpoint(TIER_PRICES_PATH, "prices", "tier prices", partial=True)


# --------------------------------------------------------------------------- price failures


def fill_message(message: str, parameters: Any) -> str:
    """Fill a Magento message template from `parameters` (see `parse_price_failure` for
    lists with named placeholders). Unknown placeholders stay as they are."""
    return parse_price_failure(message, parameters).text


@dataclass(frozen=True)
class PriceFailure:
    """One failed row of a price API answer, decoded."""

    text: str  # the message, placeholders filled
    values: dict[str, str]  # placeholder name -> value, e.g. {"SKU": "X", "storeId": "1"}

    @property
    def sku(self) -> str | None:
        if "SKU" in self.values:
            return self.values["SKU"]
        if self.values.get("fieldName", "").lower() == "sku":
            return self.values.get("fieldValue")
        return None

    @property
    def unknown_sku(self) -> bool:
        """"Invalid attribute SKU = X" (tier) or "%fieldName = %fieldValue" with SKU (base):
        Magento's InvalidSkuProcessor found no product of a priceable type with that SKU."""
        return self.sku is not None and (
            self.values.get("fieldName", "").lower() == "sku"
            or self.text.startswith("Invalid attribute SKU"))

    @property
    def price(self) -> str | None:
        if self.values.get("fieldName", "").lower() == "price":
            return self.values.get("fieldValue")
        return None


def parse_price_failure(message: str, parameters: Any) -> PriceFailure:
    """Decode `{"message", "parameters"}` of a price API failure.

    Magento builds `parameters` from an associative array and REST sends only its values, in
    key order, while the message keeps named placeholders (BasePriceStorage, TierPriceValidator
    in Magento_Catalog). Hence:

    - dict parameters fill `%name`; a list fills `%1`, `%2`... positionally;
    - a list with named placeholders: when the message has a "Row ID: ..." clause, the last N
      parameters are the N fields that clause names, in its order (SKU, Store ID, Website ID,
      Customer Group, Quantity): Magento always puts the row's keys last. The parameters
      before them fill the message's other placeholders in order of appearance. Without a
      Row ID clause, placeholders take the parameters in order of first appearance
      (`Invalid attribute %fieldName = %fieldValue.` + ["SKU", "x"]).
    """
    values: dict[str, str] = {}
    if isinstance(parameters, dict):
        values = {str(k): _text(v) for k, v in parameters.items()}
    elif isinstance(parameters, list):
        params = [_text(v) for v in parameters]
        names = list(dict.fromkeys(_PLACEHOLDER.findall(message)))
        if names and all(n.isdigit() for n in names):
            values = {str(i): v for i, v in enumerate(params, start=1)}
        else:
            row_at = message.find("Row ID:")
            row_keys = ([_ROW_LABELS[m] for m in _ROW_LABEL.findall(message[row_at:])]
                        if row_at >= 0 else [])
            if row_keys and len(params) >= len(row_keys):
                lead = params[:len(params) - len(row_keys)]
                values = dict(zip(row_keys, params[len(lead):], strict=True))
                others = [n for n in names if n not in row_keys]
                values.update(zip(others, lead, strict=False))
            else:
                values = dict(zip(names, params, strict=False))
    text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), message)
    return PriceFailure(text, values)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _same_number(text: str, value: Decimal) -> bool:
    try:
        return Decimal(text) == value
    except (InvalidOperation, ValueError):
        return False


def match_price_failure(failure: PriceFailure, rows: Sequence[BasePrice | TierPrice]
                        ) -> list[int]:
    """Indexes of the rows a failure is about ([] when it names none of them).

    Rows with the failure's SKU (exact, then case-insensitive: MySQL compares SKUs without
    case), narrowed by each other field it names (store id, website id, customer group
    case-insensitively, quantity numerically) as long as some row is left: a duplicate found
    against an existing tier price names the existing row's website and quantity ("0",
    "3.0000"), not the one sent. A failure without a SKU but naming the price
    (`Invalid attribute %fieldName = %fieldValue.` + ["Price", "-5"]) matches every row with
    that price: Magento's check depends on the value alone.
    """
    sku = failure.sku
    if sku is None:
        price = failure.price
        if price is None:
            return []
        return [i for i, row in enumerate(rows) if _same_number(price, row.price)]
    found = [i for i, row in enumerate(rows) if row.sku == sku]
    if not found:
        found = [i for i, row in enumerate(rows) if row.sku.casefold() == sku.casefold()]
    values = failure.values
    checks: list[Callable[[BasePrice | TierPrice], bool]] = []
    if "storeId" in values:
        checks.append(lambda r: isinstance(r, BasePrice) and str(r.store_id) == values["storeId"])
    if "websiteId" in values:
        checks.append(lambda r: isinstance(r, TierPrice)
                      and str(r.website_id) == values["websiteId"])
    if "customerGroup" in values:
        checks.append(lambda r: isinstance(r, TierPrice)
                      and r.customer_group.casefold() == values["customerGroup"].casefold())
    if "qty" in values:
        checks.append(lambda r: isinstance(r, TierPrice) and _same_number(values["qty"],
                                                                          r.quantity))
    for check in checks:
        narrowed = [i for i in found if check(rows[i])]
        if narrowed:
            found = narrowed
    return found


# --------------------------------------------------------------------------- pusher


class CatalogPusher:
    """Pushes source items, base prices and tier prices to one store, with any `requests`
    auth (bearer, OAuth 1.0a...). Not thread-safe: one push at a time."""

    def __init__(self, base_url: str, auth: AuthBase, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 session: requests.Session | None = None, auth_kind: str = "bearer") -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.chunk_size = chunk_size  # lowered when Magento names a smaller input limit
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.auth = auth
        self.session.headers["Accept"] = "application/json"
        self.auth_kind = auth_kind  # bearer, oauth1, admin, ims: only changes the 401 hint

    # Public ---------------------------------------------------------------------------------
    def push_source_items(self, items: Sequence[SourceItem]) -> PushReport[SourceItem]:
        """POST /V1/inventory/source-items in chunks; bad items found by bisection."""
        return self._push(_SOURCE_ITEMS, items)

    def push_base_prices(self, items: Sequence[BasePrice]) -> PushReport[BasePrice]:
        """POST /V1/products/base-prices in chunks; failed rows matched back by SKU."""
        return self._push(_BASE_PRICES, items)

    def push_tier_prices(self, items: Sequence[TierPrice]) -> PushReport[TierPrice]:
        """POST /V1/products/tier-prices (adds or updates; never replaces a SKU's others)."""
        return self._push(_TIER_PRICES, items)

    # Chunks ---------------------------------------------------------------------------------
    def _push(self, endpoint: _Endpoint, items: Sequence[Item]) -> PushReport[Item]:
        report: PushReport[Item] = PushReport()
        ready: list[Item] = []
        for item in items:
            problem = _problem(item)
            if problem:
                report.failed.append((item, f"not sent: {problem}"))
            else:
                ready.append(item)
        start = 0
        while start < len(ready):
            chunk = ready[start:start + self.chunk_size]
            try:
                answer = self._post(endpoint, chunk, report, first_of_chunk=True)
            except _TooManyItems as limit:
                if not 1 <= limit.maximum < len(chunk):
                    raise SageSyncError(
                        f"Magento refuses {len(chunk)} {endpoint.noun} per request and names "
                        f"a maximum of {limit.maximum}.") from None
                self.chunk_size = limit.maximum  # and send this chunk again, smaller
                continue
            self._settle(endpoint, chunk, answer, report)
            start += len(chunk)
        return report

    def _settle(self, endpoint: _Endpoint, group: list[Item], answer: _Answer | None,
                report: PushReport[Item]) -> None:
        """Account for every item of `group`. `answer` is Magento's answer for a request that
        held `group` and nothing else at fault (None = not known yet: send it)."""
        if answer is None:
            answer = self._post(endpoint, group, report)
        if answer.ok:
            self._accept(group, answer, report)
            return
        unknown = answer.unknown_skus() & {item.sku for item in group}
        if unknown:
            rest = []
            for item in group:
                if item.sku in unknown:
                    report.failed.append((item, _unknown_reason(answer, item.sku)))
                    report._unknown(item.sku)
                else:
                    rest.append(item)
            if rest:
                self._settle(endpoint, rest, None, report)
            return
        if len(group) == 1:
            report.failed.append((group[0], answer.reason()))
            return
        middle = len(group) // 2
        left, right = group[:middle], group[middle:]
        left_answer = self._post(endpoint, left, report)
        self._settle(endpoint, left, left_answer, report)
        # The left half went through: the fault that failed `group` is in the right half, and
        # `answer` speaks of it alone. Otherwise the right half's fate is unknown.
        self._settle(endpoint, right, answer if left_answer.ok else None, report)

    def _accept(self, group: list[Item], answer: _Answer, report: PushReport[Item]) -> None:
        """A 200: the rows named by failed items failed, the others were saved."""
        reasons: dict[int, list[str]] = {}
        unidentified: list[str] = []
        for raw in answer.failures:
            failure = parse_price_failure(str(raw.get("message", "")), raw.get("parameters"))
            hits = match_price_failure(failure, group)  # type: ignore[arg-type]
            if not hits:
                unidentified.append(failure.text)
                continue
            for i in hits:
                reasons.setdefault(i, [])
                if failure.text not in reasons[i]:
                    reasons[i].append(failure.text)
            if failure.unknown_sku and failure.sku is not None:
                report._unknown(group[hits[0]].sku)
        if unidentified:
            # Magento saved some rows and rejected others it does not name in a way that can
            # be matched: rather than report a rejected row as sent, fail every other row too.
            note = ("Magento rejected a row of this request that it does not identify, so "
                    f"this row may not have been saved: {'; '.join(unidentified)}")
            for i in range(len(group)):
                reasons.setdefault(i, [note])
        for i, item in enumerate(group):
            if i in reasons:
                report.failed.append((item, "; ".join(reasons[i])))
            else:
                report.sent.append(item)

    # One request ----------------------------------------------------------------------------
    def _post(self, endpoint: _Endpoint, group: list[Item], report: PushReport[Item], *,
              first_of_chunk: bool = False) -> _Answer:
        body = _ENCODER.encode({endpoint.envelope: [item.row() for item in group]})
        where = _describe(endpoint, group)

        def count() -> None:
            report.requests += 1

        response = send_with_retries(
            self.session, "POST", self.base_url + endpoint.path, body=body, retry=self.retry,
            timeout=self.timeout, describe=where, on_attempt=count, auth_kind=self.auth_kind,
            exhausted_note="Earlier requests may have landed; pushes are idempotent, so the "
                           "next run sends everything again.")
        status = response.status_code
        if status == 200:
            return _Answer(200, failures=_failed_rows(response, endpoint, where))
        message = magento_message(response)
        if status == 400 and _OAUTH_400.search(message):
            raise AuthError(f"Magento refused the OAuth signature (400) for {where}: {message}",
                            hint=explain_401(message, self.auth_kind))
        if status == 400 and _NO_ENVELOPE.search(message):
            raise SageSyncError(f"Magento did not find the items in {where}: {message}")
        if status == 400:
            found = _MAX_ITEMS.search(message)
            if found and first_of_chunk:
                raise _TooManyItems(int(found.group(2)))
            return _Answer(400, message=message, errors=_errors(response))
        raise SageSyncError(f"Magento answered {status} for {where}: {message}")


def _problem(item: SourceItem | BasePrice | TierPrice) -> str | None:
    if not isinstance(item.sku, str) or not item.sku.strip():
        return "the SKU is empty"
    if item.sku != item.sku.strip():
        return f"SKU {item.sku!r} has leading or trailing spaces"
    return item.problem()


def _unknown_reason(answer: _Answer, sku: str) -> str:
    for error in answer.errors:
        params = error.get("parameters")
        if isinstance(params, dict) and str(params.get("value")) == sku:
            return fill_message(str(error.get("message", "")), params)
    return answer.message


def _describe(endpoint: _Endpoint, group: Sequence[Item]) -> str:
    skus = f"{group[0].sku}" if len(group) == 1 else f"{group[0].sku} … {group[-1].sku}"
    return f"POST {endpoint.path} ({len(group)} {endpoint.noun}: {skus})"


def _json(response: requests.Response) -> Any:
    if not response.content.strip():
        return None
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return ...  # not JSON


def _failed_rows(response: requests.Response, endpoint: _Endpoint, where: str
                 ) -> list[dict[str, Any]]:
    data = _json(response)
    if data is None or data == []:
        return []
    if endpoint.partial and isinstance(data, list) and all(isinstance(x, dict) for x in data):
        return data
    if not endpoint.partial and data in (True, [], {}):
        return []
    raise SageSyncError(f"Magento's answer to {where} is not what this call returns: "
                        f"{response.text[:200]!r}")


def _errors(response: requests.Response) -> list[dict[str, Any]]:
    data = _json(response)
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def bisection_bound(chunk_size: int) -> int:
    """Most requests one bad item among `chunk_size` costs, the first request included (9 for
    20): per halving, the first half is sent, and the second too when the fault was in the
    first; a half known to hold the fault is never sent whole again."""

    @functools.cache
    def settle(n: int) -> int:  # requests to settle a group of n known to hold the one fault
        if n <= 1:
            return 0
        left = n // 2
        return max(2 + settle(left), 1 + settle(n - left))

    return 1 + settle(max(1, chunk_size))
