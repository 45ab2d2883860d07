"""Where Magento pages come from: a folder of saved REST responses, or a live store.

Both yield the verbatim response bodies page by page; decoding is the caller's job, so the
export can keep every raw page for audit and replay exactly as it was received: a saved page
by reference (its `origin` is the file's path; the export records its size and SHA-256), a
live store's page as a compressed copy in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sagesync.errors import UsageError

MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"  # UTC, no offset (magento-rest.md §3.6)


@dataclass(frozen=True)
class RawPage:
    """One response body and where it came from (a file path or a request description)."""

    entity: str
    number: int
    body: bytes
    origin: str


@dataclass(frozen=True)
class Window:
    """What to export: an `updated_at` window in UTC (either end open), stores, statuses,
    or explicit entity ids (to fetch the orders that invoices point at)."""

    since: datetime | None = None
    until: datetime | None = None
    store_ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    entity_ids: tuple[int, ...] = ()
    order_ids: tuple[int, ...] = ()  # invoices and credit memos of these orders

    @staticmethod
    def text(value: datetime | None) -> str | None:
        return None if value is None else value.strftime(MAGENTO_TIME)


class PageSource(Protocol):
    def pages(self, entity: str, window: Window) -> Iterator[RawPage]: ...

    def get_json(self, path: str) -> bytes | None: ...


class FolderSource:
    """Saved pages: `<folder>/<entity>/*.json`, read in name order.

    The window is applied by the caller after decoding (the files hold whatever was saved).
    """

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError(f"Magento source folder not found or not a folder: {folder}",
                             hint="Set [magento] source in the recipe, or pass --source.")
        self.folder = folder
        entities = ("orders", "invoices", "creditmemos", "customers")
        if not any(self.files(entity) for entity in entities):
            raise UsageError(
                f"{folder} holds no Magento pages: expected JSON pages in "
                + ", ".join(f"{entity}/" for entity in entities) + " under it.",
                hint="Point [magento] source or --source at a folder of saved REST pages (as "
                     "samples/magento), or at the store's REST base URL.")

    def files(self, entity: str) -> list[Path]:
        """The saved pages of one entity, in the order (and so the numbers) `pages` gives;
        the export has them read where they are decoded."""
        entity_dir = self.folder / entity
        return sorted(entity_dir.glob("*.json")) if entity_dir.is_dir() else []

    def pages(self, entity: str, window: Window) -> Iterator[RawPage]:
        for number, path in enumerate(self.files(entity), start=1):
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise UsageError(f"Cannot read {path}: {exc.strerror}") from None
            yield RawPage(entity, number, body, str(path))


    def get_json(self, path: str) -> bytes | None:
        """A saved store or website list: `<folder>/stores/storeViews.json` and the like."""
        saved = self.folder / "stores" / (path.rsplit("/", 1)[-1] + ".json")
        return saved.read_bytes() if saved.is_file() else None
