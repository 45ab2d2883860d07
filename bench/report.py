"""The results table, the ratio lines and the JSON record of a bench run."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

MIB = 1024 * 1024


@dataclass
class Row:
    step: str
    unit: str  # what `rows` counts
    rows: int
    wall_seconds: float
    cpu_seconds: float  # user + sys of the step's process tree
    peak_rss_bytes: int  # kernel high-water mark, through bench.launch
    sampled_rss_bytes: int  # psutil, sum over the tree
    sampled_once_bytes: int  # psutil, the tree with shared pages counted once
    returncode: int

    @property
    def rate(self) -> float:
        return self.rows / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "unit": self.unit, "rows": self.rows,
                "wall_seconds": round(self.wall_seconds, 3),
                "cpu_seconds": round(self.cpu_seconds, 3), "rows_per_second": round(self.rate),
                "peak_rss_mib": round(self.peak_rss_bytes / MIB, 1),
                "sampled_peak_rss_mib": round(self.sampled_rss_bytes / MIB, 1),
                "sampled_peak_shared_once_mib": round(self.sampled_once_bytes / MIB, 1),
                "returncode": self.returncode}


def ratio_line(what: str, ours: float, reference: float) -> str:
    """naive / sagesync wall time, the figure the "10x" target is about."""
    if ours <= 0 or reference <= 0:
        return f"{what}: sagesync {ours:.2f}s vs naive stdlib {reference:.2f}s"
    return (f"{what}: sagesync {ours:.2f}s vs naive stdlib {reference:.2f}s: naive/sagesync = "
            f"{reference / ours:.2f}")


def floor_line(floor: float, reference: float, processes: int = 1) -> str:
    """How far the 10x target sits above reading and decoding the pages alone."""
    if floor <= 0 or reference <= 0:
        return f"floor (read + decode only): {floor:.2f}s"
    where = "one process" if processes == 1 else f"{processes} processes"
    return (f"floor (read + decode only, {where}): {floor:.2f}s; 10x the naive is "
            f"{reference / 10:.2f}s, leaving {reference / 10 - floor:.2f}s for everything else "
            f"(naive/floor = {reference / floor:.1f})")


def keeping_line(floor_cpu: float, keeping: dict[str, Any], reference: float,
                 processes: int) -> str:
    """The least wall time of a design that keeps checkpoints and a ledger as sagesync does:
    the floor's CPU (the lesser of its two rows) and the keeping's (bench.keeping), shared
    perfectly over every core. Nothing is hashed, posted or rendered in it."""
    cpu = floor_cpu + keeping["parquet_write"] + keeping["parquet_read"] + keeping["ledger"]
    return (f"floor and keeping ({processes} processes): CPU {floor_cpu:.2f}s decoding + "
            f"{keeping['parquet_write']:.2f}s writing and {keeping['parquet_read']:.2f}s "
            f"reading the checkpoints + {keeping['ledger']:.2f}s the ledger's writes = "
            f"{cpu:.2f}s, at best {cpu / processes:.2f}s of wall time; 10x the naive is "
            f"{reference / 10:.2f}s")


_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


def grouped(lines: list[str], prefix: str) -> list[tuple[str, int, str]]:
    """(pattern with numbers as #, count, first example) of `prefix` lines, most common first.

    `held: invoice:12@1 (000000012): does not balance ...` groups on the text after the key."""
    patterns: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for line in lines:
        if not line.startswith(prefix):
            continue
        text = line[len(prefix):]
        reason = text.split("): ", 1)[1] if "): " in text else text
        pattern = _NUMBERS.sub("#", reason)
        patterns[pattern] += 1
        examples.setdefault(pattern, text)
    return [(p, n, examples[p]) for p, n in patterns.most_common()]


def print_table(console: Console, rows: list[Row], title: str = "sagesync bench") -> None:
    table = Table(title=title)
    for name, justify in (("step", "left"), ("rows", "right"), ("wall s", "right"),
                          ("CPU s", "right"), ("rows/s", "right"), ("peak RSS MiB", "right"),
                          ("tree RSS MiB", "right"), ("tree MiB, shared once", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row.step, f"{row.rows:,} {row.unit}", f"{row.wall_seconds:.2f}",
                      f"{row.cpu_seconds:.2f}", f"{row.rate:,.0f}",
                      f"{row.peak_rss_bytes / MIB:,.0f}", f"{row.sampled_rss_bytes / MIB:,.0f}",
                      f"{row.sampled_once_bytes / MIB:,.0f}")
    console.print(table)


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
