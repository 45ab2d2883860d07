"""Deliver files into a local (or mounted) folder so that a reader never sees half a file.

Each file is written under a hidden temporary name in the target folder, flushed to disk, then
renamed (sagesync.fs): a rename within one folder is atomic on Windows and POSIX alike, so Sage
(or whoever collects the folder) sees either nothing or the whole file. The temporary name is
derived from the file's (`.B000001-2-audit_trail.csv.tmp`), not random, so recovery after a
crash can tell "still under its temporary name: never renamed" from "gone: renamed, then
collected".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from sagesync.errors import TransientError
from sagesync.fs import write_atomically

__all__ = ["TEMP_SUFFIX", "FolderDelivery", "temporary_path"]

TEMP_SUFFIX = ".tmp"


def temporary_path(target: Path) -> Path:
    """Where `target` is written before it is renamed into place (hidden, one per file)."""
    return target.with_name(f".{target.name}{TEMP_SUFFIX}")


class FolderDelivery:
    """A :class:`sagesync.delivery.base.Delivery` into `folder`. A file already there under
    a batch's name is never replaced (as on SFTP): it is not this ledger's, and whoever wrote
    it still expects Sage to read it. (Checked just before writing: a file created in the
    instant between the check and the rename would still be replaced.)"""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def prepare(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransientError(f"Cannot create the delivery folder {self.folder}: "
                                 f"{exc.strerror}. Nothing was sent; the next run "
                                 "retries.") from None

    def location(self, name: str) -> str:
        return str(self.folder / name)

    def deliver(self, name: str, data: bytes | Iterable[bytes],
                ready: Callable[[], None] | None = None) -> str:
        """Write `name` under its temporary name, flush it to disk, call `ready` (the caller
        journals that the file is complete but not yet in place), then rename it into place.
        `data` may be byte chunks: they are streamed, so the file never sits in memory."""
        target = self.folder / name
        temporary = temporary_path(target)
        if target.exists():  # never replaced: it is another writer's, not yet collected
            raise TransientError(
                f"{target} already exists: sagesync never overwrites a file in the delivery "
                "folder. Nothing of this batch's file was written and its records stay "
                "queued for the next batch. Another recipe or state folder delivers into "
                "this folder (give each its own [delivery] path), or the ledger was started "
                "afresh while its old files wait there (move them once Sage has them).")
        try:
            return str(write_atomically(target, data, temporary=temporary,
                                        before_replace=ready))
        except OSError as exc:
            raise TransientError(f"Cannot write {target}: {exc.strerror}. The batch stays "
                                 "queued and the next run retries.") from None

    def landed(self, location: str) -> bool:
        return Path(location).exists()

    def pending(self, location: str) -> bool:
        return temporary_path(Path(location)).exists()

    def discard_pending(self, location: str) -> None:
        temporary_path(Path(location)).unlink(missing_ok=True)

    def remove_temporaries(self) -> None:
        """Delete temporary files an interrupted delivery left behind (ours only: `.B…tmp`,
        and the random `.name.tmp-xxxx` names of earlier versions)."""
        if self.folder.is_dir():
            for pattern in (".B*" + TEMP_SUFFIX, ".*.tmp-*"):
                for leftover in self.folder.glob(pattern):
                    leftover.unlink(missing_ok=True)

    def close(self) -> None:
        """Nothing to let go of."""
