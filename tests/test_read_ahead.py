"""read_ahead: the items of an iterator, made on a thread one step ahead of the caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.pipeline.read_ahead import read_ahead


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "read-ahead"]


class _Source:
    """A generator that counts what it made and whether it was closed."""

    def __init__(self, items: list[int], fail_at: int | None = None) -> None:
        self.items, self.fail_at = items, fail_at
        self.made = 0
        self.closed = False

    def __iter__(self) -> Iterator[int]:
        try:
            for n, item in enumerate(self.items):
                if n == self.fail_at:
                    raise OSError("the checkpoint's disk went away")
                self.made += 1
                yield item
        finally:
            self.closed = True


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=3))
def test_every_item_comes_once_in_order(items: list[int], depth: int) -> None:
    assert list(read_ahead(items, depth)) == items
    assert _readers() == []


@pytest.mark.parametrize("depth", [1, 2])
def test_no_more_than_depth_items_are_made_ahead(depth: int) -> None:
    source = _Source(list(range(12)))
    ahead = []
    for taken, _ in enumerate(read_ahead(source, depth), start=1):
        time.sleep(0.02)  # room for the thread to run ahead as far as it may
        ahead.append(source.made - taken)
    assert max(ahead) == depth  # it did read ahead, never further than asked
    assert source.closed


def test_a_failure_while_reading_is_raised_to_the_caller_after_the_items_before_it() -> None:
    source = _Source(list(range(10)), fail_at=4)
    seen = []
    with pytest.raises(OSError, match="disk went away"):
        for item in read_ahead(source):
            seen.append(item)
    assert seen == [0, 1, 2, 3]
    assert source.closed and _readers() == []


def test_leaving_the_loop_early_stops_the_thread_and_closes_the_source() -> None:
    source = _Source(list(range(100)))
    for item in read_ahead(source):
        if item == 3:
            break
    assert source.closed and _readers() == []
    assert source.made <= 5  # the item held, one ahead, and at most one being made


def test_a_failure_in_the_callers_loop_stops_the_thread() -> None:
    source = _Source(list(range(100)))
    with pytest.raises(ZeroDivisionError):
        for item in read_ahead(source):
            if item == 2:
                raise ZeroDivisionError
    assert source.closed and _readers() == []
