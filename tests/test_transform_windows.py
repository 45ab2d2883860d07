"""The transform reads an export a window at a time: the rows a window asks for by key are
exactly what a filter of the whole table gives, in the table's order, and only the row groups
whose key range can hold them are decoded (so memory does not grow with the export)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.pipeline.tables import KeyedTable, SlicedTable, _Groups

GROUP = 50


def _write(path: Path, keys: list[int]) -> pa.Table:
    table = pa.table({"document_id": pa.array(keys, pa.int64()),
                      "position": pa.array(range(len(keys)), pa.int64())})
    with pq.ParquetWriter(path, table.schema) as writer:
        for start in range(0, max(len(keys), 1), GROUP):
            writer.write_table(table.slice(start, GROUP))
    return table


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.integers(min_value=1, max_value=400), max_size=300),
       wanted=st.lists(st.integers(min_value=0, max_value=420), max_size=40),
       ordered=st.booleans())
def test_a_window_gets_exactly_the_rows_a_whole_table_filter_gets(
        tmp_path: Path, keys: list[int], wanted: list[int], ordered: bool) -> None:
    path = tmp_path / "lines.parquet"
    table = _write(path, sorted(keys) if ordered else keys)
    got = KeyedTable(path, "document_id").rows(wanted)
    expected = table.filter(pc.is_in(table["document_id"],
                                     value_set=pa.array(sorted(set(wanted)), pa.int64())))
    assert got.to_pylist() == expected.to_pylist()


def test_only_the_row_groups_that_can_hold_a_window_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "lines.parquet"
    _write(path, [n // 3 for n in range(3, 3 + 20 * GROUP)])  # sorted, 20 row groups
    reader = KeyedTable(path, "document_id")
    decoded: list[int] = []
    read_row_group = reader.file.read_row_group
    reader.file.read_row_group = lambda number, **kw: (  # type: ignore[method-assign]
        decoded.append(number), read_row_group(number, **kw))[1]
    window = list(range(40, 60))  # ids 40..59: rows 117..179, row groups 2 and 3
    assert [r["document_id"] for r in reader.rows(window).to_pylist()] == \
        [n for n in window for _ in range(3)]
    assert decoded == [2, 3]
    reader.rows(range(60, 67))  # the next window, within the group last decoded
    assert decoded == [2, 3]
    for start in range(0, 330, 20):  # a whole pass: the cache stays bounded
        reader.rows(range(start, start + 20))
    assert len(reader.cache) <= _Groups.CACHED


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(min_value=0, max_value=300), size=st.integers(min_value=1, max_value=120))
def test_slices_of_consecutive_rows_are_the_table_cut_in_order(
        tmp_path: Path, rows: int, size: int) -> None:
    """A slice is read on its own, from any row group boundary to any other (a worker may be
    given any one): the slices, one after another, are the table, and each is exactly the
    rows start..end-1 (the last one shorter); past the end there is nothing."""
    path = tmp_path / "documents.parquet"
    table = _write(path, list(range(rows)))
    sliced = SlicedTable(path)
    parts = [sliced.rows(start, start + size) for start in range(0, rows, size)]
    for number, part in enumerate(parts):
        assert part.equals(table.slice(number * size, size))
    assert (pa.concat_tables(parts) if parts else sliced.empty).equals(table)
    assert sliced.rows(rows, rows + size).num_rows == 0
