"""The figures of the status page (`sagesync report`): what `status` says now, plus how the
queue, the documents and the runs went over the last days.

Gathering is kept apart from drawing (ops.report_page) so `report --json` prints the very
figures the page shows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sagesync.ledger import Ledger
from sagesync.ops.queue_history import (
    WAITING,
    WITH_PERSON,
    QueuePoint,
    first_event_id,
    queue_history,
)
from sagesync.ops.status import flow_status
from sagesync.recipe import Recipe

DOCUMENT_EVENTS = ("exported", "sent", "confirmed")  # Magento's side, then Sage's
RUNS_SHOWN = 20
RECORDS_SHOWN = 50  # held or needing attention, listed one by one
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class StatusReport:
    """Everything the page shows; `as_dict` is `report --json`."""

    recipe: str
    product: str
    generated_at: str
    days: int
    timezone: str
    counts: dict[str, int]
    waiting: int
    with_person: int
    oldest_pending_hours: float | None
    last_success: dict[str, Any] | None
    breaches: list[str]
    holds_by_cause: list[dict[str, Any]]
    #: held and needs-attention records, one by one (at most RECORDS_SHOWN)
    needing_person: list[dict[str, Any]]
    queue: list[QueuePoint]
    #: per day in the recipe's time zone: documents first exported from Magento, written
    #: into delivered Sage files, and confirmed by Sage
    per_day: list[dict[str, Any]]
    runs: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def status_report(recipe: Recipe, ledger: Ledger, *, days: int = 14,
                  now: datetime | None = None) -> StatusReport:
    """The page's figures for the last `days` days, read from one ledger."""
    now = now or datetime.now(UTC)
    status = flow_status(recipe, ledger, now)
    stamp = now.strftime(_STAMP)
    since = (now - timedelta(days=days)).strftime(_STAMP)
    counts = status.counts
    needing = [*status.needs_attention, *status.held][:RECORDS_SHOWN]
    return StatusReport(
        recipe=recipe.name, product=recipe.sage.product, generated_at=stamp, days=days,
        timezone=recipe.sage.timezone, counts=counts,
        waiting=sum(counts.get(s, 0) for s in WAITING),
        with_person=sum(counts.get(s, 0) for s in WITH_PERSON),
        oldest_pending_hours=status.oldest_pending_hours, last_success=status.last_success,
        breaches=status.breaches, holds_by_cause=status.holds_by_cause,
        needing_person=needing, queue=queue_history(ledger.db, since, stamp),
        per_day=documents_per_day(ledger, since, recipe),
        runs=[_run(r) for r in ledger.run_history(RUNS_SHOWN)])


def documents_per_day(ledger: Ledger, since: str, recipe: Recipe) -> list[dict[str, Any]]:
    """Exported, sent and confirmed documents per day since `since`, days in the recipe's
    time zone (counted by the minute in SQL, then put into local days), oldest first."""
    start = first_event_id(ledger.db, since)
    marks = ",".join("?" * len(DOCUMENT_EVENTS))
    zone = recipe.zone
    days: dict[str, dict[str, Any]] = {}
    for minute, event, count in ledger.db.execute(
            f"SELECT substr(at, 1, 16), event, count(*) FROM events WHERE id >= ? AND "
            f"event IN ({marks}) GROUP BY 1, 2", (start, *DOCUMENT_EVENTS)):
        moment = datetime.fromisoformat(minute).replace(tzinfo=UTC)
        day = moment.astimezone(zone).strftime("%Y-%m-%d")
        entry = days.setdefault(day, {"day": day, **dict.fromkeys(DOCUMENT_EVENTS, 0)})
        entry[event] += count
    return [days[d] for d in sorted(days)]


def _run(run: dict[str, Any]) -> dict[str, Any]:
    """One run as the page lists it: its summary's counts kept, its duration in seconds."""
    seconds = None
    if run["started_at"] and run["finished_at"]:
        seconds = int((datetime.strptime(run["finished_at"], _STAMP)
                       - datetime.strptime(run["started_at"], _STAMP)).total_seconds())
    summary = run.get("summary") or {}
    return {"run_id": run["run_id"], "command": run["command"], "flow": run["flow"],
            "started_at": run["started_at"], "finished_at": run["finished_at"],
            "seconds": seconds, "exit_code": run["exit_code"],
            "delivered": summary.get("delivered") if isinstance(summary, dict) else None,
            "batches": run.get("batches", []),
            "summary": json.loads(json.dumps(summary, default=str))}
