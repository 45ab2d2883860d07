"""Kill real sagesync processes at random moments and at every named crash point, then rerun
to completion: every document must be in exactly one delivered file, none missing, and the
ledger must agree with the files.

Half the trials also collect the import folder right after the kill, as a bookkeeper importing
into Sage moves the files away: recovery must then know from the ledger's delivery journal what
landed. A document is lost if it is in no file and not held for a person; doubled if it is in
two. The one window nothing can close (a file renamed into place and collected before the
journal recorded it) holds that file's documents for a person, never resends them.

`ack` is killed the same way and rerun: each of Sage's answers counts once.

The killed run is a real process (SIGKILL: no cleanup, no atexit). The completing run calls the
same library `run` uses, in a thread, so two trials can go at once on two cores.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sagesync.ledger import Ledger
from sagesync.ops.ack import apply_ack
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.lock import run_lock
from sagesync.pipeline.run import run_recipe
from sagesync.recipe import load_recipe
from sagesync.testing.dataset import write_store
from tests.conftest import subprocess_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

RECIPE = """
name = "crash"
state_dir = "state"
[magento]
source = "pages"
[sage]
product = "sage50_uk"
max_lines_per_file = 40
[mapping]
tax_codes = { "20" = "T1", "5" = "T5", "0" = "T0" }
[delivery]
path = "out"
[ack]
error_column = "Error"
"""
CRASH_POINTS = ("after-plan", "before-rename", "after-rename", "after-file", "before-finish",
                "after-finish")
UNCERTAIN = "may have reached Sage"


@dataclass(frozen=True)
class Store:
    root: Path
    recipe: Path
    expected: frozenset[tuple[str, str]]
    files: int
    run_seconds: float
    start_seconds: float
    prepared_state: Path
    prepared_manifest: Path


def sagesync(*args: str) -> list[str]:
    return [sys.executable, "-m", "sagesync", *args]


def delivered_documents(*folders: Path) -> Counter[tuple[str, str, str]]:
    """(type, reference, file) of each delivered document (rows grouped)."""
    found: Counter[tuple[str, str, str]] = Counter()
    for path in sorted(p for out in folders if out.exists()
                       for p in out.glob("*audit_trail*.csv")):
        rows = path.read_bytes().decode("cp1252").split("\r\n")[1:]
        documents = {tuple(r.split(",")[0:6:5]) for r in rows if r}
        for kind, ref in documents:
            found[(kind, ref, path.name)] += 1
    return found


def complete(recipe_path: Path, state: Path, out: Path) -> None:
    recipe = replace(load_recipe(recipe_path), state_dir=state)
    run_id = new_run_id()
    with run_lock(state, "complete"), Ledger(state / "ledger.sqlite", run_id) as ledger:
        ledger.start_run("run")
        result = run_recipe(recipe, ledger, run_id, out_dir=out)
        ledger.finish_run(0, {})
    assert not result.imported.held


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("crash")
    write_store(root / "pages", 200, seed=11, page_size=50)
    recipe = root / "recipe.toml"
    recipe.write_text(RECIPE, encoding="utf-8")
    env = subprocess_env()
    started = time.perf_counter()
    subprocess.run(sagesync("--version"), check=True, capture_output=True, env=env)
    start_seconds = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(sagesync("--state-dir", str(root / "base"), "run", str(recipe), "--out",
                            str(root / "base-out")), check=True, capture_output=True, env=env)
    run_seconds = time.perf_counter() - started
    counted = delivered_documents(root / "base-out")
    expected = frozenset((k, r) for k, r, _ in counted)
    assert len(expected) == sum(counted.values()) > 150
    prepared = root / "prepared"
    exported = subprocess.run(sagesync("--state-dir", str(prepared), "export-orders", "-r",
                                       str(recipe)), check=True, capture_output=True, env=env)
    transformed = subprocess.run(sagesync("--state-dir", str(prepared), "transform"),
                                 input=exported.stdout, check=True, capture_output=True, env=env)
    manifest = Path(transformed.stdout.decode().strip())
    return Store(root, recipe, expected, len(list((root / "base-out").glob("*.csv"))),
                 run_seconds, start_seconds, prepared, manifest.relative_to(prepared))


def collect(out: Path, collected: Path) -> None:
    """The bookkeeper imports the folder into Sage and moves the files away (not the hidden
    temporary ones, which no import picks up)."""
    collected.mkdir(parents=True, exist_ok=True)
    if out.exists():
        for path in out.iterdir():
            if not path.name.startswith("."):
                path.replace(collected / path.name)


def check_invariants(store: Store, state: Path, out: Path, collected: Path | None = None
                     ) -> int:
    """Nothing lost, nothing doubled, the ledger agrees with the files; returns how many
    documents wait for a person because their file may have reached Sage."""
    folders = (out,) if collected is None else (out, collected)
    documents = delivered_documents(*folders)
    per_document = Counter((k, r) for k, r, _ in documents)
    doubled = [d for d, n in per_document.items() if n > 1]
    assert not doubled, f"delivered twice: {doubled[:5]}"
    assert set(per_document) <= store.expected, "unexpected documents"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"
    accounts = Counter()
    for path in (p for folder in folders for p in folder.glob("*customers*.csv")):
        rows = path.read_bytes().decode("cp1252").split("\r\n")[1:]
        accounts.update(r.split(",")[0] for r in rows if r)
    assert all(n == 1 for n in accounts.values()), "an account was sent twice"
    file_of = {(k, r): f for k, r, f in documents}
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = ledger.rows()
        assert len(rows) == len(store.expected)
        held = [r for r in rows if r.state == "needs_attention"]
        assert {r.state for r in rows} <= {"sent", "needs_attention"}
        assert not held or collected is not None, "held for a person, yet nothing was collected"
        for row in rows:
            kind = "SC" if row.key.entity_type == "creditmemo" else "SI"
            if row.state == "sent":
                assert Path(row.file or "").name == file_of[(kind, row.increment_id)]
            else:  # held for a person, with what to check in Sage; in that file or in none
                assert UNCERTAIN in (row.last_error or "") and row.file, row
                assert file_of.get((kind, row.increment_id), Path(row.file).name) == \
                    Path(row.file).name
        lost = store.expected - set(per_document) - {
            ("SC" if r.key.entity_type == "creditmemo" else "SI", r.increment_id) for r in held}
        assert not lost, f"documents lost: {sorted(lost)[:5]}"
        assert not ledger.unfinished_batches()
    return len(held)


def trial(store: Store, number: int) -> tuple[str, str, bool, int]:
    """One killed run, then (every other trial) the folder collected, then a run to the end;
    returns the style, where the kill landed, whether collected, and documents held."""
    rng = random.Random(number)
    folder = store.root / f"trial-{number}"
    out = folder / "out"
    collected = folder / "collected" if (number // 3) % 2 else None
    env = subprocess_env()
    style = ("run", "import-sage", "crash-point")[number % 3]
    if style == "run":
        state = folder / "state"
        command = sagesync("--state-dir", str(state), "run", str(store.recipe), "--out",
                           str(out))
    else:
        state = folder / "state"
        shutil.copytree(store.prepared_state, state)
        command = sagesync("--state-dir", str(state), "import-sage", "--from",
                           str(state / store.prepared_manifest), "--out", str(out))
    if style == "crash-point":
        point = rng.choice(CRASH_POINTS)
        nth = rng.randint(1, store.files) if point in ("before-rename", "after-rename",
                                                        "after-file") else 1
        env["SAGESYNC_CRASH_AT"] = f"{point}:{nth}"
        subprocess.run(command, env=env, capture_output=True, timeout=120)
        detail = f"crash at {point}:{nth}"
    else:
        delay = rng.uniform(store.start_seconds * 0.8, store.run_seconds * 1.1)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        detail = f"SIGKILL after {delay:.2f}s"
    window = killed_in(state, out)
    if collected is not None:
        collect(out, collected)
    complete(store.recipe, state, out)
    try:
        held = check_invariants(store, state, out, collected)
    except AssertionError as failure:
        raise AssertionError(f"trial {number} ({style}, {detail}, "
                             f"{'collected' if collected else 'not collected'}): "
                             f"{failure}") from None
    shutil.rmtree(folder)
    return style, window, collected is not None, held


def killed_in(state: Path, out: Path) -> str:
    """Where the kill landed: before delivery, inside a batch, or after it was recorded."""
    files = [p for p in out.glob("*.csv")] if out.exists() else []
    ledger_path = state / "ledger.sqlite"
    if not ledger_path.exists():
        return "before delivery"
    with Ledger(ledger_path) as ledger:
        if ledger.unfinished_batches():
            return "inside a batch"
        sent = ledger.counts_by_state().get("sent", 0)
    if sent:
        return "after the batch"
    return "inside a batch" if files else "before delivery"


def run_trials(store: Store, numbers: range) -> list[tuple[str, str, bool, int]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda n: trial(store, n), numbers))


TRIALS = 72  # the default run's share (3 styles, half collected); 1000 more under -m slow


def test_random_kills_and_crash_points_lose_and_double_nothing(store: Store) -> None:
    outcomes = run_trials(store, range(TRIALS))
    styles = Counter(style for style, *_ in outcomes)
    assert styles == Counter({"run": 24, "import-sage": 24, "crash-point": 24})
    windows = Counter(window for _, window, *_ in outcomes)
    # The trials are not vacuous: many kills land between a file and the ledger knowing,
    # half of them followed by the folder being collected.
    assert windows["inside a batch"] >= 11, windows
    collected = [window for _, window, was_collected, _ in outcomes if was_collected]
    assert len(collected) == 36 and collected.count("inside a batch") >= 6, collected


@pytest.mark.parametrize("point", ["after-plan", "before-rename:2", "after-rename:2",
                                   "after-file:2", "before-finish", "after-finish"])
def test_a_folder_collected_after_a_crash_is_never_delivered_again(store: Store, tmp_path: Path,
                                                                    point: str) -> None:
    """The bookkeeper moves the files into Sage between the crash and the next run: what was
    renamed into place must count as delivered though it is gone. Only a file renamed and
    collected before the journal knew it is unknowable: its documents wait for a person, with
    the references to check in Sage."""
    state, out, collected = tmp_path / "state", tmp_path / "out", tmp_path / "collected"
    shutil.copytree(store.prepared_state, state)
    env = {**subprocess_env(), "SAGESYNC_CRASH_AT": point}
    killed = subprocess.run(sagesync("--state-dir", str(state), "import-sage", "--from",
                                     str(state / store.prepared_manifest), "--out", str(out)),
                            env=env, capture_output=True, timeout=120)
    assert killed.returncode == 137, killed.stderr.decode()
    if point == "before-rename:2":  # a leftover temporary file is named after its file
        assert [p.name for p in out.glob(".*")] == [".B000001-2-audit_trail-001.csv.tmp"]
    collect(out, collected)
    complete(store.recipe, state, out)
    held = check_invariants(store, state, out, collected)
    if point != "after-rename:2":
        assert held == 0
        return
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = ledger.rows(["needs_attention"])
    assert len(rows) == held > 0
    assert {Path(r.file or "").name for r in rows} == {"B000001-2-audit_trail-001.csv"}
    reason = rows[0].last_error or ""
    assert re.search(r"batch 1 file B000001-2-audit_trail-001\.csv may have reached Sage.*"
                     r"check Sage for references SI( \d+)+ \(\d+ documents\)", reason), reason
    assert "sagesync retry" in reason and "sagesync resolve" in reason


@dataclass(frozen=True)
class Acked:
    state: Path  # a delivered state folder: every document sent
    file: Path  # Sage rejects every document
    seconds: float


@pytest.fixture(scope="module")
def acked(store: Store) -> Acked:
    sent = store.root / "base"
    lines = ["Type,Reference,Transaction Number,Error"]
    lines += [f"{kind},{reference},,Period {reference} is closed"
              for kind, reference in sorted(store.expected)]
    file = store.root / "rejections.csv"
    file.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    state = store.root / "ack-timing"
    shutil.copytree(sent, state)
    started = time.perf_counter()
    subprocess.run(sagesync("--state-dir", str(state), "-r", str(store.recipe), "ack",
                            str(file)), env=subprocess_env(), capture_output=True, check=True)
    seconds = time.perf_counter() - started
    shutil.rmtree(state)
    return Acked(sent, file, seconds)


def ack_trial(store: Store, acked: Acked, number: int) -> str:
    """Kill `ack` (at a random moment or after the n-th document), rerun it, replay it: each
    document is rejected once, attempts 1. Returns where the kill landed."""
    rng = random.Random(number)
    state = store.root / f"ack-{number}" / "state"
    shutil.copytree(acked.state, state)
    env = subprocess_env()
    command = sagesync("--state-dir", str(state), "-r", str(store.recipe), "ack",
                       str(acked.file))
    if number % 2:
        env["SAGESYNC_CRASH_AT"] = f"after-answer:{rng.randint(1, len(store.expected))}"
        subprocess.run(command, env=env, capture_output=True, timeout=120)
    else:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(store.start_seconds * 0.8, acked.seconds * 1.1))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
    with Ledger(state / "ledger.sqlite") as ledger:
        counts = ledger.counts_by_state()
    window = ("before any answer" if counts.get("rejected", 0) == 0 else "after every answer"
              if counts.get("sent", 0) == 0 else "in the middle")
    recipe = replace(load_recipe(store.recipe), state_dir=state)
    for _ in range(2):  # the rerun (in this process, as `ack` does it), then a replay
        with run_lock(state, "ack"), Ledger(state / "ledger.sqlite", new_run_id()) as ledger:
            apply_ack(recipe, ledger, acked.file)
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = ledger.rows()
        assert len(rows) == len(store.expected)
        wrong = [(str(r.key), r.state, r.attempts) for r in rows
                 if (r.state, r.attempts) != ("rejected", 1)]
        assert not wrong, f"ack trial {number} ({window}): {wrong[:5]}"
        for row in rows:
            events = Counter(event for _, event, _ in ledger.events(row.key))
            assert events["rejected"] == 1 and events["needs_attention"] == 0, (row.key, events)
    shutil.rmtree(state.parent)
    return window


def run_ack_trials(store: Store, acked: Acked, numbers: range) -> Counter[str]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return Counter(pool.map(lambda n: ack_trial(store, acked, n), numbers))


def test_a_killed_and_rerun_ack_counts_every_answer_once(store: Store, acked: Acked) -> None:
    windows = run_ack_trials(store, acked, range(TRIALS))
    assert windows["in the middle"] >= 22, windows


@pytest.mark.slow
def test_1000_more_trials(store: Store) -> None:
    outcomes = run_trials(store, range(1000, 2000))
    assert len(outcomes) == 1000
    # ... and the window nothing closes is hit, held for a person (never resent).
    assert sum(held for *_, held in outcomes) > 0


@pytest.mark.slow
def test_1000_more_ack_trials(store: Store, acked: Acked) -> None:
    assert sum(run_ack_trials(store, acked, range(1000, 2000)).values()) == 1000
