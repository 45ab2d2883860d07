"""Memory a step frees goes back to the system: the `sagesync` command runs Arrow on an allocator
that gives it back (jemalloc where pyarrow has it, else the system's; Arrow's default keeps it,
so a long step only grew), unless the environment chose one, and the export's worker processes
inherit the choice; `run` hands back what each step freed before the next one starts."""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from sagesync.ledger import Ledger
from sagesync.pipeline import run
from sagesync.recipe import load_recipe
from tests.conftest import DEMO_RECIPE, subprocess_env

PROBE = """
import os, sys
from sagesync.cli.main import main
sys.argv = ["sagesync", "--state-dir", sys.argv[1], "run", sys.argv[2], "--out", sys.argv[3]]
try:
    main()
except SystemExit as done:
    assert done.code == 0, done.code
import pyarrow as pa
print(pa.default_memory_pool().backend_name, os.environ.get("ARROW_DEFAULT_MEMORY_POOL"))
"""


def _pools(tmp_path: Path, chosen: str | None) -> list[str]:
    """Arrow's allocator after a `run` of the demo, and the one the environment passes on."""
    env = subprocess_env()
    env.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    found = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "state"),
                            str(DEMO_RECIPE), str(tmp_path / "out")], env=env,
                           capture_output=True, text=True, check=True)
    return found.stdout.split()[-2:]


def test_a_step_picks_an_allocator_that_gives_memory_back_unless_the_environment_chose(
        tmp_path: Path) -> None:
    returning = "jemalloc" if "jemalloc" in pa.supported_memory_backends() else "system"
    assert _pools(tmp_path / "default", None) == [returning, returning]
    assert _pools(tmp_path / "chosen", "mimalloc") == ["mimalloc", "mimalloc"]


def test_run_gives_each_step_s_freed_memory_back_before_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between export and transform and between transform and import, `run` collects Python's
    garbage and hands glibc's free heap pages back (malloc_trim, found on Linux with glibc)."""
    calls: list[str] = []
    for name in ("export_orders", "transform", "import_sage"):
        step = getattr(run, name)
        monkeypatch.setattr(run, name, lambda *a, _s=step, _n=name, **k: (
            calls.append(_n), _s(*a, **k))[1])
    monkeypatch.setattr(run, "_TRIM", lambda pad: calls.append("trim") or 1)
    recipe = replace(load_recipe(DEMO_RECIPE), state_dir=tmp_path / "state")
    with Ledger(tmp_path / "state" / "ledger.sqlite", "r") as ledger:
        result = run.run_recipe(recipe, ledger, "r", out_dir=tmp_path / "out")
    assert result.imported.delivered == 10
    assert calls == ["export_orders", "trim", "transform", "trim", "import_sage"]
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert run._malloc_trim() is not None
