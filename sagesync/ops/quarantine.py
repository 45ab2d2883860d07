"""Quarantine: a copy of a bad input file beside a `.error.txt` that says what is wrong where."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path


def quarantine(state_dir: Path, source: Path, problems: list[str], expected: str) -> Path:
    """Copy `source` into STATE/quarantine/<date>/ with its report; returns the copy's path.

    The original stays where the user put it: nothing is ever lost by quarantining."""
    folder = state_dir / "quarantine" / datetime.now(UTC).strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    n = 2
    while target.exists():
        target = folder / f"{source.stem}.{n}{source.suffix}"
        n += 1
    shutil.copyfile(source, target)
    report = [f"{source}: {len(problems)} problem(s)", *problems, f"Expected: {expected}.", ""]
    target.with_name(target.name + ".error.txt").write_text("\n".join(report), encoding="utf-8")
    return target
