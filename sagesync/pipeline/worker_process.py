"""One worker process of a work pool: started with `subprocess`, jobs in on its stdin,
outcomes out on its stdout, each frame a pickle behind its length (8 bytes, little-endian).

Why not multiprocessing: on POSIX every "spawn"ed process needs multiprocessing's resource
tracker, a third interpreter (6 MiB) that lives as long as the caller; and a pool adds a
manager thread and queues with feeder threads of their own. Two pipes are all a worker needs,
and they also end it: its stdin ends when the caller closes it or dies, even killed outright,
on every platform, and a reply to a caller that is gone fails with a broken pipe.

The worker runs the interpreter of the caller with the caller's `sys.path` (the first frame),
never the caller's `__main__`, and ignores Ctrl+C from its first line: the caller stops it.
Whatever the work prints goes to stderr, never into the frames.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import IO, Any

from sagesync import arrow_parts, collector

_SIZE = 8  # bytes of a frame's length
# The worker's first lines: Ctrl+C ignored before anything else, then the caller's sys.path
# (a frame) and this module from it. The module's name marks the worker in a process list.
BOOTSTRAP = (
    "import signal,sys,pickle;signal.signal(signal.SIGINT,signal.SIG_IGN);"
    "r=sys.stdin.buffer;sys.path[:]=pickle.loads(r.read(int.from_bytes(r.read(8),'little')));"
    "from sagesync.pipeline.worker_process import serve;serve()")


_END = object()  # the caller has no more jobs


class WorkerGone(Exception):
    """The worker process ended (killed, crashed or closed) before it replied."""


def write_frame(stream: IO[bytes], value: object) -> None:
    _send(stream, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _send(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(_SIZE, "little"))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's value; EOFError at the end of the stream (or within a frame)."""
    header = stream.read(_SIZE)
    if len(header) < _SIZE:
        raise EOFError
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def serve() -> None:
    """In the worker: take `(work, *leading)` once, then reply to each job with
    `(True, work(*leading, job))` or `(False, the exception it raised)`, until stdin ends."""
    arrow_parts.leave_out_unused()  # before the work's module loads pyarrow
    collector.tune_for_batches()
    jobs = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # a stray print goes to stderr (or nowhere, without one), never into a frame
    os.dup2(sys.stderr.fileno() if sys.stderr else os.open(os.devnull, os.O_WRONLY),
            sys.stdout.fileno())
    sys.stdout = sys.stderr
    work, *leading = read_frame(jobs)
    # Replies go out on a thread of their own: a large one fills the pipe until the caller's
    # thread (which needs the GIL for each 64 KB) reads it, and meanwhile this one works on.
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
    sender = threading.Thread(target=_replies, args=(outbox, replies), daemon=True)
    sender.start()
    while True:
        try:
            job = read_frame(jobs)
        except EOFError:
            break
        try:
            reply: tuple[bool, Any] = (True, work(*leading, job))
        except Exception as exc:  # handed to the caller, which raises it where it waits
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            data = pickle.dumps((False, RuntimeError(f"{reply[1]!r}: {exc}")))
        outbox.put(data)
    outbox.put(None)
    sender.join()


def _replies(outbox: queue.Queue[bytes | None], replies: IO[bytes]) -> None:
    """The worker's sender: each reply in turn; the caller gone, the worker ends at once."""
    while (data := outbox.get()) is not None:
        try:
            _send(replies, data)
        except OSError:
            os._exit(0)


class WorkerProcess:
    """The caller's side of one worker: `submit` returns a Future, replies come back in the
    order jobs went (one thread writes jobs, one reads replies, so the caller never waits on
    a full pipe). When the process ends, every job it still held fails with WorkerGone."""

    def __init__(self, work: Callable[..., Any], *leading: object) -> None:
        # the caller's -O, -B, -X ... (as multiprocessing passes them: the stdlib's own helper)
        flags: list[str] = getattr(subprocess, "_args_from_interpreter_flags", list)()
        self.process = subprocess.Popen([sys.executable, *flags, "-c", BOOTSTRAP],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pending: deque[Future[Any]] = deque()
        self.lock = threading.Lock()
        self.gone = False
        self.outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.outbox.put(list(sys.path))
        self.outbox.put((work, *leading))
        self.writer = threading.Thread(target=self._write, daemon=True, name="worker-jobs")
        self.reader = threading.Thread(target=self._read, daemon=True, name="worker-replies")
        self.writer.start()
        self.reader.start()

    @property
    def waiting(self) -> int:
        return len(self.pending)

    def submit(self, job: object) -> Future[Any]:
        future: Future[Any] = Future()
        with self.lock:
            if self.gone:
                raise WorkerGone
            self.pending.append(future)
        self.outbox.put(job)
        return future

    def close(self) -> None:
        """Stop the worker: at once (killed) if it still holds jobs, whose outcomes no one
        wants now; else it reads the end of its stdin and exits."""
        if self.pending:
            self.process.kill()
        self.outbox.put(_END)
        self.writer.join()
        self.process.wait()
        self.reader.join()

    def _write(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError):  # the worker is gone: the reader fails its jobs
            try:
                while (item := self.outbox.get()) is not _END:
                    write_frame(stdin, item)
            finally:
                stdin.close()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                done, value = read_frame(stdout)
                with self.lock:
                    future = self.pending.popleft()
                if done:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except EOFError:  # the worker exited, or was killed
            pass
        except Exception:  # a reply that cannot be read: no more are taken from this worker
            self.process.kill()
        finally:
            with self.lock:
                self.gone = True
                held, self.pending = list(self.pending), deque()
            for future in held:
                future.set_exception(WorkerGone())
            stdout.close()
