"""A product's byte limit per file (Capabilities.max_bytes_per_file) for the accounts file.

The documents files are split between documents (tests/conformance/test_splitting.py). The
accounts file of a batch is one file: when the new accounts would not fit in it, the batch
takes the accounts that do, in order, with their documents, and the documents of the others
stay queued for the next run, never held; run after run, every document and every account
arrives once.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sagesync.sage import products
from tests.conformance.harness import (
    document_specs,
    occurrences,
    read_delivered,
    run_recipe_cli,
    synthetic_store,
    write_recipe,
)

UK = products.get("sage50_uk")


def test_new_accounts_beyond_the_byte_limit_wait_a_run_with_their_documents(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = synthetic_store(tmp_path / "pages", 20, 16, seed=11)
    run_recipe_cli(UK, write_recipe(UK, tmp_path / "whole", store.source))
    whole = read_delivered(UK, tmp_path / "whole" / "out")
    (accounts_file,) = [name for name in whole.files if name.endswith("customers.csv")]
    accounts = [r.fields["account_ref"] for r in whole.rows if r.rows == "accounts"]
    assert len(accounts) >= 4, "the store needs several new accounts"
    limit = len(whole.files[accounts_file]) // 2
    limited = replace(UK, import_format=replace(UK.capabilities, max_bytes_per_file=limit))
    monkeypatch.setitem(products.PRODUCTS, UK.key, limited)

    recipe = write_recipe(UK, tmp_path / "limited", store.source)
    first = run_recipe_cli(UK, recipe)
    assert "wait for the next run" in first.output
    assert "held" not in first.states.values()
    waiting = {k for k, state in first.states.items() if state == "queued"}
    assert waiting, "nothing waited: the limit did not bite"
    for _ in range(len(accounts)):  # each run takes at least one account
        if "queued" not in run_recipe_cli(UK, recipe).states.values():
            break
    delivered = read_delivered(UK, tmp_path / "limited" / "out")
    files = {name for name in delivered.files if name.endswith("customers.csv")}
    assert len(files) > 1 and all(len(delivered.files[f]) <= limit for f in files)
    sent = [r.fields["account_ref"] for r in delivered.rows if r.rows == "accounts"]
    assert sorted(sent) == sorted(accounts), "every new account once"
    expected = {k: v for k, v in store.postings(UK).items() if v}
    rows = delivered.of(document_specs(UK))
    assert {k: len(f) for k, f in occurrences(UK, rows, expected).items()} == \
        dict.fromkeys(expected, 1), "every document once, whole"
    for row in rows:  # a document goes in the batch that sends its account, or a later one
        batch = row.file.split("/")[-1].split("-")[0]
        ref = row.fields["account_ref"]
        made = [f for f in files if ref in {r.fields["account_ref"] for r in delivered.rows
                                            if r.file == f}]
        assert not made or made[0].split("/")[-1].split("-")[0] <= batch, (ref, row.file)
