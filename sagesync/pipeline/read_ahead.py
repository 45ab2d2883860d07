"""Reading ahead: the next items of an iterator are made on a thread while the caller works on
this one.

A step that reads a checkpoint a window at a time spends part of each window in Arrow's C++
(decoding row groups, filtering by key), which releases the GIL, and the rest in Python. With
the reading on a thread of its own, the two overlap on a second core. The thread only reads;
what it yields is handed over whole, in order, and an exception it meets is raised where the
caller would have met it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_WAIT = 0.1  # seconds between looks at whether the caller has stopped listening


def read_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """`items`, each made on a thread while the caller holds the one before it, at most
    `depth` ahead (memory: the caller's item and `depth` more). Leaving the loop early, or
    failing in it, stops the thread before this returns."""
    made: queue.SimpleQueue[object] = queue.SimpleQueue()
    room = threading.Semaphore(depth)  # taken before an item is made, given back as it is taken
    stopped = threading.Event()

    def wait_for_room() -> bool:
        while not stopped.is_set():
            if room.acquire(timeout=_WAIT):
                return True
        return False

    def produce() -> None:
        source = iter(items)
        try:
            while wait_for_room():
                try:
                    made.put(next(source))
                except StopIteration:
                    made.put(_DONE)
                    return
        except BaseException as exc:  # raised again in the caller's thread
            made.put(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = _next(made)
            room.release()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
        thread.join()


def _next(made: queue.SimpleQueue[object]) -> object:
    """The next item made, waiting in short steps (Ctrl+C is not seen inside one long wait on
    Windows)."""
    while True:
        try:
            return made.get(timeout=_WAIT)
        except queue.Empty:
            continue


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
