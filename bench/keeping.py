"""`python -m bench.keeping RUN_FOLDER`: the least CPU that keeping what sagesync keeps costs.

sagesync writes each step's checkpoint (Parquet) and a ledger row and event per document
(SQLite) so that a step can be resumed or replayed and nothing is lost or sent twice. This
measures that keeping alone, for a finished run's folder (its `export-orders` and `transform`
checkpoints), in this process, with nothing of sagesync's own code timed:

- Parquet: each checkpoint table written once with the checkpoint writer's options (zstd, no
  dictionary, statistics of the integer columns, its row groups) and read back once, whole.
- SQLite: the ledger's four writes for the run's documents, each the least a set-wise design
  could do on a fresh ledger of sagesync's schema: registering (a row and an `exported` event
  each), queueing (state, reference, `queued` event), the batch's plan (a row each) and marking
  them sent (state, file, `sent` event). Each is one statement over all the documents (the rows
  it binds are made before the clock starts), where sagesync binds some of them from Python.

The sum, shared over every core beside the floor's own CPU (`python -m bench.floor`), is what
any design that keeps checkpoints and a ledger as sagesync does needs before it hashes, posts
or renders anything. Prints one JSON line of CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import CheckpointWriter, _looked_up_by

STEPS = ("export-orders", "transform")


def _cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def _write(table: pa.Table, path: Path) -> None:
    """`table` as the checkpoint writer writes it (CheckpointWriter.write and _write_group)."""
    with pq.ParquetWriter(path, table.schema, compression="zstd", use_dictionary=False,
                          write_statistics=_looked_up_by(table.schema)) as writer:
        for start in range(0, table.num_rows, CheckpointWriter.ROW_GROUP_ROWS):
            writer.write_table(table.slice(start, CheckpointWriter.ROW_GROUP_ROWS)
                               .combine_chunks())


def parquet_seconds(run: Path, scratch: Path) -> tuple[float, float]:
    """CPU seconds writing, then reading, every checkpoint table of the run once."""
    written = read = 0.0
    for step in STEPS:
        for path in sorted((run / step).glob("*.parquet")):
            copy = scratch / path.name
            written += _cpu(partial(_write, pq.read_table(path), copy))
            read += _cpu(partial(pq.read_table, copy))
            copy.unlink()
    return written, read


_COLUMNS = ("entity_type", "entity_id", "store_id", "increment_id", "order_id",
            "order_increment_id", "content_hash", "grand_total", "reference")


def ledger_seconds(run: Path, scratch: Path) -> tuple[float, int]:
    """CPU seconds of the ledger's four set-wise writes for the run's documents, and how
    many documents."""
    documents = pq.read_table(run / "transform" / "documents.parquet", columns=list(_COLUMNS))
    rows = list(zip(*(documents[name].to_pylist() for name in _COLUMNS), strict=True))
    exported = [(*row[:7], "exported", "checkpoint", str(row[7]), "complete", "now", "now")
                for row in rows]
    queued = [(*row[:3], row[8]) for row in rows]
    planned = [(1, seq, *row[:3], row[6], "sage/SI.csv") for seq, row in enumerate(rows)]
    # each write: its statements in one transaction, with the rows an executemany binds
    writes: list[list[tuple[str, list[tuple[Any, ...]] | None]]] = [
        [("INSERT INTO records (entity_type, entity_id, store_id, increment_id, order_id, "
          "order_increment_id, content_hash, state, export_checkpoint, grand_total, "
          "magento_state, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", exported),
         ("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, event, detail) "
          "SELECT 'now', 'run', entity_type, entity_id, store_id, 'exported', "
          "export_checkpoint FROM records ORDER BY rowid", None)],
        [("CREATE TEMP TABLE ready (seq INTEGER PRIMARY KEY, t TEXT, i INTEGER, s INTEGER, "
          "ref TEXT)", None),
         ("INSERT INTO ready (t, i, s, ref) VALUES (?,?,?,?)", queued),
         ("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, event, detail) "
          "SELECT 'now', 'run', t, i, s, 'queued', '' FROM ready ORDER BY seq", None),
         ("UPDATE records SET state='queued', sage_reference=r.ref, updated_at='now' "
          "FROM ready r WHERE records.entity_type=r.t AND records.entity_id=r.i "
          "AND records.store_id=r.s", None)],
        [("INSERT INTO batches (run_id, state, plan, created_at) "
          "VALUES ('run', 'writing', '{}', 'now')", None),
         ("INSERT INTO batch_records (batch_id, seq, entity_type, entity_id, store_id, "
          "content_hash, file) VALUES (?,?,?,?,?,?,?)", planned)],
        [("UPDATE records SET state='sent', batch_id=p.batch_id, file=p.file, "
          "content_hash=p.content_hash, sent_run=1, updated_at='now' FROM batch_records p "
          "WHERE p.batch_id=1 AND records.entity_type=p.entity_type AND "
          "records.entity_id=p.entity_id AND records.store_id=p.store_id", None),
         ("INSERT INTO events (at, run_id, entity_type, entity_id, store_id, event, detail) "
          "SELECT 'now', 'run', entity_type, entity_id, store_id, 'sent', 'batch 1: SI.csv' "
          "FROM batch_records WHERE batch_id=1 ORDER BY seq", None)],
    ]
    ledger = Ledger(scratch / "ledger.sqlite")
    try:
        seconds = sum(_cpu(partial(_write_ledger, ledger, statements)) for statements in writes)
    finally:
        ledger.close()
    return seconds, len(rows)


def _write_ledger(ledger: Ledger, statements: list[tuple[str, list[tuple[Any, ...]] | None]]
                  ) -> None:
    """One of the ledger's writes: its statements in one transaction."""
    with ledger.transaction() as db:
        for sql, rows in statements:
            if rows is None:
                db.execute(sql)
            else:
                db.executemany(sql, rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.keeping")
    parser.add_argument("run", type=Path, help="a finished run's folder (runs/RUN_ID)")
    args = parser.parse_args(argv)
    if not (args.run / "transform" / "documents.parquet").is_file():
        parser.error(f"{args.run}: not a finished run's folder (no transform/documents.parquet)")
    scratch = Path(tempfile.mkdtemp(prefix="keeping-"))
    try:
        written, read = parquet_seconds(args.run, scratch)
        ledger, documents = ledger_seconds(args.run, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps({"parquet_write": round(written, 3), "parquet_read": round(read, 3),
                      "ledger": round(ledger, 3), "documents": documents}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
