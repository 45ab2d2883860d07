"""Kill real sagesync processes at random moments and at every named crash point, then rerun
to completion: every document must be in exactly one delivered file, none missing, and the
ledger must agree with the files.

The killed run is a real process (SIGKILL: no cleanup, no atexit). The completing run calls the
same library `run` uses, in a thread, so two trials can go at once on two cores.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.ledger import Ledger
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
"""
CRASH_POINTS = ("after-plan", "before-rename", "after-file", "before-finish", "after-finish")


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


def delivered_documents(out: Path) -> Counter[tuple[str, str, str]]:
    """(type, reference, file) of each delivered document (rows grouped)."""
    found: Counter[tuple[str, str, str]] = Counter()
    for path in sorted(out.glob("*audit_trail*.csv")):
        rows = path.read_bytes().decode("cp1252").split("\r\n")[1:]
        documents = {tuple(r.split(",")[0:6:5]) for r in rows if r}
        for kind, ref in documents:
            found[(kind, ref, path.name)] += 1
    return found


def complete(recipe_path: Path, state: Path, out: Path) -> None:
    from dataclasses import replace

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


def check_invariants(store: Store, state: Path, out: Path) -> None:
    documents = delivered_documents(out)
    per_document = Counter((k, r) for k, r, _ in documents)
    doubled = [d for d, n in per_document.items() if n > 1]
    assert not doubled, f"delivered twice: {doubled[:5]}"
    assert set(per_document) == store.expected, "documents missing or unexpected"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"
    accounts = Counter()
    for path in out.glob("*customers*.csv"):
        rows = path.read_bytes().decode("cp1252").split("\r\n")[1:]
        accounts.update(r.split(",")[0] for r in rows if r)
    assert all(n == 1 for n in accounts.values()), "an account was sent twice"
    file_of = {(k, r): f for k, r, f in documents}
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = ledger.rows()
        assert {r.state for r in rows} == {"sent"}
        assert len(rows) == len(store.expected)
        for row in rows:
            kind = "SC" if row.key.entity_type == "creditmemo" else "SI"
            assert Path(row.file or "").name == file_of[(kind, row.increment_id)]
        assert not ledger.unfinished_batches()


def trial(store: Store, number: int) -> str:
    rng = random.Random(number)
    folder = store.root / f"trial-{number}"
    out = folder / "out"
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
        nth = rng.randint(1, store.files) if point in ("before-rename", "after-file") else 1
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
    complete(store.recipe, state, out)
    try:
        check_invariants(store, state, out)
    except AssertionError as failure:
        raise AssertionError(f"trial {number} ({style}, {detail}): {failure}") from None
    shutil.rmtree(folder)
    return style, window


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


def run_trials(store: Store, numbers: range) -> Counter[tuple[str, str]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return Counter(pool.map(lambda n: trial(store, n), numbers))


def test_200_random_kills_and_crash_points_lose_and_double_nothing(store: Store) -> None:
    outcomes = run_trials(store, range(200))
    styles = Counter(style for style, _ in outcomes.elements())
    assert styles == Counter({"run": 67, "import-sage": 67, "crash-point": 66})
    windows = Counter(window for _, window in outcomes.elements())
    # The trials are not vacuous: many kills land between a file and the ledger knowing.
    assert windows["inside a batch"] >= 30, windows


@pytest.mark.slow
def test_1000_more_trials(store: Store) -> None:
    assert sum(run_trials(store, range(1000, 2000)).values()) == 1000
