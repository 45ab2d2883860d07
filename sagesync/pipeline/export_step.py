"""The export-orders step: Magento pages -> the typed tables of a magento-export checkpoint.

Each page becomes Arrow rows on its own (magento.page_tables), in this process or, for a large
export, in worker processes beside it (work_pool); the rows are taken in page order and handed
to the checkpoint writer, which writes them in row groups, with a few pages in flight, so
memory stays flat however many pages there are. Every verbatim page is kept for audit and
replay, listed in `raw/index.json` (entity, page, size, BLAKE3): a saved page (folder source)
is not copied, the index names its file; a live store's page is written as a zstd frame under
`raw/` (bodies only: request headers, and so credentials, are never stored). Records repeated
across pages are dropped by entity id.

One bad record holds back only itself. A page that cannot be read at all (not JSON, cut short,
`items` null or missing while `total_count` says there are some) is copied to
`STATE/quarantine/` with an `.error.txt` beside it. A page that can be read but fails as a whole
is read again record by record: each record of the wrong shape, or with a value its column
cannot hold (an amount of 1e400, 5,000 digits, an id past int64), is quarantined alone with
the page, record and field named, and the page's good records go on. Either way the export
finishes with the rest and reports it (exit 65).

The bookmark and a bad record (live stores): a whole bad page keeps every bookmark where it
was, so the next run reads it again. A bad record does not: its id is put in the ledger's
triggers, so the next run fetches it by id whatever its window (and again every run until
Magento serves it whole), while the bookmark moves on with the good records. A bad record whose
id cannot be read keeps its entity's bookmark at or before its `updated_at` (or where it was,
if that cannot be read either), so it is always inside the next window.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from sagesync.errors import UsageError
from sagesync.ledger import Ledger
from sagesync.ledger.alert_state import note_newest
from sagesync.magento.entities import ENTITY_TYPES
from sagesync.magento.page_tables import (
    REJECTED,
    ROW,
    PageJob,
    PageOutcome,
    decode_page,
    page_digest,
    position,
)
from sagesync.magento.source import MAGENTO_TIME, FolderSource, PageSource, RawPage, Window
from sagesync.model.schemas import MAGENTO_TABLES
from sagesync.pipeline import progress
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter, open_checkpoint
from sagesync.pipeline.faults import fault_point
from sagesync.pipeline.postable import REGISTER_CHUNK, iter_exported
from sagesync.pipeline.work_pool import OrderedPool, default_workers
from sagesync.recipe import Recipe

KIND = "magento-export"
# Pages decoded in-process before worker processes start: an export this small (and nearly
# every test) pays no start-up; a large one is decoded on every core (see work_pool).
PARALLEL_AFTER_PAGES = 12
LINKED_ORDERS_CHUNK = 100
_INT64 = 2 ** 63


@dataclass(frozen=True)
class BadRecord:
    """A record quarantined alone: enough to fetch it again (id) or to hold the bookmark
    before it (updated_at). Either is None when the record did not say it readably."""

    entity: str
    entity_id: int | None
    updated_at: str | None


@dataclass
class ExportResult:
    manifest: Path
    counts: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    duplicates: int = 0
    bad_pages: list[str] = field(default_factory=list)  # every quarantined page and record
    bad_records: list[BadRecord] = field(default_factory=list)
    unreadable_pages: int = 0  # whole pages quarantined: no bookmark moves
    amended: list[str] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    linked_orders: int = 0
    worker_pages: int = 0  # pages decoded in worker processes (work_pool)


class _Loose(msgspec.Struct):
    """What a broken record may still tell about itself (any JSON type accepted)."""

    entity_id: object = None
    id: object = None
    updated_at: object = None


_LOOSE = msgspec.json.Decoder(_Loose)


def open_source(recipe: Recipe, override: str | None) -> tuple[PageSource, str]:
    """The page source and a description of it that holds no secret."""
    target = override
    if target is None:
        target = recipe.magento.base_url or str(recipe.magento.source)
    if re.match(r"^https?://", target):
        # the HTTP client is imported only for a live store: a folder's export (and `run`)
        # starts 0.1 s sooner without requests and urllib3
        from sagesync.magento.client import RestSource
        from sagesync.magento.connect import magento_auth
        from sagesync.magento.http import RetryPolicy

        settings = recipe.magento
        source = RestSource(target, magento_auth(recipe, target),
                            page_size=settings.page_size, timeout=settings.timeout_seconds,
                            concurrency=settings.concurrency,
                            retry=RetryPolicy(
                                attempts=settings.retry_attempts,
                                max_retry_after=settings.max_retry_after_seconds),
                            auth_kind=settings.auth)
        return source, target
    return FolderSource(Path(target)), target


def _quarantine(state_dir: Path, run_id: str, page: RawPage, problem: str) -> str:
    folder = state_dir / "quarantine" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    origin = Path(page.origin)
    name = f"{page.entity}-{origin.name if origin.exists() else f'page-{page.number:04d}.json'}"
    target = folder / name
    if origin.exists():
        shutil.copyfile(origin, target)
    else:
        target.write_bytes(page.body)
    expected = f"a Magento {page.entity} search result ({ENTITY_TYPES[page.entity].__name__} items)"
    report = (f"{page.origin}: {problem}\nExpected: {expected}.\n"
              "The other pages were exported; fix or re-save this page and export again.\n")
    target.with_name(target.name + ".error.txt").write_text(report, encoding="utf-8")
    return f"{page.origin}: {problem} (copied to {target})"


def _quarantine_record(state_dir: Path, run_id: str, page: RawPage, index: int, raw: bytes,
                       problem: str, live: bool, verbatim: bool = True
                       ) -> tuple[str, BadRecord]:
    """Copy one bad record to quarantine with an `.error.txt` naming the page, the record
    (position, id) and the field; return the report line and the record. A record whose
    value broke its batch was decoded already: the copy is the fields sagesync read (the
    verbatim page is the source file, or the checkpoint's raw/ copy: raw/index.json)."""
    loose = _loose(raw)
    identity = loose.entity_id if page.entity != "customers" else loose.id
    record_id = identity if isinstance(identity, int) and not isinstance(identity, bool) \
        and 0 < identity < _INT64 else None
    updated = loose.updated_at if isinstance(loose.updated_at, str) else None
    key = "id" if page.entity == "customers" else "entity_id"
    said = f", {key} {identity}" if identity is not None and isinstance(identity, int | str) \
        and len(str(identity)) <= 40 else ""
    where = f"record {index + 1} (items[{index}]{said})"
    folder = state_dir / "quarantine" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(page.origin).stem if Path(page.origin).exists() else f"page-{page.number:04d}"
    target = folder / f"{page.entity}-{stem}-record-{index + 1:04d}.json"
    target.write_bytes(raw)
    if live and record_id is not None:
        then = ("It is fetched again by id on every run until Magento serves it whole: fix "
                "the record in Magento (or the extension that writes it).")
    elif live:
        then = ("Its id cannot be read, so the export bookmark stays at or before its "
                "updated_at and the next run reads it again: fix the record in Magento.")
    else:
        then = "Fix or re-save this page and export again."
    expected = f"a Magento {page.entity} record ({ENTITY_TYPES[page.entity].__name__})"
    copy = "" if verbatim else ("The copy beside this file holds the fields sagesync read; "
                                "Magento's verbatim page is the file named above (saved "
                                "pages) or is kept in the export checkpoint's raw/ folder "
                                "(live store; raw/index.json lists it).\n")
    report = (f"{page.origin}: {where}: {problem}\nExpected: {expected}.\n{copy}"
              f"The other records of this page and the other pages were exported. {then}\n")
    target.with_name(target.name + ".error.txt").write_text(report, encoding="utf-8")
    line = f"{page.origin}: {where}: {problem} (copied to {target})"
    return line, BadRecord(page.entity, record_id, updated)


def _loose(raw: bytes) -> _Loose:
    try:
        return _LOOSE.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _Loose()


def export_orders(recipe: Recipe, run_id: str, ledger: Ledger | None, *,
                  source: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, now: datetime | None = None,
                  workers: int | None = None,
                  written: Callable[[Path], None] | None = None) -> ExportResult:
    """Export, then tell the ledger what was seen and move the bookmarks (unless this is a dry
    run: ledger None). Bookmarks move only after the checkpoint is durable and registered, and
    never when a page was bad, so a failed export is simply repeated by the next run.
    `workers`: the most processes decoding pages beside this one (default: one core fewer
    than the machine has); they start only for an export of more than PARALLEL_AFTER_PAGES
    pages. `written` is called with the manifest once the checkpoint is, before the ledger
    is told (`run` starts its transform's worker there)."""
    page_source, description = open_source(recipe, source)
    live = not isinstance(page_source, FolderSource)
    windows = _windows(recipe, ledger if live else None, since, until,
                       now or datetime.now(UTC))
    triggered = ledger.pending_triggers() if ledger is not None and live else {}
    result = _export(recipe, run_id, page_source, description, windows, live, triggered,
                     workers)
    if written is not None:
        written(result.manifest)
    if ledger is not None:
        records = iter_exported(recipe, open_checkpoint(result.manifest))
        fault_point("export.ledger")
        registered = ledger.register_exported(records, str(result.manifest),
                                              chunk=REGISTER_CHUNK)
        result.amended = [f"{k}: {why}" for k, why in registered.amended]
        result.voided = [f"{k}: {why}" for k, why in registered.voided]
        newest = newest_order_created(open_checkpoint(result.manifest))
        if newest is not None:  # for the alert "no orders during trading hours"
            note_newest(ledger, "order_created", newest)
        if live and not result.unreadable_pages:
            _move_bookmarks(ledger, run_id, windows, result.bad_records)
    return result


def newest_order_created(export: Checkpoint) -> str | None:
    """The creation time (UTC, ISO text) of the newest order in an export, or None."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = pq.read_table(export.table_file("orders"), columns=["created_at"])["created_at"]
    newest = pc.max(column).as_py() if len(column) else None
    return newest.strftime("%Y-%m-%dT%H:%M:%SZ") if newest is not None else None


def _move_bookmarks(ledger: Ledger, run_id: str, windows: dict[str, Window],
                    bad: list[BadRecord]) -> None:
    """Move the bookmarks past what was exported, never past a bad record: one with an id is
    made a trigger (fetched by id next run), one without keeps the bookmark before it."""
    ledger.consume_triggers()
    again = sorted({(r.entity, r.entity_id) for r in bad if r.entity_id is not None})
    if again:
        digest = hashlib.sha256(f"quarantine {run_id} {again}".encode()).hexdigest()
        ledger.add_triggers(again, "quarantined record", digest)
    for entity, window in windows.items():
        if window.until is None:
            continue
        limit: datetime | None = window.until
        for record in bad:
            if record.entity != entity or record.entity_id is not None:
                continue
            held = _utc(record.updated_at)
            limit = None if held is None or limit is None else min(limit, held)
        if limit is not None:
            ledger.set_bookmark(f"export:{entity}", _advance(
                ledger.bookmark(f"export:{entity}"), limit))


def _utc(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text or "", MAGENTO_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def _advance(current: str | None, until: datetime) -> str:
    """A bookmark only moves forward (a manual rerun of an old window does not rewind it)."""
    text = until.strftime(MAGENTO_TIME)
    return max(current, text) if current else text


def _windows(recipe: Recipe, ledger: Ledger | None, since: datetime | None,
             until: datetime | None, now: datetime) -> dict[str, Window]:
    """Per entity: from the bookmark minus the overlap (or --since, or start_from) to the run's
    start minus the settle delay (or --until), all UTC (magento-rest.md §3.5, peers.md E1)."""
    settings = recipe.magento
    windows = {}
    for entity in ENTITY_TYPES:
        start = since
        if start is None and ledger is not None:
            mark = ledger.bookmark(f"export:{entity}")
            if mark:
                start = datetime.strptime(mark, MAGENTO_TIME).replace(tzinfo=UTC) - \
                    timedelta(seconds=settings.overlap_seconds)
        if start is None and settings.start_from is not None:
            start = settings.start_from
        end = until
        if end is None and ledger is not None:
            end = now - timedelta(seconds=settings.settle_seconds)
        windows[entity] = Window(start, end, settings.store_ids,
                                 settings.order_statuses if entity == "orders" else ())
    return windows


@dataclass(frozen=True)
class _Queued:
    """A page waiting for its outcome (a saved page's body is empty: its decoder reads it),
    and its number in the raw index."""

    page: RawPage
    number: int


class _Ids:
    """A set of Magento ids as a bitmap: an eighth of a byte per id up to the largest (ids
    count up from 1) instead of some 70 bytes per id in a set, so that what the export has seen
    does not grow its memory with every record. An id past BITMAP_LIMIT (or below 0) is kept
    in a plain set."""

    BITMAP_LIMIT = 1 << 27  # 16 MiB of bitmap at most

    def __init__(self) -> None:
        self.bits = bytearray()
        self.others: set[int] = set()
        self.count = 0

    def __contains__(self, number: object) -> bool:
        if isinstance(number, int) and 0 <= number < self.BITMAP_LIMIT:
            at = number >> 3
            return at < len(self.bits) and bool(self.bits[at] >> (number & 7) & 1)
        return number in self.others

    def add(self, number: int) -> None:
        if number in self:
            return
        self.count += 1
        if 0 <= number < self.BITMAP_LIMIT:
            at = number >> 3
            if at >= len(self.bits):  # at least doubled: growing stays cheap
                self.bits.extend(bytes(max(at + 1 - len(self.bits), len(self.bits))))
            self.bits[at] |= 1 << (number & 7)
        else:
            self.others.add(number)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        block = 4096
        empty = bytes(block)
        for start in range(0, len(self.bits), block):  # blocks of nothing skipped at C speed
            if self.bits[start:start + block] == empty[:len(self.bits) - start]:
                continue
            for at in range(start, min(start + block, len(self.bits))):
                byte = self.bits[at]
                if byte:
                    yield from (at * 8 + bit for bit in range(8) if byte >> bit & 1)
        yield from sorted(self.others)


class _Pages:
    """Pages in the order they came: decoded here or in a worker (work_pool), repeats dropped
    by entity id, bad pages and records quarantined, rows handed to the checkpoint writer."""

    def __init__(self, recipe: Recipe, run_id: str, writer: CheckpointWriter,
                 result: ExportResult, filter_locally: bool, workers: int | None = None) -> None:
        self.recipe, self.run_id, self.writer, self.result = recipe, run_id, writer, result
        self.seen: dict[str, _Ids] = {entity: _Ids() for entity in ENTITY_TYPES}
        # Records whose values their columns cannot hold: quarantined, and a repeat of one
        # later in the export is dropped like any repeat.
        self.rejected: dict[str, set[int]] = {entity: set() for entity in ENTITY_TYPES}
        self.raw_pages: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
        self.filter_locally = filter_locally
        self.order_refs = _Ids()  # orders invoices and credit memos point at (live stores)
        self.bad_ids: dict[str, set[int]] = {entity: set() for entity in ENTITY_TYPES}
        self.raw = _RawWriter(writer.folder / "raw", copy=not filter_locally)
        self.decoder: OrderedPool[_Queued, PageJob, PageOutcome] = OrderedPool(
            decode_page, default_workers() if workers is None else workers,
            start_after=PARALLEL_AFTER_PAGES, folder=writer.folder)

    def take(self, page: RawPage, window: Window, *, saved: bool = False) -> None:
        """Queue a page; `saved` when it is a file not read yet (its decoder reads it)."""
        entity = page.entity
        self.result.pages += 1
        progress.advance("export-orders", 1, unit="pages")
        self.raw_pages[entity] += 1
        self.raw.keep(page, self.raw_pages[entity])
        job = PageJob(entity, page.origin, body=None if saved else page.body, digest=saved,
                      filter_locally=self.filter_locally, since=window.text(window.since),
                      until=window.text(window.until), store_ids=window.store_ids)
        self.decoder.put(_Queued(page, self.raw_pages[entity]), job)
        for queued, outcome in self.decoder.ready():
            self._settle(queued, outcome)

    def settle(self) -> None:
        """Every queued page handled, so `seen`, `order_refs` and `bad_ids` are complete."""
        for queued, outcome in self.decoder.drain():
            self._settle(queued, outcome)

    def close(self) -> None:
        self.result.worker_pages = self.decoder.submitted
        self.decoder.close()

    def _settle(self, queued: _Queued, outcome: PageOutcome) -> None:
        page, entity = queued.page, queued.page.entity
        if outcome.unreadable is not None:
            raise UsageError(f"Cannot read {page.origin}: {outcome.unreadable}")
        if outcome.digest is not None and not self.raw.copy:
            self.raw.saved(page, queued.number, outcome.size, outcome.digest)
        if outcome.bad_page is not None:
            body = page.body or outcome.body or b""
            self.result.unreadable_pages += 1
            self.result.bad_pages.append(_quarantine(
                self.recipe.state_dir, self.run_id,
                RawPage(entity, page.number, body, page.origin), outcome.bad_page))
            return
        where = RawPage(entity, page.number, b"", page.origin)  # a tag without the body
        for index, raw, problem in outcome.bad_records:
            self._reject(where, index, raw, problem)
        seen, rejected = self.seen[entity], self.rejected[entity]
        keep: list[bool] = []
        for index, identity, order_id, status in outcome.records:
            if identity in seen or identity in rejected:
                self.result.duplicates += 1
                if status == ROW:
                    keep.append(False)
                continue
            if status != ROW and status != REJECTED:
                continue  # outside the window
            if order_id is not None and not self.filter_locally:
                self.order_refs.add(order_id)
            if status == REJECTED:
                rejected.add(identity)
                raw, problem = outcome.rejected[index]
                self._reject(where, index, raw, problem, verbatim=False)
                continue
            seen.add(identity)
            keep.append(True)
        self._gather(entity, outcome, keep)

    def _gather(self, entity: str, outcome: PageOutcome, keep: list[bool]) -> None:
        tables = outcome.tables
        if not all(keep):  # repeats of records met on an earlier page (or this one)
            lines = list(itertools.chain.from_iterable(
                itertools.repeat(k, n) for k, n in zip(keep, outcome.lines, strict=True)))
            tables = {name: batch.filter(pa.array(keep if name == entity else lines, pa.bool_()))
                      for name, batch in tables.items()}
        for name, batch in tables.items():
            if batch.num_rows:
                self.writer.write(name, batch)

    def _reject(self, page: RawPage, index: int, raw: bytes, problem: str,
                verbatim: bool = True) -> None:
        line, record = _quarantine_record(self.recipe.state_dir, self.run_id, page, index,
                                          raw, problem, not self.filter_locally, verbatim)
        self.result.bad_pages.append(line)
        self.result.bad_records.append(record)
        if record.entity_id is not None:
            self.bad_ids[page.entity].add(record.entity_id)


RAW_INDEX = "index.json"
DIGEST = "blake3"  # the index's key for page_digest
_ZSTD = pa.Codec("zstd", compression_level=1)


class _RawWriter:
    """Keeps every verbatim page for audit and replay. `raw/index.json` lists each page:
    entity, page number, origin, size and digest of the bytes decoded. A saved page (folder
    source) is not copied: its entry names the file (`source`), so audit finds it and sees if
    it changed since; whoever decodes it (a worker, often) hashes it. A live store's page is
    written to `raw/<entity>/page-NNNN.json.zst` (`file`): zstd level 1, a standard frame
    (`zstd -d` reads it), cheaper than gzip level 1 and a twentieth of the bytes' size; on a
    second thread (blake3 and zstd release the GIL), off the hot path, which for a live store
    is the network. At most a few pages wait."""

    def __init__(self, folder: Path, *, copy: bool, pending_limit: int = 8) -> None:
        self.folder, self.copy = folder, copy
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw-pages")
        self.pending: deque[Future[dict[str, Any]]] = deque()
        self.index: list[dict[str, Any]] = []
        self.limit = pending_limit
        self.folders: dict[str, Path] = {}  # each saved page's folder, resolved once

    def keep(self, page: RawPage, number: int) -> None:
        """A live store's page: copied and hashed on the second thread. A saved page: only
        the fault point here; `saved` lists it once its decoder has hashed it."""
        target = None
        if self.copy:
            target = self.folder / page.entity / f"page-{number:04d}.json.zst"
            target.parent.mkdir(parents=True, exist_ok=True)
        fault_point("export.raw-page", target or self.folder / RAW_INDEX)
        if target is None:
            return
        while len(self.pending) >= self.limit:
            self.index.append(self.pending.popleft().result())
        self.pending.append(self.pool.submit(_keep_page, page, number, target))

    def saved(self, page: RawPage, number: int, size: int, digest: str) -> None:
        """A saved page's entry, in page order: the size and digest of the bytes decoded."""
        self.index.append({"entity": page.entity, "page": number, "origin": page.origin,
                           "size": size, DIGEST: digest, "source": str(self._resolved(page))})

    def _resolved(self, page: RawPage) -> Path:
        origin = Path(page.origin)
        folder = self.folders.get(str(origin.parent))
        if folder is None:
            folder = self.folders[str(origin.parent)] = origin.parent.resolve()
        return folder / origin.name

    def close(self) -> Path:
        """Wait for every page (re-raising a write error), then write the index; before the
        manifest, which records the index's SHA-256."""
        while self.pending:
            self.index.append(self.pending.popleft().result())
        self.pool.shutdown()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / RAW_INDEX
        path.write_text(json.dumps({"pages": self.index}, indent=1), encoding="utf-8")
        return path


def _keep_page(page: RawPage, number: int, target: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"entity": page.entity, "page": number, "origin": page.origin,
                             "size": len(page.body),
                             DIGEST: page_digest(page.body)}
    target.write_bytes(_ZSTD.compress(page.body, asbytes=True))
    entry["file"] = target.relative_to(target.parent.parent).as_posix()
    return entry


def read_raw_page(index_path: Path, entry: dict[str, Any]) -> bytes:
    """A kept page's verbatim bytes, from its `raw/index.json` entry (checked against its
    size and digest: a ValueError says a saved source file has changed since the export).
    An index written before the digest was BLAKE3 gives each page's SHA-256 instead."""
    if "file" in entry:
        body = _ZSTD.decompress((index_path.parent / entry["file"]).read_bytes(),
                                decompressed_size=entry["size"], asbytes=True)
    else:
        body = Path(entry["source"]).read_bytes()
    digest = page_digest(body) if DIGEST in entry else hashlib.sha256(body).hexdigest()
    if len(body) != entry["size"] or digest != entry.get(DIGEST, entry.get("sha256")):
        raise ValueError(f"{entry.get('source') or entry['file']}: not the page exported "
                         f"(size or digest differs from {index_path})")
    return body


def _saved_pages(source: FolderSource, entity: str) -> Iterator[RawPage]:
    """A folder's pages, numbered as FolderSource numbers them, without their bytes: whoever
    decodes a page reads it (a worker, for most pages of a large export)."""
    for number, path in enumerate(source.files(entity), start=1):
        yield RawPage(entity, number, b"", str(path))


def _take_pages(page_source: PageSource, pages: _Pages, windows: dict[str, Window],
                live: bool, triggered: dict[str, set[int]]) -> None:
    saved = isinstance(page_source, FolderSource)
    for entity in ENTITY_TYPES:
        listed = _saved_pages(page_source, entity) if isinstance(page_source, FolderSource) \
            else page_source.pages(entity, windows[entity])
        for page in listed:
            pages.take(page, windows[entity], saved=saved)
    pages.settle()
    if not live:
        return
    # What a webhook named, then the orders that invoices and credit memos point at, even
    # when they lie outside the window.
    for entity, ids in triggered.items():
        _fetch_ids(page_source, pages, entity, {i for i in ids if i not in pages.seen[entity]}
                   - pages.bad_ids[entity])
    orders = sorted(triggered.get("orders", set()))
    for start in range(0, len(orders), LINKED_ORDERS_CHUNK):
        chunk = tuple(orders[start:start + LINKED_ORDERS_CHUNK])
        for entity in ("invoices", "creditmemos"):  # a changed order may have new ones
            for page in page_source.pages(entity, Window(order_ids=chunk)):
                pages.take(page, Window())
    pages.settle()
    missing = {i for i in pages.order_refs if i not in pages.seen["orders"]} \
        - pages.bad_ids["orders"]
    _fetch_ids(page_source, pages, "orders", missing)
    pages.result.linked_orders = len(missing)


def _export(recipe: Recipe, run_id: str, page_source: PageSource, description: str,
            windows: dict[str, Window], live: bool,
            triggered: dict[str, set[int]] | None = None,
            workers: int | None = None) -> ExportResult:
    writer = CheckpointWriter(recipe.state_dir, run_id, "export-orders", KIND, recipe, [])
    for name, schema in MAGENTO_TABLES.items():
        writer.declare(name, schema)
    result = ExportResult(manifest=Path())
    pages = _Pages(recipe, run_id, writer, result, filter_locally=not live, workers=workers)
    try:
        _take_pages(page_source, pages, windows, live, triggered or {})
    finally:
        pages.close()
    raw_index = pages.raw.close()
    try:
        stores = _stores(page_source)
    except _BadStores as bad:
        stores = None
        result.unreadable_pages += 1
        result.bad_pages.append(_quarantine_stores(recipe.state_dir, run_id, bad))
    if stores is not None:
        writer.write("stores", stores)
    result.counts = {entity: len(ids) for entity, ids in pages.seen.items()}
    fault_point("export.finish", writer.folder / "manifest.json")
    result.manifest = writer.finish(summary={
        "source": description, "pages": result.pages, "counts": result.counts,
        "duplicates_dropped": result.duplicates, "bad_pages": result.bad_pages,
        "linked_orders": result.linked_orders,
        "windows": {entity: {"since": w.text(w.since), "until": w.text(w.until)}
                    for entity, w in windows.items()},
        "store_ids": list(recipe.magento.store_ids)}, files={"raw_index": raw_index})
    return result


class _StoreView(msgspec.Struct):
    id: int
    code: str = ""
    name: str = ""
    website_id: int = 0


class _Website(msgspec.Struct):
    id: int
    code: str = ""
    name: str = ""


class _BadStores(Exception):
    def __init__(self, path: str, body: bytes, problem: str) -> None:
        super().__init__(problem)
        self.path, self.body, self.problem = path, body, problem


def _quarantine_stores(state_dir: Path, run_id: str, bad: _BadStores) -> str:
    """A store or website list that cannot be read: kept beside an `.error.txt`; the export
    goes on without the stores table (only store-to-company mapping needs it)."""
    folder = state_dir / "quarantine" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"stores-{bad.path.rsplit('/', 1)[-1]}.json"
    target.write_bytes(bad.body)
    target.with_name(target.name + ".error.txt").write_text(
        f"GET {bad.path}: {bad.problem}\nExpected: a JSON list of Magento store views or "
        "websites (id, code, name).\nThe orders, invoices, credit memos and customers were "
        "exported; the stores table was left out of this export.\n", encoding="utf-8")
    return f"GET {bad.path}: {bad.problem} (copied to {target})"


def _decode_list(path: str, body: bytes, type_: type) -> list[Any]:
    try:
        return msgspec.json.decode(body, type=list[type_])  # type: ignore[valid-type]
    except msgspec.DecodeError as exc:
        raise _BadStores(path, body, position(body, str(exc)) + str(exc)) from None
    except RecursionError:
        raise _BadStores(path, body, "JSON nested too deeply to be a store list") from None


def _stores(page_source: PageSource) -> pa.Table | None:
    """Store views joined to their websites; None when the source has no store list."""
    views_body = page_source.get_json("/V1/store/storeViews")
    sites_body = page_source.get_json("/V1/store/websites")
    if views_body is None:
        return None
    views = _decode_list("/V1/store/storeViews", views_body, _StoreView)
    sites = {w.id: w for w in _decode_list("/V1/store/websites", sites_body or b"[]",
                                           _Website)}
    rows = [{"store_id": v.id, "code": v.code, "name": v.name, "website_id": v.website_id,
             "website_code": sites[v.website_id].code if v.website_id in sites else None,
             "website_name": sites[v.website_id].name if v.website_id in sites else None}
            for v in views if v.id != 0]  # 0 is the admin store
    try:
        return pa.Table.from_pylist(rows, schema=MAGENTO_TABLES["stores"])
    except (pa.ArrowInvalid, OverflowError) as exc:  # an id past 64 bits
        raise _BadStores("/V1/store/storeViews", views_body, str(exc)) from None


def _fetch_ids(page_source: PageSource, pages: _Pages, entity: str, ids: set[int]) -> None:
    ordered = sorted(ids)
    for start in range(0, len(ordered), LINKED_ORDERS_CHUNK):
        chunk = tuple(ordered[start:start + LINKED_ORDERS_CHUNK])
        for page in page_source.pages(entity, Window(entity_ids=chunk)):
            pages.take(page, Window())
    pages.settle()


def parse_utc(text: str, *, end_of_day: bool = False) -> datetime:
    """A --since/--until value, in UTC: ISO 8601 with or without a zone ('2026-11-30',
    '2026-11-30 14:00:00', '2026-11-30T14:00:00+01:00', '...Z'); a time without a zone is UTC.
    A date alone is the start of that day, or with `end_of_day` (--until) its last second, so
    `--until 2026-11-30` takes the whole of the 30th."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(text) from None
    if end_of_day and not any(c in text for c in "T :"):  # a date alone
        moment = moment.replace(hour=23, minute=59, second=59)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
