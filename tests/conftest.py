"""Shared fixtures: the Magento simulator, the repository's paths, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sagesync.cli.main import cli
from sagesync.cli.options import Context
from sagesync.magento import http
from tests.fixtures_magento import *  # noqa: F403 - magento_sim, make_magento_sim

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DEMO_RECIPE = ROOT / "recipes" / "demo.toml"
SAGESYNC = [sys.executable, "-m", "sagesync"]

# The tests start sagesync in hundreds of child processes (the crash trials alone, over 300).
# Where the environment asks for no bytecode (PYTHONDONTWRITEBYTECODE, as this one does), each
# would compile sagesync's modules again: 0.4 s apiece. The children write their bytecode to
# one folder of the test cache instead (never beside the sources), and start as an installed
# copy does.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("PYTHONPYCACHEPREFIX", str(ROOT / ".pytest_cache" / "pycache"))


@pytest.fixture
def run_cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Invoke the CLI in-process with stdin closed-off unless given; returns click's Result."""

    def invoke(*args: str, input: str | bytes | None = None) -> Result:
        runner = CliRunner()
        # what went right is shown as on a terminal (without one a run that went right is
        # silent on stderr: tests/test_cli_output.py)
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False,
                             obj=Context(tell_all=True))

    return invoke


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """A copy of the demo recipe, its samples and mappings, so tests may break them freely."""
    shutil.copytree(SAMPLES, tmp_path / "samples")
    (tmp_path / "recipes").mkdir()
    shutil.copy(DEMO_RECIPE, tmp_path / "recipes" / "demo.toml")
    return tmp_path / "recipes" / "demo.toml"


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Magento retries sleep into a list instead of the clock, so fault tests stay fast."""
    waits: list[float] = []
    real = http.RetryPolicy
    # the export looks the policy up in its module when it opens a live store
    monkeypatch.setattr(http, "RetryPolicy", lambda **kw: real(**kw, sleep=waits.append))
    return waits


def fresh_python(code: str, cwd: Path | None = None) -> str:
    """What `code` prints when run in a new interpreter (it must succeed): to see what a
    process imports from a clean start."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=cwd).stdout


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SAGESYNC_CRASH_AT", None)
    env["PYTHONPATH"] = str(ROOT)
    return env
