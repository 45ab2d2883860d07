"""Named crash points, so tests can kill a run at the exact moments that matter.

With the environment variable SAGESYNC_CRASH_AT=<point>[:<n>] the process dies at once the n-th
time (default the first) it passes that point, as a power cut would: no cleanup, no flush.
Unset, a crash point costs one dictionary lookup. The crash tests use these beside SIGKILL at
random moments, so that every window between a file landing and the ledger knowing is hit.
"""

from __future__ import annotations

import os
from collections import Counter

_passed: Counter[str] = Counter()


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
