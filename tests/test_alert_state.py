"""The alert state in a real ledger, under random sequences of evaluations: causes appearing
and clearing, channels failing and recovering. However they interleave, each channel hears
of an episode at most once, hears of its end at most once and only after its start, and a
channel that recovers catches up on every episode still open."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.ledger import Ledger
from sagesync.ledger.alert_state import AlertBook, Found

CAUSES = ("held:a", "held:b", "no_success", "quarantine:1")
CHANNELS = ("email", "webhook")

steps = st.lists(st.tuples(st.frozensets(st.sampled_from(CAUSES)),
                           st.frozensets(st.sampled_from(CHANNELS))), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(steps)
def test_each_episode_is_announced_once_and_resolved_once(tmp_path_factory, sequence) -> None:  # type: ignore[no-untyped-def]
    folder: Path = tmp_path_factory.mktemp("alerts")
    told: dict[str, list[tuple[str, int]]] = {c: [] for c in CHANNELS}
    with Ledger(folder / "ledger.sqlite") as ledger:
        book = AlertBook(ledger)
        for present, working in sequence:
            book.update([Found(c, f"title {c}", "detail") for c in sorted(present)])
            for channel in CHANNELS:
                raised, resolved = book.pending(channel)
                if channel not in working:
                    continue  # the send failed: nothing recorded, pending next time
                told[channel] += [("raised", r.id) for r in raised]
                told[channel] += [("resolved", r.id) for r in resolved]
                book.sent(channel, raised, resolved)
            open_now = {r.cause for r in book.open_alerts()}
            assert open_now == set(present)
        for messages in told.values():
            assert len(messages) == len(set(messages))  # never twice
            for index, (kind, episode) in enumerate(messages):
                if kind == "resolved":
                    assert ("raised", episode) in messages[:index]
        # a channel that works now catches up on everything still open, and only that
        for channel in CHANNELS:
            raised, _ = book.pending(channel)
            heard = {e for k, e in told[channel] if k == "raised"}
            assert {r.id for r in raised} == {r.id for r in book.open_alerts()} - heard
