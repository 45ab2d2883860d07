"""What a transform found for each document, kept on disk until the ledger takes it.

The documents found ready (each with the Sage type:reference it claims) and skipped, and the
new customer accounts' records, go into a SQLite file of their own, in a folder removed when
closed, instead of lists and dicts that grow with the export. The ledger takes the documents
in order at the end, in one transaction: it attaches the file and reads the ready ones itself
(`Ledger.mark_outcomes`), so none of them is turned into Python objects and back (1.1 s of
the transform's end at 200,000 documents). The held ones are few and stay with the transform
(its result lists each of them anyway).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from sagesync.ledger.records import RecordKey


class TransformOutcomes:
    """A transform's ready and skipped documents, in the order found, and the records of the
    new customer accounts it opened (see the module)."""

    def __init__(self, within: Path | None = None) -> None:
        # a folder of its own in `within` (the step's checkpoint folder, cleared with it if the
        # step is killed), else among the system's temporary files
        self.folder = Path(tempfile.mkdtemp(prefix="outcomes-", dir=within))
        self.path = self.folder / "outcomes.sqlite"
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE ready (entity_type TEXT, entity_id INTEGER, "
                        "store_id INTEGER, content_hash TEXT, reference TEXT)")
        self.db.execute("CREATE INDEX ready_reference ON ready (reference)")
        self.db.execute("CREATE TABLE skipped (entity_type TEXT, entity_id INTEGER, "
                        "store_id INTEGER, content_hash TEXT, reason TEXT)")
        self.db.execute("CREATE TABLE accounts (account_ref TEXT PRIMARY KEY, record BLOB)")

    def add(self, ready: list[tuple[RecordKey, str, str]],
            skipped: list[tuple[RecordKey, str, str]],
            accounts: list[dict[str, Any]] | None = None) -> None:
        """A slice's ready and skipped documents, and the records of the new customer
        accounts it opened (each with its `account_ref`, a new one), in one transaction."""
        self.db.execute("BEGIN")
        for table, rows in (("ready", ready), ("skipped", skipped)):
            self.db.executemany(f"INSERT INTO {table} VALUES (?,?,?,?,?)",
                                [(k.entity_type, k.entity_id, k.store_id, h, text)
                                 for k, h, text in rows])
        self.db.executemany("INSERT INTO accounts VALUES (?, ?)",
                            [(r["account_ref"], msgspec.msgpack.encode(r))
                             for r in accounts or ()])
        self.db.execute("COMMIT")

    def accounts(self, batch: int = 5_000) -> Iterator[list[dict[str, Any]]]:
        """The accounts' records, by reference (SQLite's binary order of UTF-8 text is
        Python's order of `str`), `batch` at a time."""
        cursor = self.db.execute("SELECT record FROM accounts ORDER BY account_ref")
        while rows := cursor.fetchmany(batch):
            yield [msgspec.msgpack.decode(record) for record, in rows]

    def owners(self, references: set[str]) -> dict[str, RecordKey]:
        """The document of this run that claimed each of `references`, if one did."""
        found: dict[str, RecordKey] = {}
        refs = sorted(references)
        for start in range(0, len(refs), 500):
            chunk = refs[start:start + 500]
            for reference, kind, entity_id, store_id in self.db.execute(
                    "SELECT reference, entity_type, entity_id, store_id FROM ready WHERE "
                    f"reference IN ({','.join('?' * len(chunk))})", chunk):
                found.setdefault(reference, RecordKey(kind, entity_id, store_id))
        return found

    def ready(self) -> Iterator[tuple[RecordKey, str, str]]:
        return self._read("ready")

    def skipped(self) -> Iterator[tuple[RecordKey, str, str]]:
        return self._read("skipped")

    def _read(self, table: str) -> Iterator[tuple[RecordKey, str, str]]:
        cursor = self.db.execute(f"SELECT * FROM {table} ORDER BY rowid")
        while rows := cursor.fetchmany(10_000):
            for kind, entity_id, store_id, content_hash, text in rows:
                yield RecordKey(kind, entity_id, store_id), content_hash, text

    def close(self) -> None:
        """Close and remove the file (closed first: Windows keeps an open file)."""
        self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)
