"""The alerts' memory in the ledger: which causes are open, and which channel told whom.

A cause (a stable key such as `held:unmapped_tax_rate` or `no_success`) is *open* from the
evaluation that first finds it until the first one that no longer does; each such episode is
one row of `alerts`. A channel is told of an episode once when it opens and once when it
clears (`alert_sends`), so a cause that persists is never repeated, a failed send is retried
by the next evaluation, and a send that went is never made again. Kept apart from the record
store: it shares only the connection and the transaction helper.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sagesync.ledger.store import Ledger

RAISED = "raised"
RESOLVED = "resolved"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AlertRow:
    """One episode of a cause."""

    id: int
    cause: str
    title: str
    detail: str
    about: str | None  # the file a quarantine alert is about (it clears when the file goes)
    raised_at: str
    cleared_at: str | None


@dataclass(frozen=True)
class Found:
    """A cause an evaluation found, with what to tell about it."""

    cause: str
    title: str
    detail: str
    about: str | None = None


class AlertBook:
    """Open and close episodes, and remember deliveries, on one ledger connection."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.db = ledger.db

    def open_alerts(self) -> list[AlertRow]:
        return [AlertRow(*row) for row in self.db.execute(
            "SELECT id, cause, title, detail, about, raised_at, cleared_at FROM alerts "
            "WHERE cleared_at IS NULL ORDER BY id")]

    def update(self, found: Iterable[Found], now: str | None = None
               ) -> tuple[list[AlertRow], list[AlertRow]]:
        """Open an episode for each found cause that is not open, and clear each open one
        that was not found, in one transaction. Returns (opened, cleared)."""
        at = now or _now()
        wanted = {f.cause: f for f in found}
        opened: list[AlertRow] = []
        cleared: list[AlertRow] = []
        with self.ledger.transaction() as db:
            current = {row[1]: AlertRow(*row) for row in db.execute(
                "SELECT id, cause, title, detail, about, raised_at, cleared_at FROM alerts "
                "WHERE cleared_at IS NULL")}
            for cause, item in wanted.items():
                if cause in current:
                    continue
                cursor = db.execute("INSERT INTO alerts (cause, title, detail, about, "
                                    "raised_at) VALUES (?,?,?,?,?)",
                                    (cause, item.title, item.detail, item.about, at))
                opened.append(AlertRow(int(cursor.lastrowid or 0), cause, item.title,
                                       item.detail, item.about, at, None))
            for cause, row in current.items():
                if cause in wanted:
                    continue
                db.execute("UPDATE alerts SET cleared_at=? WHERE id=?", (at, row.id))
                cleared.append(AlertRow(row.id, row.cause, row.title, row.detail,
                                        row.about, row.raised_at, at))
        return opened, cleared

    def pending(self, channel: str) -> tuple[list[AlertRow], list[AlertRow]]:
        """(episodes to announce, episodes to announce as resolved) on `channel`: open ones it
        was not told of, and cleared ones it was told of but not of their end. An episode that
        cleared before the channel heard of it is not sent at all."""
        raised = [AlertRow(*row) for row in self.db.execute(
            "SELECT id, cause, title, detail, about, raised_at, cleared_at FROM alerts a "
            "WHERE cleared_at IS NULL AND NOT EXISTS (SELECT 1 FROM alert_sends s WHERE "
            "s.alert_id=a.id AND s.channel=? AND s.kind=?) ORDER BY id", (channel, RAISED))]
        resolved = [AlertRow(*row) for row in self.db.execute(
            "SELECT id, cause, title, detail, about, raised_at, cleared_at FROM alerts a "
            "WHERE cleared_at IS NOT NULL AND EXISTS (SELECT 1 FROM alert_sends s WHERE "
            "s.alert_id=a.id AND s.channel=? AND s.kind=?) AND NOT EXISTS (SELECT 1 FROM "
            "alert_sends s WHERE s.alert_id=a.id AND s.channel=? AND s.kind=?) ORDER BY id",
            (channel, RAISED, channel, RESOLVED))]
        return raised, resolved

    def sent(self, channel: str, raised: Iterable[AlertRow], resolved: Iterable[AlertRow]
             ) -> None:
        """The channel delivered these: never send them again."""
        at = _now()
        with self.ledger.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO alert_sends VALUES (?,?,?,?)",
                           [(row.id, channel, RAISED, at) for row in raised]
                           + [(row.id, channel, RESOLVED, at) for row in resolved])


def note_newest(ledger: Ledger, what: str, value: str) -> None:
    """Remember the largest `value` (ISO text in UTC, so text order is time order) seen of
    `what` ("order_created": the newest Magento order an export saw)."""
    with ledger.transaction() as db:
        db.execute("INSERT INTO sightings VALUES (?,?,?) ON CONFLICT DO UPDATE SET "
                   "value=excluded.value, updated_at=excluded.updated_at "
                   "WHERE excluded.value > sightings.value", (what, value, _now()))


def newest(ledger: Ledger, what: str) -> str | None:
    row = ledger.db.execute("SELECT value FROM sightings WHERE what=?", (what,)).fetchone()
    return row[0] if row else None
