"""Errors that carry their exit code, so the CLI can map any library failure to DESIGN.md §5.

The library raises these and never exits; the CLI prints the message and exits with `.exit_code`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit-code contract of every command (DESIGN.md §5)."""

    OK = 0
    HELD = 1  # some records failed validation and are held; the rest went on
    USAGE = 2  # usage or recipe error
    BAD_INPUT = 65  # malformed input file (quarantined)
    BUG = 70  # an internal error; traceback in STATE/logs/
    CANT_CREATE = 73  # the state folder cannot be created or written (sysexits EX_CANTCREAT)
    RETRY_LATER = 75  # transient: nothing lost, retried next cycle
    AUTH = 77  # authentication or permission failure: halted, alert sent


class SageSyncError(Exception):
    """Base of every error a user can act on. The message is meant for people."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(SageSyncError):
    """A wrong option, a missing file named on the command line, a bad --from."""

    exit_code = ExitCode.USAGE


class RecipeError(UsageError):
    """A recipe key is unknown, missing or invalid; the message names key, file and allowed."""


class MagentoNotFoundError(UsageError):
    """Magento answered 404 for an endpoint sagesync needs: a wrong base URL, or a module
    (Inventory/MSI) that is not installed. Retrying cannot help; a person must fix the setup."""


class StateDirError(SageSyncError):
    """The state folder (ledger, checkpoints, logs) cannot be created or written."""

    exit_code = ExitCode.CANT_CREATE


class InputFormatError(SageSyncError):
    """An input file cannot be read as what it claims to be (file, line, column, expected)."""

    exit_code = ExitCode.BAD_INPUT


class DamagedCheckpointError(InputFormatError):
    """A checkpoint table is missing or no longer the file its step wrote (its SHA-256 differs
    from the manifest's). Not quarantined: the checkpoint is the state folder's own record, and
    rerunning the step that wrote it makes a sound one."""


class TransientError(SageSyncError):
    """The other side is busy, locked or unreachable: nothing is lost, try next cycle.
    `uncertain`: a delivery broke off while a file was being renamed into place, so whether
    it landed is unknown until recovery asks again."""

    exit_code = ExitCode.RETRY_LATER
    uncertain = False


class RunLockedError(TransientError):
    """Another run holds this state folder's lock."""


class AuthError(SageSyncError):
    """Credentials were refused: the sync halts until a person fixes them."""

    exit_code = ExitCode.AUTH


class DiskFullError(TransientError):
    """The state folder's disk or quota is full. Nothing is lost (the ledger commits only what
    is durable, so no bookmark moved): free space and the next run goes on. Exit 75, not 73:
    the folder can be created and written, it only ran out of room."""


_FULL_ERRNOS = {28, 122}  # ENOSPC, EDQUOT (Linux; macOS's EDQUOT is 69)
_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "database or disk is full")


def _causes(error: BaseException) -> list[BaseException]:
    """The error itself, then what it was raised from (at most five deep)."""
    found: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and len(found) < 5:
        found.append(seen)
        seen = seen.__cause__ or seen.__context__
    return found


def disk_full_error(error: BaseException, state_dir: object) -> DiskFullError | None:
    """The DiskFullError to report when `error` (or what caused it) is a full disk or quota:
    OSError ENOSPC/EDQUOT, or SQLite's "database or disk is full"; else None."""
    import errno

    full = _FULL_ERRNOS | {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
    for seen in _causes(error):
        text = str(seen)
        if (isinstance(seen, OSError) and seen.errno in full) or any(t in text for t in _FULL_TEXT):
            what = getattr(seen, "filename", None) or state_dir
            return DiskFullError(
                f"The state folder {state_dir} is full (writing {what}: "
                f"{getattr(seen, 'strerror', None) or text}). Nothing was lost: the ledger did "
                "not record this step's work, so no bookmark moved and nothing was marked as "
                "sent. Free space on its disk (or raise the quota); the next scheduled run "
                "goes on.")
    return None


class DamagedLedgerError(SageSyncError):
    """SQLite finds the ledger is not a database, or a damaged one. Not a bug, and not
    retried: a person restores or salvages the file (the message says how)."""

    exit_code = ExitCode.BAD_INPUT


_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # and their extended codes


def damaged_ledger_error(error: BaseException, state_dir: object) -> DamagedLedgerError | None:
    """The DamagedLedgerError to report when `error` (or what caused it) is SQLite finding
    the state folder's ledger damaged; else None."""
    import sqlite3
    from pathlib import Path

    for seen in _causes(error):
        if isinstance(seen, sqlite3.DatabaseError) and \
                getattr(seen, "sqlite_errorname", "").startswith(_DAMAGED):
            ledger = Path(str(state_dir or "."), "ledger.sqlite")
            return DamagedLedgerError(
                f"The ledger {ledger} is damaged (SQLite: {seen}); this command stopped "
                "there. The ledger is what keeps each record from being sent twice, so do not "
                "delete it: restore it from your backup of the state folder, or salvage it "
                f"(`sqlite3 {ledger} .recover | sqlite3 recovered.sqlite`, then put "
                "recovered.sqlite in its place), and run again.")
    return None


def state_folder_error(error: BaseException, state_dir: object) -> SageSyncError | None:
    """What an unexpected error really was when the state folder is behind it, for a message
    and exit code of its own: a full disk (75: the next run goes on) or a damaged ledger (65:
    a person restores it); else None."""
    return disk_full_error(error, state_dir) or damaged_ledger_error(error, state_dir)


def exit_code_of(error: BaseException) -> int:
    """The exit code a command ends with when `error` escapes it: one rule for the CLI and
    for the run history, so the two never disagree."""
    if isinstance(error, SageSyncError):
        return int(error.exit_code)
    if isinstance(error, KeyboardInterrupt):
        return int(ExitCode.RETRY_LATER)  # nothing half-done is kept; the next run goes on
    if isinstance(error, SystemExit):
        return 0 if error.code is None else error.code if isinstance(error.code, int) else 1
    return int(ExitCode.BUG)
