"""One command's hold on a state folder: the run lock, the ledger and its run-history entry.

Every command that changes (or, in a dry run, reads) the ledger runs inside a session. The
command sets `session.outcome` to the exit code and summary it will end with; the session
records them in the run history when it closes, or the code the escaping error maps to, so
`status` never shows a failed run as a success. Mapping an error to an exit code is the
caller's (the CLI's) knowledge, so it is passed in rather than imported.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import unfinished_removed
from sagesync.pipeline.lock import run_lock

__all__ = ["Outcome", "StepSession", "open_session"]


@dataclass
class Outcome:
    """The exit code a command ends with and the summary its run-history entry keeps."""

    code: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepSession:
    """What a command holds while it runs; the run lock is held for the session's life."""

    ledger: Ledger
    run_id: str
    command: str
    state_dir: Path
    dry_run: bool = False
    outcome: Outcome = field(default_factory=Outcome)


@contextmanager
def open_session(state_dir: Path, command: str, run_id: str, *,
                 exit_code_for: Callable[[BaseException], int], dry_run: bool = False,
                 flow: str = "orders") -> Iterator[StepSession]:
    """Take the run lock, open the ledger and record the run, for the `with` block.

    The run is recorded with `session.outcome.code` (0 if the command set none), or with
    `exit_code_for(error)` when an error escapes. A dry run gets a read-only ledger and leaves
    no trace in it, the run history included. Checkpoints the step leaves unfinished are
    removed."""
    with run_lock(state_dir, command), unfinished_removed(dry_run=dry_run):
        path = state_dir / "ledger.sqlite"
        if dry_run:
            with Ledger.read_only(path, run_id) as ledger:
                yield StepSession(ledger, run_id, command, state_dir, dry_run=True)
            return
        ledger = Ledger(path, run_id)
        ledger.start_run(command, flow)
        session = StepSession(ledger, run_id, command, state_dir)
        failed: int | None = None
        try:
            yield session
        except BaseException as error:
            failed = exit_code_for(error)
            if failed not in (0, 1):  # the run history keeps why (the auth alert tells it)
                session.outcome.summary.setdefault("error", str(error)[:2000])
            raise
        finally:
            outcome = session.outcome
            with suppress(sqlite3.Error):  # a broken state folder is reported, not recorded
                ledger.finish_run(int(outcome.code if failed is None else failed),
                                  outcome.summary)
            ledger.close()
