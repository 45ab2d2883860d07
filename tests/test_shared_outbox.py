"""Two ledgers, one delivery folder (two recipes into one Sage company, or a state folder
started afresh while its old files wait): a file already there under a batch's name is never
replaced, and a crash never lets another writer's file pass for this batch's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from tests.conftest import DEMO_RECIPE, SAGESYNC, SAMPLES, subprocess_env

THEIRS = b"another recipe's batch, not yet imported into Sage\r\n"


def _site(tmp_path: Path, name: str) -> Path:
    """A copy of the demo whose delivery folder is the shared tmp_path/outbox."""
    site = tmp_path / name
    shutil.copytree(SAMPLES, site / "samples")
    (site / "recipes").mkdir()
    recipe = site / "recipes" / "demo.toml"
    recipe.write_text(DEMO_RECIPE.read_text(encoding="utf-8").replace(
        'path = "../demo-state/outbox"', f'path = "{(tmp_path / "outbox").as_posix()}"'),
        encoding="utf-8")
    return recipe


def _run(recipe: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    if crash_at:
        env["SAGESYNC_CRASH_AT"] = crash_at
    return subprocess.run([*SAGESYNC, "-r", str(recipe), "run"], capture_output=True,
                          text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


def _states(recipe: Path) -> dict[str, int]:
    with Ledger(recipe.parent.parent / "demo-state" / "ledger.sqlite", "check") as ledger:
        return dict(ledger.db.execute("SELECT state, count(*) FROM records GROUP BY state"))


def _theirs(tmp_path: Path) -> tuple[dict[str, bytes], bytes]:
    """Recipe A delivers batch 1; its files then stand for ones Sage has not read yet. Also
    the audit trail A wrote, which B (the same store) must deliver too."""
    first = _site(tmp_path, "a")
    assert _run(first).returncode == 0
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == ["B000001-1-customers.csv", "B000001-2-audit_trail.csv"]
    written = files[1].read_bytes()
    for file in files:
        file.write_bytes(THEIRS)
    return {f.name: THEIRS for f in files}, written


def _outbox(tmp_path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted((tmp_path / "outbox").iterdir())}


def test_a_file_of_another_ledger_is_never_replaced(tmp_path: Path) -> None:
    theirs, written = _theirs(tmp_path)
    second = _site(tmp_path, "b")
    refused = _run(second)
    assert refused.returncode == ExitCode.RETRY_LATER, refused.stderr
    assert "B000001-1-customers.csv already exists" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _outbox(tmp_path) == theirs  # nothing replaced, nothing half-written beside them
    assert _states(second) == {"queued": 10}

    done = _run(second)  # the next batch has names of its own
    assert done.returncode == 0, done.stderr
    assert _states(second) == {"sent": 10}
    found = _outbox(tmp_path)
    assert {n: found[n] for n in theirs} == theirs
    assert sorted(set(found) - set(theirs)) == ["B000002-1-customers.csv",
                                                "B000002-2-audit_trail.csv"]
    assert found["B000002-2-audit_trail.csv"] == written


def test_a_crash_before_writing_never_takes_another_writers_file_for_its_own(
        tmp_path: Path) -> None:
    theirs, written = _theirs(tmp_path)
    second = _site(tmp_path, "b")
    crashed = _run(second, crash_at="after-plan")  # batch 1 planned, nothing written
    assert crashed.returncode != 0
    done = _run(second)  # recovery: the files of batch 1's names are not this batch's
    assert done.returncode == 0, done.stderr
    assert _states(second) == {"sent": 10}
    found = _outbox(tmp_path)
    assert {n: found[n] for n in theirs} == theirs
    assert found["B000002-2-audit_trail.csv"] == written
