"""Writing a file so that a reader sees either the old file, nothing, or the whole new file.

Checkpoint manifests, delivered Sage files and quarantine reports are all read by someone who
must never see half a file (a later run, Sage, a person). The recipe is always the same:
write under a temporary name in the same folder, flush it to disk, then `os.replace` it over
the target, which is atomic within one folder on Windows and POSIX alike.

This module sits below everything else (it imports nothing of sagesync), so delivery,
checkpoints and ops can share it without importing one another.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["random_temporary", "write_atomically"]


def random_temporary(target: Path) -> Path:
    """A hidden, unique temporary name beside `target` (`.name.tmp-1a2b3c4d`)."""
    return target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")


def write_atomically(target: Path, data: bytes | Iterable[bytes], *,
                     temporary: Path | None = None,
                     before_replace: Callable[[], None] | None = None) -> Path:
    """Write `data` to `temporary` (a random hidden name beside `target` by default), flush
    and fsync it, call `before_replace` (the data is durable but not yet in place: callers
    journal that, or tests crash there), then rename it over `target`. Returns `target`.
    `data` may be byte chunks, written as they come (a large file never sits in memory).

    OSError propagates: each caller knows what a failed write means for its own reader.
    """
    temporary = temporary if temporary is not None else random_temporary(target)
    with temporary.open("wb") as handle:
        for chunk in (data,) if isinstance(data, bytes | bytearray) else data:
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    if before_replace is not None:
        before_replace()
    os.replace(temporary, target)
    return target
