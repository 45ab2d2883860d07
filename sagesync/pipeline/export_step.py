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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec

from sagesync.magento.entities import ENTITY_TYPES, PAGE_DECODERS
from sagesync.magento.source import (
    MAGENTO_TIME,
    FolderSource,
    PageSource,
    RawPage,
    RestSource,
    Window,
)
from sagesync.magento.tables import MagentoTableBuilder
from sagesync.model.schemas import MAGENTO_TABLES
from sagesync.pipeline.checkpoint import CheckpointWriter, open_checkpoint
from sagesync.pipeline.ledger import Ledger
from sagesync.pipeline.transform_step import exported_records
from sagesync.recipe import Recipe

KIND = "magento-export"
FLUSH_EVERY_ROWS = 20_000


@dataclass
class ExportResult:
    manifest: Path
    counts: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    duplicates: int = 0
    bad_pages: list[str] = field(default_factory=list)
    amended: list[str] = field(default_factory=list)


def open_source(recipe: Recipe, override: str | None) -> tuple[PageSource, str]:
    """The page source and a description of it that holds no secret."""
    target = override
    if target is None:
        target = recipe.magento.base_url or str(recipe.magento.source)
    if re.match(r"^https?://", target):
        token = recipe.magento.token or ""
        return RestSource(target, token, page_size=recipe.magento.page_size,
                          timeout=recipe.magento.timeout_seconds), target
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
                  until: datetime | None = None) -> ExportResult:
    """Export, then tell the ledger what was seen (unless this is a dry run: ledger None)."""
    result = _export(recipe, run_id, source, since, until)
    if ledger is not None:
        records = exported_records(recipe, open_checkpoint(result.manifest))
        result.amended = [str(k) for k in ledger.register_exported(records,
                                                                   str(result.manifest))]
    return result


def _export(recipe: Recipe, run_id: str, source: str | None, since: datetime | None,
            until: datetime | None) -> ExportResult:
    page_source, description = open_source(recipe, source)
    window = Window(since, until, recipe.magento.store_ids)
    writer = CheckpointWriter(recipe.state_dir, run_id, "export-orders", KIND, recipe, [])
    for name, schema in MAGENTO_TABLES.items():
        writer.declare(name, schema)
    builder = MagentoTableBuilder()
    result = ExportResult(manifest=Path())
    since_text, until_text = window.text(since), window.text(until)
    filter_locally = isinstance(page_source, FolderSource)
    for entity in ENTITY_TYPES:
        seen: set[int] = set()
        raw_dir = writer.folder / "raw" / entity
        raw_dir.mkdir(parents=True, exist_ok=True)
        decoder = PAGE_DECODERS[entity]
        for page in page_source.pages(entity, window):
            result.pages += 1
            (raw_dir / f"page-{page.number:04d}.json.gz").write_bytes(
                gzip.compress(page.body, compresslevel=6, mtime=0))
            try:
                decoded = decoder.decode(page.body)
            except msgspec.DecodeError as exc:
                message = str(exc)
                problem = _position(page.body, message) + message
                result.bad_pages.append(_quarantine(recipe.state_dir, run_id, page, problem))
                continue
            for item in decoded.items:
                identity = item.id if entity == "customers" else item.entity_id
                if identity in seen:
                    result.duplicates += 1
                    continue
                if filter_locally and not _in_window(item, since_text, until_text,
                                                     window.store_ids, entity):
                    continue
                seen.add(identity)
                builder.add(entity, item)
            if builder.pending_rows() >= FLUSH_EVERY_ROWS:
                for name, batch in builder.take().items():
                    writer.write(name, batch)
        result.counts[entity] = len(seen)
    for name, batch in builder.take().items():
        writer.write(name, batch)
    result.manifest = writer.finish(summary={
        "source": description, "pages": result.pages, "counts": result.counts,
        "duplicates_dropped": result.duplicates, "bad_pages": result.bad_pages,
        "window": {"since": since_text, "until": until_text,
                   "store_ids": list(window.store_ids)}})
    return result


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
    from datetime import UTC

    for fmt in (MAGENTO_TIME, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(text)
