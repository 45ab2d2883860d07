"""Quarantine: a copy of a bad input file beside a `.error.txt` that says what is wrong where.

Every error file has one shape (and `sagesync.sage.report` builds the parse-sage one from the
same pieces, in sagesync.model.problems): the verdict, `N problems:` followed by exactly
those N problems, one indented line each, then what the file should look like. A person (or a
script) can trust the count.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sagesync.fs import write_atomically
from sagesync.model.problems import REJECTED, problem_list

__all__ = ["REJECTED", "error_text", "free_name", "problem_list", "quarantine",
           "quarantine_report"]


def free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem.2.suffix` and so on if taken: never overwrite evidence."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    n = 2
    while target.exists():
        target = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return target


def error_text(source: Path | str, problems: Sequence[object], expected: str | None,
               verdict: str = REJECTED) -> str:
    """The whole `.error.txt` for a file refused as a whole."""
    lines = [f"{source}: {verdict}.", "", *problem_list(problems)]
    if expected:
        lines += ["", f"Expected: {expected}."]
    return "\n".join([*lines, ""])


def quarantine_report(state_dir: Path, source: Path, report: str) -> Path:
    """Copy `source` into STATE/quarantine/<date>/ with `report` beside it; returns the copy.

    The original stays where the user put it: nothing is ever lost by quarantining."""
    target = free_name(state_dir / "quarantine" / datetime.now(UTC).strftime("%Y-%m-%d"),
                       source.name)
    shutil.copyfile(source, target)
    # Atomic, so a watcher or a person never reads half a report; text-mode line endings kept.
    write_atomically(target.with_name(target.name + ".error.txt"),
                     report.replace("\n", os.linesep).encode("utf-8"))
    return target


def quarantine(state_dir: Path, source: Path, problems: Sequence[object], expected: str) -> Path:
    """Quarantine `source` with an error file listing `problems` (texts, one per problem)."""
    return quarantine_report(state_dir, source, error_text(source, problems, expected))
