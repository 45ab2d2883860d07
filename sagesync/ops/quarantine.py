"""Quarantine: a copy of a bad input file beside a `.error.txt` that says what is wrong where."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path


def free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem.2.suffix` and so on if taken: never overwrite evidence."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    n = 2
    while target.exists():
        target = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return target


def quarantine(state_dir: Path, source: Path, problems: list[str], expected: str) -> Path:
    """Copy `source` into STATE/quarantine/<date>/ with its report; returns the copy's path.

    The original stays where the user put it: nothing is ever lost by quarantining."""
    target = free_name(state_dir / "quarantine" / datetime.now(UTC).strftime("%Y-%m-%d"),
                       source.name)
    shutil.copyfile(source, target)
    report = [f"{source}: {len(problems)} problem(s)", *problems, f"Expected: {expected}.", ""]
    target.with_name(target.name + ".error.txt").write_text("\n".join(report), encoding="utf-8")
    return target
