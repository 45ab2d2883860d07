"""The worker processes of a pool (pipeline.work_pool), as the tests that kill them see them."""

from __future__ import annotations

import time

import psutil


def pool_workers(parent: psutil.Process) -> list[psutil.Process]:
    """The pool's workers (worker_process.BOOTSTRAP names its module)."""
    return [p for p in parent.children()
            if "sagesync.pipeline.worker_process" in " ".join(p.cmdline())]


def wait_dead(worker: psutil.Process) -> None:
    """Wait until a killed worker is dead without reaping it: the pool reaps its own children
    (a pid reaped here would look alive to the pool forever, and its manager thread would spin
    at interpreter exit, hanging the test run)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if worker.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    raise AssertionError(f"worker {worker.pid} did not die")
