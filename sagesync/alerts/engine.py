"""One evaluation: find the causes, open and clear episodes, tell each channel what is new.

Run at the end of every command that changes the ledger (not dry runs) and by `sagesync alerts
check` from cron, which catches silence when no run happens at all. Evaluations of one state
folder take turns (`alerts.lock`, apart from the run lock, so a hung run cannot keep the
silence alert from going out). A channel that fails is a warning in the report; what it did
not deliver stays pending and goes with the next evaluation. Nothing here raises for a
channel: the sync never fails because an alert could not be sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sagesync.alerts.channels import Channel, channels
from sagesync.alerts.message import compose, masked, redact, secrets_of
from sagesync.alerts.triggers import find_causes
from sagesync.errors import SageSyncError
from sagesync.ledger import Ledger
from sagesync.ledger.alert_state import AlertBook, AlertRow
from sagesync.recipe import Recipe

LOCK_SECONDS = 60.0


@dataclass
class AlertReport:
    """What one evaluation found and did."""

    opened: list[AlertRow] = field(default_factory=list)
    cleared: list[AlertRow] = field(default_factory=list)
    open: list[AlertRow] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # channel -> alerts and resolutions
    warnings: list[str] = field(default_factory=list)


def evaluate(recipe: Recipe, *, now: datetime | None = None,
             quarantine_folders: Sequence[Path] = (),
             to: Sequence[Channel] | None = None) -> AlertReport:
    """Evaluate the recipe's triggers and send what changed. `to` replaces the recipe's
    channels (tests; `alerts test`)."""
    from filelock import FileLock, Timeout

    report = AlertReport()
    moment = now or datetime.now(UTC)
    at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    recipe.state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(recipe.state_dir / "alerts.lock", timeout=LOCK_SECONDS)
    try:
        lock.acquire()
    except Timeout:
        report.warnings.append("alerts not evaluated: another evaluation held alerts.lock for "
                               f"{LOCK_SECONDS:g} s; the next one catches up")
        return report
    try:
        with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
            book = AlertBook(ledger)
            found = find_causes(recipe, ledger, moment, book.open_alerts(), quarantine_folders)
            report.opened, report.cleared = book.update(found, at)
            report.open = book.open_alerts()
            secrets = secrets_of(recipe)
            for channel in (channels(recipe.alerts) if to is None else to):
                raised, resolved = book.pending(channel.name)
                if not raised and not resolved:
                    continue
                message = masked(compose(recipe, raised, resolved, at), secrets)
                try:
                    channel.send(message)
                except SageSyncError as error:
                    report.warnings.append(
                        f"alert not sent by {channel.name}: {redact(str(error), secrets)}; it "
                        "is sent again at the next evaluation")
                    continue
                book.sent(channel.name, raised, resolved)
                report.sent[channel.name] = len(raised) + len(resolved)
    finally:
        lock.release()
    return report
