"""Housekeeping of a state folder: the run history as a person reads it, and old checkpoints
removed.

Checkpoints are the audit trail and the queue's storage: an export checkpoint holds the latest
data of every record it exported, and the next transform reads a record not yet in Sage from
there. So a run folder is removed only when it is older than the retention, is not the newest
(the next step may read it), and holds no checkpoint a pending record points at. Dry runs are
not in the ledger's history (they leave no trace there); their folders are found by their
manifests and listed and pruned all the same.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sagesync.errors import UsageError
from sagesync.ledger import Ledger

RUNS = "runs"
_STEPS = ("export-orders", "transform", "import-sage")
_RUN_ID = "%Y%m%dT%H%M%SZ"  # the start of a run id (new_run_id): when the run began


def run_started(run_id: str) -> datetime | None:
    """When a run began, read from its id (20261130T213840Z-fa49f8), or None for a folder
    that is not a run's."""
    try:
        return datetime.strptime(run_id.split("-", 1)[0], _RUN_ID).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class RunEntry:
    """One run as `sagesync runs` shows it."""

    run_id: str
    command: str
    started_at: str
    finished_at: str | None
    exit_code: int | None
    dry_run: bool
    summary: dict[str, Any] = field(default_factory=dict)
    batches: list[dict[str, Any]] = field(default_factory=list)
    checkpoints_kept: bool = True  # its folder is still in the state folder

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_runs(state_dir: Path, ledger: Ledger, limit: int = 20) -> list[RunEntry]:
    """The latest runs, newest first: the ledger's history (each with the batches it opened,
    so a batch number missing from the outbox is explained by its state), and dry runs found
    by their checkpoints."""
    entries = [RunEntry(r["run_id"], r["command"], r["started_at"], r["finished_at"],
                        r["exit_code"], False, r["summary"], r["batches"],
                        (state_dir / RUNS / r["run_id"]).is_dir())
               for r in ledger.run_history(limit)]
    for folder in _run_folders(state_dir):
        steps = {m.parent.name: data for m in folder.glob("*/manifest.json")
                 if (data := _manifest(m)).get("dry_run")}
        if steps:  # one entry per dry run: `run --dry-run` writes three steps' checkpoints
            last = next(steps[s] for s in _STEPS[::-1] if s in steps) \
                if steps.keys() & set(_STEPS) else next(iter(steps.values()))
            started = run_started(folder.name)
            entries.append(RunEntry(folder.name, "run" if len(steps) > 1 else next(iter(steps)),
                                    f"{started:%Y-%m-%dT%H:%M:%SZ}" if started else "",
                                    last.get("created_at"), None, True,
                                    last.get("summary", {})))
    entries.sort(key=lambda e: e.started_at, reverse=True)  # stable: the ledger's order in a tie
    return entries[:limit]


@dataclass
class PruneResult:
    removed: list[Path] = field(default_factory=list)
    kept_for_queue: list[Path] = field(default_factory=list)  # old, but a pending record's
    freed_bytes: int = 0


def prune(state_dir: Path, ledger: Ledger, keep_days: int, *, now: datetime | None = None,
          dry_run: bool = False) -> PruneResult:
    """Remove the run folders older than `keep_days` days, but the newest and those holding
    a checkpoint a record not yet in Sage points at. With dry_run, say what would go."""
    if keep_days < 0:
        raise UsageError(f"--keep-days {keep_days}: expected 0 or more days.")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    in_use = {Path(p).parent.parent.name for p in ledger.checkpoints_in_use()}
    folders = _run_folders(state_dir)
    newest = max(folders, key=lambda f: f.name) if folders else None
    result = PruneResult()
    for folder in folders:
        started = run_started(folder.name)
        if started is None or started >= cutoff:
            continue
        if folder.name in in_use:
            result.kept_for_queue.append(folder)
            continue
        if folder == newest:
            continue
        result.freed_bytes += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        result.removed.append(folder)
        if not dry_run:
            shutil.rmtree(folder)
    return result


def _run_folders(state_dir: Path) -> list[Path]:
    runs = state_dir / RUNS
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if p.is_dir() and run_started(p.name) is not None)


def _manifest(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
