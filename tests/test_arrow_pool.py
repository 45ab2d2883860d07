"""The `sagesync` command runs Arrow on an allocator that gives freed memory back (jemalloc where
pyarrow has it, else the system's; Arrow's default keeps it, so a long step only grew), unless
the environment chose one, and the export's worker processes inherit the choice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa

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
