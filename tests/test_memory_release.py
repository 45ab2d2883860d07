"""Memory a step frees goes back to the system: the `sagesync` command runs Arrow on an allocator
that gives it back (jemalloc where pyarrow has it, else the system's; Arrow's default keeps it,
so a long step only grew), unless the environment chose one, and the export's worker processes
inherit the choice; `run` hands back what each step freed before the next one starts. The
command and its workers leave out the parts of pyarrow sagesync never uses, and collect garbage
tuned for batch work."""

from __future__ import annotations

import gc
import importlib
import platform
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from sagesync.arrow_parts import UNUSED
from sagesync.cli.main import JEMALLOC_CONF, RETURNING_JEMALLOC
from sagesync.collector import YOUNGEST
from sagesync.ledger import Ledger
from sagesync.pipeline import run
from sagesync.pipeline.worker_process import WorkerProcess
from sagesync.recipe import load_recipe
from tests.conftest import DEMO_RECIPE, subprocess_env

PROBE = """
import gc, os, sys
from sagesync.cli.main import main
sys.argv = ["sagesync", "--state-dir", sys.argv[1], "run", sys.argv[2], "--out", sys.argv[3]]
try:
    main()
except SystemExit as done:
    assert done.code == 0, done.code
import pyarrow as pa
from sagesync.arrow_parts import UNUSED
import pyarrow.dataset, pyarrow.fs
absent = [name for name in UNUSED if name in sys.modules and sys.modules[name] is None]
print(len(absent) == len(UNUSED), pa.fs.LocalFileSystem.__name__, pyarrow.dataset.dataset.__name__,
      gc.get_threshold()[0], file=sys.stderr)
print(os.environ.get("JE_ARROW_MALLOC_CONF"), pa.default_memory_pool().backend_name,
      os.environ.get("ARROW_DEFAULT_MEMORY_POOL"))
"""


def _pools(tmp_path: Path, chosen: str | None, conf: str | None = None) -> list[str]:
    """How jemalloc is told to run, Arrow's allocator after a `run` of the demo, and the
    allocator the environment passes on (to the export's worker processes)."""
    env = subprocess_env()
    env.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    env.pop(JEMALLOC_CONF, None)
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    if conf is not None:
        env[JEMALLOC_CONF] = conf
    found = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "state"),
                            str(DEMO_RECIPE), str(tmp_path / "out")], env=env,
                           capture_output=True, text=True, check=True)
    # the command ran with pyarrow's unused parts left out, and what it uses loads without them,
    # and with the collector tuned for its batches
    assert found.stderr.split()[-4:] == ["True", "LocalFileSystem", "dataset", str(YOUNGEST)]
    return found.stdout.split()[-3:]


def test_a_step_picks_an_allocator_that_gives_memory_back_unless_the_environment_chose(
        tmp_path: Path) -> None:
    """jemalloc, where pyarrow has it, is also told to keep one arena and give freed pages back
    soon; a configuration of the user's own wins."""
    if "jemalloc" in pa.supported_memory_backends():
        assert _pools(tmp_path / "default", None) == [RETURNING_JEMALLOC, "jemalloc",
                                                      "jemalloc"]
        assert _pools(tmp_path / "own", None, "narenas:2") == ["narenas:2", "jemalloc",
                                                               "jemalloc"]
    else:
        assert _pools(tmp_path / "default", None) == ["None", "system", "system"]
    assert _pools(tmp_path / "chosen", "mimalloc") == ["None", "mimalloc", "mimalloc"]


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


def worker_setup(_: None, job: int) -> tuple[list[str], int]:
    """In a worker: the arrow parts marked absent, once the modules a step reads with are
    loaded, and how many objects the collector's youngest generation takes."""
    # pyarrow.parquet loads pyarrow.fs, and with it every filesystem pyarrow has;
    # pyarrow.dataset loads Substrait, where pyarrow has it
    for module in ("pyarrow.parquet", "pyarrow.dataset"):
        importlib.import_module(module)
    absent = [name for name in UNUSED if name in sys.modules and sys.modules[name] is None]
    return absent, gc.get_threshold()[0]


def test_a_worker_sets_itself_up_as_the_command_does() -> None:
    """The S3, GCS, Azure and HDFS filesystems and Substrait (some 8 MiB a process, the AWS
    SDK among them) are not loaded in a worker either, though pyarrow.fs loads all it has; and
    it collects its youngest generation every YOUNGEST objects, not every 700 (its decoding
    made thousands of collections that found nothing)."""
    assert gc.get_threshold()[0] != YOUNGEST  # this test's process keeps Python's own
    worker = WorkerProcess(worker_setup, None)
    try:
        assert worker.submit(1).result(timeout=120) == (list(UNUSED), YOUNGEST)
    finally:
        worker.close()
