"""`sagesync status`: what a person (or a monitor) needs to know about one state folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagesync.ledger import Ledger
from sagesync.ledger.shipment_book import ShipmentBook
from sagesync.model.holds import by_cause
from sagesync.ops.advice import fix_commands
from sagesync.recipe import Recipe

FLOW = "orders"
# A success of the orders flow is a delivery that ended 0 or 1: an export or transform alone
# does not get anything to Sage, and dry runs are not recorded at all.
DELIVERY = ("run", "import-sage")
STATES = ("exported", "queued", "held", "sent", "confirmed", "rejected", "needs_attention",
          "amended", "resolved", "skipped", "void")
EXAMPLES = 3  # record keys shown per cause


def _age_hours(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return round((now - moment).total_seconds() / 3600, 2)


@dataclass
class FlowStatus:
    flow: str
    last_success: dict[str, Any] | None
    last_run: dict[str, Any] | None
    counts: dict[str, int]
    oldest_pending_hours: float | None
    needs_attention: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    # held and needs-attention records counted by cause (model.holds): code, title, count,
    # a few example keys; the largest group first
    holds_by_cause: list[dict[str, Any]] = field(default_factory=list)
    unconfirmed: list[dict[str, Any]] = field(default_factory=list)
    amended: list[dict[str, Any]] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    #: Sage -> Magento: the last push of each kind, refused pushes and quarantined files
    #: (the watched folder's and parse-sage's); empty for a recipe that never pushed
    catalog: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: shipments from Sage's despatch files: consignments per state, and those not shipped
    #: (refused, or left sending by an interrupted push) with why; empty when none was pushed
    shipments: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quarantined(state_dir: Path, limit: int = 10) -> list[dict[str, Any]]:
    """Files parse-sage quarantined (STATE/quarantine/<date>/), newest first, with the first
    line of their error report."""
    found = []
    for report in sorted((state_dir / "quarantine").glob("*/*.error.txt"), reverse=True)[:limit]:
        try:
            first = report.read_text(encoding="utf-8").strip().splitlines()[:1]
        except (OSError, UnicodeDecodeError):
            first = []
        found.append({"name": report.name.removesuffix(".error.txt"),
                      "at": report.parent.name, "why": first[0] if first else "",
                      "file": str(report.with_name(report.name.removesuffix(".error.txt")))})
    return found


def _brief(row: Any) -> dict[str, Any]:
    return {"key": str(row.key), "increment_id": row.increment_id,
            "order": row.order_increment_id, "state": row.state, "attempts": row.attempts,
            "reason": row.last_error, "file": row.file, "since": row.updated_at}


def _cause_group(group: Any, recipe: Recipe, states: dict[str, str]) -> dict[str, Any]:
    """A cause group as status shows it, with what to do and the commands (ops.advice)."""
    keys = [key for key, _ in group.records]
    advice, commands = fix_commands(group.code, keys, recipe.path,
                                    state=states.get(keys[0], "held") if keys else "held")
    return {"code": group.code, "title": group.title, "count": group.count,
            "examples": keys[:EXAMPLES], "fix": advice, "commands": commands}


def flow_status(recipe: Recipe, ledger: Ledger, now: datetime | None = None) -> FlowStatus:
    now = now or datetime.now(UTC)
    counts = ledger.counts_by_state()
    states = {str(r.key): r.state for r in ledger.rows(["needs_attention"])}
    status = FlowStatus(
        flow=FLOW,
        last_success=ledger.last_run_of(DELIVERY, successful=True),
        last_run=ledger.last_run(FLOW, successful=False),
        counts={s: counts.get(s, 0) for s in STATES},
        oldest_pending_hours=_age_hours(ledger.oldest_pending(), now),
        needs_attention=[_brief(r) for r in ledger.rows(["needs_attention"], limit=50)],
        held=[_brief(r) for r in ledger.rows(["held"], limit=50)],
        holds_by_cause=[_cause_group(g, recipe, states)
                        for g in by_cause((str(k), h) for k, h in ledger.causes())],
        amended=[_brief(r) for r in ledger.rows(["amended"], limit=50)],
        unconfirmed=[_brief(r) for r in
                     ledger.unconfirmed_for(recipe.ledger.unconfirmed_after_runs)][:50])
    activity = ledger.catalog_activity()
    watched = {q["name"] for q in activity["quarantined"]}  # parse-sage keeps a copy too
    activity["quarantined"] += [q for q in _quarantined(recipe.state_dir)
                                if q["name"] not in watched]
    if any(activity.values()):
        status.catalog = activity
    book = ShipmentBook(ledger)
    shipped = book.counts()
    if shipped:
        status.shipments = {
            "counts": shipped,
            "waiting": [{"order": r.order_increment_id, "tracking_number": r.tracking_number,
                         "state": r.state, "at": r.at, "why": r.detail} for r in book.waiting()]}
    limits = recipe.status
    if counts.get("needs_attention", 0) > limits.max_needs_attention:
        status.breaches.append(f"{counts['needs_attention']} records need attention "
                               f"(limit {limits.max_needs_attention})")
    if counts.get("held", 0) > limits.max_held:
        status.breaches.append(f"{counts['held']} records held (limit {limits.max_held})")
    if counts.get("amended", 0) > limits.max_amended:
        status.breaches.append(f"{counts['amended']} records changed or cancelled in Magento "
                               f"after they reached Sage (limit {limits.max_amended}): correct "
                               "them in Sage, then `sagesync resolve KEY --note ...`")
    if len(status.unconfirmed) > limits.max_unconfirmed:
        status.breaches.append(f"{len(status.unconfirmed)} records sent but not confirmed after "
                               f"{recipe.ledger.unconfirmed_after_runs} runs "
                               f"(limit {limits.max_unconfirmed})")
    age = status.oldest_pending_hours
    if age is not None and age > limits.max_pending_hours:
        status.breaches.append(f"the oldest pending record is {age:g} h old "
                               f"(limit {limits.max_pending_hours:g} h)")
    last = status.last_success
    since = _age_hours(last["finished_at"], now) if last else None
    if since is None:
        status.breaches.append("no successful run yet")
    elif since > limits.max_hours_since_success:
        status.breaches.append(f"last successful run {since:g} h ago "
                               f"(limit {limits.max_hours_since_success:g} h)")
    return status
