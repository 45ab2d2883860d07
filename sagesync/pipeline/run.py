"""`run`: a recipe's steps in one process, writing the same checkpoints as the separate steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import open_checkpoint
from sagesync.pipeline.export_step import ExportResult, export_orders
from sagesync.pipeline.import_step import ImportResult, import_sage
from sagesync.pipeline.transform_step import TransformResult, transform
from sagesync.recipe import Recipe


@dataclass
class RunResult:
    exported: ExportResult
    transformed: TransformResult
    imported: ImportResult


def run_recipe(recipe: Recipe, ledger: Ledger, run_id: str, *, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               out_dir: Path | None = None, dry_run: bool = False) -> RunResult:
    """Export, transform and import; with dry_run the ledger is only read (pass a read-only
    one, `Ledger.read_only`, so that nothing can change it)."""
    writable = None if dry_run else ledger
    exported = export_orders(recipe, run_id, writable, source=source, since=since, until=until)
    transformed = transform(recipe, open_checkpoint(exported.manifest), writable, run_id,
                            lookup=ledger)
    imported = import_sage(recipe, open_checkpoint(transformed.manifest), ledger, run_id,
                           out_dir=out_dir, dry_run=dry_run)
    return RunResult(exported, transformed, imported)
