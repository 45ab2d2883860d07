"""`python -m bench` (`make bench`): sagesync's pipeline on N synthetic orders, step by step.

1. Generate (or reuse from bench-data/<n>-<seed>-<page_size>/) the Magento pages; not measured.
2. Read every page once so both exporters start from the page cache; not measured.
3. Measure, each as a child process of its own (wall time and peak RSS per step):
   `sagesync export-orders`, `sagesync transform`, `sagesync import-sage`, then the stdlib
   reference (`python -m bench.reference export` and `... post`).
4. Print the table, the sagesync/reference ratios, held documents and warnings, and write
   bench-data/last-result.json.

Exit status: a failed step prints its stderr and exits with its code (or 1); documents held by
sagesync (every generated document should balance) exit 1 after the report; otherwise 0.
A measurement tool: it prints numbers and never judges them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import catalog, concurrency
from bench.generate import cache_folder, cache_root, generate
from bench.measure import StepRun, run_step
from bench.recipe import write_recipe
from bench.reference import TABLES
from bench.report import Row, grouped, print_table, ratio_line, write_json

ROOT = Path(__file__).resolve().parent.parent
SHOWN = 10  # held/warning patterns printed


class StepFailed(Exception):
    def __init__(self, run: StepRun) -> None:
        super().__init__(run.name)
        self.run = run


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000, help="orders (default 200000)")
    parser.add_argument("--page-size", type=int, default=100, help="items per page (100)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (42)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the state folder (checkpoints, ledger, output files)")
    parser.add_argument("--compact", action="store_true",
                        help="orders without the nested parent_item / shipping-assignment "
                             "items (about half the bytes; cached separately)")
    parser.add_argument("--workers", type=int, default=2, help="generator processes (2)")
    return parser.parse_args(argv)


def _check_reference_columns() -> None:
    """The yardstick must pick exactly the columns sagesync keeps, or the ratio means nothing."""
    from sagesync.model.schemas import MAGENTO_TABLES

    wrong = [name for name, schema in MAGENTO_TABLES.items()
             if name != "stores" and tuple(schema.names) != TABLES.get(name)]
    wrong += [name for name in TABLES if name not in MAGENTO_TABLES]
    if wrong:
        raise SystemExit(f"bench/reference.py TABLES differ from sagesync's MAGENTO_TABLES for "
                         f"{', '.join(wrong)}: update the reference first.")


def _revision() -> str:
    """The commit measured, `+dirty` when sagesync/ differs from it (read-only git calls)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sagesync", "templates"],
                               cwd=ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.strip() else "")


def _prime(folder: Path) -> float:
    started = time.perf_counter()
    for path in folder.rglob("*.json"):
        with path.open("rb") as handle:
            while handle.read(1 << 22):
                pass
    return time.perf_counter() - started


def _manifest(run: StepRun) -> dict[str, Any]:
    lines = [line.strip() for line in run.stdout.splitlines() if line.strip()]
    if not lines:
        raise StepFailed(run)
    path = Path(lines[-1])
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data["_path"] = str(path)
    return data


def _step(console: Console, name: str, argv: list[str], logs: Path, ok: tuple[int, ...]
          ) -> StepRun:
    console.print(f"[bold]{name}[/bold] …", highlight=False)
    run = run_step(name, argv, logs, cwd=ROOT)
    console.print(f"  {run.wall_seconds:.2f} s, peak RSS {run.peak_rss_bytes / 2**20:,.0f} MiB,"
                  f" exit {run.returncode}", highlight=False)
    if run.returncode not in ok:
        raise StepFailed(run)
    return run


def _row(run: StepRun, rows: int, unit: str) -> Row:
    return Row(run.name, unit, rows, run.wall_seconds, run.peak_rss_bytes,
               run.sampled_rss_bytes, run.returncode)


def _bench(args: argparse.Namespace, console: Console, state: Path) -> tuple[dict[str, Any], int]:
    data = cache_folder(args.orders, args.seed, args.page_size, compact=args.compact)
    console.print(f"data: {data}")
    info = generate(data, args.orders, args.page_size, args.seed, compact=args.compact,
                    workers=args.workers)
    how = "reused (generated earlier in" if info["cached"] else "generated in"
    console.print(f"  {how} {info['seconds']:.1f} s{')' if info['cached'] else ''}; "
                  f"{info['bytes'] / 1e6:,.1f} MB; counts {info['counts']}", highlight=False)
    console.print(f"  page cache primed in {_prime(data):.1f} s (not measured)")

    revision = _revision()
    console.print(f"sagesync revision: {revision}")
    recipe = write_recipe(state / "bench.toml", data, state)
    logs = state / "bench-logs"
    logs.mkdir()
    py = sys.executable
    sage = [py, "-m", "sagesync"]
    export = _step(console, "sagesync export-orders", [*sage, "export-orders", "-r", str(recipe)],
                   logs, (0,))
    exported = _manifest(export)
    transform = _step(console, "sagesync transform",
                      [*sage, "transform", "--from", exported["_path"]], logs, (0, 1))
    transformed = _manifest(transform)
    out = state / "sage-in"
    imported_run = _step(console, "sagesync import-sage",
                         [*sage, "import-sage", "--from", transformed["_path"], "--out",
                          str(out)], logs, (0, 1))
    imported = _manifest(imported_run)
    reference = state / "reference"
    ref_export = _step(console, "reference export",
                       [py, "-m", "bench.reference", "export", str(data),
                        str(reference / "export")], logs, (0,))
    ref_post = _step(console, "reference transform+import",
                     [py, "-m", "bench.reference", "post", str(reference / "export"),
                      str(recipe), str(reference / "post")], logs, (0,))
    ref_export_summary = json.loads(ref_export.stdout.strip().splitlines()[-1])
    ref_post_summary = json.loads(ref_post.stdout.strip().splitlines()[-1])

    documents = int(transformed["summary"]["documents"])
    summary = imported["summary"]
    rows = [
        _row(export, int(exported["summary"]["counts"]["orders"]), "orders"),
        _row(transform, documents, "docs"),
        _row(imported_run, documents, "docs"),
        _row(ref_export, int(ref_export_summary["counts"]["orders"]), "orders"),
        _row(ref_post, int(ref_post_summary["documents"]), "docs"),
    ]
    console.print()
    print_table(console, rows)
    ours_export, ours_post = export.wall_seconds, transform.wall_seconds + \
        imported_run.wall_seconds
    ratios = [ratio_line("export", ours_export, ref_export.wall_seconds),
              ratio_line("transform+import", ours_post, ref_post.wall_seconds),
              ratio_line("whole pipeline", ours_export + ours_post,
                         ref_export.wall_seconds + ref_post.wall_seconds)]
    for line in ratios:
        console.print(line, highlight=False)
    machine = {"python": platform.python_version(), "implementation":
               platform.python_implementation(), "cpus": os.cpu_count(),
               "platform": platform.platform(), "machine": platform.machine(),
               "sagesync_revision": revision}
    console.print(f"data: {info['bytes'] / 1e6:,.1f} MB of JSON in "
                  f"{exported['summary']['pages']:,} pages; machine: Python "
                  f"{machine['python']}, {machine['cpus']} CPUs, {machine['platform']}",
                  highlight=False)

    held_lines = transform.stderr.splitlines() + imported_run.stderr.splitlines()
    held = grouped(held_lines, "held: ")
    warnings = grouped(held_lines, "warning: ")
    held_total = int(transformed["summary"].get("held", 0)) + int(summary.get("held", 0))
    console.print(f"delivered {summary['delivered']:,} of {documents:,} documents; "
                  f"held {transformed['summary'].get('held', 0):,} at transform and "
                  f"{summary.get('held', 0):,} at import", highlight=False)
    for title, groups in (("held", held), ("warnings", warnings)):
        for pattern, count, example in groups[:SHOWN]:
            console.print(f"  {title} ×{count:,}: {pattern}\n    e.g. {example}",
                          highlight=False, markup=False)
        if len(groups) > SHOWN:
            console.print(f"  … and {len(groups) - SHOWN} more {title} patterns")
    totals = {k: str(v) for k, v in summary.get("totals", {}).items()}
    check = {"sagesync_documents": documents, "reference_documents": ref_post_summary["documents"],
             "sagesync_totals": totals, "reference_totals": ref_post_summary["totals"]}
    console.print(f"cross-check (net+tax by type): sagesync {totals} vs reference "
                  f"{ref_post_summary['totals']}", highlight=False)
    result = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "arguments": vars(args), "machine": machine,
        "data": {"folder": str(data), **info},
        "steps": [r.as_dict() for r in rows], "ratios": ratios,
        "held": [{"pattern": p, "count": n, "example": e} for p, n, e in held],
        "warnings": [{"pattern": p, "count": n, "example": e} for p, n, e in warnings],
        "cross_check": check, "state_dir": str(state) if args.keep else None,
    }
    return result, 1 if held_total else 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    console = Console(highlight=False, soft_wrap=True)
    _check_reference_columns()
    state = Path(tempfile.mkdtemp(prefix="sagesync-bench-"))
    keep = args.keep
    try:
        paging = concurrency.measure()
        console.print(f"Magento paging: {paging.pages} pages at {paging.latency * 1000:.0f} ms "
                      f"latency: sequential {paging.sequential_seconds:.2f} s, "
                      f"{paging.concurrency} concurrent {paging.concurrent_seconds:.2f} s "
                      f"({paging.speedup:.1f}x faster)")
        stock = catalog.measure(cache_root())
        console.print(f"Sage stock: {stock.skus:,} SKUs x 3 warehouses ({stock.file_mb:.1f} MB):"
                      f" parse {stock.parse_seconds:.2f} s + compute and payloads "
                      f"{stock.compute_seconds:.2f} s = {stock.total_seconds:.2f} s")
        result, code = _bench(args, console, state)
        result["sage_stock"] = {"skus": stock.skus, "rows": stock.rows,
                                "parse_seconds": round(stock.parse_seconds, 3),
                                "compute_seconds": round(stock.compute_seconds, 3)}
        result["paging"] = {"pages": paging.pages, "latency": paging.latency,
                            "concurrency": paging.concurrency,
                            "sequential_seconds": round(paging.sequential_seconds, 3),
                            "concurrent_seconds": round(paging.concurrent_seconds, 3),
                            "speedup": round(paging.speedup, 2)}
        path = cache_root() / "last-result.json"
        write_json(path, result)
        console.print(f"results: {path}")
    except StepFailed as failed:
        run = failed.run
        console.print(f"[red]step failed: {run.name} (exit {run.returncode})[/red]")
        console.print(" ".join(run.argv), markup=False, highlight=False)
        sys.stderr.write(run.stderr)
        keep = True
        code = run.returncode or 1
    finally:
        if keep:
            console.print(f"state folder kept: {state}")
    if not keep:
        shutil.rmtree(state, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
