"""The export's memory does not grow with the records it sees (issue 10): it tells the ledger
what it saw a window of documents at a time, in entity id order, from the row groups that hold
them, never reading a whole table (the records are the ones a sort of the whole tables gives,
whatever order the pages were stored in), and it remembers the ids seen in a bitmap."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sagesync.pipeline.export_step as export_step
from sagesync.ledger import Exported, RecordKey
from sagesync.pipeline import postable
from sagesync.pipeline.checkpoint import CheckpointWriter, new_run_id, open_checkpoint
from sagesync.recipe import load_recipe
from sagesync.testing.dataset import write_store


def _expected(export_folder: Path) -> list[Exported]:
    """The records by hand from the whole tables: sorted by entity id per kind."""
    orders = pq.read_table(export_folder / "orders.parquet").to_pylist()
    increments = {o["entity_id"]: o["increment_id"] for o in orders}
    found = []
    for kind, table in (("invoice", "invoices"), ("creditmemo", "creditmemos")):
        for row in sorted(pq.read_table(export_folder / f"{table}.parquet").to_pylist(),
                          key=lambda r: r["entity_id"]):
            changed = row["updated_at"]
            found.append(Exported(
                RecordKey(kind, row["entity_id"], row["store_id"] or 0),
                row["increment_id"] or "", row["order_id"],
                increments.get(row["order_id"]) or "", row["content_hash"],
                grand_total=f"{row['base_grand_total']:.2f}",
                magento_state=str(row["state"]), cancelled=row["state"] == 3,
                changed_at=changed.strftime("%Y-%m-%d %H:%M:%S") if changed else ""))
    return found


def test_registration_reads_windows_in_entity_id_order_whatever_the_stored_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "pages"
    write_store(source, 40, seed=5, page_size=3)
    for entity in ("orders", "invoices", "creditmemos"):  # the pages read last to first
        pages = sorted((source / entity).glob("*.json"))
        for n, page in enumerate(reversed(pages)):
            page.rename(page.with_name(f"x-{n:04d}.json"))
    (tmp_path / "r.toml").write_text(
        f'name = "flat"\nstate_dir = "state"\n[magento]\nsource = "{source.as_posix()}"\n'
        '[sage]\nproduct = "sage50_uk"\n', encoding="utf-8")
    recipe = load_recipe(tmp_path / "r.toml")
    monkeypatch.setattr(CheckpointWriter, "ROW_GROUP_ROWS", 7)  # many small row groups
    export = open_checkpoint(export_step.export_orders(recipe, new_run_id(), None,
                                                       workers=0).manifest)
    invoices = pq.ParquetFile(export.table_file("invoices"))
    assert invoices.metadata.num_row_groups > 3
    ids = invoices.read(columns=["entity_id"]).column(0).to_pylist()
    assert ids != sorted(ids)  # stored out of order

    def whole_table(*args: object, **kwargs: object) -> None:
        raise AssertionError("a whole table was read")

    monkeypatch.setattr(postable, "REGISTER_CHUNK", 4)
    monkeypatch.setattr(postable.pq, "read_table", whole_table)
    found = postable.exported_records(recipe, export)
    monkeypatch.undo()
    assert found == _expected(export.folder)
    assert len(found) > 30


@settings(deadline=None)
@given(st.lists(st.one_of(st.integers(0, 300), st.integers(-5, 5),
                          st.integers(export_step._Ids.BITMAP_LIMIT - 3,
                                      export_step._Ids.BITMAP_LIMIT + 3),
                          st.integers(2**40, 2**63 - 1))))
def test_the_export_remembers_ids_seen_as_a_set_would(numbers: list[int]) -> None:
    """What the export has seen (repeats dropped, counts, ids still to fetch) is a bitmap up
    to BITMAP_LIMIT, a few bytes in all where a set took some 70 bytes per id."""
    ids, expected = export_step._Ids(), set()
    for number in numbers:
        ids.add(number)
        expected.add(number)
        assert number in ids
    assert len(ids) == len(expected) and set(ids) == expected
    assert all((n in ids) == (n in expected) for n in range(-6, 310))
    assert len(ids.bits) <= 2 * (max([n for n in expected if 0 <= n < ids.BITMAP_LIMIT],
                                     default=0) // 8 + 1)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.none(), st.decimals(min_value=Decimal("-99999999.9999"),
                                                  max_value=Decimal("99999999.9999"),
                                                  places=4)), max_size=20))
def test_a_grand_total_is_written_with_two_places_as_python_writes_it(
        amounts: list[Decimal | None]) -> None:
    """Arrow rounds as Python's format does (half to even), but for an amount between -0.005
    and 0, which no grand total is: Python writes it "-0.00"."""
    column = pa.chunked_array([pa.array(amounts, pa.decimal128(18, 4))])
    expected = ["" if a is None else f"{a:.2f}" for a in amounts]
    assert postable._cents_text(column).to_pylist() == [
        "0.00" if text == "-0.00" else text for text in expected]
