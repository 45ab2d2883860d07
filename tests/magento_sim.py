"""HTTP simulator of the parts of Magento 2's REST API that sagesync reads.

Stdlib only, so the test suite and a developer's laptop need nothing beyond Python (OAuth
1.0a verification, used only with ``oauth=...``, imports oauthlib when first needed). The
behaviour follows shared/reference/magento-rest.md (§3 searchCriteria, §4 auth, §8
issues): where Magento versions differ (page past the end, default page size, page-size cap)
the difference is a constructor option, so one test can pin each behaviour.

Run by hand::

    python tests/magento_sim.py --data samples/magento --port 8080 --token T

Deliberate simplifications (documented so nobody mistakes them for Magento facts):

* Filters on a field no row has act as if the column were NULL (real Magento answers 500
  "Column not found"); the simulator cannot know the table schema.
* String comparisons (eq, like, in, ranges, sorting) are case-insensitive, as with MySQL's
  default ``*_general_ci`` collation; values are compared as numbers when both sides look
  numeric, and a date-only value is widened to ``YYYY-MM-DD 00:00:00`` against datetimes.
* An unknown ``condition_type`` (e.g. ``moreq``) falls through to ``=`` - that is what the
  fallback branch of ``Pdo\\Mysql::prepareSqlCondition`` does [inferred from the code path].

Authentication (§4), all optional; with none of them the simulator accepts only ``token``:

* ``oauth=(consumer_key, consumer_secret, access_token, token_secret)``: OAuth 1.0a checked the
  way 2.4.4+ ``Magento\\Framework\\Oauth\\Oauth`` does (same order and messages: version, required
  parameters, token length, HMAC-SHA256 only - anything else is 400 "Signature method %1 is not
  supported" -, consumer, timestamp at most 600 s ahead, nonce reuse, token, signature), the
  signature recomputed by oauthlib from the received method, URL, query and form body.
  Magento's base string sorts names with PHP's natural order where oauthlib uses byte order;
  they agree unless names differ at a multi-digit number. ``integration_as_bearer=True`` also
  accepts the access token as a bearer token (2.4.4+: off by default).
* ``admin=(username, password)``: ``POST /V1/integration/admin/token`` issues tokens valid for
  ``admin_token_lifetime`` seconds; wrong credentials are 401, 6 failures lock the user for
  1800 s; ``admin_2fa=True`` answers valid credentials with Magento_TwoFactorAuth's 400.
* ``ims=(client_id, client_secret, org_id)``: an IMS token endpoint at ``/ims/token/v3`` (see
  ``ims_url``) issuing tokens for ``ims_expires_in`` seconds. ``accs=True`` serves Adobe
  Commerce as a Cloud Service: base path ``/<tenant_id>``, IMS tokens only, and the gateway
  headers ``x-api-key``, ``x-gw-ims-org-id`` and ``Store`` required. IMS error bodies
  (RFC 6749 ``error``/``error_description``) and the gateway's answers to missing headers are
  the simulator's own choice: the reference has no captured examples.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import functools
import hmac
import json
import math
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ADMIN_TOKEN_ENDPOINT",
    "ENTITY_ID_KEYS",
    "IMS_TOKEN_PATH",
    "ApiError",
    "CutResponse",
    "Fault",
    "FaultPlan",
    "MagentoSimulator",
    "RecordedRequest",
    "parse_php_query",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_LIST_ENTITIES = ("orders", "invoices", "creditmemos", "shipments")  # GET takes searchCriteria

#: The list endpoints' entities and the key that identifies a row of each.
ENTITY_ID_KEYS: dict[str, str] = {
    "orders": "entity_id",
    "invoices": "entity_id",
    "creditmemos": "entity_id",
    "customers": "id",
    "shipments": "entity_id",  # made by POST /V1/order/{id}/ship (see _ship)
}

# Magento message templates (placeholders are filled client-side from "parameters").
MSG_REQUIRED = '"%fieldName" is required. Enter and try again.'
MSG_SORT_DIRECTION = (
    "The sort order has to be specified as ASC for ascending order or DESC for descending order."
)
MSG_MAX_PAGE_SIZE = "Maximum SearchCriteria pageSize is %max"
MSG_UNAUTHORIZED = "The consumer isn't authorized to access %resources."
MSG_NO_ROUTE = "Request does not match any route."
MSG_NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
MSG_NO_SUCH_FIELD = "No such entity with %fieldName = %fieldValue"
MSG_BAD_TYPE = (
    'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.'
)
# Authentication messages (Magento 2.4 Oauth.php, Nonce\Generator.php, Token\Provider.php,
# AdminTokenService / RequestThrottler, TwoFactorAuth BlockAdminTokenCreation).
MSG_OAUTH_VERSION = 'The "%1" Oauth version isn\'t supported.'
MSG_OAUTH_TOKEN_LENGTH = "The token length is invalid. Check the length and try again."
MSG_OAUTH_METHOD = "Signature method %1 is not supported"
MSG_OAUTH_CONSUMER_LENGTH = "Consumer key is not the correct length"
MSG_OAUTH_NO_CONSUMER = "A consumer having the specified key does not exist"
MSG_OAUTH_TIMESTAMP = "Incorrect timestamp value in the oauth_timestamp parameter"
MSG_OAUTH_NONCE = "The nonce is already being used by the consumer with ID %1"
MSG_OAUTH_NO_TOKEN = "Specified token does not exist"
MSG_OAUTH_SIGNATURE = "The signature is invalid. Verify and try again."
MSG_ADMIN_SIGN_IN = ("The account sign-in was incorrect or your account is disabled temporarily. "
                     "Please wait and try again later.")
MSG_2FA = "Please use the 2fa provider-specific endpoints to obtain a token."
ADMIN_TOKEN_ENDPOINT = "/V1/integration/admin/token"
IMS_TOKEN_PATH = "/ims/token/v3"
_OAUTH_REQUIRED = ("oauth_consumer_key", "oauth_signature", "oauth_signature_method",
                   "oauth_nonce", "oauth_timestamp", "oauth_token")
_OAUTH_TIME_DEVIATION = 600  # Nonce\Generator::TIME_DEVIATION
_ADMIN_MAX_FAILURES = 6  # oauth/authentication_lock/max_failures_count
_ADMIN_LOCK_SECONDS = 1800  # oauth/authentication_lock/timeout
_MAGENTO_KEY_LENGTH = 32  # Helper\Oauth::LENGTH_CONSUMER_KEY / LENGTH_TOKEN

MSG_DUPLICATE_ID = (
    'Item (Magento\\Sales\\Model\\Order\\Interceptor) with the same ID "%s" already exists.'
)

_GATEWAY_TITLES = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


# --------------------------------------------------------------------------- data types


@dataclass
class RecordedRequest:
    """One request as the simulator saw it, kept so tests can assert what a client sent."""

    method: str
    path: str  # full URL path, e.g. /rest/default/V1/orders
    query: dict[str, str]  # raw keys, e.g. {"searchCriteria[pageSize]": "50"}; last value wins
    headers: dict[str, str]
    body: bytes = b""
    endpoint: str = ""  # path below base_path, e.g. /V1/orders ("" when outside base_path)
    acl_resource: str | None = None  # ACL resource of the matched route, set before authorize()
    received_at: float = field(default_factory=time.monotonic)
    raw_query: str | None = field(default=None, repr=False)  # undecoded query string

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
        lname = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lname), None)

    @property
    def params(self) -> dict[str, Any]:
        """Query decoded the way PHP does (nested dicts), as Magento receives it."""
        if self.raw_query is None:
            return parse_php_query(self.query.items())
        return parse_php_query(parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def search_criteria(self) -> dict[str, Any] | None:
        """The searchCriteria tree with keys normalised to snake_case, or None if absent."""
        raw = self.params.get("searchCriteria")
        return _snake_tree(raw) if isinstance(raw, dict) else None

    @property
    def current_page(self) -> int | None:
        """Effective page number (Magento treats absent or <= 0 as 1); None if not an int."""
        sc = self.search_criteria or {}
        return _effective_page(sc.get("current_page"))

    @property
    def page_size(self) -> int | None:
        """pageSize as sent (None when absent or not an integer)."""
        sc = self.search_criteria or {}
        return _maybe_int(sc.get("page_size"))


@dataclass(eq=False)
class ApiError(Exception):
    """An error response; raised inside handlers, returned by authorize()."""

    status: int
    message: str
    parameters: Mapping[str, Any] | list[Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more body keys, e.g. {"trace": None}
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message} {self.parameters or ''}".rstrip()

    def body(self) -> dict[str, Any]:
        """Magento's error envelope: ``parameters`` only when there are any."""
        out: dict[str, Any] = {"message": self.message}
        if self.parameters:
            out["parameters"] = self.parameters
        out.update(self.extra)
        return out


FaultKind = Literal["status", "duplicate_id_500"]
#: How a body is cut off: "length" promises the whole body in Content-Length and sends half;
#: "chunked" sends half in one chunk and never the closing chunk. Either way the connection
#: then closes, as when a PHP worker or a proxy dies mid-answer.
CutKind = Literal["length", "chunked"]


@dataclass
class Fault:
    """One injected failure; see FaultPlan.add for the meaning of each field."""

    path_prefix: str = "/V1/"
    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    kind: FaultKind | None = None
    current_page: int | None = None
    method: str | None = None
    times: int | None = 1  # None = every matching request
    retry_after: str | None = None
    body: bytes | str | dict[str, Any] | None = None
    content_type: str | None = None
    duplicate_id: str = "93310"
    cut: CutKind | None = None
    hits: int = 0

    def matches(self, req: RecordedRequest) -> bool:
        """Whether this fault applies to ``req`` (path prefix on full path or endpoint)."""
        if self.method is not None and self.method.upper() != req.method:
            return False
        if not (req.path.startswith(self.path_prefix) or req.endpoint.startswith(self.path_prefix)):
            return False
        return self.current_page is None or req.current_page == self.current_page

    @property
    def exhausted(self) -> bool:
        """True once the fault has fired ``times`` times."""
        return self.times is not None and self.hits >= self.times


class FaultPlan:
    """Queue of faults; the first unexhausted match fires on a request and is consumed.

    Faults act before routing and auth, as a proxy, rate limiter or crashing PHP worker would.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        path_prefix: str = "/V1/",
        *,
        status: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        kind: FaultKind | None = None,
        current_page: int | None = None,
        method: str | None = None,
        times: int | None = 1,
        retry_after: float | str | None = None,
        body: bytes | str | dict[str, Any] | None = None,
        content_type: str | None = None,
        duplicate_id: str | int = "93310",
        cut: CutKind | None = None,
    ) -> Fault:
        """Queue a fault.

        ``path_prefix`` matches the full path or the path below base_path (``/V1/orders``).
        ``status`` sends that status with a realistic body (429: Retry-After + Magento's JSON;
        500: Magento's masked "Internal Error"; 502/503/504: an HTML gateway/maintenance page);
        ``delay`` sleeps first (alone it just slows the request, which is then served);
        ``drop`` closes the connection without any response; ``kind="duplicate_id_500"`` sends
        the magento2#32306 body. ``times`` = how many matching requests it hits (None = all).
        ``cut`` serves the real answer (or ``status``/``body``) but breaks it off halfway.
        ``status=200`` with ``body`` serves that body as a success (an HTML login or
        maintenance page a proxy answers with, or a JSON cut short by a dying worker).
        """
        if kind == "duplicate_id_500":
            status = 500
        if status is None and not drop and delay <= 0 and cut is None:
            raise ValueError("a fault needs status, kind, drop, delay or cut")
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(
            path_prefix=path_prefix,
            status=status,
            delay=delay,
            drop=drop,
            kind=kind,
            current_page=current_page,
            method=method,
            times=times,
            retry_after=None if retry_after is None else _fmt_retry_after(retry_after),
            body=body,
            content_type=content_type,
            duplicate_id=str(duplicate_id),
            cut=cut,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def too_many_requests(self, path_prefix: str = "/V1/", *, retry_after: float | str = 1,
                          **kw: Any) -> Fault:
        """429 with ``Retry-After`` (what Adobe's own ACCS sample client honours)."""
        return self.add(path_prefix, status=429, retry_after=retry_after, **kw)

    def status(self, status: int, path_prefix: str = "/V1/", **kw: Any) -> Fault:
        """Plain HTTP error status, e.g. 500, 502, 503, 504."""
        return self.add(path_prefix, status=status, **kw)

    def delay(self, seconds: float, path_prefix: str = "/V1/", **kw: Any) -> Fault:
        """Slow one request down (then serve it normally), e.g. to trip a client timeout."""
        return self.add(path_prefix, delay=seconds, **kw)

    def drop(self, path_prefix: str = "/V1/", **kw: Any) -> Fault:
        """Close the TCP connection without answering."""
        return self.add(path_prefix, drop=True, **kw)

    def duplicate_id_500(self, path_prefix: str = "/V1/orders", **kw: Any) -> Fault:
        """500 "Item ... with the same ID already exists." (magento2#32306)."""
        return self.add(path_prefix, kind="duplicate_id_500", **kw)

    def cut_body(self, path_prefix: str = "/V1/", *, how: CutKind = "length",
                 **kw: Any) -> Fault:
        """Serve the real answer but stop halfway through its body and close the connection."""
        return self.add(path_prefix, cut=how, **kw)

    def html_200(self, body: str, path_prefix: str = "/V1/", **kw: Any) -> Fault:
        """200 text/html instead of JSON: a login, maintenance or WAF page in front of Magento."""
        return self.add(path_prefix, status=200, body=body,
                        content_type="text/html; charset=UTF-8", **kw)

    def take(self, req: RecordedRequest) -> Fault | None:
        """Consume and return the first fault matching ``req`` (thread-safe)."""
        with self._lock:
            for fault in self._faults:
                if not fault.exhausted and fault.matches(req):
                    fault.hits += 1
                    return fault
        return None

    @property
    def pending(self) -> list[Fault]:
        """Faults that can still fire."""
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def clear(self) -> None:
        """Forget all faults."""
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        return len(self.pending)


def _fmt_retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


# --------------------------------------------------------------------------- query decoding


_SEGMENT = re.compile(r"\[([^\]]*)\]")


def parse_php_query(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode ``a[b][0][c]=v`` pairs into nested dicts the way PHP's parse_str does.

    Lists stay dicts keyed by index string (order = order in the URL), because that is what
    Magento iterates over; ``[]`` appends the next integer index.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        bracket = key.find("[")
        name = key if bracket < 0 else key[:bracket]
        if not name:
            continue
        segments = _SEGMENT.findall(key[bracket:]) if bracket >= 0 else []
        if bracket >= 0 and not segments:  # "a[" - PHP keeps the literal name
            name, segments = key, []
        node = root
        path = [name, *segments]
        for i, seg in enumerate(path):
            if seg == "":
                ints = [int(k) for k in node if k.lstrip("-").isdigit()]
                seg = str(max(ints) + 1 if ints else 0)
            if i == len(path) - 1:
                node[seg] = value
            else:
                child = node.get(seg)
                if not isinstance(child, dict):
                    child = {}
                    node[seg] = child
                node = child
    return root


_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(key: str) -> str:
    """filterGroups -> filter_groups; filter_groups unchanged (Magento accepts both)."""
    return _CAMEL_BOUNDARY.sub("_", key).lower()


def _snake_tree(node: Any) -> Any:
    if isinstance(node, dict):
        return {_snake(k): _snake_tree(v) for k, v in node.items()}
    return node


def _maybe_int(value: Any) -> int | None:
    try:
        return _to_int(value)
    except ApiError:
        return None


def _to_int(value: Any) -> int | None:
    """Magento's int coercion of a query value: numeric -> int, anything else -> 400."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*", value):
        return int(float(value))
    raise ApiError(400, MSG_BAD_TYPE, {"value": value if isinstance(value, str) else "Array",
                                       "type": "int"})


def _effective_page(value: Any) -> int | None:
    page = _maybe_int(value) if value is not None else 1
    if page is None:
        return None
    return max(page, 1)


# --------------------------------------------------------------------------- comparisons

_NUMERIC = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMERIC.fullmatch(value):
        return float(value)
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _norm_datetime(text: str, other: str) -> str:
    """Widen a date to a datetime when the other side is one (MySQL casts the literal)."""
    if _DATETIME.fullmatch(other) and _DATE.fullmatch(text):
        return text + " 00:00:00"
    if _DATETIME.fullmatch(text):
        return text.replace("T", " ")
    return text


def _cmp(a: Any, b: Any) -> int:
    """Three-way compare of two non-NULL SQL values: numeric if both numeric, else text (ci)."""
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    ta, tb = _as_text(a), _as_text(b)
    ta, tb = _norm_datetime(ta, tb).casefold(), _norm_datetime(tb, ta).casefold()
    return (ta > tb) - (ta < tb)


def _like(value: Any, pattern: str) -> bool:
    """SQL LIKE: % any run, _ one char, backslash escapes; case-insensitive (ci collation)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), _as_text(value), re.IGNORECASE | re.DOTALL) is not None


def _finset(value: Any, needle: str) -> bool:
    return any(_cmp(part, needle) == 0 for part in _as_text(value).split(","))


def _filter_matches(row: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    """One filter against one row, with SQL NULL semantics (NULL fails every test but null)."""
    cond = str(flt.get("condition_type") or "eq").lower()
    value = flt.get("value")
    actual = row.get(str(flt["field"]))
    if cond == "null":
        return actual is None
    if cond == "notnull":
        return actual is not None
    if actual is None:
        return False
    text = "" if value is None else str(value)
    if cond in ("like", "nlike", "fulltext"):
        pattern = f"%{text}%" if cond == "fulltext" else text
        return _like(actual, pattern) != (cond == "nlike")
    if cond in ("in", "nin"):
        hit = any(_cmp(actual, v) == 0 for v in text.split(","))
        return hit != (cond == "nin")
    if cond in ("finset", "nfinset"):
        return _finset(actual, text) != (cond == "nfinset")
    c = _cmp(actual, text)
    checks: dict[str, bool] = {
        "neq": c != 0,
        "gt": c > 0,
        "lt": c < 0,
        "gteq": c >= 0,
        "from": c >= 0,
        "lteq": c <= 0,
        "to": c <= 0,
    }
    return checks.get(cond, c == 0)  # eq, and the prepareSqlCondition fallback for unknown types


def _sort_cmp(a: Any, b: Any) -> int:
    """ORDER BY comparison: NULL sorts first (MySQL), then _cmp."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return _cmp(a, b)


# --------------------------------------------------------------------------- fields= filter


def _parse_fields(spec: str) -> dict[str, Any]:
    """``items[a,b[c]],total_count`` -> {"items": {"a": None, "b": {"c": None}}, ...}."""
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while pos < len(spec):
            start = pos
            while pos < len(spec) and spec[pos] not in ",[]":
                pos += 1
            name = spec[start:pos].strip()
            sub: dict[str, Any] | None = None
            if pos < len(spec) and spec[pos] == "[":
                pos += 1
                sub = parse_list()
                pos += 1  # the closing "]"
            if name:
                out[name] = sub
            if pos < len(spec) and spec[pos] == ",":
                pos += 1
                continue
            break
        return out

    return parse_list()


def _project(data: Any, spec: Mapping[str, Any]) -> Any:
    """Keep only the fields in ``spec`` (applied to each element of a list)."""
    if isinstance(data, list):
        return [_project(x, spec) for x in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in spec:
            sub = spec[key]
            out[key] = value if sub is None else _project(value, sub)
    return out


# --------------------------------------------------------------------------- simulator


class MagentoSimulator:
    """Magento 2 REST stand-in on 127.0.0.1 for client tests, benchmarks and manual runs.

    Thread-safe: the server answers from worker threads while a test mutates rows.
    """

    #: ACL resource per list/get route, used in the 401 body. Orders as observed in the field
    #: (magento-rest.md §4/§8); the others are from Magento's webapi.xml files.
    ACL_RESOURCES: ClassVar[dict[str, str]] = {
        "orders": "Magento_Sales::actions_view",
        "invoices": "Magento_Sales::sales_invoice",
        "creditmemos": "Magento_Sales::sales_creditmemo",
        "customers": "Magento_Customer::customer",
        "store": "Magento_Backend::store",
        "tax": "Magento_Tax::manage_tax",
        "source_items": "Magento_InventoryApi::source",
        "prices": "Magento_Catalog::products",
        "order_comments": "Magento_Sales::comment",
        "shipments": "Magento_Sales::shipment",
        "ship": "Magento_Sales::ship",
        # Magento/Customer/etc/webapi.xml
        "customer_metadata": "Magento_Customer::customer",
        "customer_groups": "Magento_Customer::group",
    }

    #: Customer groups (Customers > Customer Groups) served by ``GET /V1/customerGroups/{id}``:
    #: a fresh install's four.
    CUSTOMER_GROUPS: ClassVar[list[dict[str, Any]]] = [
        {"id": gid, "code": code, "tax_class_id": 3, "tax_class_name": "Retail Customer"}
        for gid, code in ((0, "NOT LOGGED IN"), (1, "General"), (2, "Wholesale"),
                          (3, "Retailer"))]

    #: Customer attributes served by ``GET /V1/attributeMetadata/customer/attribute/{code}``:
    #: the system ones sagesync reads; a test adds a custom one with `add_customer_attribute`.
    CUSTOMER_ATTRIBUTES: ClassVar[tuple[str, ...]] = ("email", "firstname", "lastname",
                                                      "group_id", "taxvat")

    #: Tax rates (Stores > Tax Zones and Rates) served by ``GET /V1/taxRates/search``.
    TAX_RATES: ClassVar[list[dict[str, Any]]] = [
        {"id": 1, "tax_country_id": "GB", "tax_region_id": 0, "tax_postcode": "*",
         "rate": 20, "code": "GB-VAT-Standard", "titles": []},
        {"id": 2, "tax_country_id": "GB", "tax_region_id": 0, "tax_postcode": "*",
         "rate": 5, "code": "GB-VAT-Reduced", "titles": []},
        {"id": 3, "tax_country_id": "GB", "tax_region_id": 0, "tax_postcode": "*",
         "rate": 0, "code": "GB-VAT-Zero", "titles": []},
    ]

    #: Fixed store structure; override on a subclass/instance for multi-website tests.
    WEBSITES: ClassVar[list[dict[str, Any]]] = [
        {"id": 1, "code": "base", "name": "Main Website", "default_group_id": 1},
    ]
    STORE_VIEWS: ClassVar[list[dict[str, Any]]] = [
        {"id": 1, "code": "default", "name": "Default Store View", "website_id": 1,
         "store_group_id": 1, "is_active": 1},
        {"id": 2, "code": "fr", "name": "French Store View", "website_id": 1,
         "store_group_id": 1, "is_active": 1},
    ]

    #: PHP's json_encode escapes "/" by default; Magento's REST renderer uses it.
    ESCAPE_SLASHES = True

    _CACHE_SIZE = 16

    def __init__(
        self,
        entities: dict[str, list[dict[str, Any]]] | None = None,
        *,
        token: str | None = "sim-token",
        past_end: Literal["empty", "repeat_last"] = "empty",
        max_page_size: int | None = None,
        default_page_size_when_absent: int | None = None,
        base_path: str = "/rest/default",
        oauth: tuple[str, str, str, str] | None = None,
        integration_as_bearer: bool = False,
        admin: tuple[str, str] | None = None,
        admin_2fa: bool = False,
        admin_token_lifetime: float = 4 * 3600,
        ims: tuple[str, str, str] | None = None,
        ims_expires_in: int = 86399,
        accs: bool = False,
        tenant_id: str = "sim-tenant",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``token=None`` disables auth (handy by hand) unless oauth/admin/ims is given.
        Options map to Magento versions: past_end "empty" = 2.4, "repeat_last" = <= 2.3;
        default_page_size_when_absent=20 = 2.4.3 (or 2.4.4+ with input limits on);
        max_page_size=300 = 2.4.4+ with input limits on. The auth options are described in
        the module docstring; ``clock`` (seconds) times token expiry and account locks.
        """
        if past_end not in ("empty", "repeat_last"):
            raise ValueError(f"past_end must be 'empty' or 'repeat_last', not {past_end!r}")
        if accs and ims is None:
            raise ValueError("accs=True needs ims=(client_id, client_secret, org_id)")
        if accs and (oauth is not None or admin is not None):
            raise ValueError("ACCS offers neither integration (oauth) nor admin tokens")
        self.token = token
        self.past_end = past_end
        self.max_page_size = max_page_size
        self.default_page_size_when_absent = default_page_size_when_absent
        if accs and base_path == "/rest/default":
            base_path = "/" + tenant_id.strip("/")
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.oauth = oauth
        self.integration_as_bearer = integration_as_bearer
        self.admin = admin
        self.admin_2fa = admin_2fa
        self.admin_token_lifetime = float(admin_token_lifetime)
        self.ims = ims
        self.ims_expires_in = int(ims_expires_in)
        self.accs = accs
        self.tenant_id = tenant_id
        self.clock = clock
        self._admin_tokens: dict[str, float] = {}  # token -> clock() it expires at
        self._ims_tokens: dict[str, float] = {}
        self._admin_failures: dict[str, int] = {}
        self._admin_locked_until: dict[str, float] = {}
        self._nonces: set[tuple[str, str]] = set()  # (consumer key, nonce) seen
        self.custom_customer_attributes: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.faults = FaultPlan()
        self.errors: list[str] = []  # tracebacks of simulator bugs / failing hooks
        self._latency = 0.0
        self._hooks: list[Callable[[RecordedRequest], None]] = []
        #: ACL resource -> the status its routes answer whatever the credentials (401 as
        #: Magento does for a resource the integration lacks; 403 as a gateway in front may)
        self.refused_resources: dict[str, int] = {}
        self._lock = threading.RLock()
        self._rows: dict[str, list[dict[str, Any]]] = {name: [] for name in ENTITY_ID_KEYS}
        self._version: dict[str, int] = dict.fromkeys(ENTITY_ID_KEYS, 0)
        self._pos: dict[str, dict[str, int]] = {name: {} for name in ENTITY_ID_KEYS}  # id -> index
        self._comment_ids = 0  # status history entity ids given out by POST .../comments
        self._track_ids = 0  # shipment track and item entity ids given out by _ship
        self._cache: collections.OrderedDict[tuple[str, str], tuple[int, list[dict[str, Any]]]]
        self._cache = collections.OrderedDict()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.scheme = "http"
        for name, rows in (entities or {}).items():
            self._check_entity(name)
            for row in rows:
                self._put(name, row, merge=False)

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_folder(cls, folder: Path | str, **kw: Any) -> MagentoSimulator:
        """Load ``<folder>/<entity>/page-*.json`` (saved ``{"items": [...]}`` pages).

        Pages load in numeric order; a row seen twice (a capture from a store that repeats
        the last page or has magento2#39031-style duplicates) keeps its first position and
        its last content. Missing or empty folders give an empty entity.
        """
        folder = Path(folder)
        entities: dict[str, list[dict[str, Any]]] = {}
        for name, id_key in ENTITY_ID_KEYS.items():
            rows: dict[str, dict[str, Any]] = {}
            anonymous: list[dict[str, Any]] = []
            for page in sorted((folder / name).glob("page-*.json"), key=_natural_key):
                try:
                    data = json.loads(page.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise ValueError(f"cannot load {page}: {exc}") from exc
                items = data.get("items", []) if isinstance(data, dict) else data
                for item in items or []:
                    if isinstance(item, dict) and item.get(id_key) is not None:
                        rows[str(item[id_key])] = item
                    elif isinstance(item, dict):
                        anonymous.append(item)
            entities[name] = [*rows.values(), *anonymous]
        return cls(entities, **kw)

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int = 0, host: str = "127.0.0.1",
              tls: ssl.SSLContext | None = None) -> MagentoSimulator:
        """Bind (port 0 = any free port) and serve from a daemon thread; over HTTPS with
        ``tls`` (a server-side SSLContext holding the certificate to present)."""
        if self._server is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"sim": self})
        server = _Server((host, port), handler)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01},
            name=f"magento-sim-{server.server_address[1]}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MagentoSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Bound TCP port (only while started)."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL the client appends ``/V1/orders`` to."""
        host = self._server.server_address[0] if self._server else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}{self.base_path}"

    @property
    def ims_url(self) -> str:
        """The simulator's IMS token endpoint (only answers when ``ims`` is set)."""
        host = self._server.server_address[0] if self._server else "127.0.0.1"
        return f"http://{host}:{self.port}{IMS_TOKEN_PATH}"

    # ----------------------------------------------------------------- test controls

    def set_latency(self, seconds: float) -> None:
        """Sleep this long before every response (benchmarks, timeout tests)."""
        self._latency = max(0.0, float(seconds))

    def on_request(self, hook: Callable[[RecordedRequest], None]) -> None:
        """Call ``hook(request)`` before each request is served (after it is recorded)."""
        self._hooks.append(hook)

    def upsert(self, entity: str, item: dict[str, Any], *, touch: bool = True) -> dict[str, Any]:
        """Change (merge into) or append a row while a client may be paging.

        Like MySQL's ``updated_at ... ON UPDATE current_timestamp()``, a change sets
        ``updated_at`` to the current UTC second unless ``item`` gives one or touch=False.
        Returns the stored row.
        """
        self._check_entity(entity)
        item = dict(item)
        if touch and "updated_at" not in item:
            item["updated_at"] = utc_now()
        return copy.deepcopy(self._put(entity, item, merge=True))

    def delete(self, entity: str, entity_id: Any) -> bool:
        """Remove a row (rows after it shift one place up on later pages)."""
        self._check_entity(entity)
        with self._lock:
            i = self._pos[entity].get(str(entity_id))
            if i is None:
                return False
            del self._rows[entity][i]
            self._reindex(entity)
            self._version[entity] += 1
            return True

    def expire_tokens(self) -> int:
        """Expire every issued admin and IMS token now (like revocation or the hourly purge
        cron); returns how many there were."""
        with self._lock:
            count = len(self._admin_tokens) + len(self._ims_tokens)
            self._admin_tokens.clear()
            self._ims_tokens.clear()
            return count

    def rows(self, entity: str) -> list[dict[str, Any]]:
        """Deep copy of the stored rows, in insertion order."""
        self._check_entity(entity)
        with self._lock:
            return copy.deepcopy(self._rows[entity])

    def _check_entity(self, entity: str) -> None:
        if entity not in ENTITY_ID_KEYS:
            raise ValueError(f"unknown entity {entity!r}; expected one of {list(ENTITY_ID_KEYS)}")

    def _put(self, entity: str, item: dict[str, Any], *, merge: bool) -> dict[str, Any]:
        # Rows are replaced, never mutated in place, so a response being encoded from a
        # snapshot list cannot see half an update.
        key = ENTITY_ID_KEYS[entity]
        new = copy.deepcopy(item)
        with self._lock:
            rows, pos = self._rows[entity], self._pos[entity]
            self._version[entity] += 1
            i = pos.get(str(new[key])) if new.get(key) is not None else None
            if i is not None:
                rows[i] = {**rows[i], **new} if merge else new
                return rows[i]
            if new.get(key) is not None:
                pos[str(new[key])] = len(rows)
            rows.append(new)
            return new

    def _reindex(self, entity: str) -> None:
        key = ENTITY_ID_KEYS[entity]
        self._pos[entity] = {str(r[key]): i for i, r in enumerate(self._rows[entity])
                             if r.get(key) is not None}

    # ----------------------------------------------------------------- auth extension point

    def authorize(self, request: RecordedRequest) -> ApiError | None:
        """Return None to let ``request`` through, or the error to send.

        Extension point (subclasses may override). ``request.acl_resource`` holds the matched
        route's ACL resource. The bearer parsing mirrors Magento's TokenUserContext: exactly
        "<type> <token>", type case-insensitive. Accepted: ``token``; issued admin and IMS
        tokens until they expire; an ``OAuth`` header when ``oauth`` is set (checked like
        Magento, see the module docstring); the integration's access token as a bearer token
        when ``integration_as_bearer``. In ACCS mode only IMS tokens, with gateway headers.
        """
        if not self.auth_enabled:
            return None
        denied = ApiError(401, MSG_UNAUTHORIZED,
                          {"resources": request.acl_resource or self.ACL_RESOURCES["orders"]})
        if self.accs:
            gateway = self._check_accs_headers(request)
            if gateway is not None:
                return gateway
        header = request.header("Authorization") or ""
        if self.oauth is not None and header[:6].lower() == "oauth ":
            return self._verify_oauth(request)
        pieces = header.split(" ")
        if len(pieces) == 2 and pieces[0].lower() == "bearer" and self._bearer_ok(pieces[1]):
            return None
        return denied

    @property
    def auth_enabled(self) -> bool:
        """False only when no credential of any kind is configured (``token=None`` alone)."""
        return any(x is not None for x in (self.token, self.oauth, self.admin, self.ims))

    def _bearer_ok(self, token: str) -> bool:
        now = self.clock()
        with self._lock:
            if self._ims_tokens.get(token, -math.inf) > now:
                return True
            if self.accs:
                return False
            if self._admin_tokens.get(token, -math.inf) > now:
                return True
        candidates = [self.token]
        if self.oauth is not None and self.integration_as_bearer:
            candidates.append(self.oauth[2])
        return any(c is not None and hmac.compare_digest(token.encode(), c.encode())
                   for c in candidates)

    def _check_accs_headers(self, request: RecordedRequest) -> ApiError | None:
        """The ACCS API gateway's header checks (answers are the simulator's own choice)."""
        assert self.ims is not None
        client_id, _secret, org_id = self.ims
        api_key = request.header("x-api-key")
        if not api_key:
            return ApiError(403, "Api Key is required", extra={"error_code": "403000"})
        if not hmac.compare_digest(api_key.encode(), client_id.encode()):
            return ApiError(403, "Api Key is invalid", extra={"error_code": "403003"})
        org = request.header("x-gw-ims-org-id")
        if not org or not hmac.compare_digest(org.encode(), org_id.encode()):
            return ApiError(403, "Invalid x-gw-ims-org-id header", extra={"error_code": "403010"})
        store = request.header("Store")
        codes = {"all", *(str(v["code"]) for v in self.STORE_VIEWS)}
        if not store:
            return ApiError(400, 'The "Store" header is required.')
        if store not in codes:
            return ApiError(400, "The store that was requested wasn't found. Verify the store "
                                 "and try again.")
        return None

    def _verify_oauth(self, request: RecordedRequest) -> ApiError | None:
        """OAuth 1.0a the way Magento 2.4.4+ validates a REST call, signature by oauthlib."""
        from oauthlib.common import CaseInsensitiveDict
        from oauthlib.common import Request as OAuthRequest
        from oauthlib.oauth1.rfc5849 import signature as oauth_signature

        assert self.oauth is not None
        consumer_key, consumer_secret, access_token, token_secret = self.oauth
        headers = CaseInsensitiveDict(request.headers)
        try:
            header_params = oauth_signature.collect_parameters(
                headers={"Authorization": request.header("Authorization") or ""},
                exclude_oauth_signature=False)
        except ValueError:
            header_params = []
        protocol = {k: v for k, v in header_params if k.startswith("oauth_")}
        # 1. version, 2. required parameters, 3. token length, 4. signature method.
        version = protocol.get("oauth_version")
        if version is not None and version != "1.0":
            return ApiError(400, MSG_OAUTH_VERSION, [version])
        for name in _OAUTH_REQUIRED:
            if not protocol.get(name):
                return ApiError(400, MSG_REQUIRED, {"fieldName": name})
        if len(protocol["oauth_token"]) != _MAGENTO_KEY_LENGTH:
            return ApiError(400, MSG_OAUTH_TOKEN_LENGTH)
        method = protocol["oauth_signature_method"]
        if method != "HMAC-SHA256":  # Oauth::getSupportedSignatureMethods() since 2.4.4
            return ApiError(400, MSG_OAUTH_METHOD, [method])
        # 5. consumer, 6. timestamp and nonce, 7. token, 8. signature (all 401).
        key = protocol["oauth_consumer_key"]
        if len(key) != _MAGENTO_KEY_LENGTH:
            return ApiError(401, MSG_OAUTH_CONSUMER_LENGTH)
        if not hmac.compare_digest(key.encode(), consumer_key.encode()):
            return ApiError(401, MSG_OAUTH_NO_CONSUMER)
        try:
            timestamp = int(protocol["oauth_timestamp"])
        except ValueError:
            timestamp = 0  # PHP's (int) cast of garbage
        if timestamp <= 0 or timestamp > time.time() + _OAUTH_TIME_DEVIATION:
            return ApiError(401, MSG_OAUTH_TIMESTAMP)
        with self._lock:
            nonce = (key, protocol["oauth_nonce"])
            if nonce in self._nonces:
                return ApiError(401, MSG_OAUTH_NONCE, [1])
            self._nonces.add(nonce)
        if not hmac.compare_digest(protocol["oauth_token"].encode(), access_token.encode()):
            return ApiError(401, MSG_OAUTH_NO_TOKEN)
        host = request.header("Host") or f"127.0.0.1:{self.port}"
        uri = f"http://{host}{request.path}" + (f"?{request.raw_query}" if request.raw_query
                                               else "")
        body = ""
        if (request.header("Content-Type") or "").startswith(
                "application/x-www-form-urlencoded"):
            body = request.body.decode("utf-8", "replace")
        try:
            oauth_request = OAuthRequest(uri, request.method, body, headers)
            others = oauth_signature.collect_parameters(
                uri_query=urlsplit(uri).query, body=body or None,
                exclude_oauth_signature=False)
        except ValueError:
            return ApiError(401, MSG_OAUTH_SIGNATURE)
        oauth_request.params = [
            *((k, v) for k, v in header_params if k.startswith("oauth_")
              and k != "oauth_signature"),
            *((k, v) for k, v in others if not k.startswith("oauth_")),
        ]
        oauth_request.signature = protocol["oauth_signature"]
        if not oauth_signature.verify_hmac_sha256(oauth_request, consumer_secret, token_secret):
            return ApiError(401, MSG_OAUTH_SIGNATURE)
        return None

    def _admin_token(self, req: RecordedRequest) -> tuple[int, Any]:
        """POST /V1/integration/admin/token {username, password} -> "token" (a JSON string)."""
        assert self.admin is not None
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        username, password = data.get("username"), data.get("password")
        for name, value in (("username", username), ("password", password)):
            if not isinstance(value, str) or not value:
                raise ApiError(400, MSG_REQUIRED, {"fieldName": name})
        assert isinstance(username, str) and isinstance(password, str)
        now = self.clock()
        with self._lock:
            if self._admin_locked_until.get(username, -math.inf) > now:
                raise ApiError(401, MSG_ADMIN_SIGN_IN)
            good = (hmac.compare_digest(username.encode(), self.admin[0].encode())
                    & hmac.compare_digest(password.encode(), self.admin[1].encode()))
            if not good:
                failures = self._admin_failures.get(username, 0) + 1
                self._admin_failures[username] = failures
                if failures >= _ADMIN_MAX_FAILURES:
                    self._admin_locked_until[username] = now + _ADMIN_LOCK_SECONDS
                    self._admin_failures[username] = 0
                raise ApiError(401, MSG_ADMIN_SIGN_IN)
            self._admin_failures.pop(username, None)
            if self.admin_2fa:
                raise ApiError(400, MSG_2FA)
            token = secrets.token_hex(16)
            self._admin_tokens[token] = now + self.admin_token_lifetime
        return 200, token

    def _ims_token(self, req: RecordedRequest) -> tuple[int, Any]:
        """POST /ims/token/v3 (form) client_credentials -> {access_token, expires_in}."""
        assert self.ims is not None
        client_id, client_secret, _org = self.ims
        form = dict(parse_qsl(req.raw_query or "", keep_blank_values=True))
        form.update(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "grant_type must be client_credentials"}
        good = (hmac.compare_digest(form.get("client_id", "").encode(), client_id.encode())
                & hmac.compare_digest(form.get("client_secret", "").encode(),
                                      client_secret.encode()))
        if not good:
            return 401, {"error": "invalid_client",
                         "error_description": "invalid client_id or client_secret"}
        token = "ims-" + secrets.token_urlsafe(24)
        with self._lock:
            self._ims_tokens[token] = self.clock() + self.ims_expires_in
        return 200, {"access_token": token, "token_type": "bearer",
                     "expires_in": self.ims_expires_in}

    # ----------------------------------------------------------------- request handling

    def handle(self, req: RecordedRequest) -> tuple[int, dict[str, str], bytes] | None:
        """Answer one request: (status, headers, body), or None to drop the connection."""
        with self._lock:
            self.requests.append(req)
        try:
            for hook in list(self._hooks):
                hook(req)
        except Exception as exc:  # a failing hook must reach the test
            self.errors.append(f"on_request hook failed: {exc!r}")
            return self._error_response(ApiError(500, f"simulator hook failed: {exc!r}"))
        fault = self.faults.take(req)
        if fault is not None:
            if fault.delay > 0:
                time.sleep(fault.delay)
            if fault.drop:
                return None
            if fault.status is not None:
                answer = self._fault_response(fault)
                return CutResponse(*answer, how=fault.cut) if fault.cut else answer
        if self._latency > 0:
            time.sleep(self._latency)
        answer = self._answer(req)
        return CutResponse(*answer, how=fault.cut) if fault is not None and fault.cut \
            else answer

    def _answer(self, req: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        try:
            status, payload = self._dispatch(req)
            fields = req.query.get("fields")
            if fields:
                payload = _project(payload, _parse_fields(fields))
            return status, {"Content-Type": JSON_CONTENT_TYPE}, self.encode(payload)
        except ApiError as err:
            return self._error_response(err)
        except Exception as exc:  # report like Magento, keep details for tests
            self.errors.append(f"{req.method} {req.path}: {exc!r}")
            return self._error_response(_internal_error())

    def encode(self, payload: Any) -> bytes:
        """Compact JSON the way PHP's json_encode writes it (ASCII, escaped slashes)."""
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        if self.ESCAPE_SLASHES:
            text = text.replace("/", "\\/")
        return text.encode("ascii")

    def _error_response(self, err: ApiError) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": JSON_CONTENT_TYPE, **err.headers}
        return err.status, headers, self.encode(err.body())

    def _fault_response(self, fault: Fault) -> tuple[int, dict[str, str], bytes]:
        status = int(fault.status or 500)
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        body: bytes | str | dict[str, Any] | None = fault.body
        ctype = fault.content_type
        if body is None:
            if fault.kind == "duplicate_id_500":
                body = {"message": MSG_DUPLICATE_ID % fault.duplicate_id}
            elif status == 429:
                body = {"message": "Too Many Requests", "trace": None}
            elif status in _GATEWAY_TITLES:
                body = _gateway_page(status)
                ctype = ctype or "text/html"
            elif status == 500:
                body = _internal_error().body()
            else:
                body = {"message": f"Simulated HTTP {status}"}
        if isinstance(body, dict):
            raw = self.encode(body)
            ctype = ctype or JSON_CONTENT_TYPE
        else:
            raw = body.encode("utf-8") if isinstance(body, str) else body
            ctype = ctype or "text/plain; charset=utf-8"
        headers["Content-Type"] = ctype
        return status, headers, raw

    def _dispatch(self, req: RecordedRequest) -> tuple[int, Any]:
        if req.method == "POST" and self.ims is not None and req.path == IMS_TOKEN_PATH:
            return self._ims_token(req)
        if req.method == "POST" and self.admin is not None and req.endpoint == ADMIN_TOKEN_ENDPOINT:
            return self._admin_token(req)  # anonymous route: no authorize()
        parts = (req.endpoint or "").strip("/").split("/")
        if req.method == "POST" and len(parts) == 4 and parts[:2] == ["V1", "orders"] \
                and parts[3] == "comments":
            req.acl_resource = self.ACL_RESOURCES["order_comments"]
            denied = self.authorize(req)
            if denied is not None:
                raise denied
            return 200, self._add_comment(parts[2], req.body)
        if req.method == "POST" and len(parts) == 4 and parts[:2] == ["V1", "order"] \
                and parts[3] == "ship":
            req.acl_resource = self.ACL_RESOURCES["ship"]
            denied = self.authorize(req)
            if denied is not None:
                raise denied
            return 200, self._ship(parts[2], req.body)
        route: tuple[str, Callable[[], Any]] | None = None
        if req.method == "POST" and parts == ["V1", "products", "base-prices-information"]:
            route = ("prices", lambda: self._base_prices(req))
        elif not req.endpoint or req.method != "GET":
            raise ApiError(404, MSG_NO_ROUTE)
        elif len(parts) == 2 and parts[0] == "V1" and parts[1] in _LIST_ENTITIES:
            name = parts[1]
            route = (name, lambda: self._search(name, req))
        elif parts == ["V1", "customers", "search"]:
            route = ("customers", lambda: self._search("customers", req))
        elif len(parts) == 3 and parts[0] == "V1" and parts[1] in ("orders", "invoices"):
            name, raw_id = parts[1], parts[2]
            route = (name, lambda: self._get_one(name, raw_id, "id"))
        elif len(parts) == 3 and parts[:2] == ["V1", "creditmemo"]:
            raw_id = parts[2]
            route = ("creditmemos", lambda: self._get_one("creditmemos", raw_id, "id"))
        elif len(parts) == 3 and parts[:2] == ["V1", "customers"]:
            raw_id = parts[2]
            route = ("customers", lambda: self._get_one("customers", raw_id, "customerId"))
        elif len(parts) == 5 and parts[:4] == ["V1", "attributeMetadata", "customer",
                                                 "attribute"]:
            code = parts[4]
            route = ("customer_metadata", lambda: self._customer_attribute(code))
        elif len(parts) == 3 and parts[:2] == ["V1", "customerGroups"] and parts[2] not in (
                "search", "default"):
            raw_id = parts[2]
            route = ("customer_groups", lambda: self._customer_group(raw_id))
        elif parts == ["V1", "store", "storeViews"]:
            route = ("store", lambda: copy.deepcopy(self.STORE_VIEWS))
        elif parts == ["V1", "store", "websites"]:
            route = ("store", lambda: copy.deepcopy(self.WEBSITES))
        elif parts == ["V1", "taxRates", "search"]:
            route = ("tax", lambda: self._plain_search(self.TAX_RATES, req))
        elif parts == ["V1", "inventory", "source-items"]:
            route = ("source_items", lambda: self._plain_search([], req))
        if route is None:
            raise ApiError(404, MSG_NO_ROUTE)
        acl_key, action = route
        req.acl_resource = self.ACL_RESOURCES.get(acl_key)
        denied = self.authorize(req)
        if denied is not None:
            raise denied
        refused = self.refused_resources.get(req.acl_resource or "")
        if refused is not None:
            raise ApiError(refused, MSG_UNAUTHORIZED, {"resources": req.acl_resource})
        return 200, action()

    def _plain_search(self, rows: list[dict[str, Any]], req: RecordedRequest
                      ) -> dict[str, Any]:
        """A search over a fixed list: paging only (no filters), as tax rates need."""
        params = req.params
        if "searchCriteria" not in params:
            raise ApiError(400, MSG_REQUIRED, {"fieldName": "searchCriteria"})
        raw = params["searchCriteria"]
        sc = _snake_tree(raw) if isinstance(raw, dict) else {}
        size = _to_int(sc.get("page_size")) or len(rows) or 1
        page = max(_to_int(sc.get("current_page")) or 1, 1)
        echo: dict[str, Any] = {"filter_groups": [], "page_size": size, "current_page": page}
        return {"items": copy.deepcopy(rows[(page - 1) * size: page * size]),
                "search_criteria": echo, "total_count": len(rows)}

    def _base_prices(self, req: RecordedRequest) -> list[dict[str, Any]]:
        """POST /V1/products/base-prices-information {"skus": [...]}: no catalog here, so
        only an empty list of SKUs is answered (with none); any SKU is not found."""
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            data = None
        skus = data.get("skus") if isinstance(data, dict) else None
        if not isinstance(skus, list):
            raise ApiError(400, MSG_REQUIRED, {"fieldName": "skus"})
        if skus:
            raise ApiError(404, MSG_NO_ENTITY)
        return []

    def _add_comment(self, raw_id: str, body: bytes) -> bool:
        """``POST /V1/orders/{id}/comments`` (OrderManagement::addComment): the history entry
        is appended to the order's ``status_histories`` (newest first, as Magento lists
        them), a ``status`` moves the order's status; answers ``true``."""
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "Decoding error: Syntax error") from None
        history = data.get("statusHistory") if isinstance(data, dict) else None
        if not isinstance(history, dict):
            raise ApiError(400, MSG_REQUIRED, {"fieldName": "statusHistory"})
        for name in ("comment", "is_customer_notified", "is_visible_on_front", "parent_id"):
            if name not in history:
                raise ApiError(400, MSG_REQUIRED, {"fieldName": name})
        order_id = _to_int(raw_id)
        with self._lock:
            i = self._pos["orders"].get(str(order_id))
            if i is None:
                raise ApiError(404, MSG_NO_ENTITY)
            order = self._rows["orders"][i]
            histories = order.setdefault("status_histories", [])
            self._comment_ids += 1
            entry = {"comment": str(history["comment"]), "created_at": utc_now(),
                     "entity_id": self._comment_ids, "entity_name": "order",
                     "is_customer_notified": int(history["is_customer_notified"]),
                     "is_visible_on_front": int(history["is_visible_on_front"]),
                     "parent_id": order_id}
            if history.get("status"):
                entry["status"] = order["status"] = str(history["status"])
            histories.insert(0, entry)
        return True

    def _ship(self, raw_id: str, body: bytes) -> int:
        """``POST /V1/order/{orderId}/ship`` (Magento\\Sales\\Model\\ShipOrder): the body is
        checked against the 2.4.8 schema's ``PostV1OrderOrderIdShipBody`` (items of
        ``order_item_id``/``qty``, tracks of ``track_number``/``title``/``carrier_code``), the
        order as Magento's CanShip and QuantityValidator do, all messages joined after
        "Shipment Document Validation Error(s):" (HTTP 400). A shipment is made every time:
        Magento has no key to refuse a second one with. No items ships everything left, as
        Magento does. The order items' ``qty_shipped`` grow (a configurable's child with its
        parent); an order with nothing left to ship and everything invoiced is complete.
        Answers the new shipment's id."""
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "Decoding error: Syntax error") from None
        if not isinstance(data, dict):
            raise ApiError(400, MSG_REQUIRED, {"fieldName": "items"})
        allowed = {"items", "notify", "appendComment", "comment", "tracks", "packages",
                   "arguments"}
        for name in data:
            if name not in allowed:
                raise ApiError(400, 'Property "%1" does not have accessor method.', [name])
        items = data.get("items") or []
        tracks = data.get("tracks") or []
        if not isinstance(items, list) or not isinstance(tracks, list):
            raise ApiError(400, MSG_BAD_TYPE, {"value": "items", "type": "array"})
        for item in items:
            for name, kind in (("order_item_id", int), ("qty", (int, float))):
                if not isinstance(item, dict) or name not in item:
                    raise ApiError(400, MSG_REQUIRED, {"fieldName": name})
                if isinstance(item[name], bool) or not isinstance(item[name], kind):
                    raise ApiError(400, MSG_BAD_TYPE, {"value": item[name], "type": name})
        for track in tracks:
            for name in ("track_number", "title", "carrier_code"):
                if not isinstance(track, dict) or name not in track:
                    raise ApiError(400, MSG_REQUIRED, {"fieldName": name})
                if not isinstance(track[name], str):
                    raise ApiError(400, MSG_BAD_TYPE, {"value": track[name], "type": "string"})
        if not isinstance(data.get("notify", False), bool):
            raise ApiError(400, MSG_BAD_TYPE, {"value": data["notify"], "type": "bool"})
        order_id = _to_int(raw_id)
        with self._lock:
            i = self._pos["orders"].get(str(order_id))
            if i is None:
                raise ApiError(404, MSG_NO_ENTITY)
            order = copy.deepcopy(self._rows["orders"][i])  # rows are replaced, not mutated
            by_id = {int(it["item_id"]): it for it in order.get("items") or []}

            def left(it: dict[str, Any]) -> float:
                return float(it.get("qty_ordered") or 0) - max(
                    float(it.get("qty_shipped") or 0), float(it.get("qty_refunded") or 0)
                ) - float(it.get("qty_canceled") or 0)

            wanted = [(int(it["order_item_id"]), float(it["qty"])) for it in items] or [
                (item_id, left(it)) for item_id, it in by_id.items()
                if not it.get("parent_item_id") and left(it) > 0]
            messages: list[str] = []
            if order.get("state") in ("canceled", "closed", "holded", "payment_review"):
                messages.append(f"A shipment cannot be created when an order has a status of "
                                f"{order.get('status')}")
            elif not any(left(it) > 0 for it in by_id.values()):
                messages.append("The order does not allow a shipment to be created.")
            total = 0.0
            for item_id, qty in wanted:
                it = by_id.get(item_id)
                if it is None:
                    messages.append(f'The shipment contains product SKU "{item_id}" that is '
                                    "not part of the original order.")
                elif qty > left(it) + 1e-9:
                    messages.append("The quantity to ship must not be greater than the "
                                    f'unshipped quantity for product SKU "{it.get("sku")}".')
                else:
                    total += qty
            if total <= 0:
                messages.append("You can't create a shipment without products.")
            if messages:
                raise ApiError(400, "Shipment Document Validation Error(s):\n"
                               + "\n".join(messages))
            shipment_id = len(self._rows["shipments"]) + 1
            now = utc_now()
            lines = []
            for item_id, qty in wanted:
                it = by_id[item_id]
                it["qty_shipped"] = float(it.get("qty_shipped") or 0) + qty
                for child in by_id.values():
                    if child.get("parent_item_id") == item_id and \
                            it.get("product_type") == "configurable":
                        child["qty_shipped"] = float(child.get("qty_shipped") or 0) + qty
                self._track_ids += 1
                lines.append({"entity_id": self._track_ids, "parent_id": shipment_id,
                              "order_item_id": item_id, "qty": qty, "sku": it.get("sku"),
                              "name": it.get("name"), "price": it.get("price"),
                              "product_id": it.get("product_id")})
            shipped_tracks = []
            for track in tracks:
                self._track_ids += 1
                shipped_tracks.append({
                    "entity_id": self._track_ids, "parent_id": shipment_id,
                    "order_id": order_id, "track_number": track["track_number"],
                    "title": track["title"], "carrier_code": track["carrier_code"],
                    "weight": None, "qty": None, "description": None,
                    "created_at": now, "updated_at": now})
            if all(left(it) <= 0 for it in by_id.values()) and all(
                    float(it.get("qty_invoiced") or 0) >= float(it.get("qty_ordered") or 0)
                    for it in by_id.values()):
                order["state"] = order["status"] = "complete"
            order["updated_at"] = now
            shipment = {"entity_id": shipment_id,
                        "increment_id": f"{shipment_id:09d}", "order_id": order_id,
                        "store_id": order.get("store_id"), "created_at": now,
                        "updated_at": now, "total_qty": total,
                        "items": lines, "tracks": shipped_tracks, "comments": [],
                        "packages": [], **({"email_sent": 1} if data.get("notify") else {})}
            self._put("shipments", shipment, merge=False)
            self._put("orders", order, merge=False)
        return shipment_id

    def add_customer_attribute(self, code: str, label: str = "", *, user_defined: bool = True,
                               frontend_input: str = "boolean") -> None:
        """A custom customer attribute, as a store's module or Adobe Commerce's admin adds."""
        with self._lock:
            self.custom_customer_attributes[code] = {
                "frontend_input": frontend_input, "label": label or code,
                "user_defined": user_defined}

    def _customer_attribute(self, code: str) -> dict[str, Any]:
        """CustomerMetadataInterface::getAttributeMetadata: the attribute's metadata, or 404
        naming the entity type and the code as Magento does."""
        with self._lock:
            custom = self.custom_customer_attributes.get(code)
        if custom is None and code not in self.CUSTOMER_ATTRIBUTES:
            raise ApiError(404, "No such entity with %fieldName = %fieldValue, %field2Name = "
                           "%field2Value", {"fieldName": "entityType", "fieldValue": "customer",
                                            "field2Name": "attributeCode", "field2Value": code})
        spec = custom or {"frontend_input": "text", "label": code.replace("_", " ").title(),
                          "user_defined": False}
        return {"frontend_input": spec["frontend_input"], "input_filter": "",
                "store_label": spec["label"], "validation_rules": [], "multiline_count": 0,
                "visible": True, "required": False, "data_model": "", "options": [],
                "frontend_class": "", "user_defined": spec["user_defined"], "sort_order": 100,
                "frontend_label": spec["label"], "note": "", "system": not spec["user_defined"],
                "backend_type": "int" if spec["frontend_input"] == "boolean" else "varchar",
                "attribute_code": code}

    def _customer_group(self, raw_id: str) -> dict[str, Any]:
        """GroupRepositoryInterface::getById: the group, or 404 naming the id."""
        group_id = _to_int(raw_id)
        for group in self.CUSTOMER_GROUPS:
            if group["id"] == group_id:
                return copy.deepcopy(group)
        raise ApiError(404, MSG_NO_SUCH_FIELD, {"fieldName": "id", "fieldValue": str(group_id)})

    def _get_one(self, entity: str, raw_id: str, param: str) -> dict[str, Any]:
        entity_id = _to_int(raw_id)
        with self._lock:
            i = self._pos[entity].get(str(entity_id))
            if i is not None:
                return self._rows[entity][i]
        if entity == "customers":
            raise ApiError(404, MSG_NO_SUCH_FIELD, {"fieldName": param, "fieldValue": entity_id})
        raise ApiError(404, MSG_NO_ENTITY)

    def _search(self, entity: str, req: RecordedRequest) -> dict[str, Any]:
        params = req.params
        if "searchCriteria" not in params:
            raise ApiError(400, MSG_REQUIRED, {"fieldName": "searchCriteria"})
        raw = params["searchCriteria"]
        sc = _snake_tree(raw) if isinstance(raw, dict) else {}  # "searchCriteria=" = no criteria

        groups = _criteria_list(sc.get("filter_groups"))
        norm_groups: list[list[dict[str, Any]]] = []
        for group in groups:
            filters = _criteria_list(group.get("filters"))
            for flt in filters:
                if flt.get("field") in (None, ""):
                    raise _internal_error()  # Magento: SQL error on an empty column name
            norm_groups.append(filters)

        sort_orders: list[tuple[str, str | None]] = []
        for order in _criteria_list(sc.get("sort_orders")):
            direction = order.get("direction")
            if direction is not None:
                direction = str(direction).upper()
                if direction not in ("ASC", "DESC"):
                    raise ApiError(400, MSG_SORT_DIRECTION)
            if order.get("field") not in (None, ""):
                sort_orders.append((str(order["field"]), direction))

        page_size = _to_int(sc.get("page_size"))
        if page_size is None:
            page_size = self.default_page_size_when_absent
        cap = self.max_page_size
        if cap is not None and page_size is not None and page_size > cap:
            raise ApiError(400, MSG_MAX_PAGE_SIZE, {"max": self.max_page_size})
        current_sent = _to_int(sc.get("current_page"))

        matched = self._matching_rows(entity, norm_groups, sort_orders)
        total = len(matched)
        if page_size is None or page_size <= 0:  # no LIMIT at all: currentPage is ignored
            items = matched
        else:
            page = max(current_sent or 1, 1)
            last = max(1, math.ceil(total / page_size))
            if page > last and self.past_end == "repeat_last":
                page = last  # <= 2.3 Collection::getCurPage() clamps
            items = matched[(page - 1) * page_size: page * page_size]

        echo: dict[str, Any] = {"filter_groups": [
            {"filters": [_echo_filter(f) for f in filters]} for filters in norm_groups
        ]}
        if sort_orders:
            echo["sort_orders"] = [
                {"field": f, **({"direction": d} if d else {})} for f, d in sort_orders
            ]
        if page_size is not None:
            echo["page_size"] = page_size
        if current_sent is not None:
            echo["current_page"] = current_sent
        return {"items": items, "search_criteria": echo, "total_count": total}

    def _matching_rows(self, entity: str, groups: list[list[dict[str, Any]]],
                       sort_orders: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
        """Filtered + sorted snapshot, cached per (criteria, data version) for big benchmarks."""
        cache_key = (entity, json.dumps([groups, sort_orders], sort_keys=True, default=str))
        with self._lock:
            version = self._version[entity]
            hit = self._cache.get(cache_key)
            if hit is not None and hit[0] == version:
                self._cache.move_to_end(cache_key)
                return hit[1]
            rows = list(self._rows[entity])
        # AND between groups, OR within a group (magento-rest.md §3.1).
        matched = [r for r in rows
                   if all(any(_filter_matches(r, f) for f in group) for group in groups if group)]
        if sort_orders:
            def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
                for fld, direction in sort_orders:
                    c = _sort_cmp(a.get(fld), b.get(fld))
                    if c:
                        # SortingProcessor: "== ASC ? ASC : DESC" - a missing direction is DESC.
                        return c if direction == "ASC" else -c
                return 0

            matched.sort(key=functools.cmp_to_key(compare))
        with self._lock:
            if self._version[entity] == version:
                self._cache[cache_key] = (version, matched)
                while len(self._cache) > self._CACHE_SIZE:
                    self._cache.popitem(last=False)
        return matched


def _criteria_list(node: Any) -> list[dict[str, Any]]:
    """PHP-array-as-dict (or list) -> list of the dict entries, in URL order."""
    if isinstance(node, dict):
        return [v for v in node.values() if isinstance(v, dict)]
    if isinstance(node, list):
        return [v for v in node if isinstance(v, dict)]
    return []


def _echo_filter(flt: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"field": flt.get("field")}
    if flt.get("value") is not None:
        out["value"] = flt["value"]
    out["condition_type"] = flt.get("condition_type") or "eq"  # Filter::getConditionType default
    return out


def _internal_error() -> ApiError:
    """Production-mode Magento masks unexpected exceptions behind a report id."""
    report = "webapi-" + secrets.token_hex(7)[:13]
    return ApiError(500, f"Internal Error. Details are available in Magento log file. "
                         f"Report ID: {report}")


def _gateway_page(status: int) -> str:
    title = f"{status} {_GATEWAY_TITLES[status]}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")


def _natural_key(path: Path) -> tuple[int, str]:
    m = re.search(r"(\d+)", path.stem)
    return (int(m.group(1)) if m else -1, path.name)


def utc_now() -> str:
    """Current UTC second in Magento's ``YYYY-MM-DD HH:MM:SS`` format."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------- HTTP layer


class CutResponse(tuple):  # type: ignore[type-arg]
    """(status, headers, body) that the handler breaks off halfway (see Fault.cut)."""

    how: CutKind

    def __new__(cls, status: int, headers: dict[str, str], body: bytes, *, how: CutKind
                ) -> CutResponse:
        made = super().__new__(cls, (status, headers, body))
        made.how = how
        return made


class _Server(ThreadingHTTPServer):
    """Threaded server that does not print tracebacks when a client hangs up."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP adapter; all behaviour lives in MagentoSimulator.handle."""

    sim: MagentoSimulator  # set on the per-server subclass
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server behind nginx
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms stalls
    server_version = "nginx"
    sys_version = ""
    timeout = 30  # idle keep-alive connections give up eventually
    quiet = True

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        base = self.sim.base_path
        endpoint = ""
        if split.path.startswith(base + "/"):
            endpoint = split.path[len(base):]
        req = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            body=body,
            endpoint=endpoint,
            raw_query=split.query,
        )
        result = self.sim.handle(req)
        if result is None:  # injected drop: no status line at all
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, headers, payload = result
        how = result.how if isinstance(result, CutResponse) else None
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if how == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if how is not None:  # half the body, then hang up mid-answer
                half = payload[: max(1, len(payload) // 2)]
                if how == "chunked":
                    half = f"{len(half):x}\r\n".encode() + half + b"\r\n"
                self.wfile.write(half)
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout hit a delay)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Serve saved pages by hand: ``python tests/magento_sim.py --data samples/magento``."""
    ap = argparse.ArgumentParser(description="Magento 2 REST simulator (127.0.0.1)")
    ap.add_argument("--data", type=Path, help="folder with orders/, invoices/, ... page-*.json")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--token", default="sim-token", help="bearer token to accept")
    ap.add_argument("--no-auth", action="store_true", help="accept any request")
    ap.add_argument("--past-end", choices=["empty", "repeat_last"], default="empty",
                    help="page past the end: empty (2.4) or repeat_last (<= 2.3)")
    ap.add_argument("--max-page-size", type=int, help="400 above this (2.4.4+ input limits)")
    ap.add_argument("--default-page-size", type=int,
                    help="page size when none is sent (2.4.3 used 20)")
    ap.add_argument("--base-path", default="/rest/default")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to each response")
    ap.add_argument("--verbose", action="store_true", help="log each request")
    args = ap.parse_args(argv)

    kw: dict[str, Any] = {
        "token": None if args.no_auth else args.token,
        "past_end": args.past_end,
        "max_page_size": args.max_page_size,
        "default_page_size_when_absent": args.default_page_size,
        "base_path": args.base_path,
    }
    sim = MagentoSimulator.from_folder(args.data, **kw) if args.data else MagentoSimulator(**kw)
    _Handler.quiet = not args.verbose
    sim.set_latency(args.latency)
    sim.start(port=args.port)
    counts = ", ".join(f"{name}={len(sim.rows(name))}" for name in ENTITY_ID_KEYS)
    print(f"Magento simulator at {sim.url}  ({counts})", flush=True)
    if sim.token is not None:
        print(f"Authorization: Bearer {sim.token}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `kill PID` stops cleanly too
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
