"""The catalog write endpoints on top of tests/magento_sim.py: MSI source items, base and tier
prices (magento-rest.md §3.4, §7), with the catalog state they change.

* ``POST /V1/inventory/source-items`` is all-or-nothing, like magento/inventory's
  SourceItemsSaveHandler: every item is validated, all errors go to ``errors[]`` and the first
  one to ``"Validation Failed: <first error>"`` (HTTP 400); a source code that does not exist
  passes validation and fails on save with ``"Could not save Source Item"`` (the FK).
* ``POST /V1/products/base-prices`` and ``/V1/products/tier-prices`` save the valid rows and
  answer 200 with the failed ones, message templates and parameter order as in Magento's
  BasePriceStorage and TierPriceValidator (``parameters`` is the list of the values of the
  associative array Magento builds, so the row's SKU is not always ``parameters[0]``).
* ``complex_array_limit`` = 2.4.4+ with input limits on: more items than that is a 400
  ``Maximum items of type "%type" is %max`` before anything is validated.

Deliberate simplifications and additions (not Magento facts):

* ``reject_negative_quantity`` (default on) makes a negative source-item quantity a validation
  error naming only the field. Magento's QuantityValidator only checks that it is numeric; the
  option exists so tests have a validation error that names no SKU.
* Prices are stored per store view / website exactly as sent (price scope "store"); the
  Global/Website price-scope copies of BasePriceStorage are not simulated, nor product types.

The routes hook in at ``_dispatch``, so recording, fault injection (``sim.faults``), latency
and error encoding of the base class apply to them too; auth goes through ``authorize``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import pytest

from tests.magento_sim import (
    MSG_BAD_TYPE,
    MSG_REQUIRED,
    ApiError,
    MagentoSimulator,
    RecordedRequest,
)

__all__ = [
    "KNOWN_SKUS",
    "SOURCE_CODES",
    "CatalogSimulator",
    "catalog_sim",
    "make_catalog_sim",
]

# magento/inventory (Inventory/Model/Validators, SourceItemsSaveHandler)
MSG_VALIDATION_FAILED = "Validation Failed: %s"
MSG_EMPTY_FIELD = '"%field" can not be empty.'
MSG_WHITESPACE = '"%field" can not contain leading or trailing whitespace.'
MSG_NOT_NUMERIC = '"%field" should be numeric.'
MSG_UNKNOWN_STATUS = '"%field" should a known status.'
MSG_SKU_NOT_FOUND = 'Product with requested "%field": "%value" was was not found.'
MSG_NEGATIVE_QTY = '"%field" should be greater than or equal to 0.'  # simulator-only
MSG_COULD_NOT_SAVE = "Could not save Source Item"
MSG_INPUT_EMPTY = "Input data is empty"
MSG_TYPE_ERROR = 'Error occurred during "%s" processing. ' + MSG_BAD_TYPE
# Magento_Framework Webapi EntityArrayValidator
MSG_MAX_ITEMS = 'Maximum items of type "%type" is %max'
# Magento_Catalog BasePriceStorage / TierPriceValidator
MSG_INVALID_ATTRIBUTE = "Invalid attribute %fieldName = %fieldValue."
MSG_STORE_NOT_FOUND = "Requested store is not found. Row ID: SKU = %s, Store ID: %s."
_TIER_ROW = "Row ID: SKU = %SKU, Website ID: %websiteId, Customer Group: %customerGroup, " \
            "Quantity: %qty."
MSG_TIER_SKU = "Invalid attribute SKU = %SKU. " + _TIER_ROW
MSG_TIER_PRICE = "Invalid attribute Price = %price. " + _TIER_ROW
MSG_TIER_PRICE_TYPE = "Invalid attribute Price Type = %priceType. " + _TIER_ROW
MSG_TIER_QTY = "Invalid attribute Quantity = %qty. " + _TIER_ROW
MSG_TIER_WEBSITE = "Invalid attribute Website ID = %websiteId. " + _TIER_ROW
MSG_TIER_DUPLICATE = ("We found a duplicate website, tier price, customer group and quantity: "
                      "Customer Group = %customerGroup, Website ID = %websiteId, "
                      "Quantity = %qty. " + _TIER_ROW)
MSG_TIER_GROUP = "No such entity with Customer Group = %customerGroup. " + _TIER_ROW

SOURCE_ITEM_TYPE = "Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"
PRICE_TYPES = {
    "/V1/products/base-prices": "Magento\\Catalog\\Api\\Data\\BasePriceInterface",
    "/V1/products/tier-prices": "Magento\\Catalog\\Api\\Data\\TierPriceInterface",
}
ALL_GROUPS = "ALL GROUPS"

#: What the ``catalog_sim`` fixture knows.
KNOWN_SKUS = tuple(f"SKU-{n:03d}" for n in range(1, 41))
SOURCE_CODES = ("default", "central", "east")

Row = dict[str, Any]


def _php(value: Any) -> str:
    """A value the way PHP's string conversion shows it in ``parameters`` (floats: 3.0 -> 3)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(int(value))
        return format(value.normalize(), "f")
    return str(value)


class CatalogSimulator(MagentoSimulator):
    """MagentoSimulator plus source items, base prices and tier prices (see module doc)."""

    ACL_RESOURCES: ClassVar[dict[str, str]] = {
        **MagentoSimulator.ACL_RESOURCES,
        "source_items": "Magento_InventoryApi::stock_source_item_assign",
        "prices": "Magento_Catalog::products",
    }
    #: Customer group codes -> ids of a fresh Magento install.
    CUSTOMER_GROUPS: ClassVar[dict[str, int]] = {
        "NOT LOGGED IN": 0, "General": 1, "Wholesale": 2, "Retailer": 3,
    }

    def __init__(self, entities: dict[str, list[dict[str, Any]]] | None = None, *,
                 known_skus: Iterator[str] | tuple[str, ...] | list[str] | set[str] = (),
                 source_codes: tuple[str, ...] | list[str] | set[str] = ("default",),
                 complex_array_limit: int | None = None,
                 reject_negative_quantity: bool = True, **kw: Any) -> None:
        super().__init__(entities, **kw)
        self.known_skus: set[str] = set(known_skus)
        self.source_codes: set[str] = set(source_codes)
        self.complex_array_limit = complex_array_limit
        self.reject_negative_quantity = reject_negative_quantity
        self.source_items: dict[tuple[str, str], tuple[Decimal, int]] = {}
        self.base_prices: dict[tuple[str, int], Decimal] = {}
        self.tier_prices: dict[tuple[str, int, str, Decimal], Decimal] = {}
        self.tier_price_types: dict[tuple[str, int, str, Decimal], str] = {}
        self._catalog_lock = threading.RLock()

    # ----------------------------------------------------------------- routing

    def catalog_requests(self) -> list[RecordedRequest]:
        """Requests to the three catalog endpoints, in arrival order."""
        return [r for r in self.requests if self._catalog_route(r) is not None]

    def _catalog_route(self, req: RecordedRequest) -> tuple[str, Callable[[], Any]] | None:
        if req.method != "POST":
            return None
        if req.endpoint == "/V1/inventory/source-items":
            return "source_items", lambda: self._save_source_items(req)
        if req.endpoint == "/V1/products/base-prices":
            return "prices", lambda: self._update_base_prices(req)
        if req.endpoint == "/V1/products/tier-prices":
            return "prices", lambda: self._update_tier_prices(req)
        return None

    def _dispatch(self, req: RecordedRequest) -> tuple[int, Any]:
        route = self._catalog_route(req)
        if route is None:
            return super()._dispatch(req)
        acl_key, action = route
        req.acl_resource = self.ACL_RESOURCES[acl_key]
        denied = self.authorize(req)
        if denied is not None:
            raise denied
        return 200, action()

    def _items(self, req: RecordedRequest, key: str, item_type: str) -> list[Row]:
        try:
            body = json.loads(req.body or b"null", parse_float=Decimal)
        except ValueError:
            raise ApiError(400, "Decoding error: \nSyntax error") from None
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ApiError(400, MSG_REQUIRED, {"fieldName": key})
        if self.complex_array_limit is not None and len(items) > self.complex_array_limit:
            raise ApiError(400, MSG_MAX_ITEMS, {"type": item_type, "max": self.complex_array_limit})
        return [item if isinstance(item, dict) else {} for item in items]

    # ----------------------------------------------------------------- source items

    def _save_source_items(self, req: RecordedRequest) -> list[Any]:
        items = self._items(req, "sourceItems", SOURCE_ITEM_TYPE)
        if not items:
            raise ApiError(400, MSG_INPUT_EMPTY)
        parsed = [self._source_item(item) for item in items]  # REST type coercion first
        errors: list[dict[str, Any]] = []
        for sku, source_code, quantity, status in parsed:
            errors.extend(self._source_item_errors(sku, source_code, quantity, status))
        if errors:
            first = errors[0]
            text = first["message"]
            for name, value in first["parameters"].items():
                text = text.replace(f"%{name}", str(value))
            raise ApiError(400, MSG_VALIDATION_FAILED % text, extra={"errors": errors})
        if any(source_code not in self.source_codes for _, source_code, _, _ in parsed):
            raise ApiError(400, MSG_COULD_NOT_SAVE)  # FK inventory_source_item.source_code
        with self._catalog_lock:
            for sku, source_code, quantity, status in parsed:
                assert quantity is not None and status is not None
                self.source_items[(sku, source_code)] = (quantity, status)
        return []

    @staticmethod
    def _source_item(item: Row) -> tuple[str, str, Decimal | None, int | None]:
        quantity = item.get("quantity")
        if quantity is not None:
            quantity = _number(quantity, "quantity", "float")
        status = item.get("status")
        if status is not None:
            status = int(_number(status, "status", "int"))
        return str(item.get("sku") or ""), str(item.get("source_code") or ""), quantity, status

    def _source_item_errors(self, sku: str, source_code: str, quantity: Decimal | None,
                            status: int | None) -> list[dict[str, Any]]:
        """Validator chain of magento/inventory di.xml: sku, source_code, quantity, status,
        existent sku."""
        errors: list[dict[str, Any]] = []

        def error(message: str, **parameters: Any) -> None:
            errors.append({"message": message, "parameters": parameters})

        if not sku:
            error(MSG_EMPTY_FIELD, field="sku")
        elif sku != sku.strip():
            error(MSG_WHITESPACE, field="sku")
        if not source_code:
            error(MSG_EMPTY_FIELD, field="source_code")
        if quantity is None:
            error(MSG_NOT_NUMERIC, field="quantity")
        elif quantity < 0 and self.reject_negative_quantity:
            error(MSG_NEGATIVE_QTY, field="quantity")
        if status not in (0, 1):
            error(MSG_UNKNOWN_STATUS, field="status")
        if sku and sku not in self.known_skus:
            error(MSG_SKU_NOT_FOUND, field="sku", value=sku)
        return errors

    # ----------------------------------------------------------------- base prices

    def _update_base_prices(self, req: RecordedRequest) -> list[dict[str, Any]]:
        rows = self._items(req, "prices", PRICE_TYPES[req.endpoint])
        stores = {0} | {int(s["id"]) for s in self.STORE_VIEWS}
        failed: list[dict[str, Any]] = []
        valid: list[tuple[str, int, Decimal]] = []
        for row in rows:
            sku = str(row.get("sku") or "")
            price = _maybe_number(row.get("price"), "price")
            store_id = int(_number(row.get("store_id", 0), "store_id", "int"))
            before = len(failed)
            if not sku or sku not in self.known_skus:
                failed.append(_failure(MSG_INVALID_ATTRIBUTE, ["SKU", sku]))
            if price is None or price < 0:
                failed.append(_failure(MSG_INVALID_ATTRIBUTE, ["Price", _php(price)]))
            if store_id not in stores:
                failed.append(_failure(MSG_STORE_NOT_FOUND % (sku, store_id),
                                       [sku, str(store_id)]))
            if len(failed) == before:
                assert price is not None
                valid.append((sku, store_id, price))
        with self._catalog_lock:
            for sku, store_id, price in valid:
                self.base_prices[(sku, store_id)] = price
        return failed

    # ----------------------------------------------------------------- tier prices

    def _group(self, code: str) -> str | None:
        """Canonical group code (case-insensitive lookup), ALL GROUPS included; an id such as
        "2" is no code and fails the row, as in TierPriceValidator::checkGroup, which looks the
        value up in customer_group.customer_group_code only."""
        if code.lower() == ALL_GROUPS.lower():
            return ALL_GROUPS
        return next((g for g in self.CUSTOMER_GROUPS if g.lower() == code.lower()), None)

    def _update_tier_prices(self, req: RecordedRequest) -> list[dict[str, Any]]:
        rows = [self._tier_row(row) for row in
                self._items(req, "prices", PRICE_TYPES[req.endpoint])]
        websites = {0} | {int(w["id"]) for w in self.WEBSITES}
        with self._catalog_lock:
            existing = dict(self.tier_prices)
        failed: list[dict[str, Any]] = []
        valid: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            ident = [row["sku"], _php(row["website_id"]), row["customer_group"], _php(row["qty"])]
            before = len(failed)
            if not row["sku"] or row["sku"] not in self.known_skus:
                failed.append(_failure(MSG_TIER_SKU, ident))
            price = row["price"]
            if price is None or price < 0 or (row["price_type"] == "discount" and price > 100):
                failed.append(_failure(MSG_TIER_PRICE, [_php(price), *ident]))
            if row["price_type"] not in ("fixed", "discount"):
                failed.append(_failure(MSG_TIER_PRICE_TYPE, [row["price_type"], *ident]))
            if row["qty"] is None or row["qty"] < 1:
                failed.append(_failure(MSG_TIER_QTY, ident))
            if row["website_id"] not in websites:
                failed.append(_failure(MSG_TIER_WEBSITE, ident))
            for j, other in enumerate(rows):  # the same row twice in the request
                if j != i and _same_tier(row, other) and row["website_id"] == other["website_id"]:
                    failed.append(_failure(MSG_TIER_DUPLICATE, [
                        other["sku"], _php(other["website_id"]), other["customer_group"],
                        _php(other["qty"])]))
            for (sku, website, group, qty) in existing:  # vs all-websites rows (compareWebsite)
                old = {"sku": sku, "customer_group": group, "qty": qty}
                if (_same_tier(row, old) and website != row["website_id"]
                        and 0 in (website, row["website_id"])):
                    failed.append(_failure(MSG_TIER_DUPLICATE,
                                           [sku, str(website), group, f"{qty:.4f}"]))
            if self._group(row["customer_group"]) is None:
                failed.append(_failure(MSG_TIER_GROUP, ident))
            if len(failed) == before:
                valid.append(row)
        with self._catalog_lock:
            for row in valid:
                key = (row["sku"], row["website_id"], self._group(row["customer_group"]) or "",
                       row["qty"])
                self.tier_prices[key] = row["price"]
                self.tier_price_types[key] = row["price_type"]
        return failed

    @staticmethod
    def _tier_row(row: Row) -> dict[str, Any]:
        return {
            "sku": str(row.get("sku") or ""),
            "price": _maybe_number(row.get("price"), "price"),
            "price_type": str(row.get("price_type") or ""),
            "website_id": int(_number(row.get("website_id", 0), "website_id", "int")),
            "customer_group": str(row.get("customer_group") or ""),
            "qty": _maybe_number(row.get("quantity"), "quantity"),
        }


def _same_tier(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["sku"] == b["sku"] and a["qty"] is not None and a["qty"] == b["qty"]
            and a["customer_group"].lower() == b["customer_group"].lower())


def _failure(message: str, parameters: list[str]) -> dict[str, Any]:
    return {"message": message, "parameters": parameters}


def _number(value: Any, name: str, php_type: str) -> Decimal:
    """Magento's REST coercion of a scalar: numbers and numeric strings pass, the rest is 400."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ApiError(400, MSG_TYPE_ERROR % name, {"value": str(value), "type": php_type})
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ApiError(400, MSG_TYPE_ERROR % name, {"value": value, "type": php_type}) from None
    if not number.is_finite():
        raise ApiError(400, MSG_TYPE_ERROR % name, {"value": str(value), "type": php_type})
    return number


def _maybe_number(value: Any, name: str) -> Decimal | None:
    return None if value is None else _number(value, name, "float")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def make_catalog_sim() -> Iterator[Callable[..., CatalogSimulator]]:
    """Factory: ``make_catalog_sim(**options)`` -> a started CatalogSimulator knowing
    KNOWN_SKUS and SOURCE_CODES unless told otherwise; all are stopped after the test."""
    made: list[CatalogSimulator] = []

    def factory(**options: Any) -> CatalogSimulator:
        options.setdefault("known_skus", KNOWN_SKUS)
        options.setdefault("source_codes", SOURCE_CODES)
        sim = CatalogSimulator(**options)
        made.append(sim)
        return sim.start(host="127.0.0.1")  # type: ignore[return-value]

    yield factory
    for sim in made:
        sim.stop()


@pytest.fixture
def catalog_sim(make_catalog_sim: Callable[..., CatalogSimulator]) -> CatalogSimulator:
    """A started catalog simulator on 127.0.0.1 (token "sim-token") with 40 known SKUs
    (SKU-001 ... SKU-040) and sources default, central, east; stopped after the test."""
    return make_catalog_sim()
