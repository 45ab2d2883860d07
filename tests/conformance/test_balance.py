"""Balance to the cent against Magento, read back from the delivered bytes.

For random synthetic stores (hypothesis draws the seed, the size and where the ids start) and
for the real-store corpus, each Magento document's rows in the delivered files total its
Magento base grand total to the cent, credit notes count negative in the sum, and the run's
summary totals (per Sage type) equal what the files hold.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.recipe import load_recipe
from sagesync.sage.products import SageProduct
from sagesync.testing.factory import build_creditmemo
from tests.conformance.harness import (
    MagentoStore,
    Outcome,
    demo_tax_codes,
    document_of,
    document_specs,
    few,
    per_magento_document,
    per_type,
    read_delivered,
    require,
    require_amounts,
    row_amount,
    run_recipe_cli,
    synthetic_store,
    write_magento,
    write_recipe,
)
from tests.test_real_corpus import REAL, _documents


def assert_balanced(product: SageProduct, folder: Path, store: MagentoStore,
                    outcome: Outcome) -> dict[tuple[str, str], Decimal]:
    """Every posting delivered and balanced, the sum signed, the summary equal; returns what
    the files book per Magento document."""
    caps = product.capabilities
    rows = read_delivered(product, folder / "out").amounts(document_specs(product))
    expected = store.postings(product)
    books = per_magento_document(product, rows, expected)
    assert books == {k: v for k, v in expected.items() if v}, "per document, to the cent"
    assert not [k for k, v in expected.items() if not v and k in books]
    signed = {caps.sale_type: 1, caps.credit_type: -1}
    assert sum(v * signed[k[0]] for k, v in books.items()) == \
        sum(v * signed[k[0]] for k, v in expected.items())
    written = per_type(product, rows)
    assert {k: Decimal(v) for k, v in outcome.summary["totals"].items()} == written
    assert sum(v * signed[k] for k, v in written.items()) == \
        sum(v * signed[k[0]] for k, v in expected.items()), "the summary's net"
    return books


@few(8)
@given(block=st.integers(1, 5_000), count=st.integers(1, 6), seed=st.integers(0, 2**32))
def test_random_stores_balance_to_the_cent_per_document_and_in_sum(
        product: SageProduct, tmp_path_factory: pytest.TempPathFactory, block: int,
        count: int, seed: int) -> None:
    require_amounts(product)
    folder = tmp_path_factory.mktemp(product.key)
    # ids from a multiple of 20: the generator refunds every 20th order, so most stores have
    # a credit memo (when the product takes credit notes)
    store = synthetic_store(folder / "pages", 20 * block, count, seed,
                            credit_notes=product.capabilities.credit_notes)
    outcome = run_recipe_cli(product, write_recipe(product, folder, store.source))
    assert outcome.exit_code == 0 and not outcome.reasons, outcome.reasons
    assert_balanced(product, folder, store, outcome)


def test_credit_memos_are_credit_notes_that_count_negative(product: SageProduct,
                                                           tmp_path: Path) -> None:
    """Orders 20, 40 and 60 are refunded; the first refund keeps a fee (an adjustment fee
    Magento takes off the refund), which Sage gets as a sale of its own when amounts must be
    positive, so the credit note's rows less the fee are the refund; with negative amounts
    (the product's demo recipe allows them), a negative row of its credit note."""
    require(product, "credit_type", "the product takes no credit notes")
    require_amounts(product)
    caps = product.capabilities
    made = synthetic_store(tmp_path / "made", 20, 41, seed=5)
    memo = made.creditmemos[0]
    order = next(o for o in made.orders if o["entity_id"] == memo["order_id"])
    fee = Decimal("2.50")
    with_fee = build_creditmemo(order, memo["entity_id"], memo["increment_id"],
                                datetime.strptime(memo["created_at"], "%Y-%m-%d %H:%M:%S")
                                .replace(tzinfo=UTC), invoice_id=memo["invoice_id"],
                                adjustment_negative=fee)
    store = write_magento(tmp_path / "pages", made.orders, made.invoices,
                          [with_fee, *made.creditmemos[1:]])
    assert len(store.creditmemos) == 3
    recipe = write_recipe(product, tmp_path, store.source)
    outcome = run_recipe_cli(product, recipe)
    books = assert_balanced(product, tmp_path, store, outcome)
    credits = {k: v for k, v in books.items() if k[0] == caps.credit_type}
    assert len(credits) == 3 and all(v > 0 for v in credits.values())
    rows = read_delivered(product, tmp_path / "out").amounts(document_specs(product))
    if load_recipe(recipe).sage.negative_amounts:
        own = [row_amount(r) for r in rows
               if document_of(r, product) == (caps.credit_type, memo["increment_id"])]
        assert -fee in own, "the fee as a negative row of its credit note"
        assert Decimal(outcome.summary["totals"][caps.credit_type]) == sum(credits.values())
        return
    fees = [r for r in rows if document_of(r, product)[0] == caps.sale_type
            and document_of(r, product)[1].startswith(f"{memo['increment_id']}-")]
    assert sum(row_amount(r) for r in fees) == fee, "the fee as a sale of its own"
    assert Decimal(outcome.summary["totals"][caps.credit_type]) == sum(credits.values()) + fee


def test_negative_splits_inside_a_document_still_balance(product: SageProduct,
                                                         tmp_path: Path) -> None:
    """Discounts on their own nominal are negative splits: only where Sage takes them."""
    require(product, "negative_amounts", "Sage refuses negative splits")
    require_amounts(product)
    store = synthetic_store(tmp_path / "pages", 20, 30, seed=3,
                            credit_notes=product.capabilities.credit_notes)
    recipe = write_recipe(product, tmp_path, store.source, sage={"negative_amounts": True},
                          mapping={"discount": "nominal"})
    outcome = run_recipe_cli(product, recipe)
    assert outcome.exit_code == 0 and not outcome.reasons, outcome.reasons
    assert_balanced(product, tmp_path, store, outcome)
    rows = read_delivered(product, tmp_path / "out").amounts(document_specs(product))
    assert [r for r in rows if (r.amount or 0) < 0], "no negative split drawn"


def _instances() -> list[str]:
    return sorted({d["instance"] for d in _documents()})


@pytest.mark.skipif(not REAL.exists(), reason="../shared is absent")
@pytest.mark.parametrize("post_from", ["invoices", "orders"])
@pytest.mark.parametrize("instance", _instances())
def test_the_real_corpus_balances_to_the_cent(product: SageProduct, tmp_path: Path,
                                              instance: str, post_from: str) -> None:
    """Real stores' documents (16 from 8 public stores): what is delivered balances; what
    documents.json says is not posted is not delivered."""
    require_amounts(product)
    caps = product.capabilities
    if post_from not in caps.post_from:
        pytest.skip(f"{product.key}: capability post_from is {caps.post_from!r}")
    zero, others = demo_tax_codes(product)
    rates = ("8.25", "5.3", "6.25")  # the corpus's non-zero rates, on the demo's codes
    tax_codes = {"0": zero, **{r: others[i % len(others)] for i, r in enumerate(rates)}}
    recipe = write_recipe(
        product, tmp_path, REAL / "instances" / instance,
        magento={"store_ids": [], "order_states": ["new", "processing", "complete", "closed"]},
        sage={"post_from": post_from, "timezone": "UTC"}, mapping={"tax_codes": tax_codes})
    outcome = run_recipe_cli(product, recipe)
    kinds = {"order": caps.sale_type if post_from == "orders" else "",
             "invoice": caps.sale_type if post_from == "invoices" else "",
             "creditmemo": caps.credit_type}
    docs = [d for d in _documents() if d["instance"] == instance and kinds[d["kind"]]]
    expected = {(kinds[d["kind"]], d["increment_id"]): Decimal(d["base_grand_total"])
                for d in docs}
    rows = read_delivered(product, tmp_path / "out").amounts(document_specs(product))
    books = per_magento_document(product, rows, expected)
    may_post = {(kinds[d["kind"]], d["increment_id"]) for d in docs
                if d["state"] != "canceled" and d["expect"][post_from].startswith("posted")}
    assert set(books) <= may_post, "delivered what must not be posted"
    for key, total in books.items():
        assert total == expected[key], f"{key}: {total} in the files, Magento {expected[key]}"
    written = per_type(product, rows)
    assert {k: Decimal(v) for k, v in outcome.summary["totals"].items()} == written
    signed = {caps.sale_type: 1, caps.credit_type: -1}
    assert sum(v * signed[k] for k, v in written.items()) == \
        sum(v * signed[k[0]] for k, v in books.items())
    must_post = {(kinds[d["kind"]], d["increment_id"]) for d in docs
                 if d["state"] != "canceled" and d["expect"][post_from] == "posted"
                 and Decimal(d["base_grand_total"])}
    assert must_post <= set(books) | set(outcome.reasons), "neither delivered nor explained"
