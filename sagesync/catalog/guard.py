"""The price guard: a shifted column in a Sage export must not reprice the store.

Among prices that were pushed before, count those that move by more than `change_percent` or
become zero; if they are more than `max_share_percent` of the compared prices, the push is
refused (unless forced) and the preview shows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class GuardVerdict:
    compared: int = 0
    suspicious: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    tripped: bool = False

    def reason(self, change_percent: Decimal, max_share: Decimal, *,
               advice: str = "nothing was pushed. Check the Sage export's columns, then push "
                             "with --force.") -> str:
        """The refusal in words; `advice` says what to do (a rollback advises otherwise)."""
        return (f"{len(self.suspicious)} of {self.compared} prices would change by more than "
                f"{change_percent}% or become zero (the guard allows {max_share}%); {advice}")


def check_prices(new: Mapping[str, Decimal], previous: Mapping[str, Decimal],
                 change_percent: Decimal, max_share_percent: Decimal) -> GuardVerdict:
    verdict = GuardVerdict()
    for key, price in new.items():
        old = previous.get(key)
        if old is None:
            continue
        verdict.compared += 1
        moved = price == 0 or (old != 0 and abs(price - old) * 100 / old > change_percent)
        if moved:
            verdict.suspicious.append((key, old, price))
    share = (Decimal(len(verdict.suspicious)) * 100 / verdict.compared) if verdict.compared \
        else Decimal(0)
    verdict.tripped = bool(verdict.suspicious) and share > max_share_percent
    return verdict


def changed(new: Mapping[str, Decimal], previous: Mapping[str, Decimal]) -> Sequence[str]:
    """Keys whose value differs from the last pushed one (or were never pushed)."""
    return [key for key, value in new.items() if previous.get(key) != value]
