"""The export-orders step: Magento pages -> the typed tables of a magento-export checkpoint.

Pages are decoded one at a time and flushed to Parquet every few pages, so memory stays flat.
Each verbatim page is kept gzipped under `raw/` for audit and replay (bodies only: request
headers, and so credentials, are never stored). Records repeated across pages are dropped by
entity id. A page that cannot be decoded is copied to `STATE/quarantine/` with an `.error.txt`
beside it; the export goes on with the other pages and reports it (exit 65).
"""

from __future__ import annotations

import gzip
import re
import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pyarrow as pa
from requests.auth import AuthBase

from sagesync.magento.client import MAGENTO_TIME, RawPage, RestSource, Window
from sagesync.magento.entities import ENTITY_TYPES, PAGE_DECODERS
from sagesync.magento.http import RetryPolicy
from sagesync.magento.source import FolderSource, PageSource
from sagesync.magento.tables import MagentoTableBuilder
from sagesync.model.schemas import MAGENTO_TABLES
from sagesync.pipeline.checkpoint import CheckpointWriter, open_checkpoint
from sagesync.pipeline.ledger import Ledger
from sagesync.pipeline.transform_step import exported_records
from sagesync.recipe import Recipe

KIND = "magento-export"
FLUSH_EVERY_ROWS = 20_000
LINKED_ORDERS_CHUNK = 100


@dataclass
class ExportResult:
    manifest: Path
    counts: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    duplicates: int = 0
    bad_pages: list[str] = field(default_factory=list)
    amended: list[str] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    linked_orders: int = 0


def magento_auth(recipe: Recipe, base_url: str) -> AuthBase:
    """The recipe's Magento authentication (secrets come from the environment or .env)."""
    from sagesync.magento.auth import make_auth

    settings = {**recipe.magento.auth_settings, "token": recipe.magento.token or "",
                "base_url": base_url}
    return make_auth(recipe.magento.auth, settings)


def open_source(recipe: Recipe, override: str | None) -> tuple[PageSource, str]:
    """The page source and a description of it that holds no secret."""
    target = override
    if target is None:
        target = recipe.magento.base_url or str(recipe.magento.source)
    if re.match(r"^https?://", target):
        settings = recipe.magento
        source = RestSource(target, magento_auth(recipe, target),
                            page_size=settings.page_size, timeout=settings.timeout_seconds,
                            concurrency=settings.concurrency,
                            retry=RetryPolicy(attempts=settings.retry_attempts),
                            auth_kind=settings.auth)
        return source, target
    return FolderSource(Path(target)), target


def _position(body: bytes, message: str) -> str:
    """Line and column of a JSON syntax error, from the byte offset msgspec reports."""
    found = re.search(r"byte (\d+)", message)
    if not found:
        return ""
    offset = min(int(found.group(1)), len(body))
    line = body.count(b"\n", 0, offset) + 1
    column = offset - (body.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}: "


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


def export_orders(recipe: Recipe, run_id: str, ledger: Ledger | None, *,
                  source: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, now: datetime | None = None) -> ExportResult:
    """Export, then tell the ledger what was seen and move the bookmarks (unless this is a dry
    run: ledger None). Bookmarks move only after the checkpoint is durable and registered, and
    never when a page was bad, so a failed export is simply repeated by the next run."""
    page_source, description = open_source(recipe, source)
    live = isinstance(page_source, RestSource)
    windows = _windows(recipe, ledger if live else None, since, until,
                       now or datetime.now(UTC))
    triggered = ledger.pending_triggers() if ledger is not None and live else {}
    result = _export(recipe, run_id, page_source, description, windows, live, triggered)
    if ledger is not None:
        records = exported_records(recipe, open_checkpoint(result.manifest))
        registered = ledger.register_exported(records, str(result.manifest))
        result.amended = [f"{k}: {why}" for k, why in registered.amended]
        result.voided = [f"{k}: {why}" for k, why in registered.voided]
        if live and not result.bad_pages:
            ledger.consume_triggers()
            for entity, window in windows.items():
                if window.until is not None:
                    ledger.set_bookmark(f"export:{entity}", _advance(
                        ledger.bookmark(f"export:{entity}"), window.until))
    return result


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


class _Pages:
    """Decodes pages into the table builder, keeping raw copies and dropping repeats."""

    def __init__(self, recipe: Recipe, run_id: str, writer: CheckpointWriter,
                 result: ExportResult, filter_locally: bool) -> None:
        self.recipe, self.run_id, self.writer, self.result = recipe, run_id, writer, result
        self.builder = MagentoTableBuilder()
        self.seen: dict[str, set[int]] = {entity: set() for entity in ENTITY_TYPES}
        self.raw_pages: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
        self.filter_locally = filter_locally
        self.order_refs: set[int] = set()
        self.raw = _RawWriter()

    def take(self, page: RawPage, window: Window) -> None:
        entity = page.entity
        self.result.pages += 1
        self.raw_pages[entity] += 1
        raw_dir = self.writer.folder / "raw" / entity
        raw_dir.mkdir(parents=True, exist_ok=True)
        self.raw.write(raw_dir / f"page-{self.raw_pages[entity]:04d}.json.gz", page.body)
        try:
            decoded = PAGE_DECODERS[entity].decode(page.body)
        except msgspec.DecodeError as exc:
            message = str(exc)
            problem = _position(page.body, message) + message
            self.result.bad_pages.append(_quarantine(self.recipe.state_dir, self.run_id, page,
                                                     problem))
            return
        seen = self.seen[entity]
        since, until = window.text(window.since), window.text(window.until)
        for item in decoded.items:
            identity = item.id if entity == "customers" else item.entity_id
            if identity in seen:
                self.result.duplicates += 1
                continue
            if self.filter_locally and not _in_window(item, since, until, window.store_ids,
                                                      entity):
                continue
            seen.add(identity)
            if entity in ("invoices", "creditmemos"):
                self.order_refs.add(item.order_id)
            self.builder.add(entity, item)
        if self.builder.pending_rows() >= FLUSH_EVERY_ROWS:
            self.flush()

    def flush(self) -> None:
        for name, batch in self.builder.take().items():
            self.writer.write(name, batch)


class _RawWriter:
    """Gzips the verbatim pages on a second thread (zlib releases the GIL), so keeping them
    for audit overlaps with decoding instead of adding to it. At most a few pages wait."""

    def __init__(self, pending_limit: int = 8) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw-pages")
        self.pending: deque[Future[None]] = deque()
        self.limit = pending_limit

    def write(self, path: Path, body: bytes) -> None:
        while len(self.pending) >= self.limit:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(_gzip_to, path, body))

    def close(self) -> None:
        """Wait for every page (re-raising a write error) before the manifest is written."""
        while self.pending:
            self.pending.popleft().result()
        self.pool.shutdown()


def _gzip_to(path: Path, body: bytes) -> None:
    path.write_bytes(gzip.compress(body, compresslevel=1, mtime=0))


def _export(recipe: Recipe, run_id: str, page_source: PageSource, description: str,
            windows: dict[str, Window], live: bool,
            triggered: dict[str, set[int]] | None = None) -> ExportResult:
    writer = CheckpointWriter(recipe.state_dir, run_id, "export-orders", KIND, recipe, [])
    for name, schema in MAGENTO_TABLES.items():
        writer.declare(name, schema)
    result = ExportResult(manifest=Path())
    pages = _Pages(recipe, run_id, writer, result, filter_locally=not live)
    for entity in ENTITY_TYPES:
        for page in page_source.pages(entity, windows[entity]):
            pages.take(page, windows[entity])
    if live:
        # What a webhook named, then the orders that invoices and credit memos point at,
        # even when they lie outside the window.
        for entity, ids in (triggered or {}).items():
            _fetch_ids(page_source, pages, entity, ids - pages.seen[entity])
        orders = sorted((triggered or {}).get("orders", set()))
        for start in range(0, len(orders), LINKED_ORDERS_CHUNK):
            chunk = tuple(orders[start:start + LINKED_ORDERS_CHUNK])
            for entity in ("invoices", "creditmemos"):  # a changed order may have new ones
                for page in page_source.pages(entity, Window(order_ids=chunk)):
                    pages.take(page, Window())
        missing = pages.order_refs - pages.seen["orders"]
        _fetch_ids(page_source, pages, "orders", missing)
        result.linked_orders = len(missing)
    pages.flush()
    pages.raw.close()
    stores = _stores(page_source)
    if stores is not None:
        writer.write("stores", stores)
    result.counts = {entity: len(ids) for entity, ids in pages.seen.items()}
    result.manifest = writer.finish(summary={
        "source": description, "pages": result.pages, "counts": result.counts,
        "duplicates_dropped": result.duplicates, "bad_pages": result.bad_pages,
        "linked_orders": result.linked_orders,
        "windows": {entity: {"since": w.text(w.since), "until": w.text(w.until)}
                    for entity, w in windows.items()},
        "store_ids": list(recipe.magento.store_ids)})
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


def _stores(page_source: PageSource) -> pa.Table | None:
    """Store views joined to their websites; None when the source has no store list."""
    views_body = page_source.get_json("/V1/store/storeViews")
    sites_body = page_source.get_json("/V1/store/websites")
    if views_body is None:
        return None
    views = msgspec.json.decode(views_body, type=list[_StoreView])
    sites = {w.id: w for w in msgspec.json.decode(sites_body or b"[]", type=list[_Website])}
    rows = [{"store_id": v.id, "code": v.code, "name": v.name, "website_id": v.website_id,
             "website_code": sites[v.website_id].code if v.website_id in sites else None,
             "website_name": sites[v.website_id].name if v.website_id in sites else None}
            for v in views if v.id != 0]  # 0 is the admin store
    return pa.Table.from_pylist(rows, schema=MAGENTO_TABLES["stores"])


def _fetch_ids(page_source: PageSource, pages: _Pages, entity: str, ids: set[int]) -> None:
    ordered = sorted(ids)
    for start in range(0, len(ordered), LINKED_ORDERS_CHUNK):
        chunk = tuple(ordered[start:start + LINKED_ORDERS_CHUNK])
        for page in page_source.pages(entity, Window(entity_ids=chunk)):
            pages.take(page, Window())


def _in_window(item: object, since: str | None, until: str | None, store_ids: tuple[int, ...],
               entity: str) -> bool:
    updated = getattr(item, "updated_at", None) or getattr(item, "created_at", None) or ""
    if since and updated < since:
        return False
    if until and updated > until:
        return False
    return not (store_ids and entity != "customers"
                and getattr(item, "store_id", None) not in store_ids)


def parse_utc(text: str) -> datetime:
    """A --since/--until value: 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS', taken as UTC."""
    for fmt in (MAGENTO_TIME, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(text)
