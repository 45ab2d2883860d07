"""Rows that say two things about the same key (e.g. the same SKU and warehouse twice).

Why an error and not "last one wins": a duplicated row in a Sage export means a copy-paste or a
report joined twice, and either value may be the wrong one. Every row of the group is reported
and none of them is applied.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.sage.columns import Column
from sagesync.sage.values import Collector


def report_duplicates(keys: dict[str, pa.Array], source_rows: pa.Array, good: pa.Array,
                      sink: Collector, column: Column | None) -> None:
    """Add a problem to every row whose key (over the `good` rows) occurs more than once."""
    table = pa.table({**keys, "_row": source_rows}).filter(good)
    if table.num_rows < 2 or _all_distinct(table, list(keys)):
        return
    names = list(keys)
    grouped = table.group_by(names, use_threads=False).aggregate([("_row", "count_distinct"),
                                                                  ("_row", "list")])
    grouped = grouped.filter(pc.greater(grouped["_row_count_distinct"], 1))
    for group in grouped.to_pylist():
        rows = sorted(set(group["_row_list"]))
        lines = [sink.lines[r] for r in rows]
        key = ", ".join(f"{name} {_show(group[name])}" for name in names)
        shown = ", ".join(str(line) for line in lines[:-1]) + f" and {lines[-1]}"
        for row in rows:
            sink.add(row, names[0], column, f"duplicate rows for {key} on lines {shown}: "
                     "which one is right is unclear; keep one row per key", group[names[0]])


def _all_distinct(table: pa.Table, names: list[str]) -> bool:
    """Fast common case: the joined keys are all different (one sort, no grouping)."""
    parts = [table[n] if pa.types.is_string(table.schema.field(n).type)
             else pc.cast(table[n], pa.string()) for n in names]
    parts = [pc.fill_null(p, "\x00") for p in parts]
    joined = pc.binary_join_element_wise(*parts, "\x1f") if len(parts) > 1 else parts[0]
    ordered = joined.take(pc.sort_indices(joined))  # sorting: steadier than a hash table
    return not pc.any(pc.equal(ordered[1:], ordered[:-1])).as_py()


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return repr(format(value.normalize(), "f"))
    return repr(value)
