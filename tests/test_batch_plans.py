"""A batch's plan is a row per record in the ledger (`batch_records`), written from a generator
and finished a chunk at a time, so a batch of any size never sits in memory as a list (issue 10).
A plan an older sagesync wrote (its records inside the plan's JSON) is still read and finished."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from sagesync.delivery.folder import FolderDelivery
from sagesync.ledger import BatchPlan, Exported, Ledger, RecordKey
from sagesync.pipeline.import_step import recover

KEYS = [RecordKey("invoice", n, 1) for n in range(1, 8)]


def _queued(ledger: Ledger) -> None:
    ledger.register_exported([Exported(k, f"{k.entity_id:09d}", k.entity_id, f"{k.entity_id:09d}",
                                       f"h{k.entity_id}") for k in KEYS], "export")
    ledger.mark_transformed([(k, f"h{k.entity_id}", f"SI:{k.entity_id:09d}") for k in KEYS], [])


def _outcome(ledger: Ledger) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    records = ledger.db.execute("SELECT entity_id, state, batch_id, file, content_hash, "
                                "last_error FROM records ORDER BY entity_id").fetchall()
    events = ledger.db.execute("SELECT entity_id, event, detail FROM events WHERE event NOT IN "
                               "('exported', 'queued') ORDER BY id").fetchall()
    return records, events


def test_a_plan_is_read_from_a_generator_and_finished_a_chunk_at_a_time(
        tmp_path: Path) -> None:
    """Seven records in three files: one delivered, one uncertain, one never written. Any
    chunk size gives the same states and events (sent ones in plan order), and the plan's
    JSON holds no record list."""
    files = [str(tmp_path / f"B-{n}.csv") for n in range(3)]
    consumed: list[int] = []

    def records() -> Iterator[tuple[RecordKey, str, str]]:
        for n, key in enumerate(KEYS):
            consumed.append(key.entity_id)
            yield key, f"h{key.entity_id}", files[min(n // 3, 2)]

    outcomes = []
    for chunk in (1, 2, 10_000):
        consumed.clear()
        with Ledger(tmp_path / f"ledger-{chunk}.sqlite", "run") as ledger:
            _queued(ledger)
            batch = ledger.begin_batch()
            ledger.set_plan(batch, BatchPlan(files, records(), []))
            assert consumed == [k.entity_id for k in KEYS]  # read once, in order
            plan = json.loads(ledger.db.execute("SELECT plan FROM batches").fetchone()[0])
            assert "records" not in plan and plan["files"] == files
            assert ledger.planned_counts(batch) == {files[0]: 3, files[1]: 3, files[2]: 1}
            assert ledger.finish_batch(batch, {files[0]}, uncertain={files[1]},
                                       chunk=chunk) == 3
            outcomes.append(_outcome(ledger))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    records_, events = outcomes[0]
    assert [(r[0], r[1], r[3]) for r in records_] == [
        (1, "sent", files[0]), (2, "sent", files[0]), (3, "sent", files[0]),
        (4, "needs_attention", files[1]), (5, "needs_attention", files[1]),
        (6, "needs_attention", files[1]), (7, "queued", None)]
    assert [(e[0], e[1]) for e in events] == [(1, "sent"), (2, "sent"), (3, "sent"),
                                              (4, "needs_attention"), (5, "needs_attention"),
                                              (6, "needs_attention")]
    assert events[0][2] == "batch 1: B-0.csv"


def test_a_plan_an_older_sagesync_left_unfinished_is_recovered_from_its_json(
        tmp_path: Path) -> None:
    """A batch planned by an older sagesync (records listed in the plan's JSON, files
    journaled as now) and killed after its first file landed: recovery counts and finishes it
    from the JSON."""
    out = tmp_path / "out"
    out.mkdir()
    files = [str(out / "B000001-2-audit_trail.csv"), str(out / "B000001-2-audit_trail-002.csv")]
    Path(files[0]).write_text("landed", encoding="utf-8")
    with Ledger(tmp_path / "ledger.sqlite", "run") as ledger:
        _queued(ledger)
        batch = ledger.begin_batch()
        old = {"files": files, "accounts": [], "accounts_file": None,
               "records": [[k.entity_type, k.entity_id, k.store_id, f"h{k.entity_id}",
                            files[0] if k.entity_id <= 4 else files[1]] for k in KEYS]}
        ledger.db.execute("UPDATE batches SET plan=? WHERE batch_id=?", (json.dumps(old), batch))
        ledger.journal_file(batch, files[0], "ready")  # that sagesync journaled files too
        assert ledger.planned_counts(batch) == {files[0]: 4, files[1]: 3}
        notes = recover(ledger, FolderDelivery(out))
        assert notes == ["batch 1 was interrupted: 1 of 2 files had been delivered (4 documents "
                         "recorded as sent); the rest stays queued"]
        assert [r[1] for r in _outcome(ledger)[0]] == ["sent"] * 4 + ["queued"] * 3
        assert not ledger.unfinished_batches()
