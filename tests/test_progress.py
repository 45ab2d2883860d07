"""Progress (issue 14 §4): the steps report how far they got; the CLI draws bars only on a
terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.progress import reporting_to
from sagesync.pipeline.run import run_recipe
from sagesync.recipe import load_recipe
from tests.conftest import SAGESYNC, subprocess_env


class Recorder:
    def __init__(self) -> None:
        self.done: dict[str, int] = defaultdict(int)
        self.totals: dict[str, int | None] = {}
        self.units: dict[str, str] = {}

    def advance(self, step: str, done: int, total: int | None, unit: str) -> None:
        self.done[step] += done
        self.totals[step] = total
        self.units[step] = unit


def test_each_step_reports_what_it_did(demo_copy: Path, tmp_path: Path) -> None:
    recipe = load_recipe(demo_copy)
    recorder = Recorder()
    run_id = new_run_id()
    with Ledger(tmp_path / "ledger.sqlite", run_id) as ledger, reporting_to(recorder):
        result = run_recipe(recipe, ledger, run_id, out_dir=tmp_path / "out")
    assert recorder.done["export-orders"] == result.exported.pages == 8
    assert recorder.done["transform"] == result.transformed.documents == 10
    assert recorder.done["import-sage"] == recorder.totals["import-sage"] == 10
    assert recorder.units == {"export-orders": "pages", "transform": "documents",
                              "import-sage": "documents"}


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_bars_on_a_terminal_and_none_without(demo_copy: Path, tmp_path: Path) -> None:
    import pty

    main, child = pty.openpty()
    done = subprocess.run([*SAGESYNC, "--state-dir", "s", "run", str(demo_copy), "--out", "o"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child,
                          cwd=tmp_path, env={**subprocess_env(), "COLUMNS": "120"},
                          timeout=300)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert done.returncode == 0
    text = seen.decode("utf-8", "replace")
    assert "import-sage (documents)" in text and "10/10" in text
    assert "Documents delivered" in text  # the summary table, on a terminal
    piped = subprocess.run([*SAGESYNC, "--state-dir", "s2", "run", str(demo_copy), "--out", "o2"],
                           capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(),
                           stdin=subprocess.DEVNULL, timeout=300)
    assert piped.returncode == 0 and piped.stderr == ""
