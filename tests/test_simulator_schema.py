"""Every kind of response the Magento simulator serves validates against Adobe's published
2.4.8 REST schema, so the client is tested against Magento's real shapes."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sagesync.testing.dataset import documents
from tests.test_samples_schema import _schema_errors

SEARCH = {"orders": "sales-data-order-search-result-interface",
          "invoices": "sales-data-invoice-search-result-interface",
          "creditmemos": "sales-data-creditmemo-search-result-interface"}
ENDPOINTS = {"orders": "/V1/orders", "invoices": "/V1/invoices",
             "creditmemos": "/V1/creditmemos"}


def get(sim: Any, path: str, **params: str) -> Any:
    response = requests.get(sim.url + path, params=params, timeout=10,
                            headers={"Authorization": "Bearer tok"})
    return response.status_code, response.json()


def test_every_served_shape_validates(make_magento_sim) -> None:  # type: ignore[no-untyped-def]
    sim = make_magento_sim({k: [dict(i) for i in v] for k, v in documents(1, 60, 4).items()},
                           token="tok")
    criteria = {"searchCriteria[pageSize]": "7", "searchCriteria[currentPage]": "1",
                "searchCriteria[sortOrders][0][field]": "entity_id",
                "searchCriteria[sortOrders][0][direction]": "ASC",
                "searchCriteria[filter_groups][0][filters][0][field]": "store_id",
                "searchCriteria[filter_groups][0][filters][0][value]": "1,2",
                "searchCriteria[filter_groups][0][filters][0][condition_type]": "in"}
    for entity, definition in SEARCH.items():
        status, body = get(sim, ENDPOINTS[entity], **criteria)
        assert status == 200 and body["items"]
        assert _schema_errors(definition, body) == [], entity
    status, views = get(sim, "/V1/store/storeViews")
    assert status == 200
    for view in views:
        assert _schema_errors("store-data-store-interface", view) == []
    status, sites = get(sim, "/V1/store/websites")
    for site in sites:
        assert _schema_errors("store-data-website-interface", site) == []
    for path, definition in (("/V1/taxRates/search", "tax-data-tax-rate-search-results-interface"),
                             ("/V1/inventory/source-items",
                              "inventory-api-data-source-item-search-results-interface")):
        status, body = get(sim, path, **{"searchCriteria[pageSize]": "2",
                                         "searchCriteria[currentPage]": "1"})
        assert status == 200 and _schema_errors(definition, body) == [], path
    sim.add_customer_attribute("sage_on_hold", "On hold in Sage")
    for path, definition in (("/V1/customerGroups/2", "customer-data-group-interface"),
                             ("/V1/attributeMetadata/customer/attribute/sage_on_hold",
                              "customer-data-attribute-metadata-interface"),
                             ("/V1/attributeMetadata/customer/attribute/email",
                              "customer-data-attribute-metadata-interface")):
        status, body = get(sim, path)
        assert status == 200 and _schema_errors(definition, body) == [], path
    status, body = get(sim, "/V1/taxRates/search", **{"searchCriteria[pageSize]": "2"})
    assert len(body["items"]) == 2 and body["total_count"] == len(sim.TAX_RATES)
    for path, params in (("/V1/orders", {}), ("/V1/nothing", {}), ("/V1/customerGroups/9", {}),
                         ("/V1/attributeMetadata/customer/attribute/no_such", {}),
                         ("/V1/orders", {"searchCriteria[sortOrders][0][direction]": "UP",
                                         "searchCriteria[sortOrders][0][field]": "x"})):
        status, body = get(sim, path, **params)
        assert status in (400, 404)
        if isinstance(body.get("parameters"), dict):
            # Magento sends named parameters as an object (magento-rest.md §4), which the
            # published schema (an array of such objects) does not allow: wrap it.
            body = {**body, "parameters": [body["parameters"]]}
        assert _schema_errors("error-response", body) == [], (path, body)


@pytest.fixture(autouse=True)
def _needs_schema() -> None:
    from tests.test_samples_schema import _definitions

    _definitions()  # skips with a clear reason when ../shared is not beside the checkout


def ship_body_errors(body: dict[str, Any]) -> list[str]:
    """What is wrong with a `POST /V1/order/{orderId}/ship` body, by the 2.4.8 schema's
    PostV1OrderOrderIdShipBody (a body schema inline in the path, its items by reference)."""
    import json

    from jsonschema import Draft4Validator

    from tests.test_samples_schema import _definitions, _schema_path

    definitions = _definitions()  # skips with a clear reason when ../shared is absent
    path = _schema_path()
    assert path is not None
    operation = json.loads(path.read_text(encoding="utf-8"))["paths"][
        "/V1/order/{orderId}/ship"]["post"]
    (parameter,) = [p for p in operation["parameters"] if p["in"] == "body"]
    validator = Draft4Validator({**parameter["schema"], "additionalProperties": False,
                                 "definitions": definitions})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(body)]


def test_shipping_an_order_validates_and_refuses_over_shipping_like_magento(  # type: ignore[no-untyped-def]
        make_magento_sim) -> None:
    from tests.fixtures_magento import MAGENTO_SAMPLES
    from tests.test_samples_schema import _definitions

    sim = make_magento_sim(folder=MAGENTO_SAMPLES, token="tok")
    body = {"items": [{"order_item_id": 1001, "qty": 4}], "notify": False,
            "tracks": [{"track_number": "RM1", "title": "Royal Mail", "carrier_code": "custom"}]}
    assert ship_body_errors(body) == []
    headers = {"Authorization": "Bearer tok"}
    made = requests.post(sim.url + "/V1/order/10/ship", json=body, headers=headers, timeout=10)
    assert made.status_code == 200 and made.json() == 1
    over = requests.post(sim.url + "/V1/order/10/ship", headers=headers, timeout=10,
                         json={**body, "items": [{"order_item_id": 1001, "qty": 7}]})
    assert over.status_code == 400
    assert _schema_errors("error-response", over.json()) == []
    assert over.json()["message"] == (
        "Shipment Document Validation Error(s):\nThe quantity to ship must not be greater "
        'than the unshipped quantity for product SKU "HE-INS-ROLL".\n'
        "You can't create a shipment without products.")  # no line left: QuantityValidator
    missing = requests.post(sim.url + "/V1/order/10/ship", headers=headers, timeout=10,
                            json={"items": [{"qty": 1}]})
    assert missing.status_code == 400
    status, found = get(sim, "/V1/shipments", **{
        "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
        "searchCriteria[filter_groups][0][filters][0][value]": "10"})
    assert status == 200 and found["total_count"] == 1
    assert found["items"][0]["tracks"][0]["track_number"] == "RM1"
    # A track made without weight, quantity or description has them null, as Magento prints
    # a required getter with no value (the payment allowance in test_samples_schema).
    for name in ("weight", "qty", "description"):
        assert found["items"][0]["tracks"][0][name] is None
    _definitions()  # loaded (or the test skipped) before the widened copy is made
    widened = _null_track_fields()
    assert [e.message for e in widened.iter_errors(found)] == []
    status, order = get(sim, "/V1/orders/10")
    assert [i["qty_shipped"] for i in order["items"]] == [4, 0]


def _null_track_fields() -> Any:
    import copy

    from jsonschema import Draft4Validator

    from tests.test_samples_schema import _definitions

    definitions = copy.deepcopy(_definitions())
    track = definitions["sales-data-shipment-track-interface"]["properties"]
    for name in ("weight", "qty", "description"):
        track[name]["type"] = [track[name]["type"], "null"]
    return Draft4Validator({"$ref": "#/definitions/sales-data-shipment-search-result-interface",
                            "definitions": definitions})
