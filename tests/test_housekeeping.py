"""`sagesync runs` and `sagesync prune` (issue 14 §5): the history explains every batch, and
old checkpoints go except those the queue still needs."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sagesync.ledger import Ledger
from sagesync.ops.housekeeping import prune, run_started


def _runs(state: Path) -> list[str]:
    return sorted(p.name for p in (state / "runs").iterdir())


def _old_copy(state: Path, run_id: str, days: int) -> str:
    """A copy of a run folder under the id it would have had `days` days ago."""
    started = run_started(run_id)
    assert started is not None
    old = f"{started - timedelta(days=days):%Y%m%dT%H%M%SZ}-{run_id.split('-')[1]}"
    shutil.copytree(state / "runs" / run_id, state / "runs" / old)
    return old


def test_runs_lists_history_dry_runs_and_batches(run_cli, demo_copy: Path,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    state, out = str(tmp_path / "s"), str(tmp_path / "out")
    assert run_cli("--state-dir", state, "run", str(demo_copy), "--dry-run").exit_code == 0
    assert run_cli("--state-dir", state, "run", str(demo_copy), "--out", out).exit_code == 0
    assert run_cli("--state-dir", state, "run", str(demo_copy), "--out", out).exit_code == 0
    listed = run_cli("--state-dir", state, "-r", str(demo_copy), "runs", "--json")
    assert listed.exit_code == 0
    runs = json.loads(listed.stdout)
    assert [(r["command"], r["dry_run"], r["exit_code"]) for r in runs] == \
        [("run", False, 0), ("run", False, 0), ("run", True, None)]
    assert [[(b["batch_id"], b["state"], b["files"]) for b in r["batches"]] for r in runs] == \
        [[], [(1, "delivered", 2)], []]
    assert runs[2]["summary"]["delivered"] == 10  # the dry run's preview
    table = run_cli("--state-dir", state, "-r", str(demo_copy), "runs")
    assert "B000001 delivered (2 files)" in table.stdout


def test_prune_keeps_the_newest_and_what_the_queue_needs(run_cli, demo_copy: Path,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    state = tmp_path / "s"
    exported = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    queued = Path(exported.stdout.strip()).parent.parent.name
    # queued, never delivered: its export checkpoint holds the records' latest data
    assert run_cli("transform", "--from", exported.stdout.strip()).exit_code == 0
    assert run_cli("--state-dir", str(state), "run", str(demo_copy), "--dry-run").exit_code == 0
    (dry,) = [name for name in _runs(state) if name != queued]  # ids may share a second
    old_dry = _old_copy(state, dry, 40)
    with Ledger(state / "ledger.sqlite", "t") as ledger:
        later = datetime.now(UTC) + timedelta(days=31)
        preview = prune(state, ledger, 30, now=later, dry_run=True)
        assert {p.name for p in preview.kept_for_queue} == {queued}
        assert old_dry in {p.name for p in preview.removed}
        assert _runs(state).count(old_dry) == 1  # a dry run removes nothing
        done = prune(state, ledger, 30, now=later)
    newest = max(p.name for p in (state / "runs").iterdir())
    assert set(_runs(state)) == {queued, newest}
    assert done.freed_bytes > 0
    # the queue still works from the kept checkpoint: the next run delivers every record
    delivered = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out",
                        str(tmp_path / "out"))
    assert "delivered 10 documents" in delivered.output


def test_the_recipe_retention_runs_after_each_run(run_cli, demo_copy: Path,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    state, out = tmp_path / "s", str(tmp_path / "out")
    assert run_cli("--state-dir", str(state), "run", str(demo_copy), "--out", out).exit_code == 0
    first = _runs(state)[0]
    old = _old_copy(state, first, 10)
    with demo_copy.open("a", encoding="utf-8") as handle:
        handle.write("\n[ledger]\nkeep_days = 7\n")
    again = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out", out)
    assert again.exit_code == 0
    assert old not in _runs(state) and first in _runs(state) and len(_runs(state)) == 2
    assert "removed 1 run folder older than 7 days" in again.output
    by_hand = run_cli("--state-dir", str(state), "-r", str(demo_copy), "prune", "--keep-days",
                      "-1")
    assert by_hand.exit_code == 2 and "expected 0 or more days" in by_hand.output
