"""What the CLI writes where, as cron, a pipe and a person at a terminal see it (issue 14 §4, §6).

Each test runs the real `sagesync` in a child process with stderr a pipe (no terminal), as a
crontab entry or a scheduler runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.errors import ExitCode
from sagesync.pipeline.export_step import parse_utc
from tests.conftest import SAGESYNC, subprocess_env


def sagesync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SAGESYNC, *args], capture_output=True, text=True, cwd=cwd,
                          env=subprocess_env(), stdin=subprocess.DEVNULL, timeout=300)


def test_a_cron_run_that_went_right_writes_nothing_to_stderr(demo_copy: Path,
                                                             tmp_path: Path) -> None:
    """One line on stdout (the manifest); stderr empty; -v tells what went right, and the
    summary table keeps a long path whole."""
    out = tmp_path / ("a-delivery-folder-with-a-long-name-" * 3)
    done = sagesync("--state-dir", "s", "run", str(demo_copy), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1 and done.stdout.strip().endswith("manifest.json")
    again = sagesync("--state-dir", "s", "-r", str(demo_copy), "run", "-v", "--out", str(out),
                     cwd=tmp_path)
    assert again.returncode == 0
    assert "exported 10 orders, 8 invoices, 2 credit memos, 4 customers from 8 pages" \
        in again.stderr
    assert "delivered 0 documents in 0 files (10 already sent earlier, 0 held)" in again.stderr
    assert "Already sent before" in again.stderr  # the table, without a terminal too under -v
    quiet = sagesync("--state-dir", "s", "run", str(demo_copy), "-v", "-q", "--out", str(out),
                     cwd=tmp_path)
    assert quiet.returncode == 0 and "exported" not in quiet.stderr


def test_what_is_wrong_always_shows(demo_copy: Path, tmp_path: Path) -> None:
    """A held record shows on stderr without a terminal, and even with -q."""
    exported = sagesync("--state-dir", "s", "export-orders", "-r", str(demo_copy), cwd=tmp_path)
    transformed = sagesync("transform", "--from", exported.stdout.strip(), cwd=tmp_path)
    assert transformed.returncode == 0 and transformed.stderr == ""
    held = sagesync("--state-dir", "s", "-r", str(demo_copy), "hold", "invoice:3@1",
                    cwd=tmp_path)
    assert held.returncode == 0, held.stderr
    done = sagesync("--state-dir", "s", "run", str(demo_copy), "-q", "--out", "o", cwd=tmp_path)
    assert done.returncode == ExitCode.HELD
    assert "held: invoice:3@1" in done.stderr
    assert "exported" not in done.stderr and "delivered" not in done.stderr


def test_run_takes_its_recipe_from_r_and_refuses_two(demo_copy: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(demo_copy.read_text(encoding="utf-8"), encoding="utf-8")
    two = sagesync("-r", str(other), "run", str(demo_copy), "--dry-run", cwd=tmp_path)
    assert two.returncode == ExitCode.USAGE and "Two recipes" in two.stderr
    none = sagesync("run", "--dry-run", cwd=tmp_path)
    assert none.returncode == ExitCode.USAGE and "run needs a recipe" in none.stderr


def test_since_after_until_is_refused_and_a_zone_is_read(demo_copy: Path, tmp_path: Path) -> None:
    refused = sagesync("--state-dir", "s", "run", str(demo_copy), "--dry-run",
                       "--since", "2026-11-30T12:00:00+01:00", "--until", "2026-11-30T10:59:59Z",
                       cwd=tmp_path)
    assert refused.returncode == ExitCode.USAGE
    assert "--since 2026-11-30 11:00:00 UTC is after --until 2026-11-30 10:59:59 UTC" \
        in refused.stderr
    bad = sagesync("--state-dir", "s", "run", str(demo_copy), "--since", "30/11/2026",
                   cwd=tmp_path)
    assert bad.returncode == ExitCode.USAGE and "ISO 8601" in bad.stderr


@given(st.dates(), st.times())
def test_until_a_date_is_the_end_of_that_day_and_since_its_start(day, time) -> None:  # type: ignore[no-untyped-def]
    moment = parse_utc(f"{day.isoformat()}T{time.isoformat()}+00:00")
    since, until = parse_utc(day.isoformat()), parse_utc(day.isoformat(), end_of_day=True)
    assert since <= moment.replace(microsecond=0) <= until


def test_an_export_from_a_folder_without_pages_is_an_error(demo_copy: Path,
                                                            tmp_path: Path) -> None:
    (tmp_path / "empty" / "orders").mkdir(parents=True)
    done = sagesync("--state-dir", "s", "export-orders", "-r", str(demo_copy), "--source",
                    str(tmp_path / "empty"), cwd=tmp_path)
    assert done.returncode == ExitCode.USAGE
    assert "holds no Magento pages" in done.stderr and done.stdout == ""


def test_a_fix_that_changes_nothing_exits_1(demo_copy: Path, tmp_path: Path) -> None:
    sagesync("--state-dir", "s", "run", str(demo_copy), "--out", "o", cwd=tmp_path)
    unknown = sagesync("--state-dir", "s", "-r", str(demo_copy), "hold", "invoice:999@1",
                       cwd=tmp_path)
    assert unknown.returncode == ExitCode.USAGE and "No record invoice:999@1" in unknown.stderr
    sent = sagesync("--state-dir", "s", "-r", str(demo_copy), "retry", "invoice:1@1",
                    cwd=tmp_path)
    assert sent.returncode == ExitCode.HELD and "not changed" in sent.stderr
    none_held = sagesync("--state-dir", "s", "-r", str(demo_copy), "retry", "--all-held",
                         cwd=tmp_path)
    assert none_held.returncode == ExitCode.HELD and "nothing matched" in none_held.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="a closed pipe is a POSIX notion here")
@pytest.mark.parametrize("command", [["status"], ["trace", "000000001"], ["run", "--dry-run"]])
def test_a_closed_pipe_is_not_a_bug(demo_copy: Path, tmp_path: Path, command: list[str]) -> None:
    sagesync("--state-dir", "s", "run", str(demo_copy), "--out", "o", cwd=tmp_path)
    args = ["--state-dir", "s", "-r", str(demo_copy), *command]
    if command[0] == "run":
        args.append(str(demo_copy))
    child = subprocess.Popen([*SAGESYNC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, cwd=tmp_path, env=subprocess_env())
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # as `| head -0` does
    code = child.wait(timeout=300)
    stderr = child.stderr.read().decode()
    assert code != ExitCode.BUG and "internal error" not in stderr and "Traceback" not in stderr
    assert code == ExitCode.OK, stderr
    assert not os.listdir(tmp_path / "s" / "logs") if (tmp_path / "s" / "logs").exists() else True


@given(st.integers(min_value=0, max_value=10**6))
def test_counts_read_right(count: int) -> None:
    from sagesync.model.words import plural

    said = plural(count, "problem")
    assert said == ("1 problem" if count == 1 else f"{count} problems")
