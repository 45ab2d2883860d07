"""Named crash points, so tests can kill a run at the exact moments that matter.

With the environment variable SAGESYNC_CRASH_AT=<point> the process dies at once at that point,
as a power cut would (no cleanup, no flush of Python buffers). Unset, a crash point costs one
dictionary lookup. The crash tests use this beside SIGKILL at random moments.
"""

from __future__ import annotations

import os


def crash_point(name: str) -> None:
    if os.environ.get("SAGESYNC_CRASH_AT") == name:
        os._exit(137)
