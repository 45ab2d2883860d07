"""Work shared with worker processes, outcomes handed back in the order it was given.

Decoding a Magento page (the export) or rendering a window of Sage documents (the import) is
pure Python work under the GIL (msgspec, then Python lists to Arrow; cells to text), so threads
cannot share it out; processes can. The caller works in its own process too: while the workers
have `backlog` jobs each waiting, the next job is done in-process, so on a 2-core machine one
worker and the caller keep both cores busy and only one extra interpreter is paid for.
Outcomes come back in the order jobs were queued, whoever did them, so what depends on order
(dropping repeated pages, quarantine reports, the raw index, numbering documents, the ledger's
holds) is unchanged.

Each worker is a fresh interpreter started with `subprocess` (worker_process: the same on
every platform, where a fork of a process holding threads and open files would be unsafe), and
only once there are enough jobs to repay its start-up: a small export or import, and most
tests, never start one. A worker ignores Ctrl+C (the caller stops the pool) and exits when the
caller dies, even if killed outright. A pool that breaks (a worker killed) is given up: its
jobs are done in-process, same result. A job's function is a module-level one, and a job and
its outcome are picklable.

A worker hands a large outcome (over SPOOL_AFTER bytes pickled) back through a file of a
folder of the pool's own (in the step's checkpoint folder, so a killed step's leftovers go
with it, and the export's records never leave the state folder), and the pipe carries only
the file's name. Through the pipe, an outcome of a megabyte went 64 KB at a time, and the
caller's thread that reads it needed the GIL for every piece while the caller worked: the
worker waited, blocked on a full pipe, and the caller then waited for an outcome not yet read
(measured in the transform, which hands back 1.6 MB a slice; the import, 290 KB a window,
gained too). A smaller one (the export's decoded pages, 190 KB) goes through the pipe: for
thousands of them a file each cost more than it saved.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from sagesync.pipeline.worker_process import WorkerGone, WorkerProcess

MAX_WORKERS = 3  # beyond this the caller's own work (Parquet, raw index, ledger) is the limit
# While workers run, the caller's busy thread hands the GIL over after this many seconds
# (Python's default is 0.005): the pool's own threads, which take outcomes off the pipe and
# feed it jobs, wait for the GIL at every chunk, and a worker whose outcome is not read
# waits with it. Measured at 50,000 orders: the export 4 % faster, in three runs of three.
SWITCH_INTERVAL = 0.0005


def default_workers() -> int:
    """Worker processes beside the caller: one core fewer than the machine has."""
    return max(0, min(MAX_WORKERS, (os.cpu_count() or 1) - 1))


# Pickled outcomes larger than this go through a file (see the module docstring).
SPOOL_AFTER = 256 * 1024


@dataclass(frozen=True)
class _Spooled:
    """An outcome a worker pickled: in `data`, or written to the file `path`."""

    data: bytes | None = None
    path: str | None = None


def _spooled(work: Callable[[Any], Any], folder: str, spool_after: int, job: Any) -> _Spooled:
    """In a worker: `work(job)`, pickled once, as it is written (never whole in memory first: a
    slice's 2 MB made and freed per job fragmented the worker's heap); one of more than
    `spool_after` bytes goes to a new file in `folder` (or, where that fails, a full disk,
    back through the pipe after all)."""
    outcome = work(job)
    sink = _Sink(folder, spool_after)
    try:
        pickle.Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL).dump(outcome)
    except OSError:
        sink.discard()
        return _Spooled(data=pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:
        sink.discard()
        raise
    return sink.spooled()


class _Sink:
    """A pickle's bytes as the pickler writes them: kept until they pass `limit`, then all
    written to a new file of `folder`."""

    def __init__(self, folder: str, limit: int) -> None:
        self.folder, self.limit = folder, limit
        self.kept: list[bytes] = []
        self.size = 0
        self.file: IO[bytes] | None = None
        self.path: str | None = None

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        self.size += size
        if self.file is None and self.size > self.limit:
            handle, self.path = tempfile.mkstemp(dir=self.folder, suffix=".outcome")
            self.file = os.fdopen(handle, "wb")
            self.file.writelines(self.kept)
            self.kept = []
        if self.file is not None:
            self.file.write(data)
        else:
            self.kept.append(bytes(data))
        return size

    def spooled(self) -> _Spooled:
        if self.file is None:
            return _Spooled(data=b"".join(self.kept))
        self.file.close()
        return _Spooled(path=self.path)

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.path is not None:
            Path(self.path).unlink(missing_ok=True)


def _unspooled(outcome: _Spooled) -> Any:
    """In the caller: the outcome a worker pickled, its file (if it wrote one) removed."""
    if outcome.data is not None:
        return pickle.loads(outcome.data)
    path = Path(str(outcome.path))
    try:
        # read as it is unpickled, not whole first: a slice's 2 MB in one piece, made and freed
        # per slice, left glibc's heap more fragmented (run's tree 2 MiB higher at 200,000)
        with path.open("rb") as file:
            return pickle.load(file)
    finally:
        path.unlink(missing_ok=True)


Tag = TypeVar("Tag")
Job = TypeVar("Job")
Out = TypeVar("Out")


@dataclass
class _Queued(Generic[Tag, Job, Out]):
    tag: Tag
    job: Job
    outcome: Out | Future[_Spooled]


class OrderedPool(Generic[Tag, Job, Out]):
    """Queue jobs with `put`, get `work(job)` of each in the same order from `ready` and
    `drain`, each with the tag it was put with.

    `workers` 0 does everything in-process; workers start with the `start_after`-th job.
    At most `workers * backlog` jobs wait in workers, and `limit` jobs in all (memory)."""

    def __init__(self, work: Callable[[Job], Out], workers: int, *, start_after: int,
                 backlog: int = 4, limit: int = 24, spool_after: int | None = None,
                 folder: Path | None = None) -> None:
        self.work = work
        self.workers, self.start_after, self.backlog = workers, start_after, backlog
        self.limit = max(limit, workers * backlog + 1)
        self.queued: deque[_Queued[Tag, Job, Out]] = deque()
        self.seen = 0
        self.pool: list[WorkerProcess] = []  # started with the first job they take
        self.submitted = 0  # jobs given to workers
        self.switch_interval: float | None = None  # the caller's own, while workers run
        # where workers leave their large outcomes (_Spooled): a folder of its own, made in
        # `folder` (the step's checkpoint folder, cleared with it if the step is killed) or
        # else among the system's temporary files, and removed when the pool closes
        self.within = folder
        self.folder: Path | None = None
        self.spool_after = SPOOL_AFTER if spool_after is None else spool_after

    def put(self, tag: Tag, job: Job) -> None:
        self.seen += 1
        if self.workers and self.seen > self.start_after and self._waiting() < \
                self.workers * self.backlog:
            future = self._submit(job)
            if future is not None:
                self.queued.append(_Queued(tag, job, future))
                return
        self.queued.append(_Queued(tag, job, self.work(job)))

    def ready(self) -> list[tuple[Tag, Out]]:
        """Outcomes at the head of the queue that are done (waiting only while over `limit`)."""
        found = []
        while self.queued and (len(self.queued) > self.limit or _done(self.queued[0])):
            found.append(self.next())
        return found

    def drain(self) -> list[tuple[Tag, Out]]:
        """Every outcome still queued, in order."""
        return [self.next() for _ in range(len(self.queued))]

    def close(self) -> None:
        """Stop the workers (jobs still queued are dropped: the caller is failing or done)."""
        self.queued.clear()
        self._stop_workers()
        self._restore_switch_interval()
        self._remove_folder()

    def _waiting(self) -> int:
        return sum(1 for q in self.queued if isinstance(q.outcome, Future)
                   and not q.outcome.done())

    def _submit(self, job: Job) -> Future[_Spooled] | None:
        try:
            if not self.pool:
                self.folder = self.folder or Path(tempfile.mkdtemp(prefix="outcomes-",
                                                                   dir=self.within))
                self.switch_interval = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_INTERVAL, self.switch_interval))
                for _ in range(self.workers):
                    self.pool.append(WorkerProcess(_spooled, self.work, str(self.folder),
                                                   self.spool_after))
            future = min(self.pool, key=lambda worker: worker.waiting).submit(job)
            self.submitted += 1
            return future
        except (OSError, WorkerGone):
            self._give_up()
            return None

    def _give_up(self) -> None:
        """No more workers: what they still hold is done in-process when its turn comes."""
        self.workers = 0
        self._stop_workers()
        self._restore_switch_interval()

    def _stop_workers(self) -> None:
        pool, self.pool = self.pool, []
        for worker in pool:
            worker.close()

    def _remove_folder(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _restore_switch_interval(self) -> None:
        if self.switch_interval is not None:
            sys.setswitchinterval(self.switch_interval)
            self.switch_interval = None

    def next(self) -> tuple[Tag, Out]:
        """The outcome at the head of the queue, waiting for it."""
        queued = self.queued.popleft()
        outcome = queued.outcome
        if not isinstance(outcome, Future):
            return queued.tag, outcome
        try:
            spooled = outcome.result()
        except WorkerGone:
            self._give_up()
            return queued.tag, self.work(queued.job)
        try:
            return queued.tag, _unspooled(spooled)
        except OSError:  # its file is gone (a cleaner of temporary files): done again here
            return queued.tag, self.work(queued.job)


def _done(queued: _Queued[Tag, Job, Out]) -> bool:
    return not isinstance(queued.outcome, Future) or queued.outcome.done()
