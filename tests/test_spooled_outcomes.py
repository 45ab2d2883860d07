"""A worker pickles each outcome as it writes it: up to the pool's limit it comes back through
the pipe, beyond it through a file of the pool's folder; a disk that refuses the file sends it
through the pipe after all, and an outcome that cannot be pickled leaves no file behind."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.pipeline.work_pool import _spooled, _unspooled


def _same(value: object) -> object:
    return value


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 150_000), min_size=1, max_size=6),
       limit=st.integers(0, 400_000), arrow=st.booleans())
def test_an_outcome_comes_back_whole_through_the_pipe_or_one_file(
        tmp_path_factory: pytest.TempPathFactory, sizes: list[int], limit: int,
        arrow: bool) -> None:
    """Values of up to 150 KB: the pickler writes more than one piece (its frames are 64 KiB),
    so a file may start after pieces kept in memory."""
    folder = tmp_path_factory.mktemp("spool")
    outcome: object = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    if arrow:  # Arrow buffers are written by the pickler as they are, not copied into a frame
        outcome = pa.table({"blob": pa.array(outcome, pa.binary())})
    whole = len(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    spooled = _spooled(_same, str(folder), limit, outcome)
    files = list(folder.iterdir())
    if whole <= limit:
        assert spooled.data is not None and spooled.path is None and not files
    else:
        assert spooled.data is None and files == [Path(str(spooled.path))]
        assert files[0].stat().st_size == whole
    back = _unspooled(spooled)
    assert back.equals(outcome) if arrow else back == outcome  # type: ignore[attr-defined]
    assert not any(folder.iterdir())  # the file goes once read


def test_a_disk_that_refuses_the_file_sends_the_outcome_through_the_pipe(
        tmp_path: Path) -> None:
    outcome = b"x" * 10_000
    spooled = _spooled(_same, str(tmp_path / "gone"), 100, outcome)  # no such folder
    assert spooled.data is not None and spooled.path is None
    assert _unspooled(spooled) == outcome


def test_an_outcome_that_cannot_be_pickled_leaves_no_file(tmp_path: Path) -> None:
    """The lock comes after 200 KB (written as it is, past the pickler's frames of 64 KiB), so
    the file is open when pickling fails."""
    outcome = [b"x" * 200_000, threading.Lock()]
    with pytest.raises(TypeError):
        _spooled(_same, str(tmp_path), 100, outcome)
    assert not any(tmp_path.iterdir())
