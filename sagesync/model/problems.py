"""The shape of every problem list a person reads in a quarantine `.error.txt`.

Shared by the quarantine of any input (sagesync.ops.quarantine) and the parse-sage report
(sagesync.sage.report), so it lives below both: `N problems:` and then exactly those N
problems, one indented line each, so the announced count can be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence

from sagesync.model.words import nouns, plural

REJECTED = "REJECTED: nothing from this file was applied"


def problem_list(problems: Sequence[object], dropped: int = 0) -> list[str]:
    """`N problems:` and one indented line per problem (`... and K more` for the uncounted
    rest), so the announced number is always the number listed."""
    lines = [f"{plural(len(problems) + dropped, 'problem')}:"]
    lines += ["  " + " ".join(str(p).split("\n")) for p in problems]
    if dropped:
        lines.append(f"  ... and {dropped} more {nouns(dropped, 'problem')} of the same kinds")
    return lines
