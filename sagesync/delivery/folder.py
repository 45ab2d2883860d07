"""Deliver files into a folder so that a reader never sees half a file.

Each file is written under a hidden temporary name in the target folder, flushed to disk, then
renamed: a rename within one folder is atomic on Windows and POSIX alike, so Sage (or whoever
collects the folder) sees either nothing or the whole file. The temporary name is derived from
the file's (`.B000001-2-audit_trail.csv.tmp`), not random, so recovery after a crash can tell
"still under its temporary name: never renamed" from "gone: renamed, then collected".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sagesync.errors import TransientError
from sagesync.pipeline.faults import crash_point

TEMP_SUFFIX = ".tmp"


def prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TransientError(f"Cannot create the delivery folder {folder}: {exc.strerror}. "
                             "Nothing was sent; the next run retries.") from None


def temporary_path(target: Path) -> Path:
    """Where `target` is written before it is renamed into place (hidden, one per file)."""
    return target.with_name(f".{target.name}{TEMP_SUFFIX}")


def deliver_file(folder: Path, name: str, data: bytes,
                 ready: Callable[[], None] | None = None) -> Path:
    """Write `name` under its temporary name, flush it to disk, call `ready` (the caller
    journals that the file is complete but not yet in place), then rename it into place."""
    target = folder / name
    temporary = temporary_path(target)
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if ready is not None:
            ready()
        crash_point("before-rename")
        os.replace(temporary, target)
    except OSError as exc:
        raise TransientError(f"Cannot write {target}: {exc.strerror}. The batch stays queued "
                             "and the next run retries.") from None
    return target


def remove_temporaries(folder: Path) -> None:
    """Delete temporary files an interrupted delivery left behind (ours only: `.B…tmp`, and
    the random `.name.tmp-xxxx` names of earlier versions)."""
    if folder.is_dir():
        for pattern in (".B*" + TEMP_SUFFIX, ".*.tmp-*"):
            for leftover in folder.glob(pattern):
                leftover.unlink(missing_ok=True)
