"""CatalogPusher against the catalog simulator: chunking, bisection of all-or-nothing source
items, partial price failures matched back by SKU, input limits, retries, auth, exact decimals
(magento-rest.md §3.4, §7; samples/error_and_partial_failure_examples.json)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest

from sagesync.errors import AuthError, SageSyncError, TransientError
from sagesync.magento.auth import BearerToken
from sagesync.magento.http import RetryPolicy
from sagesync.magento.push import (
    BASE_PRICES_PATH,
    SOURCE_ITEMS_PATH,
    TIER_PRICES_PATH,
    BasePrice,
    CatalogPusher,
    SourceItem,
    TierPrice,
    bisection_bound,
    match_price_failure,
    parse_price_failure,
)
from tests import magento_sim_catalog
from tests.magento_sim_catalog import KNOWN_SKUS, CatalogSimulator

# The fixtures, bound here (tests/conftest.py does not star-import this module).
make_catalog_sim = magento_sim_catalog.make_catalog_sim
catalog_sim = magento_sim_catalog.catalog_sim

PATHS = {SOURCE_ITEMS_PATH, BASE_PRICES_PATH, TIER_PRICES_PATH}
BRIEF_BOUND = 2 * math.log2(20) + 2  # requests allowed to isolate one bad item among 20


def pusher(sim: CatalogSimulator, *, token: str = "sim-token", sleeps: list[float] | None = None,
           **kw: Any) -> CatalogPusher:
    sink = sleeps if sleeps is not None else []
    return CatalogPusher(sim.url, BearerToken(token), retry=RetryPolicy(sleep=sink.append), **kw)


def bodies(sim: CatalogSimulator) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in sim.catalog_requests()]


def stock(n: int, *, sources: tuple[str, ...] = ("default",)) -> list[SourceItem]:
    return [SourceItem(KNOWN_SKUS[i % len(KNOWN_SKUS)], sources[i // len(KNOWN_SKUS)],
                       Decimal(i) + Decimal("0.5"), 1) for i in range(n)]


def landed(sim: CatalogSimulator, items: list[SourceItem]) -> bool:
    return all(sim.source_items.get((i.sku, i.source_code)) == (i.quantity, i.status)
               for i in items)


# --------------------------------------------------------------------------- chunking


def test_45_items_go_in_3_requests_of_at_most_20(catalog_sim: CatalogSimulator) -> None:
    items = stock(45, sources=("default", "central"))
    report = pusher(catalog_sim).push_source_items(items)

    assert report.sent == items and report.failed == [] and report.requests == 3
    sent = bodies(catalog_sim)
    assert [len(b["sourceItems"]) for b in sent] == [20, 20, 5]
    assert sent[0]["sourceItems"][0] == {"sku": "SKU-001", "source_code": "default",
                                         "quantity": 0.5, "status": 1}
    assert [row for b in sent for row in b["sourceItems"]] == [
        {"sku": i.sku, "source_code": i.source_code, "quantity": float(i.quantity),
         "status": 1} for i in items]
    assert all(r.endpoint == SOURCE_ITEMS_PATH and r.method == "POST"
               for r in catalog_sim.catalog_requests())
    assert landed(catalog_sim, items)


def test_exact_decimals_reach_magento(catalog_sim: CatalogSimulator) -> None:
    push = pusher(catalog_sim)
    push.push_source_items([SourceItem("SKU-001", "default", Decimal("0.5"), 1),
                            SourceItem("SKU-002", "east", Decimal("12.50"), 1),
                            SourceItem("SKU-003", "default", Decimal("0.1"), 0)])
    push.push_base_prices([BasePrice("SKU-001", Decimal("19.99")),
                           BasePrice("SKU-002", Decimal("0.30"), store_id=1)])
    push.push_tier_prices([TierPrice("SKU-001", Decimal("17.10"), 0, "General",
                                     Decimal("2.5"))])

    raw = b"".join(r.body for r in catalog_sim.catalog_requests())
    for literal in (b'"quantity":0.5', b'"quantity":12.50', b'"quantity":0.1',
                    b'"price":19.99', b'"price":0.30', b'"price":17.10', b'"quantity":2.5'):
        assert literal in raw
    assert catalog_sim.source_items[("SKU-002", "east")] == (Decimal("12.50"), 1)
    assert catalog_sim.source_items[("SKU-003", "default")] == (Decimal("0.1"), 0)
    assert catalog_sim.base_prices == {("SKU-001", 0): Decimal("19.99"),
                                       ("SKU-002", 1): Decimal("0.30")}
    assert catalog_sim.tier_prices == {("SKU-001", 0, "General", Decimal("2.5")):
                                       Decimal("17.10")}


def test_floats_are_taken_at_their_printed_value() -> None:
    assert SourceItem("A", "default", 0.1, 1).quantity == Decimal("0.1")  # type: ignore[arg-type]
    assert BasePrice("A", 19.99).price == Decimal("19.99")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        BasePrice("A", "twelve")  # type: ignore[arg-type]


def test_nothing_to_push_sends_nothing(catalog_sim: CatalogSimulator) -> None:
    report = pusher(catalog_sim).push_source_items([])
    assert (report.sent, report.failed, report.requests) == ([], [], 0)
    assert catalog_sim.requests == []


# --------------------------------------------------------------------------- source items


def test_unknown_sku_is_taken_out_by_what_magento_names(catalog_sim: CatalogSimulator) -> None:
    items = stock(20)
    items[7] = SourceItem("NO-SUCH-SKU", "default", Decimal(3), 1)
    report = pusher(catalog_sim).push_source_items(items)

    good = [i for i in items if i.sku != "NO-SUCH-SKU"]
    assert report.requests == 2  # errors[] names the SKU: no bisection needed
    assert report.failed == [(items[7],
                              'Product with requested "sku": "NO-SUCH-SKU" was was not found.')]
    assert report.unknown_skus == ["NO-SUCH-SKU"]
    assert sorted(report.sent, key=items.index) == good and landed(catalog_sim, good)
    assert "NO-SUCH-SKU" not in catalog_sim.known_skus
    assert not any(sku == "NO-SUCH-SKU" for sku, _ in catalog_sim.source_items)


@pytest.mark.parametrize("position", range(20))
def test_one_bad_item_is_found_by_bisection(catalog_sim: CatalogSimulator, position: int
                                            ) -> None:
    items = stock(20)
    bad = SourceItem(items[position].sku, "atlantis", Decimal(1), 1)  # unknown source
    items[position] = bad
    report = pusher(catalog_sim).push_source_items(items)

    assert report.failed == [(bad, "Could not save Source Item")]
    assert report.unknown_skus == []
    good = [i for i in items if i is not bad]
    assert len(report.sent) == 19 and set(report.sent) == set(good)
    assert landed(catalog_sim, good)
    assert (bad.sku, "atlantis") not in catalog_sim.source_items
    assert report.requests <= bisection_bound(20) == 9 < BRIEF_BOUND


def test_bisection_request_counts(make_catalog_sim: Any) -> None:
    """Measured over every position of one bad item among 20: 6 to 9 requests."""
    counts = []
    for position in range(20):
        sim = make_catalog_sim()
        items = stock(20)
        items[position] = SourceItem(items[position].sku, "atlantis", Decimal(1), 1)
        counts.append(pusher(sim).push_source_items(items).requests)
    assert counts == [9, 8, 8, 9, 8, 8, 7, 7, 8, 7, 8, 7, 7, 8, 7, 7, 6, 6, 7, 6]
    assert max(counts) == bisection_bound(20)


def test_two_bad_items_each_with_its_own_message(catalog_sim: CatalogSimulator) -> None:
    items = stock(20)
    items[3] = SourceItem(items[3].sku, "atlantis", Decimal(1), 1)
    items[16] = SourceItem(items[16].sku, "default", Decimal(-4), 1)
    report = pusher(catalog_sim).push_source_items(items)

    assert dict(report.failed) == {
        items[3]: "Could not save Source Item",
        items[16]: 'Validation Failed: "quantity" should be greater than or equal to 0.',
    }
    good = [i for n, i in enumerate(items) if n not in (3, 16)]
    assert set(report.sent) == set(good) and len(report.sent) == 18
    assert landed(catalog_sim, good)
    assert report.requests <= 2 * bisection_bound(20)


def test_unknown_skus_and_a_fault_that_names_no_item(catalog_sim: CatalogSimulator) -> None:
    items = stock(20)
    items[0] = SourceItem("GHOST-1", "default", Decimal(1), 1)
    items[9] = SourceItem("GHOST-2", "central", Decimal(1), 1)
    items[12] = SourceItem(items[12].sku, "atlantis", Decimal(1), 1)
    report = pusher(catalog_sim).push_source_items(items)

    assert report.unknown_skus == ["GHOST-1", "GHOST-2"]
    assert dict(report.failed)[items[12]] == "Could not save Source Item"
    assert len(report.failed) == 3 and len(report.sent) == 17
    assert landed(catalog_sim, report.sent)


def test_all_unknown_skus_cost_one_request(catalog_sim: CatalogSimulator) -> None:
    items = [SourceItem(f"GHOST-{n}", "default", Decimal(n), 1) for n in range(20)]
    report = pusher(catalog_sim).push_source_items(items)
    assert report.requests == 1 and report.sent == [] and len(report.failed) == 20
    assert report.unknown_skus == [i.sku for i in items]
    assert catalog_sim.source_items == {}


def test_all_bad_items_are_each_reported(catalog_sim: CatalogSimulator) -> None:
    items = [SourceItem(sku, "atlantis", Decimal(1), 1) for sku in KNOWN_SKUS[:20]]
    report = pusher(catalog_sim).push_source_items(items)
    assert report.sent == [] and dict(report.failed) == dict.fromkeys(
        items, "Could not save Source Item")
    assert report.requests == 2 * 20 - 1  # every node of the bisection tree
    assert catalog_sim.source_items == {}


def test_items_magento_would_refuse_are_not_sent(catalog_sim: CatalogSimulator) -> None:
    items = [SourceItem("SKU-001", "default", Decimal(1), 7),
             SourceItem(" SKU-002", "default", Decimal(1), 1),
             SourceItem("SKU-003", "default", Decimal("NaN"), 1),
             SourceItem("SKU-004", "default", Decimal(2), 1)]
    report = pusher(catalog_sim).push_source_items(items)
    assert report.sent == [items[3]] and report.requests == 1
    assert [item for item, _ in report.failed] == items[:3]
    assert all(reason.startswith("not sent: ") for _, reason in report.failed)


def test_never_deletes_nor_creates(catalog_sim: CatalogSimulator) -> None:
    items = stock(10)
    items[2] = SourceItem("GHOST", "default", Decimal(1), 1)
    items[5] = SourceItem(items[5].sku, "atlantis", Decimal(1), 1)
    push = pusher(catalog_sim)
    push.push_source_items(items)
    push.push_base_prices([BasePrice("GHOST", Decimal(1)), BasePrice("SKU-001", Decimal(2))])
    push.push_tier_prices([TierPrice("GHOST", Decimal(1), 0, "General", Decimal(2))])
    assert {r.endpoint for r in catalog_sim.requests} <= PATHS
    assert all(r.method == "POST" for r in catalog_sim.requests)
    assert "GHOST" not in catalog_sim.known_skus
    assert not any("GHOST" in key for key in [*catalog_sim.source_items,
                                              *catalog_sim.base_prices,
                                              *catalog_sim.tier_prices])


# --------------------------------------------------------------------------- prices


def test_base_price_partial_failure_matched_by_sku(catalog_sim: CatalogSimulator) -> None:
    items = [BasePrice(sku, Decimal("10.00") + n) for n, sku in enumerate(KNOWN_SKUS[:10])]
    items[2] = BasePrice("NOT-A-SKU", Decimal(5))
    items[6] = BasePrice("SKU-007", Decimal(5), store_id=9999)
    report = pusher(catalog_sim).push_base_prices(items)

    assert report.requests == 1
    assert dict(report.failed) == {
        items[2]: "Invalid attribute SKU = NOT-A-SKU.",
        items[6]: "Requested store is not found. Row ID: SKU = SKU-007, Store ID: 9999.",
    }
    assert report.unknown_skus == ["NOT-A-SKU"]
    good = [i for n, i in enumerate(items) if n not in (2, 6)]
    assert report.sent == good
    assert catalog_sim.base_prices == {(i.sku, 0): i.price for i in good}


def test_tier_price_partial_failure_matched_by_sku_and_row(catalog_sim: CatalogSimulator
                                                           ) -> None:
    items = [TierPrice("SKU-001", Decimal(9), 0, "General", Decimal(5)),
             TierPrice("SKU-001", Decimal(8), 0, "Gold", Decimal(5)),  # unknown group
             TierPrice("SKU-001", Decimal(7), 0, "general", Decimal(10)),
             TierPrice("GHOST", Decimal(1), 0, "ALL GROUPS", Decimal(2)),
             TierPrice("SKU-002", Decimal(6), 5, "Wholesale", Decimal(3)),  # unknown website
             TierPrice("SKU-003", Decimal(50), 1, "Retailer", Decimal(2), "discount")]
    report = pusher(catalog_sim).push_tier_prices(items)

    assert dict(report.failed) == {
        items[1]: "No such entity with Customer Group = Gold. Row ID: SKU = SKU-001, "
                  "Website ID: 0, Customer Group: Gold, Quantity: 5.",
        items[3]: "Invalid attribute SKU = GHOST. Row ID: SKU = GHOST, Website ID: 0, "
                  "Customer Group: ALL GROUPS, Quantity: 2.",
        items[4]: "Invalid attribute Website ID = 5. Row ID: SKU = SKU-002, Website ID: 5, "
                  "Customer Group: Wholesale, Quantity: 3.",
    }
    assert report.unknown_skus == ["GHOST"]
    assert report.sent == [items[0], items[2], items[5]]
    assert catalog_sim.tier_prices == {
        ("SKU-001", 0, "General", Decimal(5)): Decimal(9),
        ("SKU-001", 0, "General", Decimal(10)): Decimal(7),
        ("SKU-003", 1, "Retailer", Decimal(2)): Decimal(50),
    }


def test_a_customer_group_id_is_refused_like_magento_does(catalog_sim: CatalogSimulator
                                                          ) -> None:
    """Magento wants the group code: "2" (Wholesale's id) is a failed row of a 200 answer."""
    by_id = TierPrice("SKU-001", Decimal(9), 0, "2", Decimal(5))
    by_code = TierPrice("SKU-001", Decimal(9), 0, "Wholesale", Decimal(6))
    report = pusher(catalog_sim).push_tier_prices([by_id, by_code])
    assert report.failed == [(by_id, "No such entity with Customer Group = 2. Row ID: SKU = "
                              "SKU-001, Website ID: 0, Customer Group: 2, Quantity: 5.")]
    assert report.sent == [by_code] and report.requests == 1 and report.unknown_skus == []
    assert catalog_sim.tier_prices == {("SKU-001", 0, "Wholesale", Decimal(6)): Decimal(9)}


def test_tier_duplicate_of_an_existing_all_websites_price(catalog_sim: CatalogSimulator
                                                          ) -> None:
    push = pusher(catalog_sim)
    push.push_tier_prices([TierPrice("SKU-005", Decimal(40), 0, "NOT LOGGED IN", Decimal(3))])
    clash = TierPrice("SKU-005", Decimal(41), 1, "not logged in", Decimal(3))
    other = TierPrice("SKU-005", Decimal(39), 1, "not logged in", Decimal(4))
    report = push.push_tier_prices([other, clash])
    # Magento names the existing row (website 0, qty 3.0000): matched by SKU, group and qty.
    assert report.failed == [(clash, "We found a duplicate website, tier price, customer group "
                              "and quantity: Customer Group = NOT LOGGED IN, Website ID = 0, "
                              "Quantity = 3.0000. Row ID: SKU = SKU-005, Website ID: 0, "
                              "Customer Group: NOT LOGGED IN, Quantity: 3.0000.")]
    assert report.sent == [other]


def test_negative_price_is_not_sent(catalog_sim: CatalogSimulator) -> None:
    items = [BasePrice("SKU-001", Decimal("-1")), BasePrice("SKU-002", Decimal("2"))]
    report = pusher(catalog_sim).push_base_prices(items)
    assert report.sent == [items[1]] and report.requests == 1
    assert report.failed[0][0] == items[0] and report.failed[0][1].startswith("not sent: ")


# --------------------------------------------------------------------------- matching rule


REFERENCE_BASE_FAILURES = [  # BasePriceStorageTest::testUpdateWithInvalidParameters
    {"message": "Invalid attribute %fieldName = %fieldValue.",
     "parameters": ["SKU", "not_existing_sku"]},
    {"message": "Invalid attribute %fieldName = %fieldValue.", "parameters": ["Price", "-9999"]},
    {"message": "Requested store is not found. Row ID: SKU = not_existing_sku, Store ID: 9999.",
     "parameters": ["not_existing_sku", "9999"]},
]


def test_reference_base_price_failures_all_point_at_the_row() -> None:
    rows = [BasePrice("simple", Decimal(5)), BasePrice("not_existing_sku", Decimal(-9999), 9999)]
    parsed = [parse_price_failure(f["message"], f["parameters"])
              for f in REFERENCE_BASE_FAILURES]
    assert [p.text for p in parsed] == [
        "Invalid attribute SKU = not_existing_sku.", "Invalid attribute Price = -9999.",
        "Requested store is not found. Row ID: SKU = not_existing_sku, Store ID: 9999."]
    assert [match_price_failure(p, rows) for p in parsed] == [[1], [1], [1]]
    assert [p.unknown_sku for p in parsed] == [True, False, False]


def test_reference_tier_price_failures_sku_is_the_first_of_the_row_id() -> None:
    website = parse_price_failure(
        "Invalid attribute Website ID = %websiteId. Row ID: SKU = %SKU, Website ID: %websiteId,"
        " Customer Group: %customerGroup, Quantity: %qty.",
        ["simple", "2", "not logged in", "3"])
    assert website.sku == "simple" and website.values["websiteId"] == "2"
    assert website.text.startswith("Invalid attribute Website ID = 2. Row ID: SKU = simple")
    # Price failures put the price first: the SKU is parameters[1], found via the Row ID.
    price = parse_price_failure(
        "Invalid attribute Price = %price. Row ID: SKU = %SKU, Website ID: %websiteId, "
        "Customer Group: %customerGroup, Quantity: %qty.", ["-3", "simple", "0", "General", "2"])
    assert (price.sku, price.values["price"], price.values["qty"]) == ("simple", "-3", "2")
    rows = [TierPrice("simple", Decimal(1), 0, "General", Decimal(1)),
            TierPrice("simple", Decimal(-3), 0, "general", Decimal("2.0"))]
    assert match_price_failure(price, rows) == [1]


def test_a_failure_naming_no_row_fails_the_whole_request() -> None:
    from sagesync.magento.push import PushReport, _Answer

    rows = [BasePrice("A", Decimal(1)), BasePrice("B", Decimal(2))]
    report: PushReport[BasePrice] = PushReport()
    answer = _Answer(200, failures=[{"message": "Something odd.", "parameters": []}])
    CatalogPusher("http://unused", BearerToken("t"))._accept(rows, answer, report)
    assert report.sent == [] and len(report.failed) == 2
    assert "does not identify" in report.failed[0][1]


# --------------------------------------------------------------------------- limits, retries, auth


def test_maximum_items_lowers_the_chunk_size(make_catalog_sim: Any) -> None:
    sim = make_catalog_sim(complex_array_limit=7)
    items = stock(45, sources=("default", "central"))
    push = pusher(sim)
    report = push.push_source_items(items)

    assert push.chunk_size == 7 and report.sent == items and report.failed == []
    assert [len(b["sourceItems"]) for b in bodies(sim)] == [20, 7, 7, 7, 7, 7, 7, 3]
    assert report.requests == 8 and landed(sim, items)
    # The pusher remembers: prices go in sevens straight away.
    prices = push.push_base_prices([BasePrice(s, Decimal(1)) for s in KNOWN_SKUS[:10]])
    assert prices.requests == 2 and len(prices.sent) == 10


def test_maximum_items_that_names_no_smaller_size_is_an_error(make_catalog_sim: Any) -> None:
    sim = make_catalog_sim()
    sim.faults.add(SOURCE_ITEMS_PATH, status=400, times=None,
                   body={"message": 'Maximum items of type "%type" is %max',
                         "parameters": {"type": "X", "max": 50}})
    with pytest.raises(SageSyncError, match="maximum of 50"):
        pusher(sim).push_source_items(stock(5))


def test_503_is_retried(catalog_sim: CatalogSimulator) -> None:
    catalog_sim.faults.status(503, SOURCE_ITEMS_PATH, times=1)
    sleeps: list[float] = []
    items = stock(5)
    report = pusher(catalog_sim, sleeps=sleeps).push_source_items(items)
    assert report.sent == items and report.requests == 2 and len(sleeps) == 1
    assert landed(catalog_sim, items)


def test_429_waits_for_retry_after(catalog_sim: CatalogSimulator) -> None:
    catalog_sim.faults.too_many_requests(BASE_PRICES_PATH, retry_after=7)
    sleeps: list[float] = []
    report = pusher(catalog_sim, sleeps=sleeps).push_base_prices([BasePrice("SKU-001", 1)])
    assert report.requests == 2 and sleeps[0] >= 7


def test_persistent_5xx_raises_transient(catalog_sim: CatalogSimulator) -> None:
    catalog_sim.faults.status(500, TIER_PRICES_PATH, times=None)
    with pytest.raises(TransientError, match="after 5 attempts"):
        pusher(catalog_sim).push_tier_prices([TierPrice("SKU-001", 1, 0, "General", 2)])
    assert len(catalog_sim.requests) == 5


def test_401_raises_auth_error(catalog_sim: CatalogSimulator) -> None:
    with pytest.raises(AuthError, match="stock_source_item_assign"):
        pusher(catalog_sim, token="wrong").push_source_items(stock(3))
    assert len(catalog_sim.requests) == 1  # not retried
    with pytest.raises(AuthError, match="Magento_Catalog::products"):
        pusher(catalog_sim, token="wrong").push_base_prices([BasePrice("SKU-001", 1)])


def test_other_4xx_is_an_error(catalog_sim: CatalogSimulator) -> None:
    catalog_sim.faults.status(404, SOURCE_ITEMS_PATH, times=None,
                              body={"message": "Request does not match any route."})
    with pytest.raises(SageSyncError, match="404"):
        pusher(catalog_sim).push_source_items(stock(3))


OAUTH = ("c" * 32, "s" * 32, "t" * 32, "x" * 32)  # Magento's keys and tokens are 32 chars


def test_oauth1_signed_pushes_go_through(make_catalog_sim: Any) -> None:
    from sagesync.magento.auth import IntegrationOAuth

    sim = make_catalog_sim(token=None, oauth=OAUTH)
    push = CatalogPusher(sim.url, IntegrationOAuth(*OAUTH), auth_kind="oauth1")
    items = stock(25)
    assert push.push_source_items(items).sent == items
    assert push.push_base_prices([BasePrice("SKU-001", Decimal("4.20"))]).failed == []
    assert landed(sim, items) and sim.base_prices == {("SKU-001", 0): Decimal("4.20")}


@pytest.mark.parametrize("credentials", [
    (OAUTH[0], OAUTH[1], "short-token", OAUTH[3]),  # 400 "The token length is invalid."
    (*OAUTH[:3], "y" * 32),  # wrong token secret: 401 "The signature is invalid."
], ids=["400-token-length", "401-signature"])
def test_oauth_refusals_are_auth_errors_not_bisected(
        make_catalog_sim: Any, credentials: tuple[str, str, str, str]) -> None:
    from sagesync.magento.auth import IntegrationOAuth

    sim = make_catalog_sim(token=None, oauth=OAUTH)
    push = CatalogPusher(sim.url, IntegrationOAuth(*credentials), auth_kind="oauth1")
    with pytest.raises(AuthError):
        push.push_source_items(stock(20))
    assert len(sim.requests) == 1
