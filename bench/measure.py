"""Run one step as a child process: wall and CPU time, peak RSS, exit code, captured output.

Each step runs under `python -m bench.launch` (see there why): its report gives the step's wall
time, user+sys CPU seconds of the step's process tree and its kernel peak RSS (the largest
process's high-water mark, so the first column to read). Sampled beside it (psutil): the sum
of the tree's RSS every 20 ms, which catches processes running at once (a pool), may miss a
short spike, and counts each library's code once per process that maps it (pyarrow's is some
75 MiB); and every 100 ms the tree with shared pages counted once: the RSS of its largest
process plus the USS (the pages no other process maps) of each other one. PSS would split a
shared page among every process mapping it, the bench's own among them, and so report less
than the tree holds. Linux only: ru_maxrss is KiB there (the bench is Linux-only; the library
is not).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

POLL_SECONDS = 0.02
SHARED_ONCE_EVERY = 5  # polls


@dataclass
class StepRun:
    name: str
    argv: list[str]
    returncode: int
    wall_seconds: float
    cpu_seconds: float  # user + sys of the step and the descendants it waited for
    peak_rss_bytes: int  # kernel high-water mark (largest process of the step)
    sampled_rss_bytes: int  # psutil polling, sum over the step's process tree
    sampled_once_bytes: int  # the tree with shared pages counted once (largest RSS + USS)
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _sample(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """Sum the RSS (peak[0]) of the launcher's descendants (not the launcher: it is the
    bench's tool) and, every SHARED_ONCE_EVERY polls, their memory with shared pages counted
    once (peak[1])."""
    try:
        launcher = psutil.Process(pid)
    except psutil.Error:
        return
    for poll in itertools.count():
        if stop.is_set():
            return
        rss = 0
        full: list[tuple[int, int]] = []  # (rss, uss) per process
        try:
            children = launcher.children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            with contextlib.suppress(psutil.Error):
                if poll % SHARED_ONCE_EVERY:
                    rss += child.memory_info().rss
                else:  # smaps: dearer to read than the RSS, so not every poll
                    info = child.memory_full_info()
                    rss += info.rss
                    full.append((info.rss, info.uss))
        peak[0] = max(peak[0], rss)
        if full:
            largest = max(full)
            peak[1] = max(peak[1], largest[0] + sum(uss for _, uss in full) - largest[1])
        stop.wait(POLL_SECONDS)


def run_step(name: str, argv: list[str], log_dir: Path, *, cwd: Path | None = None) -> StepRun:
    slug = name.replace(" ", "-").replace("/", "-").replace(",", "")
    stdout_path, stderr_path = log_dir / f"{slug}.out", log_dir / f"{slug}.err"
    report_path = log_dir / f"{slug}.usage.json"
    launcher = [sys.executable, "-m", "bench.launch", str(report_path), *argv]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(launcher, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   cwd=cwd)
        peak = [0, 0]
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(process.pid, stop, peak), daemon=True)
        sampler.start()
        returncode = process.wait()
        outer_wall = time.perf_counter() - started
        stop.set()
        sampler.join()
    try:
        usage = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # the launcher itself failed: say so through the exit code
        usage = {"returncode": returncode or 1, "wall_seconds": outer_wall, "cpu_seconds": 0.0,
                 "peak_rss_bytes": 0}
    return StepRun(name, argv, int(usage["returncode"]), float(usage["wall_seconds"]),
                   float(usage["cpu_seconds"]), int(usage["peak_rss_bytes"]), peak[0], peak[1],
                   stdout_path, stderr_path)
