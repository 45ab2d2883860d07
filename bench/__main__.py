"""`python -m bench` (`make bench`): sagesync's pipeline on N synthetic orders, step by step.

0. Measure `sagesync --help` start-up (median of 5 runs, wall). Every child process runs
   from compiled bytecode, as an installed copy does (_with_bytecode).
1. Generate (or reuse from bench-data/<n>-<seed>-<page_size>/) the Magento pages; not measured.
2. Read every page once before each step that reads them, so that each starts from the page
   cache (this machine's does not keep them from one step to the next); not measured.
3. Measure, each as a child process of its own under `python -m bench.launch` (wall and CPU
   seconds, kernel peak RSS and a sampled process-tree RSS): `sagesync export-orders`,
   `sagesync transform`, `sagesync import-sage`, then `sagesync run` (the same recipe, in one
   command, with a state folder of its own), `sagesync --workers 0 run` (no worker process:
   what the workers cost in memory and give in time), then the naive one-pass stdlib posting
   (`python -m bench.reference`, see there), then the floor: reading and decoding the pages
   and nothing else (`python -m bench.floor`), in one process and then shared over every core,
   which bounds what any design can reach; then what keeping sagesync's checkpoints and
   ledger costs for the `run` above (`python -m bench.keeping`), which with the floor bounds
   what a design that keeps them can reach.
4. Print the table, the naive/sagesync ratio, whether the naive totals equal sagesync's, held
   documents and warnings; then `sagesync run`, with and without its workers, at 20,000 and
   50,000 orders too (or each of `--sizes`), beside the runs above (memory flatness); write
   bench-data/last-result.json.

Linux only (peak RSS comes from ru_maxrss in KiB); the library itself is not.

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
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import catalog, concurrency
from bench.generate import cache_folder, cache_root, generate
from bench.measure import StepRun, run_step
from bench.recipe import write_recipe
from bench.report import (
    Row,
    floor_line,
    grouped,
    keeping_line,
    print_table,
    ratio_line,
    write_json,
)

ROOT = Path(__file__).resolve().parent.parent
SHOWN = 10  # held/warning patterns printed
# The order counts below --orders that `sagesync run` is measured at again, to show whether
# its peak memory grows with the store (issue 10 asks for 20,000, 50,000 and 200,000).
FLATNESS_SIZES = (20_000, 50_000)


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
    parser.add_argument("--sizes", type=_sizes, default=None, metavar="N,N,...",
                        help="run `sagesync run` (and with --workers 0) at each of these order "
                             "counts and print its peak memory per size (default: 20000, "
                             "50000 and --orders, those under --orders only)")
    parser.add_argument("--startup-runs", type=int, default=5,
                        help="`sagesync --help` runs for the start-up median (5)")
    return parser.parse_args(argv)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of order counts: {text!r}") from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"not a list of order counts: {text!r}")
    return sizes


def _sagesync_command() -> list[str]:
    """The installed console script when there is one (what a user runs), else `-m`."""
    script = Path(sys.executable).with_name("sagesync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sagesync"]


def _startup(runs: int) -> dict[str, float]:
    """Median wall seconds of `sagesync --help`, and of a bare interpreter for scale."""

    def median_of(argv: list[str]) -> float:
        times = []
        for _ in range(max(1, runs)):
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return {"sagesync_help_seconds": median_of([*_sagesync_command(), "--help"]),
            "python_seconds": median_of([sys.executable, "-c", "pass"]), "runs": max(1, runs)}


def _revision() -> str:
    """The commit measured, `+dirty` when sagesync/ differs from it (read-only git calls)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sagesync"],
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


def _step(console: Console, name: str, argv: list[str], logs: Path, ok: tuple[int, ...],
          pages: Path | None = None) -> StepRun:
    """Run and report one step; one that reads the store's `pages` reads them once first
    (not measured): this machine's page cache does not keep 4 GB of pages from one step to
    the next, and a step that read them from disk would show the disk, not itself."""
    console.print(f"[bold]{name}[/bold] …", highlight=False)
    if pages is not None:
        console.print(f"  pages read into the page cache in {_prime(pages):.1f} s (not measured)",
                      highlight=False)
    run = run_step(name, argv, logs, cwd=ROOT)
    console.print(f"  {run.wall_seconds:.2f} s wall, {run.cpu_seconds:.2f} s CPU, peak RSS "
                  f"{run.peak_rss_bytes / 2**20:,.0f} MiB (tree, sampled "
                  f"{run.sampled_rss_bytes / 2**20:,.0f} MiB, shared once "
                  f"{run.sampled_once_bytes / 2**20:,.0f} MiB), exit {run.returncode}",
                  highlight=False)
    if run.returncode not in ok:
        raise StepFailed(run)
    return run


def _row(run: StepRun, rows: int, unit: str) -> Row:
    return Row(run.name, unit, rows, run.wall_seconds, run.cpu_seconds, run.peak_rss_bytes,
               run.sampled_rss_bytes, run.sampled_once_bytes, run.returncode)


def _data(args: argparse.Namespace, console: Console, orders: int) -> tuple[Path, dict[str, Any]]:
    data = cache_folder(orders, args.seed, args.page_size, compact=args.compact)
    console.print(f"data: {data}")
    info = generate(data, orders, args.page_size, args.seed, compact=args.compact,
                    workers=args.workers)
    how = "reused (generated earlier in" if info["cached"] else "generated in"
    console.print(f"  {how} {info['seconds']:.1f} s{')' if info['cached'] else ''}; "
                  f"{info['bytes'] / 1e6:,.1f} MB; counts {info['counts']}", highlight=False)
    return data, info


def _run_whole(console: Console, data: Path, state: Path, orders: int, *options: str
               ) -> tuple[StepRun, dict[str, Any]]:
    """`sagesync run` on its own state folder (a fresh ledger: everything is new to it)."""
    folder = state / "-".join(("run", str(orders), *(o.strip("-") for o in options)))
    folder.mkdir()
    recipe = write_recipe(folder / "bench.toml", data, folder / "state")
    run = _step(console, " ".join(("sagesync run", *options)),
                [*_sagesync_command(), *options, "run", str(recipe), "--out",
                 str(folder / "sage-in")], folder, (0, 1), data)  # its logs in its own folder
    return run, _manifest(run)


def _bench(args: argparse.Namespace, console: Console, state: Path) -> tuple[dict[str, Any], int]:
    data, info = _data(args, console, args.orders)
    revision = _revision()
    console.print(f"sagesync revision: {revision}")
    recipe = write_recipe(state / "bench.toml", data, state)
    logs = state / "bench-logs"
    logs.mkdir()
    sage = _sagesync_command()
    export = _step(console, "sagesync export-orders", [*sage, "export-orders", "-r", str(recipe)],
                   logs, (0,), data)
    exported = _manifest(export)
    transform = _step(console, "sagesync transform",
                      [*sage, "transform", "--from", exported["_path"]], logs, (0, 1))
    transformed = _manifest(transform)
    out = state / "sage-in"
    imported_run = _step(console, "sagesync import-sage",
                         [*sage, "import-sage", "--from", transformed["_path"], "--out",
                          str(out)], logs, (0, 1))
    imported = _manifest(imported_run)
    whole, whole_manifest = _run_whole(console, data, state, args.orders)
    # the same in one process: what the worker processes cost in memory and give in time
    alone, alone_manifest = _run_whole(console, data, state, args.orders, "--workers", "0")
    naive_run = _step(console, "naive stdlib posting",
                      [sys.executable, "-m", "bench.reference", str(recipe), str(data),
                       str(state / "naive")], logs, (0,), data)
    naive = json.loads(naive_run.stdout.strip().splitlines()[-1])
    floor = _step(console, "floor: read + decode", [sys.executable, "-m", "bench.floor",
                                                    str(data)], logs, (0,), data)
    cores = os.cpu_count() or 1
    floor_all = _step(console, "floor on every core", [sys.executable, "-m", "bench.floor",
                                                       str(data), "--processes", str(cores)],
                      logs, (0,), data)
    kept = _step(console, "keeping: checkpoints and ledger", [
        sys.executable, "-m", "bench.keeping", str(Path(whole_manifest["_path"]).parent.parent)],
        logs, (0,))
    keeping = json.loads(kept.stdout.strip().splitlines()[-1])

    documents = int(transformed["summary"]["documents"])
    summary = imported["summary"]
    orders = int(exported["summary"]["counts"]["orders"])
    rows = [
        _row(export, orders, "orders"),
        _row(transform, documents, "docs"),
        _row(imported_run, documents, "docs"),
        _row(whole, orders, "orders"),
        _row(alone, orders, "orders"),
        _row(naive_run, orders, "orders"),
        _row(floor, orders, "orders"),
        _row(floor_all, orders, "orders"),
    ]
    console.print()
    print_table(console, rows)
    steps_wall = export.wall_seconds + transform.wall_seconds + imported_run.wall_seconds
    ratios = [ratio_line("whole run (sagesync run)", whole.wall_seconds, naive_run.wall_seconds),
              ratio_line("whole run, no worker process", alone.wall_seconds,
                         naive_run.wall_seconds),
              ratio_line("three separate steps", steps_wall, naive_run.wall_seconds),
              floor_line(floor.wall_seconds, naive_run.wall_seconds),
              floor_line(floor_all.wall_seconds, naive_run.wall_seconds, cores),
              keeping_line(min(floor.cpu_seconds, floor_all.cpu_seconds), keeping,
                           naive_run.wall_seconds, cores)]
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
    totals = {k: str(v) for k, v in sorted(summary.get("totals", {}).items())}
    run_totals = {k: str(v) for k, v in
                  sorted(whole_manifest["summary"].get("totals", {}).items())}
    alone_totals = {k: str(v) for k, v in
                    sorted(alone_manifest["summary"].get("totals", {}).items())}
    naive_totals = naive["totals"]
    same = _same_totals(totals, naive_totals) and _same_totals(totals, run_totals) and \
        _same_totals(totals, alone_totals)
    check = {"sagesync_documents": documents, "naive_documents": naive["documents"],
             "sagesync_totals": totals, "sagesync_run_totals": run_totals,
             "sagesync_run_alone_totals": alone_totals,
             "naive_totals": naive_totals, "match": same}
    console.print(f"cross-check (net+tax by type): {'MATCH' if same else 'DIFFER'}: steps "
                  f"{totals}, run {run_totals}, run --workers 0 {alone_totals}, naive "
                  f"{naive_totals}; documents sagesync "
                  f"{documents:,}, naive {naive['documents']:,}", highlight=False)
    result = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "arguments": vars(args), "machine": machine,
        "data": {"folder": str(data), **info},
        "steps": [r.as_dict() for r in rows], "ratios": ratios, "keeping": keeping,
        "held": [{"pattern": p, "count": n, "example": e} for p, n, e in held],
        "warnings": [{"pattern": p, "count": n, "example": e} for p, n, e in warnings],
        "cross_check": check, "state_dir": str(state) if args.keep else None,
    }
    result["sizes"] = _flatness(args, console, state, {(): whole, ("--workers", "0"): alone})
    return result, 1 if held_total else 0


def _same_totals(ours: dict[str, str], theirs: dict[str, str]) -> bool:
    keys = set(ours) | set(theirs)
    return all(Decimal(ours.get(k, "0")) == Decimal(theirs.get(k, "0")) for k in keys)


def _flatness(args: argparse.Namespace, console: Console, state: Path,
              measured: dict[tuple[str, ...], StepRun]) -> list[dict[str, Any]]:
    """`sagesync run`, with its workers and without, at each size: peak memory should not grow
    with the number of orders. The runs at --orders are the ones measured above."""
    rows = []
    for size in _flat_sizes(args):
        data = None if size == args.orders else _data(args, console, size)[0]
        for options, done in measured.items():
            run = done if data is None else _run_whole(console, data, state, size, *options)[0]
            rows.append(_row(run, size, "orders"))
    console.print()
    print_table(console, rows, title="sagesync run by size (memory flatness)")
    return [r.as_dict() for r in rows]


def _flat_sizes(args: argparse.Namespace) -> list[int]:
    """--sizes, else FLATNESS_SIZES below --orders and --orders itself."""
    if args.sizes is not None:
        return list(args.sizes)
    return [*(n for n in FLATNESS_SIZES if n < args.orders), args.orders]


def _with_bytecode() -> None:
    """Every child starts as an installed copy does, from compiled bytecode (pip writes it at
    install). An editable install under PYTHONDONTWRITEBYTECODE would compile sagesync again
    in each step (0.4 s). The bytecode goes to bench-data/, never beside the sources."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(cache_root() / "pycache"))


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    _with_bytecode()
    # a log or a pipe gets the table unwrapped (rich would fold it at 80 columns)
    console = Console(highlight=False, soft_wrap=True,
                      width=None if sys.stdout.isatty() else 132)
    state = Path(tempfile.mkdtemp(prefix="sagesync-bench-"))
    keep = args.keep
    try:
        startup = _startup(args.startup_runs)
        console.print(f"start-up: `sagesync --help` {startup['sagesync_help_seconds']:.3f} s "
                      f"(median of {startup['runs']}; a bare `python -c pass` "
                      f"{startup['python_seconds']:.3f} s)")
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
        result["startup"] = {k: round(v, 4) for k, v in startup.items()}
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
