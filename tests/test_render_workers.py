"""The import renders and encodes windows of documents in a worker process beside it (for a
large import): the files Sage reads, every outcome and the ledger are the same as rendering
in-process, for a product writing one documents file and one writing two (Sage 300's sales
and credit notes). `--workers` (or SAGESYNC_WORKERS) caps the worker processes of the export,
the transform and the import; 0 starts none."""

from __future__ import annotations

import json
import pickle
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import psutil
import pytest

from sagesync.ledger import Ledger
from sagesync.pipeline import export_slices, export_step, import_step, transform_step
from sagesync.pipeline.checkpoint import new_run_id, open_checkpoint
from sagesync.pipeline.import_step import import_sage
from sagesync.pipeline.lock import run_lock
from sagesync.recipe import load_recipe
from sagesync.render import load_spec
from sagesync.sage import products
from tests.conftest import ROOT
from tests.workers import pool_workers


def _import(site: Path, recipe_name: str, workers: int) -> tuple[Any, ...]:
    recipe = load_recipe(site / "recipes" / recipe_name)
    manifest = next(recipe.state_dir.glob("runs/*/transform/manifest.json"))
    run_id = new_run_id()
    with run_lock(recipe.state_dir, "test"), \
            Ledger(recipe.state_dir / "ledger.sqlite", run_id) as ledger:
        result = import_sage(recipe, open_checkpoint(manifest), ledger, run_id,
                             out_dir=site / "out", dry_run=False, workers=workers)
    assert (result.worker_renders > 0) == (workers > 0)
    files = sorted((site / "out").rglob("*.*"))
    db = sqlite3.connect(recipe.state_dir / "ledger.sqlite")
    records = db.execute("SELECT entity_type, entity_id, store_id, state, sage_reference, "
                         "last_error, hold_code FROM records ORDER BY 1, 2, 3").fetchall()
    db.close()
    return (result.delivered, result.already_sent, result.held, result.skipped,
            result.needs_attention, result.stale, result.void, result.warnings,
            result.totals, [(f.name.split("-")[0], f.read_bytes()) for f in files], records)


@pytest.mark.parametrize("recipe_name", ["demo.toml", "sage300.toml"])
def test_windows_rendered_in_a_worker_give_the_same_files_outcomes_and_ledger(
        run_cli, demo_copy: Path, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch, recipe_name: str) -> None:  # type: ignore[no-untyped-def]
    site = demo_copy.parent.parent
    shutil.copy(ROOT / "recipes" / recipe_name, site / "recipes" / recipe_name)
    recipe = site / "recipes" / recipe_name
    exported = run_cli("-r", str(recipe), "export-orders")
    assert exported.exit_code == 0, exported.output
    transformed = run_cli("transform", "--from", exported.stdout.strip().splitlines()[-1])
    assert transformed.exit_code == 0, transformed.output
    # windows of three documents: several in flight, some rendered here, some in the worker
    monkeypatch.setattr(import_step, "WINDOW", 3)
    monkeypatch.setattr(import_step, "PARALLEL_AFTER_DOCUMENTS", 0)  # workers for so few
    found = []
    for workers in (0, 1):
        copy = tmp_path_factory.mktemp(f"workers-{workers}")
        shutil.copytree(site, copy, dirs_exist_ok=True)
        found.append(_import(copy, recipe_name, workers))
    delivered, *_, files, records = found[0]
    assert delivered > 6 and files and records
    assert found[1] == found[0]


def test_every_products_templates_survive_the_trip_to_a_worker() -> None:
    """A spec is pickled into each job; a column's Jinja template is compiled again there."""
    for key in products.PRODUCTS:
        for name in products.get(key).templates:
            spec = load_spec(key, name)
            again = pickle.loads(pickle.dumps(spec))
            assert again == spec, (key, name)
            templated = [(a, b) for r, s in zip(again.records, spec.records, strict=True)
                         for a, b in zip(r.columns, s.columns, strict=True) if a.template]
            for copied, column in templated:
                assert copied.template.source == column.template.source


def test_the_workers_setting_caps_every_steps_workers(
        run_cli, demo_copy: Path, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A host short of memory runs everything in one process (`--workers 0`); the same Sage
    files come out as with a worker decoding pages, one reading and posting slices and one
    rendering windows."""
    site = demo_copy.parent.parent
    monkeypatch.setattr(export_step, "PARALLEL_AFTER_PAGES", 0)  # workers even for the demo
    monkeypatch.setattr(transform_step, "PARALLEL_AFTER_SLICES", 0)
    monkeypatch.setattr(export_slices, "SLICE", 3)
    monkeypatch.setattr(import_step, "PARALLEL_AFTER_DOCUMENTS", 0)
    monkeypatch.setattr(import_step, "WINDOW", 3)

    def run(*options: str) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        copy = tmp_path_factory.mktemp("workers")
        shutil.copytree(site, copy, dirs_exist_ok=True)
        result = run_cli(*options, "run", str(copy / "recipes" / "demo.toml"),
                         "--out", str(copy / "out"), "--json")
        assert result.exit_code in (0, 1), result.output
        steps = {s["step"]: s for s in json.loads(result.stdout)["steps"]}
        files = [(f.name.split("-")[0], f.read_bytes()) for f in sorted(
            (copy / "out").rglob("*.*"))]
        return steps, files

    registering: list[int] = []  # the workers alive while `run` registers the export
    register = Ledger.register_exported

    def counted(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        registering.append(len(pool_workers(psutil.Process())))
        return register(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "register_exported", counted)
    monkeypatch.setenv("SAGESYNC_WORKERS", "0")
    alone, files = run()
    assert alone["export-orders"]["worker_pages"] == 0
    assert alone["transform"]["worker_slices"] == 0
    assert alone["import-sage"]["worker_renders"] == 0
    assert alone["import-sage"]["delivered"] > 6 and files
    beside, same_files = run("--workers", "1")  # the option wins over the environment
    assert beside["export-orders"]["worker_pages"] > 0
    assert beside["transform"]["worker_slices"] > 0
    assert beside["import-sage"]["worker_renders"] > 0
    assert same_files == files
    assert registering == [0, 1]  # the transform's worker reads while the export registers
    # a wrong value is a usage error naming where it came from, when a step asks for it;
    # help and the commands that start no worker are not stopped by it
    monkeypatch.setenv("SAGESYNC_WORKERS", "two")
    refused = run_cli("run", str(demo_copy))
    assert refused.exit_code == 2 and "SAGESYNC_WORKERS='two'" in refused.output
    refused = run_cli("transform", "--from", alone["export-orders"]["manifest"])
    assert refused.exit_code == 2 and "SAGESYNC_WORKERS='two'" in refused.output
    assert run_cli("run", "--help").exit_code == 0
    assert run_cli("-r", str(demo_copy), "status").exit_code in (0, 1)
    monkeypatch.delenv("SAGESYNC_WORKERS")
    state = tmp_path_factory.mktemp("untouched")
    too_many = run_cli("--workers", "17", "--state-dir", str(state), "export-orders", "-r",
                       str(demo_copy))
    assert too_many.exit_code == 2 and "--workers='17'" in too_many.output
    assert not any(state.iterdir())  # refused before the run lock and the ledger
