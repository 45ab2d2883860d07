"""`sagesync watch INBOX`: the bookkeeper's drop folder.

A file is taken once it has stopped changing (same size and modification time across two
looks, and not a lock or temporary name), moved to `processing/`, parsed and pushed, then moved
to `archive/YYYY-MM-DD/` or to `quarantine/` with its `.error.txt`. Polling, not OS events, so it
works on a network share. A file whose content was processed before is archived, not pushed
again (its SHA-256 is in the ledger).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sagesync.errors import ExitCode, InputFormatError, SageSyncError
from sagesync.ops.quarantine import error_text, free_name

IGNORED_PREFIXES = (".", "~$", "~")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".lock", ".error.txt")
FOLDERS = ("processing", "archive", "quarantine")


@dataclass
class WatchOutcome:
    archived: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    retry_later: list[str] = field(default_factory=list)


def candidates(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.iterdir() if p.is_file()
                  and not p.name.startswith(IGNORED_PREFIXES)
                  and not p.name.lower().endswith(IGNORED_SUFFIXES))


def kind_of(name: str) -> str | None:
    """Stock or prices, from the file name (`stock-….csv`, `prices_….csv`)."""
    lower = name.lower()
    if "stock" in lower or "inventory" in lower or "warehouse" in lower:
        return "stock"
    if "price" in lower:
        return "prices"
    return None


def _look(files: list[Path]) -> dict[Path, tuple[int, int]]:
    seen = {}
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        seen[path] = (stat.st_size, stat.st_mtime_ns)
    return seen


def stable_files(inbox: Path, settle_seconds: float,
                 sleep: Callable[[float], None] = time.sleep) -> tuple[list[Path], list[Path]]:
    """(files unchanged across two looks `settle_seconds` apart, files still changing)."""
    first = _look(candidates(inbox))
    if not first:
        return [], []
    sleep(settle_seconds)
    second = _look(candidates(inbox))
    stable = [p for p, sig in first.items() if second.get(p) == sig and sig[0] > 0]
    return stable, [p for p in second if p not in stable]


def _move(path: Path, folder: Path) -> Path:
    target = free_name(folder, path.name)
    shutil.move(str(path), target)
    return target


def process_inbox(inbox: Path, handle: Callable[[Path, str], str],
                  seen: Callable[[str], bool], remember: Callable[[str, str, str], None],
                  *, settle_seconds: float = 2.0,
                  sleep: Callable[[float], None] = time.sleep) -> WatchOutcome:
    """One pass over the inbox. `handle(path, kind)` parses and pushes, returning a summary,
    and raises SageSyncError for a file that must be quarantined (or retried later)."""
    for name in FOLDERS:
        (inbox / name).mkdir(exist_ok=True)
    outcome = WatchOutcome()
    stable, changing = stable_files(inbox, settle_seconds, sleep)
    outcome.waiting = [p.name for p in changing]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    for path in stable:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if seen(digest):
            _move(path, inbox / "archive" / today)
            outcome.duplicates.append(path.name)
            continue
        working = _move(path, inbox / "processing")
        kind = kind_of(working.name)
        try:
            if kind is None:
                raise InputFormatError(f"{working.name}: cannot tell stock from prices by the "
                                       "name; name it stock-….csv or prices-….csv")
            summary = handle(working, kind)
        except SageSyncError as error:
            if error.exit_code in (ExitCode.RETRY_LATER, ExitCode.AUTH):
                _move(working, inbox)  # Magento unreachable or refusing: same file next time
                outcome.retry_later.append(f"{path.name}: {error}")
                if error.exit_code == ExitCode.AUTH:
                    raise
                continue
            target = _move(working, inbox / "quarantine")
            report = getattr(error, "report", None) or error_text(path.name, [error], None)
            if report.startswith(f"{working}:"):  # name it as dropped, not in processing/
                report = path.name + report[len(str(working)):]
            target.with_name(target.name + ".error.txt").write_text(report, encoding="utf-8")
            remember(digest, path.name, "quarantined")
            outcome.quarantined.append(f"{path.name}: {error}")
            continue
        _move(working, inbox / "archive" / today)
        remember(digest, path.name, "pushed")
        outcome.archived.append(f"{path.name}: {summary}")
    return outcome
