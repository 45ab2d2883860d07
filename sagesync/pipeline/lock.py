"""One run at a time per state folder, through a portable lock file (filelock).

A second run does not wait: it fails at once with who holds the lock and since when, and
exits 75 so a scheduler simply tries again next cycle. The state folder is checked first: one
that cannot be written is a StateDirError saying why, before anything is half-done.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import socket
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from sagesync.errors import RunLockedError, StateDirError, disk_full_error


def state_dir_error(state_dir: Path, error: OSError | None = None) -> StateDirError:
    """One paragraph on why the state folder cannot be used and what to check."""
    written = [Path(str(error.filename))] if error is not None and error.filename else []
    blocker = next((found for target in (*written, state_dir / "ledger.sqlite")
                    if (found := _file_in_the_way(target)) is not None), None)
    if blocker is not None:
        why = f"{blocker} is a file, not a folder"
    elif error is not None:
        why = f"{error.strerror or error}" + (f" ({error.filename})" if error.filename else "")
    else:
        why = "it cannot be written"
    return StateDirError(
        f"Cannot use the state folder {state_dir}: {why}. sagesync keeps its ledger, "
        "checkpoints and logs there, so it stopped before doing anything it could not record. "
        "Check that the path is a folder (not a file), that its disk is mounted read-write and "
        "has free space, and that this user may write to it; or point the recipe's state_dir "
        "(or --state-dir) at a folder that can be written.")


def _file_in_the_way(target: Path) -> Path | None:
    """The nearest existing folder of `target`'s path, when it is a file instead (a file
    named `quarantine` where a folder should be); else None."""
    found = next((p for p in target.parents if p.exists()), None)
    return found if found is not None and not found.is_dir() else None


def prepare_state_dir(state_dir: Path) -> None:
    """Create the state folder and prove it can be written (root ignores permission bits, a
    read-only mount or a full disk does not), or raise StateDirError."""
    probe = state_dir / f".write-test-{secrets.token_hex(4)}"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"sagesync")
        probe.unlink()
    except OSError as error:
        full = disk_full_error(error, state_dir)  # a full disk clears itself: retry next cycle
        raise (full or state_dir_error(state_dir, error)) from None


def state_dir_problem(state_dir: Path) -> StateDirError | None:
    """The StateDirError that explains a failure, when the folder really cannot be written;
    None when it can (then the failure was something else)."""
    try:
        prepare_state_dir(state_dir)
    except StateDirError as error:
        return error
    return None


_CANNOT_WRITE = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM,
                 getattr(errno, "EDQUOT", errno.ENOSPC)}


def state_dir_failure(state_dir: Path, error: BaseException) -> StateDirError | None:
    """Whether an OSError or SQLite error that ended a step was the state folder failing (a
    full disk, a read-only remount, a permission change, a file where one of its folders
    should be): then the StateDirError to report."""
    if isinstance(error, OSError) and error.filename:
        target = Path(str(error.filename)).resolve()
        inside = target == state_dir.resolve() or state_dir.resolve() in target.parents
        if inside and (error.errno in _CANNOT_WRITE or _file_in_the_way(target)):
            return state_dir_error(state_dir, error)
    if isinstance(error, (OSError, sqlite3.Error)):
        return state_dir_problem(state_dir)
    return None


@contextmanager
def run_lock(state_dir: Path, command: str) -> Iterator[None]:
    prepare_state_dir(state_dir)
    lock = FileLock(state_dir / "run.lock", timeout=0)
    info = state_dir / "run.lock.json"
    try:
        lock.acquire()
    except Timeout:
        holder = _holder(info)
        raise RunLockedError(
            f"Another sagesync run holds {state_dir} ({holder}). Nothing was done; this run "
            "exits so the next scheduled run can try again.") from None
    try:
        info.write_text(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "argv": " ".join(os.path.basename(a) if i == 0 else a
                             for i, a in enumerate(sys.argv[:3]))}), encoding="utf-8")
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def _holder(info: Path) -> str:
    try:
        data = json.loads(info.read_text(encoding="utf-8"))
        return f"'{data['command']}', process {data['pid']} on {data['host']} since {data['since']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
