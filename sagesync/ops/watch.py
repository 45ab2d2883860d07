"""`sagesync watch INBOX`: the bookkeeper's drop folder.

One pass, under a lock so two watchers never share an inbox:

1. **Resume.** A file left in `processing/` was being pushed when the last pass died. It is
   pushed again under the same run id: pushes send only what differs from the ledger's
   `pushed` snapshot, and each chunk Magento accepts is recorded at once (by the push step),
   so the rerun sends exactly what had not landed and the two attempts are one push for
   `rollback`.
2. **Refuse** anything in the inbox that is not a regular file: links (never followed, never
   opened), folders, pipes, devices. Each goes to `quarantine/` with a reason.
3. **Take** a file once it has stopped changing: same size and modification time across two
   looks `settle` seconds apart, not empty, not a temporary name (`x.csv.tmp`, `.partial`,
   `~$…`), and its last line finished (the file ends with a line end, or it has not changed
   for `INCOMPLETE_GRACE_SECONDS`, for exports that end without one). Writers should still
   write under a temporary name and rename into the inbox: then nothing half-written is ever
   seen.
4. Move it to `processing/`, parse and push, then to `archive/YYYY-MM-DD/` or to
   `quarantine/` with its `.error.txt`. When Magento cannot take a file (unreachable: 75) it
   goes back to the inbox and the files after it wait too, so files land in name order: an
   older export never overwrites a newer one.

A file is skipped as a duplicate only when the same content was applied completely and
nothing of its kind was applied since (the ledger's `pushed` snapshot is as that file left
it): a bad file dropped again is read again and quarantined again, and an older file dropped
again puts its values back. Polling, not OS events, so it works on a network share.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sagesync.errors import (
    ExitCode,
    InputFormatError,
    RunLockedError,
    SageSyncError,
    UsageError,
)
from sagesync.fs import write_atomically
from sagesync.ops.quarantine import error_text
from sagesync.pipeline.faults import crash_point

IGNORED_PREFIXES = (".", "~$", "~")
IGNORED_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".filepart", ".crdownload",
                    ".download", ".lock", ".error.txt", ".warnings.txt", "~")
IGNORED_NAMES = ("thumbs.db", "desktop.ini")
FOLDERS = ("processing", "archive", "quarantine")
#: A stable file whose last line has no line end is taken only after this long unchanged: a
#: writer that paused mid-line has had time to come back (an export that never ends with a
#: line end is still taken, a few minutes late).
INCOMPLETE_GRACE_SECONDS = 300.0
LOCK_NAME = ".watch.lock"
EXPECTED = ("a regular file (a Sage stock, price or despatch export, CSV) copied or saved "
            "directly into this folder")


@dataclass
class WatchOutcome:
    archived: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # archived, but Magento refused some items
    resumed: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    retry_later: list[str] = field(default_factory=list)
    #: files in the inbox that are not Sage exports by their name: left alone, untouched
    ignored: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """What the pass says to cron: bad input beats transient beats held."""
        if self.quarantined:
            return ExitCode.BAD_INPUT
        if self.retry_later:
            return ExitCode.RETRY_LATER
        if self.held:
            return ExitCode.HELD
        return ExitCode.OK


@dataclass(frozen=True)
class Handled:
    """What `handle` did with one file: a summary for people, and whether everything in it
    reached Magento (only then can a later drop of the same content be skipped)."""

    summary: str
    complete: bool = True
    #: rows of the file that were not applied (skipped within tolerance, unmapped, refused
    #: by Magento): written beside the archived file as NAME.warnings.txt for the bookkeeper
    warnings: tuple[str, ...] = ()


Handle = Callable[[Path, str, str], Handled]  # (path, kind, run_id)


class WatchBook(Protocol):
    """The ledger as the watcher needs it (`LedgerBook`); tests may pass their own."""

    def unfinished_run(self, sha256: str) -> str | None: ...
    def is_duplicate(self, sha256: str, kind: str) -> bool: ...
    def taken(self, sha256: str, name: str, kind: str | None, run_id: str) -> None: ...
    def finished(self, sha256: str, name: str, kind: str | None, run_id: str | None,
                 outcome: str, detail: str = "") -> None: ...


class LedgerBook:
    """WatchBook on STATE/ledger.sqlite, opened per call so no connection outlives a file.
    A dry run reads but records nothing."""

    def __init__(self, path: Path, *, dry_run: bool = False) -> None:
        self.path = path
        self.dry_run = dry_run

    def _open(self) -> Any:
        from sagesync.ledger import Ledger

        return Ledger.read_only(self.path) if self.dry_run else Ledger(self.path)

    def unfinished_run(self, sha256: str) -> str | None:
        if self.dry_run and not self.path.exists():
            return None
        with self._open() as ledger:
            return ledger.watch_unfinished_run(sha256)  # type: ignore[no-any-return]

    def is_duplicate(self, sha256: str, kind: str) -> bool:
        if self.dry_run and not self.path.exists():
            return False
        with self._open() as ledger:
            return ledger.watch_is_duplicate(sha256, kind)  # type: ignore[no-any-return]

    def taken(self, sha256: str, name: str, kind: str | None, run_id: str) -> None:
        if not self.dry_run:
            with self._open() as ledger:
                ledger.watch_record(sha256, name, kind, run_id, "taken")

    def finished(self, sha256: str, name: str, kind: str | None, run_id: str | None,
                 outcome: str, detail: str = "") -> None:
        if not self.dry_run:
            with self._open() as ledger:
                ledger.watch_record(sha256, name, kind, run_id, outcome, detail)


# --------------------------------------------------------------------------- names


def is_ignored(name: str) -> bool:
    """Temporary, lock and system files: never read, never moved, never reported."""
    lower = name.lower()
    return (name.startswith(IGNORED_PREFIXES) or lower.endswith(IGNORED_SUFFIXES)
            or lower in IGNORED_NAMES)


#: What a Sage export dropped in the inbox is called: a CSV or text file whose name says
#: stock, prices or receivables (see `kind_of`). Anything else (a spreadsheet, a note, a PDF)
#: is not read, moved or quarantined: the bookkeeper's folder may hold other things.
EXPORT_SUFFIXES = (".csv", ".txt", ".tsv")


#: What a despatch (shipments) export's name holds.
SHIPMENT_WORDS = ("shipment", "despatch", "dispatch")


def is_export(name: str) -> bool:
    """Does the name say a Sage stock, price, customer, receivables or despatch export?"""
    return name.lower().endswith(EXPORT_SUFFIXES) and kind_of(name) is not None


RECEIVABLES_WORDS = ("receivable", "debtor", "open-items", "open_items", "openitems",
                     "outstanding")


def kind_of(name: str) -> str | None:
    """Shipments, stock, prices, customers or receivables, from the file name
    (`despatch-….csv`, `stock-….csv`, `prices_….csv`, `customers-….csv`, `accounts-….csv`,
    `receivables-….csv` or `aged-debtors….csv`). Despatch names come first:
    `despatch-warehouse-2.csv` is not stock."""
    lower = name.lower()
    if any(word in lower for word in SHIPMENT_WORDS):
        return "shipments"
    if any(word in lower for word in RECEIVABLES_WORDS):  # "accounts-receivable" too
        return "receivables"
    if lower.startswith(("customer", "accounts")):
        return "customers"
    if "stock" in lower or "inventory" in lower or "warehouse" in lower:
        return "stock"
    if "price" in lower:
        return "prices"
    return None


def refusal(entry: os.DirEntry[str]) -> str | None:
    """Why an inbox entry is not taken, or None for a regular file. Looks at the entry itself
    (lstat), never at what a link points to."""
    if entry.is_symlink():
        return ("refused: it is a symbolic link (or shortcut); sagesync never follows links "
                "out of the inbox. Copy the file itself into the folder.")
    if entry.is_dir(follow_symlinks=False):
        return ("refused: it is a folder; only files directly in the inbox are read. Move "
                "the files out of it into the inbox.")
    mode = entry.stat(follow_symlinks=False).st_mode
    if stat.S_ISREG(mode):
        return None
    what = ("a named pipe (fifo)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file")
    return f"refused: it is {what}, not a file; it was not opened."


def scan(folder: Path, *, own_folders: bool = False
         ) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(regular files to consider, (entry, reason) refused) directly in `folder`, by name;
    `own_folders`: the inbox, whose processing/, archive/ and quarantine/ are sagesync's."""
    files: list[Path] = []
    refused: list[tuple[Path, str]] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if is_ignored(entry.name) or (own_folders and entry.name in FOLDERS
                                          and entry.is_dir(follow_symlinks=False)):
                continue
            try:
                reason = refusal(entry)
            except OSError:
                continue  # gone since the listing
            if reason is None:
                files.append(Path(entry.path))
            else:
                refused.append((Path(entry.path), reason))
    return files, refused


# --------------------------------------------------------------------------- stability


def _look(files: Sequence[Path]) -> dict[Path, tuple[int, int]]:
    seen = {}
    for path in files:
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            seen[path] = (info.st_size, info.st_mtime_ns)
    return seen


def _open_regular(path: Path) -> int:
    """A descriptor on `path` only if it is a regular file: never follows a link (where the
    system can say so), never blocks on a pipe swapped in since the listing."""
    flags = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_NONBLOCK", 0))
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputFormatError(f"{path.name} is not a regular file")
    return fd


def ends_with_line_end(path: Path) -> bool:
    """Whether the last line is finished: the file ends with LF or CR (UTF-16 too)."""
    fd = _open_regular(path)
    try:
        size = os.fstat(fd).st_size
        os.lseek(fd, max(0, size - 2), os.SEEK_SET)
        tail = os.read(fd, 2)
    finally:
        os.close(fd)
    return tail.endswith((b"\n", b"\r", b"\n\x00", b"\r\x00"))


def stable_files(files: Sequence[Path], settle_seconds: float,
                 sleep: Callable[[float], None] = time.sleep, *,
                 grace_seconds: float = INCOMPLETE_GRACE_SECONDS,
                 now: Callable[[], float] = time.time) -> tuple[list[Path], list[str]]:
    """(files to take, "name (why it waits)" for the others)."""
    first = _look(files)
    if not first:
        return [], []
    sleep(settle_seconds)
    second = _look(list(first))
    ready: list[Path] = []
    waiting: list[str] = []
    for path, signature in first.items():
        size, mtime_ns = signature
        if second.get(path) != signature:
            waiting.append(f"{path.name} (still being written)")
        elif size == 0:
            waiting.append(f"{path.name} (empty so far)")
        else:
            try:
                finished = ends_with_line_end(path)
            except (OSError, SageSyncError):
                continue  # gone or swapped: looked at again next pass
            age = now() - mtime_ns / 1e9
            if finished or age >= grace_seconds:
                ready.append(path)
            else:
                waiting.append(f"{path.name} (its last line has no line end yet; taken once "
                               f"unchanged for {grace_seconds:.0f} s)")
    return ready, waiting


# --------------------------------------------------------------------------- moves


def _free(folder: Path, name: str) -> Path:
    """`folder/name`, or `stem.2.suffix`… when anything, even a dangling link, has it."""
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / name, 2
    while os.path.lexists(target):
        target = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return target


def _move(path: Path, folder: Path, name: str | None = None) -> Path:
    """Rename within the inbox's volume: the entry itself moves (a link stays a link, a pipe
    is never opened); never overwrites."""
    target = _free(folder, name or path.name)
    os.rename(path, target)
    return target


def _digest(path: Path) -> str:
    fd = _open_regular(path)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def inbox_lock(inbox: Path) -> Iterator[None]:
    """One watcher per inbox: a second one would resume files the first is still pushing."""
    from filelock import FileLock, Timeout

    lock = FileLock(inbox / "processing" / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(f"Another watcher is working on {inbox}; this pass did nothing "
                             "and the next one will try again.") from None
    try:
        yield
    finally:
        lock.release()


def _prepare(inbox: Path) -> None:
    for name in FOLDERS:
        folder = inbox / name
        if folder.is_symlink() or (os.path.lexists(folder) and not folder.is_dir()):
            raise UsageError(f"{folder} must be a folder inside the inbox, not a link or a "
                             "file: sagesync moves the files it takes there.")
        folder.mkdir(exist_ok=True)


# --------------------------------------------------------------------------- the pass


def process_inbox(inbox: Path, handle: Handle, book: WatchBook, *,
                  settle_seconds: float = 2.0,
                  grace_seconds: float = INCOMPLETE_GRACE_SECONDS,
                  new_run_id: Callable[[], str] | None = None,
                  dry_run: bool = False,
                  sleep: Callable[[float], None] = time.sleep,
                  now: Callable[[], float] = time.time) -> WatchOutcome:
    """One pass over the inbox (see the module doc). `handle(path, kind, run_id)` parses and
    pushes; it raises SageSyncError for a file that must be quarantined (or retried later).
    Raises RunLockedError when another watcher holds the inbox, AuthError after putting the
    file back when Magento refuses the credentials. A dry run reads the files where they
    are and moves, writes and locks nothing: the next real pass finds the inbox as it was."""
    outcome = WatchOutcome()
    if not dry_run:
        _prepare(inbox)
    with nullcontext() if dry_run else inbox_lock(inbox):
        pass_ = _Pass(inbox, handle, book, new_run_id or _new_run_id, outcome, dry_run)
        stranded, refused = scan(inbox / "processing") if (inbox / "processing").is_dir() \
            else ([], [])
        for path, reason in refused:
            pass_.refuse(path, reason)
        for path in stranded:
            pass_.process(path, path.name, resumed=True)
        files, refused = scan(inbox, own_folders=True)
        for path, reason in refused:
            pass_.refuse(path, reason)
        outcome.ignored = [p.name for p in files if not is_export(p.name)]
        files = [p for p in files if is_export(p.name)]
        ready, outcome.waiting = stable_files(files, settle_seconds, sleep,
                                              grace_seconds=grace_seconds, now=now)
        for path in ready:
            if outcome.retry_later:  # in order or not at all: an older file must not land last
                outcome.waiting.append(f"{path.name} (after the file Magento could not take)")
                continue
            try:
                working = pass_.file_away(path, inbox / "processing")
            except OSError as error:  # Windows: still open in the program writing it
                outcome.waiting.append(f"{path.name} (cannot be moved yet: {error.strerror})")
                continue
            crash_point("watch-moved")
            pass_.process(working, path.name, resumed=False)
    return outcome


def _new_run_id() -> str:
    from sagesync.pipeline.checkpoint import new_run_id

    return new_run_id()


@dataclass
class _Pass:
    inbox: Path
    handle: Handle
    book: WatchBook
    new_run_id: Callable[[], str]
    outcome: WatchOutcome
    dry_run: bool = False
    today: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d"))

    def file_away(self, path: Path, folder: Path, name: str | None = None) -> Path:
        """Move `path` into `folder` (a dry run leaves it where it is)."""
        return path if self.dry_run else _move(path, folder, name)

    def refuse(self, path: Path, reason: str) -> None:
        """Quarantine what is not a regular file, with the reason, without opening it."""
        if self.dry_run:
            self.outcome.quarantined.append(f"{path.name}: {reason}")
            return
        try:
            target = _move(path, self.inbox / "quarantine")
        except OSError as error:
            reason += f" (it could not be moved to quarantine: {error.strerror})"
            target = _free(self.inbox / "quarantine", path.name)
        _error_file(target, error_text(path.name, [reason], EXPECTED))
        self.outcome.quarantined.append(f"{path.name}: {reason}")

    def process(self, working: Path, name: str, *, resumed: bool) -> None:
        """Push one file that is in processing/ and file it away."""
        try:
            if refusal_of(working):
                raise InputFormatError(f"{name} is no longer a regular file")
            digest = _digest(working)
        except (OSError, SageSyncError) as error:
            self.refuse(working, f"refused: it changed into something else while being taken "
                                 f"({error}).")
            return
        kind = kind_of(name)
        run_id = self.book.unfinished_run(digest) if kind else None
        if kind and run_id is None and self.book.is_duplicate(digest, kind):
            self.file_away(working, self.inbox / "archive" / self.today, name)
            self.book.finished(digest, name, kind, None, "duplicate")
            self.outcome.duplicates.append(name)
            return
        run_id = run_id or self.new_run_id()
        self.book.taken(digest, name, kind, run_id)
        crash_point("watch-taken")
        try:
            if kind is None:
                raise InputFormatError(f"{name}: cannot tell stock, prices, customers, "
                                       "receivables or shipments by the name; name it "
                                       "stock-….csv, prices-….csv, customers-….csv, "
                                       "receivables-….csv or shipments-….csv")
            handled = self.handle(working, kind, run_id)
        except SageSyncError as error:
            self._failed(working, name, digest, kind, run_id, error)
            return
        outcome = "applied" if handled.complete else "held"
        self.book.finished(digest, name, kind, run_id, outcome, handled.summary)
        crash_point("watch-finished")
        archived = self.file_away(working, self.inbox / "archive" / self.today, name)
        if handled.warnings and not self.dry_run:
            _warnings_file(archived, name, handled.warnings)
        line = f"{name}: {handled.summary}"
        if handled.warnings:
            line += f" ({len(handled.warnings)} rows not applied: see {archived.name}" \
                    ".warnings.txt)"
        if resumed:
            self.outcome.resumed.append(line)
        (self.outcome.archived if handled.complete else self.outcome.held).append(line)

    def _failed(self, working: Path, name: str, digest: str, kind: str | None, run_id: str,
                error: SageSyncError) -> None:
        if error.exit_code in (ExitCode.RETRY_LATER, ExitCode.AUTH):
            if working.parent != self.inbox:  # Magento unreachable or refusing: next pass
                self.file_away(working, self.inbox, name)
            self.outcome.retry_later.append(f"{name}: {error}")
            if error.exit_code == ExitCode.AUTH:
                raise error
            return
        report = getattr(error, "report", None) or error_text(name, [error], None)
        if report.startswith(f"{working}:"):  # name it as dropped, not in processing/
            report = name + report[len(str(working)):]
        self.book.finished(digest, name, kind, run_id, "quarantined", str(error))
        if not self.dry_run:
            _error_file(_move(working, self.inbox / "quarantine", name), report)
        self.outcome.quarantined.append(f"{name}: {error}")


def _warnings_file(archived: Path, name: str, warnings: Sequence[str]) -> None:
    """NAME.warnings.txt beside the archived file: what of it was not applied, one line each,
    for the bookkeeper (the file itself was applied; these rows need a look in Sage)."""
    text = (f"{name} was applied, but {len(warnings)} of its rows were not:\n\n"
            + "".join(f"- {w}\n" for w in warnings)
            + "\nCorrect them in Sage and export again, or see `sagesync status`.\n")
    with suppress(OSError):  # the push is done; a missing note is not worth failing it
        write_atomically(archived.with_name(archived.name + ".warnings.txt"),
                         text.encode("utf-8"))


def refusal_of(path: Path) -> str | None:
    """`refusal` for a path already taken (a file in processing/ may be swapped for a link)."""
    info = path.lstat()
    return None if stat.S_ISREG(info.st_mode) else "not a regular file"


def _error_file(target: Path, report: str) -> None:
    error_path = target.with_name(target.name + ".error.txt")
    error_path.write_text(report, encoding="utf-8")
