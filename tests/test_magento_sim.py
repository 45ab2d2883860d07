"""Tests of the Magento REST simulator itself, so client tests can trust what it serves.

Expected behaviours come from shared/reference/magento-rest.md §3 (searchCriteria),
§4 (auth) and §8 (issues); each test names the behaviour it pins.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import fixtures_magento
from tests.magento_sim import (
    ApiError,
    MagentoSimulator,
    RecordedRequest,
    parse_php_query,
)

# The shared fixtures, bound here so this file also runs without tests/conftest.py.
make_magento_sim = fixtures_magento.make_magento_sim
magento_sim = fixtures_magento.magento_sim

TOKEN = "sim-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# Rows are deliberately small and uneven: order 4 is a guest (no customer_id key, i.e. NULL),
# totals mix ints and floats, increment_ids are numeric-looking strings.
ORDERS: list[dict[str, Any]] = [
    {"entity_id": 1, "increment_id": "000000001", "status": "pending", "grand_total": 100,
     "customer_id": 7, "customer_email": "ann@example.com", "tags": "vip,b2b",
     "created_at": "2024-03-01 09:00:00", "updated_at": "2024-03-01 10:00:00"},
    {"entity_id": 2, "increment_id": "000000002", "status": "complete", "grand_total": 9.5,
     "customer_id": 8, "customer_email": "bob@example.org", "tags": "b2b",
     "created_at": "2024-03-01 09:00:00", "updated_at": "2024-03-02 00:00:00"},
    {"entity_id": 3, "increment_id": "000000003", "status": "Processing", "grand_total": 55.25,
     "customer_id": 7, "customer_email": "ann@example.com", "tags": "",
     "created_at": "2024-03-02 12:00:00", "updated_at": "2024-03-02 12:30:00"},
    {"entity_id": 4, "increment_id": "000000004", "status": "complete", "grand_total": 20,
     "customer_email": "guest_1@example.net", "tags": "vip",
     "created_at": "2024-03-03 08:00:00", "updated_at": "2024-03-03 08:00:00"},
    {"entity_id": 5, "increment_id": "000000005", "status": "canceled", "grand_total": 0,
     "customer_id": 9, "customer_email": "cy@example.com", "tags": "b2b,vip",
     "created_at": "2024-03-03 08:00:00", "updated_at": "2024-03-04 23:59:59"},
]
CUSTOMERS: list[dict[str, Any]] = [
    {"id": 7, "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee", "group_id": 1},
    {"id": 8, "email": "bob@example.org", "firstname": "Bob", "lastname": "Ray", "group_id": 2},
]
INVOICES: list[dict[str, Any]] = [
    {"entity_id": 10, "order_id": 1, "increment_id": "000000001", "state": 2, "total_qty": 1},
]


@pytest.fixture
def sim(make_magento_sim: Any) -> MagentoSimulator:
    """A started 2.4-style simulator with the inline rows above."""
    return make_magento_sim({"orders": ORDERS, "customers": CUSTOMERS, "invoices": INVOICES})


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One keep-alive session for the module, as a real client would use."""
    with requests.Session() as session:
        yield session


def criteria(
    groups: Sequence[Sequence[tuple[str, Any] | tuple[str, Any, str]]] = (),
    sort: Sequence[tuple[str, str | None]] = (),
    page_size: int | str | None = None,
    current_page: int | str | None = None,
    *,
    camel: bool = False,
) -> dict[str, str]:
    """Flat searchCriteria[...] query params, in snake_case (or camelCase) spelling."""
    k = {
        "fg": "filterGroups" if camel else "filter_groups",
        "ct": "conditionType" if camel else "condition_type",
        "so": "sortOrders" if camel else "sort_orders",
        "ps": "pageSize" if camel else "page_size",
        "cp": "currentPage" if camel else "current_page",
    }
    out: dict[str, str] = {}
    for g, group in enumerate(groups):
        for f, flt in enumerate(group):
            prefix = f"searchCriteria[{k['fg']}][{g}][filters][{f}]"
            out[f"{prefix}[field]"] = flt[0]
            out[f"{prefix}[value]"] = str(flt[1])
            if len(flt) > 2:
                out[f"{prefix}[{k['ct']}]"] = flt[2]  # type: ignore[misc]
    for s, (fld, direction) in enumerate(sort):
        out[f"searchCriteria[{k['so']}][{s}][field]"] = fld
        if direction is not None:
            out[f"searchCriteria[{k['so']}][{s}][direction]"] = direction
    if page_size is not None:
        out[f"searchCriteria[{k['ps']}]"] = str(page_size)
    if current_page is not None:
        out[f"searchCriteria[{k['cp']}]"] = str(current_page)
    return out or {"searchCriteria": ""}


def get(http: requests.Session, sim: MagentoSimulator, path: str,
        params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
        timeout: float = 5) -> requests.Response:
    return http.get(sim.url + path, params=params, headers=AUTH if headers is None else headers,
                    timeout=timeout)


def ids(resp: requests.Response, key: str = "entity_id") -> list[int]:
    assert resp.status_code == 200, resp.text
    return [item[key] for item in resp.json()["items"]]


# --------------------------------------------------------------------------- filters


def test_or_within_group_and_between_groups(sim: MagentoSimulator, http: requests.Session) -> None:
    # (status = complete OR status = canceled) AND grand_total > 5
    params = criteria([
        [("status", "complete"), ("status", "canceled")],
        [("grand_total", 5, "gt")],
    ])
    assert ids(get(http, sim, "/V1/orders", params)) == [2, 4]


def test_date_range_needs_two_groups(sim: MagentoSimulator, http: requests.Session) -> None:
    # In ONE group from/to are ORed (matches everything); in two groups they bound a window.
    one = criteria([[("updated_at", "2024-03-02 00:00:00", "from"),
                     ("updated_at", "2024-03-03 08:00:00", "to")]])
    two = criteria([[("updated_at", "2024-03-02 00:00:00", "from")],
                    [("updated_at", "2024-03-03 08:00:00", "to")]])
    assert ids(get(http, sim, "/V1/orders", one)) == [1, 2, 3, 4, 5]
    assert ids(get(http, sim, "/V1/orders", two)) == [2, 3, 4]


@pytest.mark.parametrize(
    ("field", "value", "cond", "expected"),
    [
        ("status", "complete", None, [2, 4]),  # default condition is eq
        ("status", "complete", "eq", [2, 4]),
        ("status", "PROCESSING", "eq", [3]),  # ci collation
        ("status", "complete", "neq", [1, 3, 5]),
        ("customer_id", "7", "neq", [2, 5]),  # NULL (guest 4) fails neq, as in SQL
        ("customer_email", "%@example.com", "like", [1, 3, 5]),
        ("customer_email", "guest_1%", "like", [4]),
        ("customer_email", "%@example.com", "nlike", [2, 4]),
        ("status", "complete,canceled", "in", [2, 4, 5]),
        ("entity_id", "1,3", "in", [1, 3]),
        ("status", "complete,canceled", "nin", [1, 3]),
        ("customer_id", "1", "null", [4]),
        ("customer_id", "1", "notnull", [1, 2, 3, 5]),
        ("grand_total", "20", "gt", [1, 3]),
        ("grand_total", "20", "lt", [2, 5]),
        ("grand_total", "20", "gteq", [1, 3, 4]),
        ("grand_total", "20", "lteq", [2, 4, 5]),
        ("grand_total", "55.25", "from", [1, 3]),
        ("grand_total", "9.5", "to", [2, 5]),
        ("tags", "vip", "finset", [1, 4, 5]),
        ("tags", "vip", "nfinset", [2, 3]),
        ("increment_id", "3", "eq", [3]),  # both sides numeric -> compared as numbers
        ("grand_total", "9", "gt", [1, 2, 3, 4]),  # 9.5 > 9 numerically ("9.5" < "9" as text)
        ("status", "d", "gt", [1, 3]),  # text comparison: pending, Processing > d
        ("updated_at", "2024-03-02", "gteq", [2, 3, 4, 5]),  # date widened to 00:00:00
        ("updated_at", "2024-03-02", "lteq", [1, 2]),
        ("status", "complete", "moreq", [2, 4]),  # unknown type: prepareSqlCondition falls to =
    ],
)
def test_condition_types(sim: MagentoSimulator, http: requests.Session, field: str, value: str,
                         cond: str | None, expected: list[int]) -> None:
    flt = (field, value) if cond is None else (field, value, cond)
    assert ids(get(http, sim, "/V1/orders", criteria([[flt]]))) == expected


def test_filter_echo_defaults_condition_type(sim: MagentoSimulator,
                                             http: requests.Session) -> None:
    body = get(http, sim, "/V1/orders", criteria([[("status", "complete")]])).json()
    assert body["search_criteria"] == {"filter_groups": [
        {"filters": [{"field": "status", "value": "complete", "condition_type": "eq"}]}
    ]}
    assert body["total_count"] == 2


# --------------------------------------------------------------------------- sorting


def test_sort_several_orders_and_lowercase_direction(sim: MagentoSimulator,
                                                     http: requests.Session) -> None:
    params = criteria(sort=[("created_at", "desc"), ("entity_id", "asc")])
    assert ids(get(http, sim, "/V1/orders", params)) == [4, 5, 3, 1, 2]
    params = criteria(sort=[("grand_total", "ASC")])
    assert ids(get(http, sim, "/V1/orders", params)) == [5, 2, 4, 3, 1]


def test_missing_direction_sorts_desc(sim: MagentoSimulator, http: requests.Session) -> None:
    resp = get(http, sim, "/V1/orders", criteria(sort=[("entity_id", None)]))
    assert ids(resp) == [5, 4, 3, 2, 1]
    assert resp.json()["search_criteria"]["sort_orders"] == [{"field": "entity_id"}]


@pytest.mark.parametrize("direction", ["UP", "", "ascending"])
def test_bad_sort_direction_is_400(sim: MagentoSimulator, http: requests.Session,
                                   direction: str) -> None:
    resp = get(http, sim, "/V1/orders", criteria(sort=[("entity_id", direction)]))
    assert resp.status_code == 400
    assert resp.json() == {"message": "The sort order has to be specified as ASC for ascending "
                                      "order or DESC for descending order."}


def test_no_sort_keeps_insertion_order_and_nulls_sort_first(sim: MagentoSimulator,
                                                            http: requests.Session) -> None:
    assert ids(get(http, sim, "/V1/orders", criteria())) == [1, 2, 3, 4, 5]
    assert ids(get(http, sim, "/V1/orders", criteria(sort=[("customer_id", "ASC")])))[0] == 4


# --------------------------------------------------------------------------- paging


def test_pages_and_total_count(sim: MagentoSimulator, http: requests.Session) -> None:
    pages = [ids(get(http, sim, "/V1/orders", criteria(page_size=2, current_page=p)))
             for p in (1, 2, 3)]
    assert pages == [[1, 2], [3, 4], [5]]
    body = get(http, sim, "/V1/orders", criteria(page_size=2, current_page=3)).json()
    assert body["total_count"] == 5
    assert body["search_criteria"] == {"filter_groups": [], "page_size": 2, "current_page": 3}


@pytest.mark.parametrize("page", [0, -3])
def test_current_page_below_one_is_page_one(sim: MagentoSimulator, http: requests.Session,
                                            page: int) -> None:
    assert ids(get(http, sim, "/V1/orders", criteria(page_size=2, current_page=page))) == [1, 2]


def test_past_the_end_is_empty_on_24(sim: MagentoSimulator, http: requests.Session) -> None:
    body = get(http, sim, "/V1/orders", criteria(page_size=2, current_page=4)).json()
    assert body["items"] == []
    assert body["total_count"] == 5


def test_past_the_end_repeats_last_page_on_23(make_magento_sim: Any,
                                              http: requests.Session) -> None:
    old = make_magento_sim({"orders": ORDERS}, past_end="repeat_last")
    assert ids(get(http, old, "/V1/orders", criteria(page_size=2, current_page=4))) == [5]
    assert ids(get(http, old, "/V1/orders", criteria(page_size=2, current_page=99))) == [5]


def test_no_page_size_returns_all_rows_and_no_echo(sim: MagentoSimulator,
                                                   http: requests.Session) -> None:
    body = get(http, sim, "/V1/orders", criteria(current_page=2)).json()
    assert [i["entity_id"] for i in body["items"]] == [1, 2, 3, 4, 5]  # no LIMIT: page ignored
    assert "page_size" not in body["search_criteria"]  # magento2#35310


def test_default_page_size_when_absent_243(make_magento_sim: Any,
                                           http: requests.Session) -> None:
    s = make_magento_sim({"orders": ORDERS}, default_page_size_when_absent=3)
    body = get(http, s, "/V1/orders", criteria()).json()
    assert [i["entity_id"] for i in body["items"]] == [1, 2, 3]
    assert body["total_count"] == 5
    assert body["search_criteria"]["page_size"] == 3


def test_max_page_size_is_400_not_clamped(make_magento_sim: Any,
                                          http: requests.Session) -> None:
    s = make_magento_sim({"orders": ORDERS}, max_page_size=300)
    resp = get(http, s, "/V1/orders", criteria(page_size=301))
    assert resp.status_code == 400
    assert resp.json() == {"message": "Maximum SearchCriteria pageSize is %max",
                           "parameters": {"max": 300}}
    assert get(http, s, "/V1/orders", criteria(page_size=300)).status_code == 200


def test_non_integer_page_size_is_400(sim: MagentoSimulator, http: requests.Session) -> None:
    resp = get(http, sim, "/V1/orders", criteria(page_size="lots"))
    assert resp.status_code == 400
    assert resp.json()["parameters"] == {"value": "lots", "type": "int"}


# --------------------------------------------------------------------------- request shape


@pytest.mark.parametrize("path", ["/V1/orders", "/V1/invoices", "/V1/creditmemos",
                                  "/V1/customers/search"])
def test_missing_search_criteria_is_400(sim: MagentoSimulator, http: requests.Session,
                                        path: str) -> None:
    resp = get(http, sim, path)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.json() == {"message": '"%fieldName" is required. Enter and try again.',
                           "parameters": {"fieldName": "searchCriteria"}}


def test_empty_search_criteria_returns_everything(sim: MagentoSimulator,
                                                  http: requests.Session) -> None:
    body = get(http, sim, "/V1/customers/search", {"searchCriteria": ""}).json()
    assert [c["id"] for c in body["items"]] == [7, 8]
    assert body == {"items": CUSTOMERS, "search_criteria": {"filter_groups": []},
                    "total_count": 2}


def test_snake_and_camel_keys_are_equivalent(sim: MagentoSimulator,
                                             http: requests.Session) -> None:
    args: dict[str, Any] = {
        "groups": [[("status", "complete,canceled", "in")], [("grand_total", "1", "gteq")]],
        "sort": [("grand_total", "DESC")],
        "page_size": 1,
        "current_page": 2,
    }
    snake = get(http, sim, "/V1/orders", criteria(**args))
    camel = get(http, sim, "/V1/orders", criteria(**args, camel=True))
    assert snake.status_code == camel.status_code == 200
    assert snake.content == camel.content  # echo is snake_case either way
    assert ids(snake) == [2]


def test_fields_projection(sim: MagentoSimulator, http: requests.Session) -> None:
    params = {**criteria(page_size=2), "fields": "items[entity_id,status],total_count"}
    body = get(http, sim, "/V1/orders", params).json()
    assert body == {"items": [{"entity_id": 1, "status": "pending"},
                              {"entity_id": 2, "status": "complete"}], "total_count": 5}
    # Bare field names on a list give an empty object (magento2#23609).
    assert get(http, sim, "/V1/orders", {"searchCriteria": "", "fields": "entity_id"}).json() == {}
    one = get(http, sim, "/V1/orders/3", {"fields": "increment_id"}).json()
    assert one == {"increment_id": "000000003"}


def test_json_is_compact_php_style(make_magento_sim: Any, http: requests.Session) -> None:
    s = make_magento_sim({"customers": [{"id": 1, "email": "é/x@example.com",
                                         "firstname": "A", "lastname": "B"}]})
    raw = get(http, s, "/V1/customers/1").content
    assert raw == b'{"id":1,"email":"\\u00e9\\/x@example.com","firstname":"A","lastname":"B"}'


# --------------------------------------------------------------------------- other endpoints


def test_get_by_id_and_404(sim: MagentoSimulator, http: requests.Session) -> None:
    assert get(http, sim, "/V1/orders/2").json() == ORDERS[1]
    assert get(http, sim, "/V1/invoices/10").json() == INVOICES[0]
    missing = get(http, sim, "/V1/orders/999")
    assert missing.status_code == 404
    assert missing.json() == {"message": "The entity that was requested doesn't exist. "
                                         "Verify the entity and try again."}


def test_store_structure(sim: MagentoSimulator, http: requests.Session) -> None:
    views = get(http, sim, "/V1/store/storeViews").json()
    assert [(v["id"], v["code"], v["name"], v["website_id"]) for v in views] == [
        (1, "default", "Default Store View", 1), (2, "fr", "French Store View", 1)]
    for v in views:  # required keys of store-data-store-interface
        assert {"id", "code", "name", "website_id", "store_group_id", "is_active"} <= set(v)
    sites = get(http, sim, "/V1/store/websites").json()
    assert sites == [{"id": 1, "code": "base", "name": "Main Website", "default_group_id": 1}]


@pytest.mark.parametrize(("method", "path"), [("GET", "/V1/returns"), ("POST", "/V1/orders"),
                                              ("GET", "/V2/orders")])
def test_unknown_route_is_404(sim: MagentoSimulator, http: requests.Session, method: str,
                              path: str) -> None:
    resp = http.request(method, sim.url + path, headers=AUTH, timeout=5)
    assert resp.status_code == 404
    assert resp.json() == {"message": "Request does not match any route."}


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer  {TOKEN}"])
def test_bad_or_missing_bearer_is_401(sim: MagentoSimulator, http: requests.Session,
                                      header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = get(http, sim, "/V1/orders", {"searchCriteria": ""}, headers=headers)
    assert resp.status_code == 401
    assert resp.json() == {"message": "The consumer isn't authorized to access %resources.",
                           "parameters": {"resources": "Magento_Sales::actions_view"}}


def test_bearer_type_is_case_insensitive(sim: MagentoSimulator, http: requests.Session) -> None:
    headers = {"Authorization": f"bearer {TOKEN}"}
    assert get(http, sim, "/V1/orders/1", headers=headers).status_code == 200


def test_authorize_is_an_extension_point(make_magento_sim: Any,
                                         http: requests.Session) -> None:
    class OnlyCustomers(MagentoSimulator):
        def authorize(self, request: RecordedRequest) -> ApiError | None:
            if request.header("X-Key") == "k":
                return None
            return ApiError(401, "nope", {"resources": request.acl_resource})

    s = OnlyCustomers({"customers": CUSTOMERS}).start()
    try:
        assert get(http, s, "/V1/customers/7", headers={"x-key": "k"}).status_code == 200
        denied = get(http, s, "/V1/customers/7", headers={})
        assert denied.json() == {"message": "nope",
                                 "parameters": {"resources": "Magento_Customer::customer"}}
    finally:
        s.stop()
    open_sim = make_magento_sim({"orders": ORDERS}, token=None)
    assert get(http, open_sim, "/V1/orders/1", headers={}).status_code == 200


# --------------------------------------------------------------------------- faults


def test_429_with_retry_after_is_consumed_once(sim: MagentoSimulator,
                                               http: requests.Session) -> None:
    sim.faults.too_many_requests("/V1/orders", retry_after=2)
    first = get(http, sim, "/V1/orders", criteria(page_size=2))
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json() == {"message": "Too Many Requests", "trace": None}
    assert ids(get(http, sim, "/V1/orders", criteria(page_size=2))) == [1, 2]
    assert len(sim.faults) == 0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_status_faults(sim: MagentoSimulator, http: requests.Session, status: int) -> None:
    sim.faults.status(status, "/V1/orders", times=2)
    for _ in range(2):
        resp = get(http, sim, "/V1/orders", {"searchCriteria": ""})
        assert resp.status_code == status
    if status == 500:
        assert resp.json()["message"].startswith("Internal Error. Details are available")
    else:
        assert resp.headers["Content-Type"].startswith("text/html")  # proxy page, not JSON
    assert get(http, sim, "/V1/orders", {"searchCriteria": ""}).status_code == 200


def test_fault_matches_path_and_current_page(sim: MagentoSimulator,
                                             http: requests.Session) -> None:
    sim.faults.status(503, "/V1/orders", current_page=2)
    assert get(http, sim, "/V1/customers/search", criteria(current_page=2)).status_code == 200
    assert get(http, sim, "/V1/orders", criteria(page_size=2, current_page=1)).status_code == 200
    assert get(http, sim, "/V1/orders", criteria(page_size=2, current_page=2)).status_code == 503
    assert get(http, sim, "/V1/orders", criteria(page_size=2, current_page=2)).status_code == 200


def test_faults_fire_before_auth(sim: MagentoSimulator, http: requests.Session) -> None:
    sim.faults.status(502)
    assert get(http, sim, "/V1/orders/1", headers={}).status_code == 502


def test_delay_fault_then_served(sim: MagentoSimulator, http: requests.Session) -> None:
    sim.faults.delay(0.15, "/V1/orders")
    start = time.monotonic()
    resp = get(http, sim, "/V1/orders/1")
    assert resp.status_code == 200
    assert time.monotonic() - start >= 0.15
    with pytest.raises(requests.exceptions.ReadTimeout):
        sim.faults.delay(0.2, "/V1/orders")
        get(http, sim, "/V1/orders/1", timeout=0.05)


def test_drop_connection(sim: MagentoSimulator, http: requests.Session) -> None:
    sim.faults.drop("/V1/orders")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(http, sim, "/V1/orders/1")
    assert get(http, sim, "/V1/orders/1").status_code == 200


@pytest.mark.parametrize("how", ["length", "chunked"])
def test_cut_body_breaks_off_mid_answer(sim: MagentoSimulator, http: requests.Session,
                                        how: str) -> None:
    sim.faults.cut_body("/V1/orders", how=how)  # type: ignore[arg-type]
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(http, sim, "/V1/orders/1")
    assert get(http, sim, "/V1/orders/1").json()["entity_id"] == 1  # served whole again


def test_html_200_is_a_success_status_with_a_page(sim: MagentoSimulator,
                                                  http: requests.Session) -> None:
    sim.faults.html_200("<!DOCTYPE html><title>Login</title>", "/V1/orders")
    resp = get(http, sim, "/V1/orders/1")
    assert resp.status_code == 200 and resp.text.startswith("<!DOCTYPE html>")
    assert resp.headers["Content-Type"].startswith("text/html")


def test_duplicate_id_500(sim: MagentoSimulator, http: requests.Session) -> None:
    sim.faults.duplicate_id_500(current_page=3)
    assert get(http, sim, "/V1/orders", criteria(page_size=1, current_page=2)).status_code == 200
    resp = get(http, sim, "/V1/orders", criteria(page_size=1, current_page=3))
    assert resp.status_code == 500
    assert resp.json() == {"message": 'Item (Magento\\Sales\\Model\\Order\\Interceptor) with the '
                                      'same ID "93310" already exists.'}


def test_latency(sim: MagentoSimulator, http: requests.Session) -> None:
    sim.set_latency(0.05)
    start = time.monotonic()
    get(http, sim, "/V1/orders", {"searchCriteria": ""})
    assert time.monotonic() - start >= 0.05


# --------------------------------------------------------------------------- live changes


def test_upsert_between_pages_is_visible_on_next_page(sim: MagentoSimulator,
                                                      http: requests.Session) -> None:
    # Sorting on a mutable column lets a row jump pages (magento-rest.md §3.5).
    params = dict(criteria(sort=[("updated_at", "ASC")], page_size=2, current_page=1))
    assert ids(get(http, sim, "/V1/orders", params)) == [1, 2]
    row = sim.upsert("orders", {"entity_id": 1, "status": "complete"})
    assert row["updated_at"] > "2024-03-04 23:59:59"  # touched like ON UPDATE CURRENT_TIMESTAMP
    sim.upsert("orders", {"entity_id": 6, "status": "pending", "updated_at": "2024-03-02 06:00:00"})
    params["searchCriteria[current_page]"] = "2"
    body = get(http, sim, "/V1/orders", params).json()
    assert [i["entity_id"] for i in body["items"]] == [3, 4]  # 6 slid onto page 1: missed
    assert body["total_count"] == 6
    params["searchCriteria[current_page]"] = "3"
    assert ids(get(http, sim, "/V1/orders", params)) == [5, 1]  # 1 moved to the end: seen twice
    assert ids(get(http, sim, "/V1/orders", criteria([[("status", "complete")]]))) == [1, 2, 4]


def test_hook_sees_each_request_and_can_mutate_rows(sim: MagentoSimulator,
                                                    http: requests.Session) -> None:
    seen: list[RecordedRequest] = []

    def hook(req: RecordedRequest) -> None:
        seen.append(req)
        if req.current_page == 2:
            sim.delete("orders", 1)  # a row vanishes between pages -> row 3 is never served

    sim.on_request(hook)
    pages = [ids(get(http, sim, "/V1/orders", criteria(page_size=2, current_page=p,
                                                       camel=True))) for p in (1, 2)]
    assert pages == [[1, 2], [4, 5]]
    assert [r.current_page for r in seen] == [1, 2]
    assert seen[0].query["searchCriteria[pageSize]"] == "2"
    assert seen[0].page_size == 2
    assert seen[0].header("authorization") == f"Bearer {TOKEN}"
    assert seen[0].endpoint == "/V1/orders"
    assert seen[0].path == "/rest/default/V1/orders"
    assert sim.requests == seen


# --------------------------------------------------------------------------- loading / fixtures


def test_parse_php_query_keeps_url_order_and_appends() -> None:
    tree = parse_php_query([("a[x][1]", "one"), ("a[x][0]", "zero"), ("b[]", "p"), ("b[]", "q")])
    assert tree == {"a": {"x": {"1": "one", "0": "zero"}}, "b": {"0": "p", "1": "q"}}
    assert list(tree["a"]["x"]) == ["1", "0"]


def test_from_folder_loads_pages_in_numeric_order_and_dedupes(tmp_path: Path,
                                                              http: requests.Session) -> None:
    orders = tmp_path / "orders"
    orders.mkdir()
    (orders / "page-10.json").write_text(json.dumps({"items": [{"entity_id": 3, "v": "late"}]}))
    (orders / "page-2.json").write_text(json.dumps({"items": [{"entity_id": 3, "v": "early"},
                                                              {"entity_id": 4}]}))
    (orders / "page-1.json").write_text(json.dumps({"items": [{"entity_id": 9}],
                                                    "total_count": 3}))
    (tmp_path / "customers").mkdir()  # empty folder, and invoices/ missing entirely
    with MagentoSimulator.from_folder(tmp_path, token="T") as s:
        assert s.rows("orders") == [{"entity_id": 9}, {"entity_id": 3, "v": "late"},
                                    {"entity_id": 4}]
        assert s.rows("invoices") == s.rows("customers") == []
        resp = get(http, s, "/V1/orders", {"searchCriteria": ""},
                   headers={"Authorization": "Bearer T"})
        assert resp.json()["total_count"] == 3


def test_magento_sim_fixture_serves(magento_sim: MagentoSimulator,
                                    http: requests.Session) -> None:
    resp = get(http, magento_sim, "/V1/orders", criteria(page_size=1))
    assert resp.status_code == 200
    assert resp.json()["total_count"] == len(magento_sim.rows("orders"))
    if not fixtures_magento.has_sample_pages():
        assert resp.json()["items"] == []


def test_make_magento_sim_options(make_magento_sim: Any) -> None:
    idle = make_magento_sim({"orders": ORDERS}, start=False, base_path="/rest/all")
    with pytest.raises(RuntimeError):
        _ = idle.url
    live = make_magento_sim(base_path="/rest/all")
    assert live.url.endswith("/rest/all")
    with pytest.raises(ValueError, match="unknown entity"):
        MagentoSimulator({"order": []})
