"""Checkpoints: a folder of typed tables plus a manifest, one per step of a run.

`STATE/runs/<run-id>/<step>/` holds Parquet tables and `manifest.json`. The manifest is written
last, to a temporary name then renamed, so a folder without one is an interrupted step and is
never read. Pipes between commands carry the manifest's path, never the data.

A step that fails or is interrupted removes its unfinished folder (see `unfinished_removed`);
one killed outright (SIGKILL, power cut) leaves it, and the next writer in that run folder,
holding the run lock, clears it. The manifest records the state folder, so the later steps of
a pipe stay in it, and whether a dry run wrote it, so it is never delivered for real.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sagesync import fs
from sagesync.errors import DamagedCheckpointError, UsageError
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import Recipe

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across machines sharing a state folder."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# what rerunning a step needs beyond its name, when its checkpoint is damaged
_RERUN = {"export-orders": " (from a live store, with --since before this export's records: "
                           "its bookmark has moved past them)"}


def _check_table(path: Path, entry: dict[str, Any], manifest: Path, step: str | None) -> None:
    """Raise DamagedCheckpointError unless `path` is the file its step wrote: present, and of
    the SHA-256 its manifest records, so a damaged table is named before a reader meets Arrow's
    error halfway. Each opening hashes the file again (a step opens a table once or twice; some
    0.05 s per 50 MB): a cache keyed by size and mtime would miss an edit within the clock's
    tick."""
    rerun = (f"Nothing was read from it. Rerun `sagesync {step or 'STEP'}`"
             f"{_RERUN.get(step or '', '')} to write a new checkpoint (a step's checkpoint is "
             "never edited by hand) and pass the manifest it prints.")
    try:
        found = file_sha256(path)
    except FileNotFoundError:
        raise DamagedCheckpointError(
            f"The checkpoint {manifest} lists the table {path.name}, but {path} is missing. "
            + rerun) from None
    expected = entry.get("sha256")  # (a manifest made by hand in a test may have none)
    if expected is not None and found != expected:
        raise DamagedCheckpointError(
            f"The checkpoint table {path} is not the file its step wrote: its "
            f"SHA-256 differs from the one in {manifest} (it was changed, truncated or "
            "overwritten since). " + rerun)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name, flush to disk, then rename over the target (sagesync.fs),
    with the crash point the crash tests kill manifests at."""
    fs.write_atomically(path, data, before_replace=lambda: crash_point("before-rename"))


@dataclass
class _Scope:
    writers: list[CheckpointWriter]
    dry_run: bool


_scope: ContextVar[_Scope | None] = ContextVar("sagesync_checkpoints", default=None)
_open_folders: set[Path] = set()  # unfinished checkpoints of this process


@contextmanager
def unfinished_removed(*, dry_run: bool = False) -> Iterator[None]:
    """Checkpoints begun inside the block and not finished when it ends (an exception, Ctrl-C)
    are removed, so no folder without a manifest is left for a later step to mistake. With
    dry_run, every checkpoint begun inside is marked as a dry run's."""
    scope = _Scope([], dry_run)
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)
        for writer in scope.writers:
            if not writer.finished:
                writer.discard()


def _is_dry_run(manifest_path: Path) -> bool:
    try:
        return bool(json.loads(manifest_path.read_text(encoding="utf-8")).get("dry_run"))
    except (OSError, ValueError, AttributeError):
        return False


def _clear_killed_steps(run_dir: Path) -> None:
    """Remove step folders without a manifest that no step of this process is writing: they
    were killed before finishing. Writers run under the run lock, so nobody else writes here."""
    if not run_dir.is_dir():
        return
    for child in run_dir.iterdir():
        if child.is_dir() and not (child / MANIFEST).exists() and child not in _open_folders:
            shutil.rmtree(child, ignore_errors=True)


def _looked_up_by(schema: pa.Schema) -> list[str] | bool:
    """The columns whose Parquet statistics a reader uses: the integer ones, which tables are
    looked up by (a row group's id range, tables.KeyedTable). Statistics of the rest (min and
    max of every text column) and dictionary pages cost time and no reader reads them: at
    200,000 orders the export's tables were written in 3.1 s of CPU instead of 4.0 and read
    in 2.0 instead of 2.8, 4 % larger."""
    return [f.name for f in schema if pa.types.is_integer(f.type)] or False


def _write_group(writer: pq.ParquetWriter, parts: list[pa.Table | pa.RecordBatch]) -> None:
    """One row group of the gathered parts, made contiguous first: Parquet encodes a column
    chunk by chunk, and an export's group of 5,000 orders came in fifty chunks of a page each,
    which took a quarter longer to write than one chunk (measured on the bench's tables)."""
    table = pa.concat_tables([pa.Table.from_batches([part])
                              if isinstance(part, pa.RecordBatch) else part
                              for part in parts]).combine_chunks()
    parts.clear()  # the pieces go before the copy is encoded: one row group held, not two
    writer.write_table(table)


class CheckpointWriter:
    """Collects a step's tables; `finish()` writes the manifest that makes them visible.

    Callers hold the state folder's run lock. `dry_run` marks the checkpoint (and, through
    its parents, every checkpoint made from it) as one a real delivery must refuse.

    Rows are gathered per table into row groups of ROW_GROUP_ROWS: a Parquet reader holds every
    row group's description of every column while the file is open (some 900 bytes each), so
    small groups made a reader's memory grow with the checkpoint (15 MB for an export of
    200,000 orders in groups of 1,100 orders), while a reader keeps only a group or two decoded
    (5,000 rows are a few MB). A row group is encoded and compressed on a thread of the
    writer's own (Arrow releases the GIL while it does), so the step goes on with its next
    rows meanwhile, on the other core: writes keep their order, at most PENDING wait (memory),
    and a write that failed raises from the next `write` or from `finish`."""

    ROW_GROUP_ROWS = 5_000
    PENDING = 2

    def __init__(self, state_dir: Path, run_id: str, step: str, kind: str,
                 recipe: Recipe, parents: list[Path], *, dry_run: bool = False) -> None:
        self.run_id = run_id
        self.step = step
        self.kind = kind
        self.recipe = recipe
        self.parents = parents
        self.state_dir = state_dir.resolve()
        scope = _scope.get()
        self.dry_run = (dry_run or (scope is not None and scope.dry_run)
                        or any(_is_dry_run(Path(p)) for p in parents))
        self.finished = False
        run_dir = self.state_dir / "runs" / run_id
        _clear_killed_steps(run_dir)
        folder = run_dir / step
        n = 2
        while folder.exists():
            folder = run_dir / f"{step}-{n}"
            n += 1
        folder.mkdir(parents=True)
        self.folder = folder
        _open_folders.add(folder)
        if scope is not None:
            scope.writers.append(self)
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._rows: dict[str, int] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._gathered: dict[str, list[pa.Table | pa.RecordBatch]] = {}
        self._thread: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()

    def discard(self) -> None:
        """Remove the unfinished folder (and its run folder when nothing else is in it)."""
        for pending in self._pending:  # none may still be writing when the files close
            with suppress(Exception):  # a failed write is why the folder goes
                pending.result()
        self._pending.clear()
        self._gathered.clear()
        self._settle(0)
        for writer in self._writers.values():
            with suppress(Exception):  # the folder goes anyway
                writer.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        _open_folders.discard(self.folder)
        with suppress(OSError):
            self.folder.parent.rmdir()  # only succeeds when empty

    def declare(self, name: str, schema: pa.Schema) -> None:
        """A table that exists even when no row is written (readers need its schema)."""
        self._schemas[name] = schema
        self._rows.setdefault(name, 0)

    def write(self, name: str, batch: pa.RecordBatch | pa.Table) -> None:
        """Add rows to a table (the first rows written give its schema)."""
        if name not in self._writers:
            self._schemas[name] = batch.schema
            self._writers[name] = pq.ParquetWriter(
                self.folder / f"{name}.parquet", batch.schema, compression="zstd",
                use_dictionary=False, write_statistics=_looked_up_by(batch.schema))
        gathered = self._gathered.setdefault(name, [])
        gathered.append(batch)
        self._rows[name] = self._rows.get(name, 0) + batch.num_rows
        if sum(b.num_rows for b in gathered) >= self.ROW_GROUP_ROWS:
            self._flush(name)

    def _flush(self, name: str) -> None:
        """The rows gathered for a table become a row group, written on the writer's thread."""
        gathered = self._gathered.pop(name, [])
        if not gathered:
            return
        self._settle(self.PENDING - 1)
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending.append(self._thread.submit(_write_group, self._writers[name], gathered))

    def _settle(self, keep: int) -> None:
        """Wait until at most `keep` writes are pending (re-raising a write's error); with
        0, stop the thread."""
        while self._pending and (len(self._pending) > keep or self._pending[0].done()):
            self._pending.popleft().result()
        if not keep and self._thread is not None:
            self._thread.shutdown()
            self._thread = None

    def finish(self, summary: dict[str, Any] | None = None,
               files: dict[str, Path | tuple[str, str]] | None = None) -> Path:
        """Close every table, then write the manifest last. Returns the manifest's path.
        `files`: by name, a local file (hashed here) or a (location, sha256) pair for a
        file hashed as it was sent (it may be on a server)."""
        for name in list(self._gathered):
            self._flush(name)
        self._settle(0)
        for name, schema in self._schemas.items():
            if name not in self._writers:
                pq.write_table(schema.empty_table(), self.folder / f"{name}.parquet")
        for writer in self._writers.values():
            writer.close()
        # a closed writer keeps every row group's description (some 6 MB for an export of
        # 200,000 orders), and a run keeps its finished writers until its last step ends
        self._writers.clear()
        tables = {}
        for name in sorted(self._schemas):
            path = self.folder / f"{name}.parquet"
            tables[name] = {"file": path.name, "rows": self._rows.get(name, 0),
                            "sha256": file_sha256(path)}
        manifest = {
            "kind": self.kind,
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "step": self.step,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "state_dir": str(self.state_dir),
            "dry_run": self.dry_run,
            "recipe": {"name": self.recipe.name, "path": str(self.recipe.path or ""),
                       "sha256": self.recipe.sha256},
            "parents": [str(p) for p in self.parents],
            "tables": tables,
            "files": {k: {"path": p[0], "sha256": p[1]} if isinstance(p, tuple)
                      else {"path": str(p), "sha256": file_sha256(p)}
                      for k, p in (files or {}).items()},
            "summary": summary or {},
        }
        path = self.folder / MANIFEST
        write_atomically(path, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
        self.finished = True
        _open_folders.discard(self.folder)
        return path


@dataclass(frozen=True)
class Checkpoint:
    """A finished step, read back through its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def recipe_path(self) -> Path | None:
        value = self.manifest.get("recipe", {}).get("path")
        return Path(value) if value else None

    @property
    def state_dir(self) -> Path | None:
        """The state folder holding this checkpoint (STATE/runs/<run>/<step>/): the later steps
        of a pipe write there. Else the one its manifest records."""
        run_dir = self.folder.parent
        if run_dir.name == self.run_id and run_dir.parent.name == "runs":
            return run_dir.parent.parent
        value = self.manifest.get("state_dir")
        return Path(value) if value else None

    @property
    def dry_run(self) -> bool:
        """Written by a dry run (or made from one): its records were never registered."""
        return bool(self.manifest.get("dry_run"))

    def check_tables(self) -> None:
        """Raise DamagedCheckpointError unless every table is the file its step wrote."""
        for name in self.manifest["tables"]:
            self.table_file(name)

    def table(self, name: str) -> pa.Table:
        return pq.read_table(self.table_file(name))

    def table_file(self, name: str) -> Path:
        """The Parquet file of a table, for readers that take it a row group at a time."""
        entry = self.manifest["tables"].get(name)
        if entry is None:
            raise UsageError(f"Checkpoint {self.path} has no table '{name}'.")
        path = self.folder / entry["file"]
        _check_table(path, entry, self.path, self.manifest.get("step"))
        return path


def in_state_folder(path: Path, state_dir: Path) -> Path:
    """Where a checkpoint the ledger names is now: STATE/runs/<run>/<step>/ of this state
    folder. The ledger records absolute paths, and a state folder moved or copied elsewhere
    keeps its ledger and its checkpoints together (read from the old place, a copy's records
    were posted twice, and held by the import's amount check)."""
    run_dir = path.parent.parent
    if run_dir.parent.name != "runs":
        return path
    return state_dir / "runs" / run_dir.name / path.parent.name / path.name


def open_checkpoint(path: Path | str, expect_kind: str | None = None) -> Checkpoint:
    """Read a manifest (or the folder holding one) and check it is the kind a step needs."""
    path = Path(path)
    if path.is_dir():
        finished = sorted(path.glob(f"*/{MANIFEST}"))
        if not (path / MANIFEST).exists() and finished:
            raise UsageError(f"{path} is a run folder, not a checkpoint. Pass the manifest of "
                             "one of its steps: " + ", ".join(str(p) for p in finished) + ".")
        path = path / MANIFEST
    if not path.exists():
        where = path.parent if path.name == MANIFEST else path
        raise UsageError(
            f"Not a finished checkpoint: {where} (no {MANIFEST}; the step that wrote it was "
            "interrupted, so it is never read, or the path is wrong). Rerun the step that "
            "writes it, or pass the manifest printed by the previous step.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        kind = manifest["kind"]
        version = manifest["schema_version"]
        if not all(isinstance(entry["file"], str) for entry in manifest["tables"].values()):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(f"{path} is not a sagesync manifest.") from None
    if version != SCHEMA_VERSION:
        raise UsageError(f"{path} has schema version {version}; this sagesync reads "
                         f"version {SCHEMA_VERSION}. Rerun the step that wrote it.")
    if expect_kind and kind != expect_kind:
        raise UsageError(f"{path} is a '{kind}' checkpoint; this step needs '{expect_kind}'.")
    return Checkpoint(path=path.resolve(), manifest=manifest)
