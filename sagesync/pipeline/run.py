"""`run`: a recipe's steps in one process, writing the same checkpoints as the separate steps."""

from __future__ import annotations

import ctypes
import gc
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sagesync.ledger import Ledger, RecordKey
from sagesync.model import holds
from sagesync.model.holds import Hold
from sagesync.pipeline.checkpoint import open_checkpoint
from sagesync.pipeline.export_step import ExportResult, export_orders
from sagesync.pipeline.import_step import ImportResult, import_sage
from sagesync.pipeline.transform_step import (
    TransformResult,
    TransformStart,
    start_transform,
    transform,
)
from sagesync.recipe import Recipe

# How the import step lists a held record: "invoice:12@1 (000000012): the reason".
_HELD_LABEL = re.compile(r"(?P<key>\S+) \((?P<increment>.*?)\): (?P<message>.*)", re.DOTALL)
_IN_LEDGER = "on hold in the ledger"  # the import step's words for a hold it has no reason for


@dataclass
class RunResult:
    exported: ExportResult
    transformed: TransformResult
    imported: ImportResult


def run_recipe(recipe: Recipe, ledger: Ledger, run_id: str, *, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               out_dir: Path | None = None, dry_run: bool = False,
               workers: int | None = None) -> RunResult:
    """Export, transform and import; with dry_run the ledger is only read (pass a read-only
    one, `Ledger.read_only`, so that nothing can change it). `workers`: the most worker
    processes each step may start (default: one core fewer)."""
    writable = None if dry_run else ledger
    started: list[TransformStart] = []

    def begin_transform(manifest: Path) -> None:
        """The transform's worker reads and posts the export's slices while the export
        registers its records in the ledger (one core's work: the other would be idle)."""
        started.append(start_transform(recipe, open_checkpoint(manifest), run_id,
                                       dry_run=dry_run, workers=workers))

    try:
        exported = export_orders(recipe, run_id, writable, source=source, since=since,
                                 until=until, workers=workers, written=begin_transform)
        give_back()
        transformed = transform(recipe, open_checkpoint(exported.manifest), writable, run_id,
                                lookup=ledger, workers=workers,
                                started=started[0] if started else None)
    finally:
        for begun in started:  # its worker stopped, if the export failed after all
            begun.close()
    give_back()
    imported = import_sage(recipe, open_checkpoint(transformed.manifest), ledger, run_id,
                           out_dir=out_dir, dry_run=dry_run, workers=workers)
    return RunResult(exported, transformed, imported)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one (Linux with glibc; not musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return cast(Callable[[int], int], ctypes.CDLL(None).malloc_trim)
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def give_back() -> None:
    """Hand what a finished step freed back to the system before the next one starts: Python's
    cyclic garbage, then the free pages inside glibc's heap (malloc_trim), which glibc keeps
    otherwise, so that each step of `run` would start where the last one peaked (the import at
    200,000 orders 23 MB higher). Without glibc, only the first."""
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)


def held_records(result: RunResult, ledger: Ledger) -> list[tuple[str, Hold]]:
    """Every record the run held (as the import step lists them), with its cause: a person's
    hold first (it outlasts any fix), then the one the transform gave it, else the ledger's
    (a render-time hold), else its text as an `unspecified` hold. A dry run's ledger is only
    read, so its causes come from this run's transform and from earlier runs."""
    labels: list[tuple[str, RecordKey | None, str]] = []
    for text in result.imported.held:
        found = _HELD_LABEL.fullmatch(text)
        key = None
        if found:
            try:
                key = RecordKey.parse(found["key"])
            except ValueError:
                key = None
        labels.append((found["key"], key, found["message"]) if found and key else
                      ("", None, text))
    stored = ledger.causes_of(key for _, key, _ in labels if key is not None)
    records: list[tuple[str, Hold]] = []
    for shown, key, message in labels:
        hold = None
        if key is not None:
            given = result.transformed.holds.get(key)
            kept = stored.get(key)
            if kept is not None and kept.code == "held_by_person":
                hold = kept
            elif given is not None and given.message == message:
                hold = given
            elif kept is not None and message in (kept.message, _IN_LEDGER):
                hold = kept
        records.append((shown, hold or holds.unspecified(message)))
    return records


def _amounts(totals: dict[str, Any]) -> dict[str, str]:
    return {kind: f"{amount:.2f}" for kind, amount in sorted(totals.items())}


def run_report(result: RunResult, ledger: Ledger) -> dict[str, Any]:
    """What `run --json` prints: each step's checkpoint and counts, and the held records
    grouped by cause (code, title, count, and each record's key, message and params)."""
    exported, transformed, imported = result.exported, result.transformed, result.imported
    groups = holds.by_cause(held_records(result, ledger))
    return {
        "manifest": str(imported.manifest),
        "steps": [
            {"step": "export-orders", "manifest": str(exported.manifest),
             "counts": dict(exported.counts), "pages": exported.pages,
             "worker_pages": exported.worker_pages,
             "duplicates": exported.duplicates, "bad_input": len(exported.bad_pages),
             "amended": len(exported.amended), "void": len(exported.voided)},
            {"step": "transform", "manifest": str(transformed.manifest),
             "documents": transformed.documents, "held": len(transformed.held),
             "new_accounts": transformed.new_accounts, "warnings": len(transformed.warnings),
             "worker_slices": transformed.worker_slices},
            {"step": "import-sage", "manifest": str(imported.manifest),
             "delivered": imported.delivered, "already_sent": imported.already_sent,
             "held": len(imported.held), "needs_attention": len(imported.needs_attention),
             "skipped": len(imported.skipped), "stale": len(imported.stale),
             "void": len(imported.void), "recovered": len(imported.recovered),
             "files": [str(p) for p in imported.files], "totals": _amounts(imported.totals),
             "worker_renders": imported.worker_renders,
             "totals_basis": imported.totals_basis,
             "blackout": None if imported.blackout is None else {
                 "window": imported.blackout.window.text,
                 "resumes_at": imported.blackout.resumes.strftime("%Y-%m-%dT%H:%M:%SZ")}},
        ],
        "held": len(imported.held),
        "holds_by_cause": [
            {"code": g.code, "title": g.title, "count": g.count,
             "records": [{"key": key, "message": hold.message, "params": dict(hold.params)}
                         for key, hold in g.records]}
            for g in groups],
    }
