"""The documentation does not lie (issue 14 §8): every command's help has an example, every
recipe the docs name exists, and the README's offline examples run as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagesync.cli.main import COMMANDS, cli
from tests.conftest import ROOT, subprocess_env

OFFLINE = "# offline: runs as written from the project folder"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "sagesync" / "sage" / "products").glob("*/README.md"))]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_explains_itself_with_an_example(name: str) -> None:
    shown = CliRunner().invoke(cli, [name, "--help"])
    assert shown.exit_code == 0, shown.output
    assert "Example:" in shown.output, f"`sagesync {name} --help` has no example"
    example = shown.output.split("Example:", 1)[1]
    assert re.search(rf"^\s+sagesync .*\b{re.escape(name)}\b", example, re.M), \
        f"`sagesync {name} --help`: the example does not run `{name}`"


def test_every_recipe_the_docs_and_help_name_exists() -> None:
    texts = [p.read_text(encoding="utf-8") for p in DOCS]
    texts += [CliRunner().invoke(cli, [name, "--help"]).output for name in COMMANDS]
    named = {m for text in texts for m in re.findall(r"recipes/[\w.-]+\.toml", text)}
    assert named, "no recipe named anywhere?"
    missing = sorted(n for n in named if not (ROOT / n).is_file())
    assert not missing, f"the docs name recipes that do not exist: {missing}"


def _offline_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    offline = [b for b in blocks if b.startswith(OFFLINE)]
    assert len(offline) == 1, "the README's offline example block is gone"
    return [line for line in offline[0].splitlines() if line.startswith("sagesync ")]


@pytest.mark.skipif(sys.platform == "win32", reason="the README's examples are POSIX shell")
def test_the_readme_offline_examples_run_as_written(tmp_path: Path) -> None:
    """Each line in a copy of the project folder, through a shell, with `sagesync` on PATH;
    exit 0, or 1 where the line says so."""
    for folder in ("recipes", "samples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "sagesync"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sagesync "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {**subprocess_env(), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    lines = _offline_lines()
    assert len(lines) >= 5
    for line in lines:
        done = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True,
                              text=True, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                              timeout=300)
        expected = 1 if "exits 1" in line else 0
        assert done.returncode == expected, f"{line}\n{done.stderr}"
        assert "Traceback" not in done.stderr, line


def test_shell_completion_is_documented_and_works() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "_SAGESYNC_COMPLETE=bash_source sagesync" in readme
    done = subprocess.run([sys.executable, "-m", "sagesync"], capture_output=True, text=True,
                          env={**subprocess_env(), "_SAGESYNC_COMPLETE": "bash_source"},
                          timeout=60)
    assert "complete -o nosort -F _sagesync_completion sagesync" in done.stdout
