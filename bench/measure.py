"""Run one step as a child process: wall time, peak RSS, exit code, captured output.

Peak RSS comes from two places. The authoritative one is the kernel's high-water mark of the
child (and the descendants it waited for), returned by `os.wait4` for that child alone — unlike
`getrusage(RUSAGE_CHILDREN)`, which is a maximum over every child ever reaped and so cannot be
split per step. The second is a psutil sample of the child and its children every 20 ms, kept as
a cross-check (it can miss a short spike, never over-report).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

POLL_SECONDS = 0.02


@dataclass
class StepRun:
    name: str
    argv: list[str]
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int  # wait4 ru_maxrss
    sampled_rss_bytes: int  # psutil polling, child + children
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _sample(pid: int, stop: threading.Event, peak: list[int]) -> None:
    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        try:
            rss = process.memory_info().rss
            for child in process.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    rss += child.memory_info().rss
        except psutil.Error:
            return
        peak[0] = max(peak[0], rss)
        stop.wait(POLL_SECONDS)


def _maxrss_bytes(value: int) -> int:
    return value if sys.platform == "darwin" else value * 1024  # Linux reports KiB


def run_step(name: str, argv: list[str], log_dir: Path, *, cwd: Path | None = None) -> StepRun:
    slug = name.replace(" ", "-").replace("/", "-")
    stdout_path, stderr_path = log_dir / f"{slug}.out", log_dir / f"{slug}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   cwd=cwd)
        peak = [0]
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(process.pid, stop, peak), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return StepRun(name, argv, process.returncode, wall, _maxrss_bytes(usage.ru_maxrss), peak[0],
                   stdout_path, stderr_path)
