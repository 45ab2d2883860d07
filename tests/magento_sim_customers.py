"""The customer write endpoint on top of tests/magento_sim.py: ``PUT /V1/customers/{id}``
(CustomerRepositoryInterface::save), beside the reads the base simulator already serves
(``GET /V1/customers/{id}``, ``GET /V1/customers/search``).

* The body must be ``{"customer": {...}}`` valid against the 2.4.8 schema
  (``customer-data-customer-interface``, custom attributes as ``attribute_code``/``value``);
  when the shared schema is present every body is checked and a body it refuses is a 400
  (and is kept in ``schema_errors``, so a test can assert there were none).
* Like Magento, the customer is replaced by what is sent: addresses left out are deleted, an
  address without an id is added with a new one; ``default_billing``/``default_shipping`` on an
  address make it the customer's default. The URL's id wins over the body's.
* A group id that is not a customer group (0 to 3 unless told otherwise) is a 400, as is a
  custom attribute the store does not have (``custom_attribute_codes``).

Deliberate simplification (not a Magento fact): unknown custom attributes are refused rather
than dropped silently, so a recipe naming an attribute the store lacks shows up in tests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.magento_sim import MSG_REQUIRED, ApiError, MagentoSimulator, RecordedRequest, utc_now

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CUSTOMERS = ROOT / "samples" / "magento" / "customers"
MSG_NO_SUCH = "No such entity with %fieldName = %fieldValue"
MSG_BAD_GROUP = "The specified customer group id does not exist."
MSG_BAD_ATTRIBUTE = 'The attribute "%1" does not exist.'


class CustomerSimulator(MagentoSimulator):
    """A simulator whose customers can be saved; `puts` keeps each accepted body."""

    def __init__(self, *args: Any, group_ids: frozenset[int] = frozenset({0, 1, 2, 3}),
                 custom_attribute_codes: frozenset[str] = frozenset({"sage_on_hold"}),
                 **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.group_ids = group_ids
        self.custom_attribute_codes = custom_attribute_codes
        self.puts: list[tuple[int, dict[str, Any]]] = []
        self.schema_errors: list[str] = []
        self._address_ids = 1000

    def customer(self, customer_id: int) -> dict[str, Any]:
        return next(c for c in self.rows("customers") if c["id"] == customer_id)

    def _dispatch(self, req: RecordedRequest) -> tuple[int, Any]:
        parts = (req.endpoint or "").strip("/").split("/")
        if req.method != "PUT" or len(parts) != 3 or parts[:2] != ["V1", "customers"]:
            return super()._dispatch(req)
        req.acl_resource = self.ACL_RESOURCES["customers"]
        denied = self.authorize(req)
        if denied is not None:
            raise denied
        return 200, self._save(parts[2], req.body)

    def _save(self, raw_id: str, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "Decoding error: Syntax error") from None
        customer = data.get("customer") if isinstance(data, dict) else None
        if not isinstance(customer, dict):
            raise ApiError(400, MSG_REQUIRED, {"fieldName": "customer"})
        self._check_schema(customer)
        try:
            customer_id = int(raw_id)
        except ValueError:
            raise ApiError(400, MSG_NO_SUCH, {"fieldName": "customerId",
                                              "fieldValue": raw_id}) from None
        if int(customer.get("group_id", 1)) not in self.group_ids:
            raise ApiError(400, MSG_BAD_GROUP)
        for attribute in customer.get("custom_attributes") or []:
            if attribute.get("attribute_code") not in self.custom_attribute_codes:
                raise ApiError(400, MSG_BAD_ATTRIBUTE, [attribute.get("attribute_code")])
        with self._lock:
            i = self._pos["customers"].get(str(customer_id))
            if i is None:
                raise ApiError(404, MSG_NO_SUCH, {"fieldName": "customerId",
                                                  "fieldValue": customer_id})
            old = self._rows["customers"][i]
            saved = copy.deepcopy(customer)
            saved.update(id=customer_id, created_at=old.get("created_at"),
                         created_in=old.get("created_in"), updated_at=utc_now())
            self._addresses(saved, customer_id)
            self._put("customers", saved, merge=False)
            self.puts.append((customer_id, copy.deepcopy(customer)))
            return copy.deepcopy(saved)

    def _addresses(self, saved: dict[str, Any], customer_id: int) -> None:
        for address in saved.get("addresses") or []:
            if not address.get("id"):
                self._address_ids += 1
                address["id"] = self._address_ids
            address["customer_id"] = customer_id
            for flag in ("default_billing", "default_shipping"):
                if address.get(flag):
                    saved[flag] = str(address["id"])

    def _check_schema(self, customer: dict[str, Any]) -> None:
        from tests.test_samples_schema import _schema_errors, _schema_path

        if _schema_path() is None:
            return
        errors = _schema_errors("customer-data-customer-interface", customer)
        if errors:
            self.schema_errors += errors
            raise ApiError(400, "%1", [errors[0]])


def sample_customers() -> list[dict[str, Any]]:
    """The customers of samples/magento/customers."""
    return [c for path in sorted(SAMPLE_CUSTOMERS.glob("page-*.json"))
            for c in json.loads(path.read_text(encoding="utf-8"))["items"]]


@pytest.fixture
def make_customer_sim() -> Iterator[Callable[..., CustomerSimulator]]:
    """Factory: ``make_customer_sim(**options)`` -> a started CustomerSimulator holding the
    sample customers (token "tok"); all are stopped after the test."""
    made: list[CustomerSimulator] = []

    def factory(**options: Any) -> CustomerSimulator:
        options.setdefault("token", "tok")
        sim = CustomerSimulator({"customers": sample_customers()}, **options)
        made.append(sim)
        return sim.start(host="127.0.0.1")  # type: ignore[return-value]

    yield factory
    for sim in made:
        sim.stop()
