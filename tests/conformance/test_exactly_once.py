"""Exactly once across crashes: `import-sage` killed at each of its crash points, then rerun.

The harness is tests/test_crash.py's (SAGESYNC_CRASH_AT in a real process, os._exit at the
point, the folder maybe collected by a bookkeeper, then a run to the end in this process); here
it runs against every product, at every crash point of a multi-file batch, and checks from the
files' bytes: each Magento document is in exactly one delivered file, whole, nothing lost.
The one window nothing can close (a file renamed and collected before the journal knew) may
leave a document out, but then it waits for a person, never resent.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagesync.cli.main import cli
from sagesync.ledger import Ledger
from sagesync.sage.products import SageProduct
from tests.conformance.harness import (
    document_specs,
    occurrences,
    owner_of,
    read_delivered,
    run_recipe_cli,
    sage_type,
    synthetic_store,
    write_recipe,
)
from tests.conftest import subprocess_env
from tests.test_crash import CRASH_POINTS, UNCERTAIN, collect, complete, sagesync

#: The points passed once per batch, and those passed once per file (at file n).
ONCE = tuple(p for p in CRASH_POINTS if p not in ("before-rename", "after-rename", "after-file"))
PER_FILE = tuple(p for p in CRASH_POINTS if p not in ONCE)


@dataclass(frozen=True)
class Prepared:
    """A transformed store ready for import-sage, and what a clean import delivers."""

    recipe: Path
    state: Path
    manifest: Path  # relative to state
    expected: frozenset[tuple[str, str]]
    files: int


def prepare(product: SageProduct, folder: Path) -> Prepared:
    """A store whose batch is about three files: the limit is a third of its rows (at least
    its largest document, at most the product's own limit)."""
    caps = product.capabilities
    store = synthetic_store(folder / "pages", 1, 20, seed=11, credit_notes=caps.credit_notes)
    expected = frozenset(k for k, v in store.postings(product).items() if v)
    run_recipe_cli(product, write_recipe(product, folder / "whole", store.source,
                                         sage={"max_lines_per_file": 0}))
    whole = read_delivered(product, folder / "whole" / "out").of(document_specs(product))
    largest = max(Counter(owner_of(product, r, expected) for r in whole).values())
    limit = max(largest, -(-len(whole) // 3))
    if caps.max_lines_per_file:
        limit = min(limit, caps.max_lines_per_file)
    recipe = write_recipe(product, folder, store.source, sage={"max_lines_per_file": limit})
    runner = CliRunner()
    exported = runner.invoke(cli, ["export-orders", "-r", str(recipe)], catch_exceptions=False)
    transformed = runner.invoke(cli, ["transform", "--from", exported.stdout.strip()],
                                catch_exceptions=False)
    assert exported.exit_code == transformed.exit_code == 0, transformed.output
    state = folder / "state"
    manifest = Path(transformed.stdout.strip()).relative_to(state)
    clean = folder / "clean"
    shutil.copytree(state, clean / "state")
    complete(recipe, clean / "state", clean / "out")
    rows = read_delivered(product, clean / "out").of(document_specs(product))
    assert set(occurrences(product, rows, expected)) == expected
    files = len({r.file for r in rows})
    assert files >= 2, "the batch is one file: the crash points between files are not hit"
    return Prepared(recipe, state, manifest, expected, files)


def points(files: int) -> list[str]:
    return [*ONCE, *(f"{p}:{n}" for p in PER_FILE for n in range(1, files + 1))]


def check(product: SageProduct, prepared: Prepared, state: Path, out: Path,
          collected: Path | None) -> None:
    folders = (out,) if collected is None else (out, collected)
    delivered = read_delivered(product, *folders)
    seen = occurrences(product, delivered.of(document_specs(product)), prepared.expected)
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"
    accounts = Counter(r.fields["account_ref"] for r in delivered.rows
                       if r.rows == "accounts" and r.starts)
    assert all(n == 1 for n in accounts.values()), f"an account was sent twice: {accounts}"
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = ledger.rows()
        assert not ledger.unfinished_batches()
    attention = {(sage_type(product, r.key.entity_type), r.increment_id or ""): r.last_error
                 for r in rows if r.state == "needs_attention"}
    assert {r.state for r in rows} <= {"sent", "needs_attention"}
    assert not attention or collected is not None, "held for a person, nothing collected"
    assert all(UNCERTAIN in (why or "") for why in attention.values()), attention
    doubled = {k: files for k, files in seen.items() if len(files) > 1}
    assert not doubled, f"delivered more than once (or split): {doubled}"
    lost = prepared.expected - set(seen) - set(attention)
    assert not lost, f"lost: {sorted(lost)}"


def trial(product: SageProduct, prepared: Prepared, folder: Path, point: str,
          collected: bool) -> str | None:
    """Kill import-sage at `point`, maybe collect the folder, rerun; the failure, or None."""
    state, out = folder / "state", folder / "out"
    shutil.copytree(prepared.state, state)
    env = {**subprocess_env(), "SAGESYNC_CRASH_AT": point}
    killed = subprocess.run(sagesync("--state-dir", str(state), "import-sage", "--from",
                                     str(state / prepared.manifest), "--out", str(out)),
                            env=env, capture_output=True, timeout=120)
    label = f"{point}{' collected' if collected else ''}"
    if killed.returncode != 137:
        return f"{label}: not killed ({killed.returncode}): {killed.stderr.decode()[-500:]}"
    moved = folder / "collected" if collected else None
    if moved is not None:
        collect(out, moved)
    complete(prepared.recipe, state, out)
    try:
        check(product, prepared, state, out, moved)
    except AssertionError as failure:
        return f"{label}: {failure}"
    shutil.rmtree(folder)
    return None


def run_trials(product: SageProduct, root: Path,
               choose: Callable[[int], list[tuple[str, bool]]]) -> None:
    """Prepare once, then every (point, collected) chosen for the prepared store's files."""
    prepared = prepare(product, root / "prepared")
    chosen = choose(prepared.files)
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = list(pool.map(
            lambda n: trial(product, prepared, root / f"trial-{n}", *chosen[n]),
            range(len(chosen))))
    assert not [f for f in failures if f], "\n".join(f for f in failures if f)


def test_a_crash_at_any_import_point_then_a_rerun_delivers_each_document_once(
        product: SageProduct, tmp_path: Path) -> None:
    """Every point of a multi-file batch, not collected; the collected case where it bites
    (a file renamed into place, then the folder emptied before the journal knew)."""
    run_trials(product, tmp_path, lambda files: [(p, False) for p in points(files)] + [
        ("after-rename:1", True), (f"after-file:{files}", True), ("before-finish", True)])


@pytest.mark.slow
def test_every_crash_point_with_and_without_the_folder_collected(product: SageProduct,
                                                                 tmp_path: Path) -> None:
    run_trials(product, tmp_path,
               lambda files: [(p, c) for p in points(files) for c in (False, True)])
