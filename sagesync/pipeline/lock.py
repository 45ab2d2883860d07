"""One run at a time per state folder, through a portable lock file (filelock).

A second run does not wait: it fails at once with who holds the lock and since when, and
exits 75 so a scheduler simply tries again next cycle.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from sagesync.errors import RunLockedError


@contextmanager
def run_lock(state_dir: Path, command: str) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
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
