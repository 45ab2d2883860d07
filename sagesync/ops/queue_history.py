"""The queue's depth and age over time, replayed from the ledger's events.

The `records` table only knows each record's state now; the `events` table has every move
with its time. Replaying a whole history after every run would grow with the ledger's age, so
only the window's events are replayed: a record the window never touches is as it is now, and
one it touches starts from its last move before the window (an indexed look-up per record).

A record waits for sagesync while exported, queued or rejected, and for a person while held
or needing attention; its age is counted from when it was first exported, as `status` does.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

WAITING = ("exported", "queued", "rejected")  # the next run takes them on
WITH_PERSON = ("held", "needs_attention")  # a person must act first
PENDING = WAITING + WITH_PERSON
# events named after the state they move a record to
_STATE_EVENTS = frozenset(("exported", "queued", "held", "skipped", "sent", "confirmed",
                           "rejected", "needs_attention", "amended", "void", "resolved"))
_BACK_TO_START = frozenset(("retry", "released"))  # a person's move back to `exported`
_REVALIDATED = "validated again"  # a `changed` event that also sent the record back
_MOVES_SQL = (f"(event IN ({','.join(repr(e) for e in sorted(_STATE_EVENTS | _BACK_TO_START))})"
              f" OR (event = 'changed' AND detail LIKE '%{_REVALIDATED}'))")
MAX_POINTS = 240  # per chart: enough for a smooth line, small enough for a light page

Key = tuple[str, int, int]


@dataclass(frozen=True)
class QueuePoint:
    """The queue at the end of a stretch of time ending at `at`: records waiting for a run,
    waiting for a person, the age in hours of the oldest of them (None when nothing waits),
    and `peak`, the most pending at once at any moment of the stretch (a spike between two
    points stays visible however long the window)."""

    at: str
    waiting: int
    with_person: int
    oldest_hours: float | None
    peak: int


def state_after(event: str, detail: str | None, state: str | None) -> str | None:
    """A record's state after `event`, from its state before (None: not yet known)."""
    if event in _STATE_EVENTS:
        return event
    if event in _BACK_TO_START or (event == "changed" and (detail or "").endswith(_REVALIDATED)):
        return "exported"
    return state


@lru_cache(maxsize=4096)
def parse_stamp(stamp: str) -> datetime:
    """A ledger time (2026-11-30T21:38:40Z) as an aware datetime."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def first_event_id(db: sqlite3.Connection, since: str) -> int:
    """The id of the first event at or after `since` (one past the last when none): ids grow
    with time, so a binary search over the primary key finds it without an index on `at`."""
    low, high = db.execute("SELECT coalesce(min(id), 1), coalesce(max(id), 0) + 1 "
                           "FROM events").fetchone()
    while low < high:
        middle = (low + high) // 2
        row = db.execute("SELECT at FROM events WHERE id >= ? ORDER BY id LIMIT 1",
                         (middle,)).fetchone()
        if row is None or row[0] >= since:
            high = middle
        else:
            low = middle + 1
    return int(low)


class _Queue:
    """The pending records and the oldest of them, as events move records in and out."""

    def __init__(self) -> None:
        self.state: dict[Key, str | None] = {}
        self.since: dict[Key, str] = {}
        self.waiting = 0
        self.with_person = 0
        self._oldest: list[tuple[str, Key]] = []  # a heap; stale entries dropped when read

    def put(self, key: Key, state: str | None, since: str) -> None:
        self.since[key] = since
        self.move(key, state)

    def move(self, key: Key, state: str | None) -> None:
        before = self.state.get(key)
        self.waiting += (state in WAITING) - (before in WAITING)
        self.with_person += (state in WITH_PERSON) - (before in WITH_PERSON)
        self.state[key] = state
        if state in PENDING and before not in PENDING:
            heapq.heappush(self._oldest, (self.since.get(key, ""), key))

    def oldest(self) -> str | None:
        while self._oldest and self.state.get(self._oldest[0][1]) not in PENDING:
            heapq.heappop(self._oldest)
        return self._oldest[0][0] if self._oldest else None

    def point(self, at: str) -> QueuePoint:
        oldest = self.oldest()
        hours = None
        if oldest:
            hours = round(max(0.0, (parse_stamp(at) - parse_stamp(oldest)).total_seconds())
                          / 3600, 2)
        return QueuePoint(at, self.waiting, self.with_person, hours,
                          self.waiting + self.with_person)


def queue_history(db: sqlite3.Connection, since: str, now: str) -> list[QueuePoint]:
    """The queue from `since` to `now` (UTC stamps): a point where the window starts (or at
    the first event, when the ledger is younger), the window cut into equal slices of time
    with a point for each slice in which records moved, and a point at `now`; at most
    MAX_POINTS in all."""
    start = first_event_id(db, since)
    first = db.execute("SELECT at FROM events WHERE id >= ? ORDER BY id LIMIT 1",
                       (start,)).fetchone()
    queue = _Queue()
    touched = _touched_before(db, start)
    for key, state, created in touched:
        queue.put(key, state, created)
    known = {key for key, _, _ in touched}
    for key, state, created in _untouched_pending(db, known):
        queue.put(key, state, created)
    older = db.execute("SELECT 1 FROM events WHERE id < ? LIMIT 1", (start,)).fetchone()
    begin = first[0] if first and not older else since  # a young ledger: from its start
    end = max(now, begin)
    opening = queue.point(begin)
    slices = _Slices(begin, end, MAX_POINTS - 2)
    for event_at, key, event, detail in _events_from(db, start):
        slices.before(event_at, queue)
        if key not in queue.since:  # a record the records table does not know
            queue.since[key] = event_at
        queue.move(key, state_after(event, detail, queue.state.get(key)))
        slices.after(event_at, queue)
    return [opening, *slices.close(queue), queue.point(end)]


class _Slices:
    """The window cut into `count` equal slices of time. Each slice in which records moved
    gives one point: the queue as the slice's last move left it, with the most records
    pending at once during the slice. Events come in time order, so a slice is finished
    when the first event of a later one comes (the age, the costly part, is read then)."""

    def __init__(self, begin: str, end: str, count: int) -> None:
        self.begin = parse_stamp(begin)
        self.span = max((parse_stamp(end) - self.begin).total_seconds(), 1.0)
        self.count = count
        self.found: list[QueuePoint] = []
        self.index: int | None = None  # the slice being filled
        self.last_at = ""
        self.peak = 0
        self._stamp, self._stamp_index = "", 0

    def _index_of(self, at: str) -> int:
        if at != self._stamp:  # consecutive events mostly share their second
            offset = (parse_stamp(at) - self.begin).total_seconds()
            self._stamp = at
            self._stamp_index = min(self.count - 1, max(0, int(offset / self.span
                                                                * self.count)))
        return max(self._stamp_index, self.index or 0)  # a clock stepped back: same slice

    def before(self, at: str, queue: _Queue) -> None:
        """An event at `at` is about to move a record: finish the slice before its own."""
        index = self._index_of(at)
        if self.index is not None and index != self.index:
            self._finish(queue)
        if self.index is None or index != self.index:  # it starts as the last one ended
            self.index, self.peak = index, queue.waiting + queue.with_person

    def after(self, at: str, queue: _Queue) -> None:
        self.last_at = at
        self.peak = max(self.peak, queue.waiting + queue.with_person)

    def _finish(self, queue: _Queue) -> None:
        point = queue.point(self.last_at)
        self.found.append(QueuePoint(point.at, point.waiting, point.with_person,
                                     point.oldest_hours, self.peak))

    def close(self, queue: _Queue) -> list[QueuePoint]:
        if self.index is not None:
            self._finish(queue)
            self.index = None
        return self.found


def _touched_before(db: sqlite3.Connection, start: int
                    ) -> list[tuple[Key, str | None, str]]:
    """Each record the window's events touch: its state before the window (None when it was
    first seen inside it) and when it was first exported."""
    rows = db.execute(
        "WITH touched AS (SELECT DISTINCT entity_type t, entity_id i, store_id s FROM events "
        "WHERE id >= ? AND entity_type IS NOT NULL) "
        "SELECT t, i, s, (SELECT event || char(9) || coalesce(detail, '') FROM events p "
        f"WHERE p.entity_type = t AND p.entity_id = i AND p.store_id = s AND p.id < ? AND "
        f"{_MOVES_SQL} ORDER BY p.id DESC LIMIT 1), "
        "(SELECT created_at FROM records r WHERE r.entity_type = t AND r.entity_id = i AND "
        "r.store_id = s) FROM touched", (start, start))
    found: list[tuple[Key, str | None, str]] = []
    for t, i, s, last, created in rows:
        state = None
        if last is not None:
            event, _, detail = last.partition("\t")
            state = state_after(event, detail, None)
        found.append(((t, i, s), state, created or ""))
    return found


def _untouched_pending(db: sqlite3.Connection, touched: set[Key]
                       ) -> Iterator[tuple[Key, str, str]]:
    """The records pending now that the window never touched: as they are now throughout."""
    marks = ",".join("?" * len(PENDING))
    for t, i, s, state, created in db.execute(
            f"SELECT entity_type, entity_id, store_id, state, created_at FROM records "
            f"WHERE state IN ({marks})", PENDING):
        if (t, i, s) not in touched:
            yield (t, i, s), state, created


def _events_from(db: sqlite3.Connection, start: int
                 ) -> Iterator[tuple[str, Key, str, str | None]]:
    cursor = db.execute("SELECT at, entity_type, entity_id, store_id, event, detail FROM events "
                        "WHERE id >= ? AND entity_type IS NOT NULL ORDER BY id", (start,))
    while rows := cursor.fetchmany(10_000):
        for at, t, i, s, event, detail in rows:
            yield at, (t, i, s), event, detail
