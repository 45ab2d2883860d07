"""The checkpoint writer: rows gathered into row groups and written on a thread of its own.

What must hold whatever the sizes: every row comes back once, in the order written; a table's
row groups are full ones (at least ROW_GROUP_ROWS) but for its last; and a write that fails
on the thread fails the step, leaving no manifest and, inside `unfinished_removed`, no folder.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.pipeline.checkpoint import (
    MANIFEST,
    CheckpointWriter,
    new_run_id,
    open_checkpoint,
    unfinished_removed,
)
from sagesync.recipe import Recipe, load_recipe

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def _recipe(folder: Path) -> Recipe:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pages").mkdir(exist_ok=True)
    (folder / "r.toml").write_text('name = "writer"\nstate_dir = "state"\n[magento]\n'
                                   'source = "pages"\n[sage]\nproduct = "sage50_uk"\n',
                                   encoding="utf-8")
    return load_recipe(folder / "r.toml")


def _rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids]}, schema=SCHEMA)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 40), max_size=25), group=st.integers(1, 30),
       as_batches=st.booleans())
def test_rows_come_back_in_order_in_full_row_groups(tmp_path_factory: pytest.TempPathFactory,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    sizes: list[int], group: int,
                                                    as_batches: bool) -> None:
    monkeypatch.setattr(CheckpointWriter, "ROW_GROUP_ROWS", group)
    recipe = _recipe(tmp_path_factory.mktemp("w"))
    writer = CheckpointWriter(recipe.state_dir, new_run_id(), "test", "test-kind", recipe, [])
    writer.declare("things", SCHEMA)
    start = 0
    for size in sizes:
        table = _rows(start, size)
        writer.write("things", table.to_batches()[0] if as_batches and size else table)
        start += size
    checkpoint = open_checkpoint(writer.finish(), "test-kind")
    file = pq.ParquetFile(checkpoint.table_file("things"))
    assert file.read().column("id").to_pylist() == list(range(start))
    assert checkpoint.manifest["tables"]["things"]["rows"] == start
    groups = [file.metadata.row_group(n).num_rows for n in range(file.metadata.num_row_groups)]
    if start:
        assert all(rows >= group for rows in groups[:-1])
        # a group is written as soon as it is full: no more than one write's rows over
        assert all(rows < group + max(sizes) for rows in groups)


def test_a_write_that_fails_on_the_thread_fails_the_step(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CheckpointWriter, "ROW_GROUP_ROWS", 3)  # each write its own row group
    recipe = _recipe(tmp_path)
    other = pa.table({"id": [1], "name": [2]})  # a column of another type than the file's
    with pytest.raises(ValueError, match=r"(?i)schema"), unfinished_removed():
        writer = CheckpointWriter(recipe.state_dir, new_run_id(), "test", "test-kind", recipe,
                                  [])
        writer.write("things", _rows(0, 3))
        writer.write("things", other)  # written (and refused) on the thread, at finish
        writer.finish()
    assert not (writer.folder / MANIFEST).exists()
    assert not writer.folder.exists()  # the unfinished folder is removed, no write left open


def test_a_finished_checkpoint_lets_go_of_its_parquet_writers(tmp_path: Path) -> None:
    """A closed Parquet writer keeps every row group's description; a run keeps its finished
    checkpoint writers until its last step ends, so each must drop its Parquet writers."""
    recipe = _recipe(tmp_path)
    with unfinished_removed():  # the run's scope, which holds its writers
        writer = CheckpointWriter(recipe.state_dir, new_run_id(), "test", "test-kind", recipe,
                                  [])
        writer.write("things", _rows(0, 3))
        parquet_writers = [weakref.ref(w) for w in writer._writers.values()]
        assert parquet_writers and all(ref() is not None for ref in parquet_writers)
        writer.finish()
        gc.collect()
        assert all(ref() is None for ref in parquet_writers)
