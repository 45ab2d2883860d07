"""`python -m bench.launch REPORT CMD...`: run CMD, then write its true peak RSS and CPU to REPORT.

Why a launcher: on Linux a child's `ru_maxrss` starts from its parent's high-water mark (fork
copies it and exec keeps it), so every step the bench (hundreds of MB) started directly reported
at least the bench's own peak. This process is small and imports only the standard library, so
`getrusage(RUSAGE_CHILDREN)` after CMD exits is CMD's own peak (the largest of CMD and the
descendants it waited for) and their user+sys CPU seconds. Linux only (ru_maxrss in KiB), like
the bench; the report is one JSON object.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    report, command = argv[0], argv[1:]
    started = time.perf_counter()
    returncode = subprocess.call(command)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(report, "w", encoding="utf-8") as handle:
        json.dump({"returncode": returncode, "wall_seconds": wall,
                   "cpu_seconds": usage.ru_utime + usage.ru_stime,
                   "peak_rss_bytes": usage.ru_maxrss * 1024}, handle)
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
