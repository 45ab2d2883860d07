"""Golden files: made by a command and checked by a command, never edited by hand.

As beangulp's `generate` / `test`: each product that posts keeps, in `<product>/golden/`, the
exact files its demo recipe produces (one with export layouts only writes nothing). `--write`
regenerates them after an intended change (review the diff); `--check` (run by
tests/conformance/test_golden.py under `make test`) fails on any byte of difference.

    python -m sagesync.sage.products.golden --check
    python -m sagesync.sage.products.golden --write [--product sage50_uk]

This works from a source checkout only (recipes/ and samples/ are not installed). The demo runs
as a separate process through the CLI, so the golden files are what a user gets, and nothing
here touches the ledger or checkpoints itself. A demo may hold documents its product imports
none of (Intacct's credit memos; exit 1): the golden files are what it delivered.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from sagesync.errors import UsageError
from sagesync.sage.products import get, posting_keys
from sagesync.sage.products.base import SageProduct

ROOT = Path(__file__).resolve().parents[3]
#: `B000001-2-audit_trail.csv` -> `audit_trail.csv`: the batch number is not part of the format.
_BATCH = re.compile(r"^B\d+-\d+-")


def golden_dir(product: SageProduct) -> Path:
    """`<product folder>/golden/` in the source tree (not package data: tests only)."""
    return Path(str(product.folder())) / "golden"


def render(product: SageProduct, work: Path) -> dict[str, bytes]:
    """Run the product's demo recipe into `work` and return its files by golden name."""
    recipe = ROOT / product.demo_recipe
    if not recipe.is_file():
        raise UsageError(f"{product.key}: demo recipe {recipe} not found; golden files are made "
                         "from a source checkout.")
    env = dict(os.environ)
    env.pop("SAGESYNC_CRASH_AT", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = work / "out"
    done = subprocess.run([sys.executable, "-m", "sagesync", "--state-dir", str(work / "state"),
                           "run", str(recipe), "--out", str(out)],
                          capture_output=True, env=env, timeout=300, check=False)
    if done.returncode not in (0, 1):  # 1: it held what the product imports none of
        raise UsageError(f"{product.key}: the demo run exited {done.returncode}: "
                         f"{done.stderr.decode(errors='replace')[-2000:]}")
    return {_BATCH.sub("", p.name): p.read_bytes() for p in sorted(out.glob("*.csv"))}


def check(product: SageProduct, golden: Path | None = None) -> list[str]:
    """The differences between a fresh run and the golden files; [] when identical."""
    folder = golden or golden_dir(product)
    expected = {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}
    with tempfile.TemporaryDirectory() as work:
        actual = render(product, Path(work))
    problems = [f"{product.key}: {name} is golden but was not written"
                for name in sorted(expected.keys() - actual.keys())]
    problems += [f"{product.key}: {name} was written but has no golden file"
                 for name in sorted(actual.keys() - expected.keys())]
    for name in sorted(expected.keys() & actual.keys()):
        if expected[name] != actual[name]:
            problems.append(f"{product.key}: {name} differs from {folder / name} "
                            f"({_first_difference(expected[name], actual[name])})")
    return problems


def write(product: SageProduct) -> list[Path]:
    """Replace the product's golden files with a fresh run's."""
    folder = golden_dir(product)
    with tempfile.TemporaryDirectory() as work:
        actual = render(product, Path(work))
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.csv"):
        if old.name not in actual:
            old.unlink()
    for name, data in actual.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in sorted(actual)]


def _first_difference(expected: bytes, actual: bytes) -> str:
    lines = zip(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                strict=False)
    for number, (old, new) in enumerate(lines, start=1):
        if old != new:
            return f"line {number}: expected {old!r}, got {new!r}"
    return f"{len(expected)} bytes expected, {len(actual)} written"


def main(argv: list[str] | None = None) -> int:
    """The command line; the only place in this module that prints."""
    parser = argparse.ArgumentParser(prog="python -m sagesync.sage.products.golden",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="compare (the default)")
    action.add_argument("--write", action="store_true", help="regenerate the golden files")
    parser.add_argument("--product", choices=sorted(posting_keys()),
                        help="one product (default: every product that posts)")
    args = parser.parse_args(argv)
    chosen = [get(key) for key in ([args.product] if args.product else posting_keys())]
    try:
        if args.write:
            for product in chosen:
                for path in write(product):
                    print(f"wrote {path}")
            return 0
        problems = [p for product in chosen for p in check(product)]
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"golden files match: {', '.join(p.key for p in chosen)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
