"""How far a step has got, for whoever wants to show it (the CLI's progress bars).

The library never prints: a step calls `advance` as it goes, which does nothing unless a
caller installed a reporter for the block (`reporting_to`). A context variable, not a
parameter threaded through every step, because only the CLI on a terminal listens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Reporter(Protocol):
    def advance(self, step: str, done: int, total: int | None, unit: str) -> None:
        """`done` more `unit`s of `step`, out of `total` (None: not known in advance)."""


_reporter: ContextVar[Reporter | None] = ContextVar("sagesync_progress", default=None)


@contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


def advance(step: str, done: int, *, total: int | None = None, unit: str = "") -> None:
    reporter = _reporter.get()
    if reporter is not None:
        reporter.advance(step, done, total, unit)
