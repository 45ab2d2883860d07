"""File splitting never splits a document.

With `[sage] max_lines_per_file` small, or the product's own `max_lines_per_file` or
`max_bytes_per_file`, a batch is written as several files (per documents template: Sage
300 writes its credit notes to a file of their own): all rows of one Magento document
(with any row posted as the other type on its behalf) are consecutive in one file, no file is
over the limit unless it holds a single document that is, and the files together are the
unsplit file's rows, in order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.sage import products
from sagesync.sage.products import SageProduct
from tests.conformance.harness import (
    MagentoStore,
    Row,
    document_of,
    document_specs,
    few,
    occurrences,
    read_delivered,
    require,
    run_recipe_cli,
    synthetic_store,
    write_recipe,
)

_stores: dict[str, tuple[MagentoStore, list[Row]]] = {}


def store_and_unsplit(product: SageProduct, root: Path) -> tuple[MagentoStore, list[Row]]:
    """One store per product for every example, and its rows delivered in one file."""
    if product.key not in _stores:
        caps = product.capabilities
        store = synthetic_store(root / "pages", 20, 12, seed=2, credit_notes=caps.credit_notes)
        run_recipe_cli(product, write_recipe(product, root / "whole", store.source,
                                             sage={"max_lines_per_file": 0}))
        rows = read_delivered(product, root / "whole" / "out").of(document_specs(product))
        if not caps.max_lines_per_file:  # one file per documents template written
            assert len({r.file for r in rows}) == len({r.template for r in rows})
        _stores[product.key] = (store, rows)
    return _stores[product.key]


def assert_split_whole(product: SageProduct, store: MagentoStore, rows: list[Row],
                       limit: int) -> dict[str, int]:
    """No document split, none over the limit unless alone; returns rows per file."""
    expected = {k for k, v in store.postings(product).items() if v}
    where = occurrences(product, rows, expected)
    assert set(where) == expected
    split = {k: files for k, files in where.items() if len(files) != 1}
    assert not split, f"documents split across files or not consecutive: {split}"
    per_file: dict[str, int] = defaultdict(int)
    documents: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for key, (file,) in where.items():
        documents[file].add(key)
    for row in rows:
        per_file[row.file] += 1
    over = {f: n for f, n in per_file.items() if n > limit and len(documents[f]) > 1}
    assert not over, f"files over {limit} lines holding more than one document: {over}"
    for file in per_file:  # a document's rows share its type, account, date and reference
        for key in documents[file]:
            own = [r for r in rows if r.file == file and document_of(r, product) == key]
            shared = {(r.fields.get("account_ref"), r.fields.get("posting_date")) for r in own}
            assert len(shared) == 1, (key, shared)
    return dict(per_file)


@few(5)
@given(limit=st.sampled_from([1, 2]) | st.integers(3, 12))
def test_a_small_max_lines_per_file_splits_between_documents_only(
        product: SageProduct, tmp_path_factory: pytest.TempPathFactory, limit: int) -> None:
    root = tmp_path_factory.mktemp(f"split-{product.key}")
    store, whole = store_and_unsplit(product,
                                     tmp_path_factory.getbasetemp() / f"whole-{product.key}")
    caps_limit = product.capabilities.max_lines_per_file
    limit_used = min(limit, caps_limit) if caps_limit else limit
    run_recipe_cli(product, write_recipe(product, root, store.source,
                                         sage={"max_lines_per_file": limit}))
    rows = read_delivered(product, root / "out").of(document_specs(product))
    per_file = assert_split_whole(product, store, rows, limit_used)
    assert len(per_file) > 1, "nothing was split: the store is too small for this test"
    assert [r.cells for r in rows] == [r.cells for r in whole], "rows changed by splitting"


def test_the_products_own_line_limit_splits_without_a_recipe_limit(product: SageProduct,
                                                                   tmp_path: Path) -> None:
    require(product, "max_lines_per_file", "Sage documents no limit")
    caps = product.capabilities
    # enough orders (at least two rows each: goods and carriage, or more) to pass the limit
    store = synthetic_store(tmp_path / "pages", 20, caps.max_lines_per_file // 2 + 5, seed=4,
                            credit_notes=caps.credit_notes)
    run_recipe_cli(product, write_recipe(product, tmp_path, store.source,
                                         sage={"max_lines_per_file": 0}))
    rows = read_delivered(product, tmp_path / "out").of(document_specs(product))
    per_file = assert_split_whole(product, store, rows, caps.max_lines_per_file)
    assert len(per_file) > 1


def test_a_products_own_line_limit_is_honoured(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    """No registered product documents a limit yet, so Sage 50 UK is given one of 6 lines: the
    import splits at it without a recipe limit (it read only the recipe's before)."""
    base = products.get("sage50_uk")
    limited = replace(base, import_format=replace(base.capabilities, max_lines_per_file=6))
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", limited)
    test_the_products_own_line_limit_splits_without_a_recipe_limit(limited, tmp_path)


def test_a_byte_limit_splits_between_documents_only_and_each_file_stays_under_it(
        product: SageProduct, monkeypatch: pytest.MonkeyPatch,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The product's max_bytes_per_file (Sage Accounting's 0.5 MB upload), made small here so
    a small store passes it: every documents file is within it unless it holds one document
    alone, no document is split, and the files together are the unsplit file's rows."""
    root = tmp_path_factory.getbasetemp() / f"whole-{product.key}"
    store, whole = store_and_unsplit(product, root)
    files = read_delivered(product, root / "whole" / "out").files
    documents_files = {r.file for r in whole}
    # a third of the documents, yet room for the new accounts (more would wait a run)
    limit = max([sum(len(files[name]) for name in documents_files) // 3,
                 *(len(data) for name, data in files.items() if name not in documents_files)])
    caps = product.capabilities
    limited = replace(product, import_format=replace(caps, max_bytes_per_file=limit))
    monkeypatch.setitem(products.PRODUCTS, product.key, limited)
    root = tmp_path_factory.mktemp(f"bytes-{product.key}")
    run_recipe_cli(limited, write_recipe(limited, root, store.source,
                                         sage={"max_lines_per_file": 0}))
    delivered = read_delivered(limited, root / "out")
    rows = delivered.of(document_specs(limited))
    per_file = assert_split_whole(limited, store, rows, caps.max_lines_per_file or 10**9)
    assert len(per_file) > 1, per_file
    expected = {k for k, v in store.postings(product).items() if v}
    documents: dict[str, int] = defaultdict(int)
    for _, (file,) in occurrences(limited, rows, expected).items():
        documents[file] += 1
    over = {f: len(delivered.files[f]) for f in per_file
            if len(delivered.files[f]) > limit and documents[f] > 1}
    assert not over, f"files over {limit} bytes holding more than one document: {over}"
    assert [r.cells for r in rows] == [r.cells for r in whole], "rows changed by splitting"
