"""Named crash points, so tests can kill a run at the exact moments that matter.

With the environment variable SAGESYNC_CRASH_AT=<point>[:<n>] the process dies at once the n-th
time (default the first) it passes that point, as a power cut would: no cleanup, no flush.
Unset, a crash point costs one dictionary lookup. The crash tests use these beside SIGKILL at
random moments, so that every window between a file landing and the ledger knowing is hit.

Fault points are the gentler twin: SAGESYNC_FAULT_AT=<point>[:<n>]=<fault> raises, at that
point, the error a full disk gives (ENOSPC, EDQUOT, or SQLite's SQLITE_FULL), so a test can
prove a full state folder ends a run with a clear message and exit 75 without a real full
disk (a tiny tmpfs is not available everywhere).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections import Counter
from pathlib import Path

_passed: Counter[str] = Counter()
_faulted: Counter[str] = Counter()
FAULTS = ("ENOSPC", "EDQUOT", "SQLITE_FULL")


def fault_point(name: str, path: Path | None = None) -> None:
    """Raise the configured disk-full error the n-th time this point is passed; `path` is the
    file being written there, so the error names it as the operating system would."""
    wanted = os.environ.get("SAGESYNC_FAULT_AT")
    if not wanted:
        return
    where, _, fault = wanted.partition("=")
    point, _, count = where.partition(":")
    if point != name:
        return
    if fault not in FAULTS:
        raise ValueError(f"SAGESYNC_FAULT_AT: unknown fault {fault!r} (one of {FAULTS})")
    _faulted[name] += 1
    if _faulted[name] != int(count or 1):
        return
    if fault == "SQLITE_FULL":
        raise sqlite3.OperationalError("database or disk is full")
    code = errno.ENOSPC if fault == "ENOSPC" else getattr(errno, "EDQUOT", errno.ENOSPC)
    raise OSError(code, os.strerror(code), None if path is None else str(path))


def crash_point(name: str) -> None:
    wanted = os.environ.get("SAGESYNC_CRASH_AT")
    if not wanted:
        return
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _passed[name] += 1
    if _passed[name] >= int(count or 1):
        os._exit(137)
