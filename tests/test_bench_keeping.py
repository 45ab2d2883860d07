"""`python -m bench.keeping`: its statements must fit the ledger's schema as it is, and it must
measure every document of the run it is given."""

from __future__ import annotations

import json
import sqlite3
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import keeping


def test_the_keeping_of_a_run_is_measured_for_each_of_its_documents(
        run_cli, demo_copy, tmp_path, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    ran = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out", str(tmp_path / "o"))
    assert ran.exit_code == 0, ran.output
    [run] = (state / "runs").iterdir()
    documents = pq.read_metadata(run / "transform" / "documents.parquet").num_rows
    assert documents > 0
    capsys.readouterr()
    scratch = tmp_path / "temporary"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where it writes its copies

    assert keeping.main([str(run)]) == 0

    measured = json.loads(capsys.readouterr().out)
    assert measured["documents"] == documents
    assert all(measured[part] > 0 for part in ("parquet_write", "parquet_read", "ledger"))
    assert not list(scratch.iterdir())  # its copies and ledger are gone


def test_the_ledger_writes_leave_every_document_sent_with_its_three_events(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What is timed is the work a run does: each document registered, queued and sent."""
    run = tmp_path / "run"
    (run / "transform").mkdir(parents=True)
    rows = 3
    pq.write_table(pa.table({
        "entity_type": ["invoice"] * rows, "entity_id": list(range(1, rows + 1)),
        "store_id": [1] * rows, "increment_id": [f"{n:09d}" for n in range(rows)],
        "order_id": list(range(1, rows + 1)), "order_increment_id": ["1"] * rows,
        "content_hash": ["h"] * rows, "grand_total": ["1.00"] * rows,
        "reference": [f"R{n}" for n in range(rows)]}), run / "transform" / "documents.parquet")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    seconds, counted = keeping.ledger_seconds(run, scratch)
    assert counted == rows and seconds >= 0
    db = sqlite3.connect(scratch / "ledger.sqlite")
    assert db.execute("SELECT state, count(*) FROM records GROUP BY state").fetchall() == \
        [("sent", rows)]
    assert db.execute("SELECT event, count(*) FROM events GROUP BY event ORDER BY event"
                      ).fetchall() == [("exported", rows), ("queued", rows), ("sent", rows)]
