"""The transform builds slices in worker processes once an export is large: the documents,
accounts, holds and ledger it leaves are the same as when everything is built in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import sagesync.pipeline.transform_step as transform_step
from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import new_run_id, open_checkpoint
from sagesync.pipeline.export_step import export_orders
from sagesync.pipeline.transform_step import transform
from sagesync.recipe import load_recipe
from sagesync.testing.dataset import write_store
from tests.conftest import ROOT


def _recipe(folder: Path, source: Path) -> Any:
    folder.mkdir(parents=True)
    nominals = (ROOT / "samples" / "mapping" / "nominals.csv").as_posix()
    (folder / "r.toml").write_text(
        f'name = "parallel"\nstate_dir = "state"\n[magento]\nsource = "{source.as_posix()}"\n'
        f'[sage]\nproduct = "sage50_uk"\n[mapping]\nnominals_csv = "{nominals}"\n',
        encoding="utf-8")
    return load_recipe(folder / "r.toml")


def _transformed(folder: Path, source: Path, workers: int) -> dict[str, Any]:
    """Export and transform into a state folder of its own; what the transform left."""
    recipe = _recipe(folder, source)
    with Ledger(recipe.state_dir / "ledger.sqlite", "run") as ledger:
        export = export_orders(recipe, new_run_id(), ledger, workers=0)
        result = transform(recipe, open_checkpoint(export.manifest), ledger, new_run_id(),
                           workers=workers)
        records = ledger.db.execute(
            "SELECT entity_type, entity_id, store_id, state, content_hash, sage_reference "
            "FROM records ORDER BY entity_type, entity_id").fetchall()
        accounts = ledger.db.execute("SELECT * FROM accounts ORDER BY 1").fetchall()
    folder_of = result.manifest.parent
    summary = json.loads(result.manifest.read_text(encoding="utf-8"))["summary"]
    return {"worker_slices": result.worker_slices,
            "tables": {p.name: pq.read_table(p) for p in sorted(folder_of.glob("*.parquet"))},
            "summary": summary, "documents": result.documents, "held": result.held,
            "holds": result.holds, "warnings": result.warnings, "records": records,
            "accounts": [a[:3] for a in accounts]}


def test_slices_built_in_a_worker_give_the_same_documents_accounts_and_ledger(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transform_step, "SLICE", 7)  # many slices from a small store
    monkeypatch.setattr(transform_step, "PARALLEL_AFTER_SLICES", 0)
    source = tmp_path / "pages"
    write_store(source, 80, seed=11, page_size=9)
    alone = _transformed(tmp_path / "alone", source, workers=0)
    helped = _transformed(tmp_path / "helped", source, workers=1)
    assert alone["worker_slices"] == 0
    assert helped["worker_slices"] > 0
    assert alone["documents"] > 60 and alone["accounts"]  # invoices, credit memos, customers
    assert {"SI", "SC"} <= set(alone["tables"]["documents.parquet"]["transaction_type"].to_pylist())
    for name in ("tables", "summary", "documents", "held", "holds", "warnings", "records",
                 "accounts"):
        assert helped[name] == alone[name], name
