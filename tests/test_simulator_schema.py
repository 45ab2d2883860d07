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
    status, body = get(sim, "/V1/taxRates/search", **{"searchCriteria[pageSize]": "2"})
    assert len(body["items"]) == 2 and body["total_count"] == len(sim.TAX_RATES)
    for path, params in (("/V1/orders", {}), ("/V1/nothing", {}),
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
