"""Deliver files into a folder so that a reader never sees half a file.

Each file is written under a hidden temporary name in the target folder, flushed to disk, then
renamed: a rename within one folder is atomic on Windows and POSIX alike, so Sage (or whoever
collects the folder) sees either nothing or the whole file.
"""

from __future__ import annotations

from pathlib import Path

from sagesync.errors import TransientError
from sagesync.pipeline.checkpoint import write_atomically

TEMP_PREFIX = ".sagesync-"


def prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TransientError(f"Cannot create the delivery folder {folder}: {exc.strerror}. "
                             "Nothing was sent; the next run retries.") from None


def deliver_file(folder: Path, name: str, data: bytes) -> Path:
    target = folder / name
    try:
        write_atomically(target, data)
    except OSError as exc:
        raise TransientError(f"Cannot write {target}: {exc.strerror}. The batch stays queued "
                             "and the next run retries.") from None
    return target


def remove_temporaries(folder: Path) -> None:
    """Delete temporary files an interrupted delivery left behind."""
    if folder.is_dir():
        for leftover in folder.glob(".*.tmp-*"):
            leftover.unlink(missing_ok=True)
