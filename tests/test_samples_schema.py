"""The committed Magento samples are valid, reproducible and balance exactly.

Why: every other test and the demo trust samples/magento as "what Magento sends". These tests
pin that trust to the published 2.4.8 REST schema, to the generator script (no hand edits), to
Magento's totals identities (to the cent, in Decimal) and to consistent searchCriteria paging.
The factory behind the samples is also exercised on random and Hypothesis-drawn orders.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import os
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.testing.factory import (
    build_creditmemo,
    build_customer,
    build_invoice,
    build_order,
    customer_spec,
    random_order_spec,
    search_page,
)
from tests.strategies import creditmemo_args, order_specs

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
MAGENTO = SAMPLES / "magento"
SCHEMA_RELATIVE = Path("reference", "magento", "schema", "admin-schema-2.4.8.json")
PAGE_DEFINITIONS = {
    "orders": "sales-data-order-search-result-interface",
    "invoices": "sales-data-invoice-search-result-interface",
    "creditmemos": "sales-data-creditmemo-search-result-interface",
    "customers": "customer-data-customer-search-results-interface",
}
PAGES = sorted(MAGENTO.glob("*/page-*.json"))
WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def _schema_path() -> Path | None:
    """The shared schema next to the checkout, else under $SAGESYNC_SHARED."""
    candidates = [Path(__file__).resolve().parents[2] / "shared" / SCHEMA_RELATIVE]
    if os.environ.get("SAGESYNC_SHARED"):
        candidates.append(Path(os.environ["SAGESYNC_SHARED"]) / SCHEMA_RELATIVE)
    return next((path for path in candidates if path.is_file()), None)


@cache
def _definitions() -> dict[str, Any]:
    """Schema definitions, loaded once, with the one documented allowance for Magento nulls.

    Swagger 2.0 cannot say "nullable". The payment's `account_status` and `cc_last4` are
    required getters, so Magento prints them as null (shared/reference/magento/samples/
    order_get_V1_orders_3...: `"account_status": null, "cc_last4": null`); only those two
    properties are widened to accept null.
    """
    path = _schema_path()
    if path is None:
        pytest.skip("Magento REST schema not found: expected ../shared/"
                    f"{SCHEMA_RELATIVE.as_posix()} or $SAGESYNC_SHARED/"
                    f"{SCHEMA_RELATIVE.as_posix()}")
    definitions = json.loads(path.read_text(encoding="utf-8"))["definitions"]
    payment = copy.deepcopy(definitions["sales-data-order-payment-interface"])
    for name in ("account_status", "cc_last4"):
        payment["properties"][name]["type"] = [payment["properties"][name]["type"], "null"]
    definitions["sales-data-order-payment-interface"] = payment
    return definitions


@cache
def _validator(definition: str) -> Any:
    from jsonschema import Draft4Validator

    return Draft4Validator({"$ref": f"#/definitions/{definition}", "definitions": _definitions()})


def _schema_errors(definition: str, document: dict[str, Any]) -> list[str]:
    errors = _validator(definition).iter_errors(document)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors]


def _load(path: Path) -> dict[str, Any]:
    """A page with every JSON number that has a fraction decoded as an exact Decimal."""
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def _items(kind: str) -> list[dict[str, Any]]:
    return [item for path in sorted((MAGENTO / kind).glob("page-*.json"))
            for item in _load(path)["items"]]


def _d(document: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(document.get(key, 0)))


def _sum(document: dict[str, Any], *keys: str) -> Decimal:
    return sum((_d(document, key) for key in keys), Decimal(0))


# The three identities differ on purpose: see the sagesync.testing.factory module docstring.
_ORDER_PARTS = ("subtotal", "shipping_amount", "tax_amount", "discount_amount",
                "discount_tax_compensation_amount", "shipping_discount_tax_compensation_amount")
_INVOICE_PARTS = _ORDER_PARTS[:5]


def _order_balances(order: dict[str, Any]) -> None:
    assert _sum(order, *_ORDER_PARTS) == _d(order, "grand_total"), order["increment_id"]
    assert _sum(order, *("base_" + k for k in _ORDER_PARTS[:5]),
                "base_shipping_discount_tax_compensation_amnt") == _d(order, "base_grand_total")
    money_rows = [item for item in order["items"] if "row_total" in item]
    assert sum((_d(i, "row_total") for i in money_rows), Decimal(0)) == _d(order, "subtotal")
    for item in money_rows:  # undiscounted rows: net + tax == gross (discounts change the tax)
        assert _d(item, "discount_amount") >= 0
        if not _d(item, "discount_amount"):
            assert (_sum(item, "row_total", "tax_amount") == _d(item, "row_total_incl_tax")
                    ), (order["increment_id"], item["sku"])


def _invoice_balances(invoice: dict[str, Any]) -> None:
    assert _sum(invoice, *_INVOICE_PARTS) == _d(invoice, "grand_total"), invoice["increment_id"]
    assert _sum(invoice, *("base_" + k for k in _INVOICE_PARTS)) == _d(invoice,
                                                                          "base_grand_total")
    assert _d(invoice, "discount_amount") <= 0
    assert "shipping_discount_amount" not in invoice


def _memo_balances(memo: dict[str, Any]) -> None:
    expected = (_sum(memo, *_INVOICE_PARTS, "adjustment_positive")
                - _d(memo, "adjustment_negative"))
    assert expected == _d(memo, "grand_total"), memo["increment_id"]
    assert _d(memo, "adjustment") == _d(memo, "adjustment_positive") - _d(
        memo, "adjustment_negative")
    assert _d(memo, "discount_amount") <= 0
    assert _d(memo, "adjustment_positive") >= 0 and _d(memo, "adjustment_negative") >= 0


BALANCES: dict[str, Callable[[dict[str, Any]], None]] = {
    "orders": _order_balances, "invoices": _invoice_balances, "creditmemos": _memo_balances,
}


def _make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


# --------------------------------------------------------------------------- committed samples


def test_every_entity_has_pages() -> None:
    assert {path.parent.name for path in PAGES} == set(PAGE_DEFINITIONS)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_matches_magento_schema(path: Path) -> None:
    errors = _schema_errors(PAGE_DEFINITIONS[path.parent.name], _load(path))
    assert not errors, "\n".join(errors[:20])


def test_generator_reproduces_committed_files_byte_for_byte() -> None:
    rendered = _make_samples().render()
    for relative, text in rendered.items():
        on_disk = (SAMPLES / relative).read_bytes()
        assert on_disk == text.encode("utf-8"), (
            f"samples/{relative} differs from make_samples.py output; rerun the script")
    committed = {p.relative_to(SAMPLES).as_posix() for p in MAGENTO.rglob("*") if p.is_file()}
    assert committed <= set(rendered), f"stray files: {sorted(committed - set(rendered))}"


@pytest.mark.parametrize("kind", sorted(BALANCES))
def test_totals_identity_holds_exactly(kind: str) -> None:
    documents = _items(kind)
    assert documents
    for document in documents:
        BALANCES[kind](document)


@pytest.mark.parametrize("kind", sorted(PAGE_DEFINITIONS))
def test_paging_is_consistent(kind: str) -> None:
    paths = sorted((MAGENTO / kind).glob("page-*.json"))
    pages = [_load(path) for path in paths]
    total = pages[0]["total_count"]
    size = pages[0]["search_criteria"]["page_size"]
    assert [p.name for p in paths] == [f"page-{n:04d}.json" for n in range(1, len(paths) + 1)]
    assert len(pages) == math.ceil(total / size)
    ids: list[int] = []
    for number, page in enumerate(pages, start=1):
        criteria = page["search_criteria"]
        assert page["total_count"] == total
        assert criteria["current_page"] == number and criteria["page_size"] == size
        assert criteria["sort_orders"] == [{"field": "entity_id", "direction": "ASC"}]
        expected = size if number < len(pages) else total - size * (len(pages) - 1)
        assert len(page["items"]) == expected
        ids += [item["id" if kind == "customers" else "entity_id"] for item in page["items"]]
    assert ids == sorted(set(ids)) and len(ids) == total


def test_documents_join_and_cover_the_brief() -> None:
    orders = {o["entity_id"]: o for o in _items("orders")}
    invoices = _items("invoices")
    memos = _items("creditmemos")
    customers = {c["id"]: c for c in _items("customers")}
    invoiced = {i["order_id"] for i in invoices}
    assert invoiced <= set(orders)
    assert {m["invoice_id"] for m in memos} <= {i["entity_id"] for i in invoices}
    for order in orders.values():
        if not order["customer_is_guest"]:
            assert customers[order["customer_id"]]["email"] == order["customer_email"]
        else:
            assert "customer_id" not in order and order["customer_group_id"] == 0
    uninvoiced = [o for o in orders.values() if o["entity_id"] not in invoiced]
    assert sorted(o["state"] for o in uninvoiced) == ["canceled", "processing"]
    rows = [item for o in orders.values() for item in o["items"]]
    assert {i["product_type"] for i in rows} == {"simple", "configurable", "bundle"}
    assert {_d(i, "tax_percent") for i in rows if "row_total" in i} >= {0, 5, 20}
    assert any(_d(o, "discount_tax_compensation_amount") for o in orders.values())
    assert any(o.get("coupon_code") for o in orders.values())
    assert any(o["shipping_description"] == "Free Shipping - Free" for o in orders.values())
    assert {o["store_id"] for o in orders.values()} == {1, 2}
    assert any(o["billing_address"]["lastname"].startswith("=") for o in orders.values())
    assert any(_d(m, "adjustment_positive") and _d(m, "adjustment_negative") for m in memos)
    assert any(_d(m, "shipping_amount") for m in memos)
    accounts = (SAMPLES / "mapping" / "customers.csv").read_text(encoding="utf-8").splitlines()
    assert accounts[0] == "email,account_ref" and len(accounts) == 2
    nominals = (SAMPLES / "mapping" / "nominals.csv").read_text(encoding="utf-8").splitlines()
    assert nominals[0] == "kind,value,nominal"


# --------------------------------------------------------------------------- the factory itself


def _check_generated(order: dict[str, Any], memo_args: dict[str, Any] | None) -> None:
    _order_balances(order)
    page = search_page([order], 1, 1, 1)
    assert not _schema_errors(PAGE_DEFINITIONS["orders"], page)
    if order["state"] == "canceled" or not order["items"][0]["qty_invoiced"]:
        return
    invoice = build_invoice(order, 1, "1", WHEN)
    _invoice_balances(invoice)
    assert _d(invoice, "grand_total") == _d(order, "grand_total")
    assert not _schema_errors(PAGE_DEFINITIONS["invoices"], search_page([invoice], 1, 1, 1))
    if memo_args is None:
        return
    memo = build_creditmemo(order, 1, "1", WHEN, invoice_id=1, **memo_args)
    _memo_balances(memo)
    assert _d(memo, "grand_total") >= 0
    assert not _schema_errors(PAGE_DEFINITIONS["creditmemos"], search_page([memo], 1, 1, 1))


def test_random_order_specs_balance_and_validate() -> None:
    rng = random.Random(20261124)
    for entity_id in range(1, 61):
        order = build_order(random_order_spec(rng, entity_id))
        shipping = Decimal(str(order["shipping_amount"]))
        _check_generated(order, {"refund_shipping": shipping, "adjustment_positive": 1})
    customers = [build_customer(customer_spec(i), created_at=WHEN) for i in range(1, 6)]
    assert not _schema_errors(PAGE_DEFINITIONS["customers"], search_page(customers, 1, 5, 5))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hypothesis_orders_balance_and_validate(data: st.DataObject) -> None:
    order = build_order(data.draw(order_specs()))
    invoiced = order["state"] != "canceled" and bool(order["items"][0]["qty_invoiced"])
    _check_generated(order, data.draw(creditmemo_args(order)) if invoiced else None)
