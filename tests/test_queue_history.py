"""The queue's history (ops.queue_history) against a replay of every event from the start.

Only the window's events are replayed by the library (a record the window never touches is
taken as it is now, one it touches from its last move before); here every prefix of the whole
history is replayed by hand, so the window's opening, its peaks and its end are checked
exactly for random histories and random windows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.ledger import Ledger
from sagesync.ops.queue_history import (
    MAX_POINTS,
    PENDING,
    WAITING,
    WITH_PERSON,
    queue_history,
    state_after,
)

EVENTS = ("exported", "queued", "held", "sent", "confirmed", "rejected", "needs_attention",
          "amended", "resolved", "skipped", "void", "retry", "released", "cancelled",
          "changed", "changed+")  # changed+: a change that sent the record back
START = datetime(2026, 1, 1, tzinfo=UTC)

steps = st.lists(st.tuples(st.integers(0, 5), st.sampled_from(EVENTS), st.integers(0, 4000)),
                 min_size=1, max_size=60)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_history(path: Path, history: list[tuple[int, str, datetime]]) -> dict[int, str]:
    """The events into a real ledger, and each record as the ledger would hold it now;
    returns each record's state now."""
    states: dict[int, str | None] = {}
    created: dict[int, datetime] = {}
    with Ledger(path) as ledger, ledger.transaction() as db:
        for record, event, at in history:
            name, detail = ("changed", "new content in X; validated again") \
                if event == "changed+" else (event, "new content in X" if event == "changed"
                                            else "")
            created.setdefault(record, at)
            states[record] = state_after(name, detail, states.get(record))
            db.execute("INSERT INTO events (at, entity_type, entity_id, store_id, event, "
                       "detail) VALUES (?, 'invoice', ?, 1, ?, ?)",
                       (stamp(at), record, name, detail))
        for record, state in states.items():
            db.execute("INSERT INTO records (entity_type, entity_id, store_id, content_hash, "
                       "state, created_at, updated_at) VALUES ('invoice', ?, 1, '', ?, ?, ?)",
                       (record, state or "unknown", stamp(created[record]),
                        stamp(created[record])))
    return {r: s or "unknown" for r, s in states.items()}


def totals(states: dict[int, str | None]) -> tuple[int, int]:
    values = list(states.values())
    return (sum(s in WAITING for s in values), sum(s in WITH_PERSON for s in values))


@settings(max_examples=40, deadline=None)
@given(steps=steps, window=st.integers(0, 100))
def test_the_window_replays_as_the_whole_history(tmp_path_factory, steps, window) -> None:  # type: ignore[no-untyped-def]
    moment = START
    history: list[tuple[int, str, datetime]] = []
    seen: set[int] = set()
    for record, event, gap in steps:
        moment += timedelta(seconds=gap)
        # a record's first event is its export, as in the ledger
        history.append((record, event if record in seen else "exported", moment))
        seen.add(record)
    now = moment + timedelta(hours=1)
    since = START + (moment - START) * window / 100
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite"
    final = write_history(path, history)

    with Ledger(path) as ledger:
        points = queue_history(ledger.db, stamp(since), stamp(now))

    before = {}  # the whole history replayed up to the window, then through it
    for record, event, at in history:
        if stamp(at) >= stamp(since):
            break
        before[record] = state_after(event.rstrip("+"), "validated again"
                                     if event == "changed+" else "", before.get(record))
    assert (points[0].waiting, points[0].with_person) == totals(before)
    peaks = [sum(totals(before))]
    states = dict(before)
    for record, event, at in history:
        if stamp(at) >= stamp(since):
            states[record] = state_after(event.rstrip("+"), "validated again"
                                         if event == "changed+" else "", states.get(record))
            peaks.append(sum(totals(states)))
    assert max(p.peak for p in points) == max(peaks)
    assert (points[-1].waiting, points[-1].with_person) == totals(dict(final.items()))
    assert points[-1].at == stamp(now)
    assert len(points) <= MAX_POINTS
    pending = [created for record, _, created in
               ((r, e, a) for r, e, a in history if e == "exported")
               if final[record] in PENDING]
    expected_age = round((now - min(pending)).total_seconds() / 3600, 2) if pending else None
    assert points[-1].oldest_hours == expected_age


def test_a_long_window_is_folded_and_keeps_its_peak(tmp_path: Path) -> None:
    """Thousands of moves in a day fold into at most MAX_POINTS points, the spike kept."""
    history = [(i, "exported", START + timedelta(seconds=10 * i)) for i in range(3000)]
    history += [(i, "sent", START + timedelta(seconds=10 * i + 5)) for i in range(3000)]
    history.sort(key=lambda h: h[2])
    # one burst: 50 records exported in one second, sent a minute later
    burst = START + timedelta(hours=5, seconds=1)
    history += [(10_000 + i, "exported", burst) for i in range(50)]
    history += [(10_000 + i, "sent", burst + timedelta(minutes=1)) for i in range(50)]
    history.sort(key=lambda h: h[2])
    write_history(tmp_path / "ledger.sqlite", history)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        points = queue_history(ledger.db, stamp(START - timedelta(days=1)),
                               stamp(START + timedelta(days=1)))
    assert len(points) <= MAX_POINTS
    assert max(p.peak for p in points) == 51  # the burst on top of the one in flight
    assert (points[-1].waiting, points[-1].with_person) == (0, 0)
