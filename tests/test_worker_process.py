"""A pool's worker process (pipeline.worker_process): replies in the order jobs went, an
exception raised by the work reaches the caller, a print cannot break the frames, and no
helper process of multiprocessing's is started beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import Future

import pytest

from sagesync.pipeline.work_pool import OrderedPool
from sagesync.pipeline.worker_process import WorkerGone, WorkerProcess
from tests.conftest import ROOT, subprocess_env


def chatty_square(scale: int, number: int) -> int:
    print("a print from the work", number)  # must not reach the caller's pipe
    if number < 0:
        raise ValueError(f"no square for {number}")
    return scale * number * number


def test_replies_come_back_in_order_and_a_raised_error_reaches_the_caller() -> None:
    worker = WorkerProcess(chatty_square, 10)
    try:
        futures: list[Future[int]] = [worker.submit(n) for n in (3, -1, 4)]
        assert futures[0].result(timeout=60) == 90
        with pytest.raises(ValueError, match="no square for -1"):
            futures[1].result(timeout=60)
        assert futures[2].result(timeout=60) == 160
    finally:
        worker.close()
    assert worker.process.returncode == 0  # it read the end of its jobs and exited


def test_jobs_held_by_a_killed_worker_fail_and_no_more_are_taken() -> None:
    worker = WorkerProcess(chatty_square, 1)
    try:
        assert worker.submit(2).result(timeout=60) == 4
        worker.process.kill()
        worker.process.wait()
        worker.reader.join(timeout=60)
        with pytest.raises(WorkerGone):
            worker.submit(3)
    finally:
        worker.close()


_NO_TRACKER = """
import json, psutil
from sagesync.pipeline.work_pool import OrderedPool
from tests.test_worker_process import chatty_square
from functools import partial
pool = OrderedPool(partial(chatty_square, 2), 1, start_after=0)
pool.put(0, 5)
helpers = [" ".join(p.cmdline()) for p in psutil.Process().children()]
print(json.dumps({"outcomes": pool.drain(), "submitted": pool.submitted, "helpers": helpers}))
pool.close()
"""


def test_a_pool_starts_its_workers_and_nothing_else() -> None:
    """multiprocessing's resource tracker (a third interpreter, 6 MiB) is not started."""
    done = subprocess.run([sys.executable, "-c", _NO_TRACKER], capture_output=True, text=True,
                          cwd=ROOT, env=subprocess_env(), timeout=120, check=True)
    seen = json.loads(done.stdout)
    assert seen["outcomes"] == [[0, 50]] and seen["submitted"] == 1
    assert len(seen["helpers"]) == 1
    assert "sagesync.pipeline.worker_process" in seen["helpers"][0]


def test_a_pool_whose_worker_cannot_start_does_the_work_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(ROOT / "no-such-python"))
    pool: OrderedPool[int, int, int] = OrderedPool(abs, 1, start_after=0)
    try:
        for n in (-1, -2):
            pool.put(n, n)
        assert pool.drain() == [(-1, 1), (-2, 2)]
    finally:
        pool.close()
    assert pool.workers == 0 and pool.submitted == 0
