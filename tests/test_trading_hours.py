"""Trading hours: the parser takes what the README shows and refuses anything else with a
TradingHoursError (never another exception); trading time adds up, counts only windows,
and follows the wall clock through daylight-saving changes."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.model.trading_hours import TradingHoursError, parse_trading_hours

LONDON = ZoneInfo("Europe/London")
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31),
                       timezones=st.just(UTC))


def test_the_readme_forms() -> None:
    hours = parse_trading_hours("Mon-Fri 09:00-17:30; Sat 10:00-14:00")
    assert [(sorted(w.days), w.start_minute, w.minutes) for w in hours.windows] == [
        ([0, 1, 2, 3, 4], 540, 510), ([5], 600, 240)]
    assert sorted(parse_trading_hours("Mon-Wed,Fri 08:00-24:00").windows[0].days) == [0, 1, 2, 4]
    assert parse_trading_hours("Fri-Mon 22:00-02:00").windows[0].minutes == 240
    assert sorted(parse_trading_hours(["Daily 00:00-24:00"]).windows[0].days) == list(range(7))


@pytest.mark.parametrize("text", ["", "Mon-Fri", "Mon-Fri 9-17", "Mon-Fri 09:00",
                                  "Funday 09:00-17:00", "Mon-Fri 25:00-26:00",
                                  "Mon-Fri 24:00-02:00", "Mon-Fri 09:60-10:00", "; ;"])
def test_what_is_refused(text: str) -> None:
    with pytest.raises(TradingHoursError):
        parse_trading_hours(text)


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    with contextlib.suppress(TradingHoursError):
        parse_trading_hours(text)


@settings(max_examples=60)
@given(moments, st.integers(0, 400_000), st.integers(0, 400_000))
def test_trading_time_adds_up_and_never_exceeds_the_wall_clock(
        start: datetime, first: int, second: int) -> None:
    hours = parse_trading_hours("Mon-Fri 09:00-17:00; Sat 10:00-14:00")
    middle = start + timedelta(seconds=first)
    end = middle + timedelta(seconds=second)
    whole = hours.trading_seconds(start, end, LONDON)
    assert whole == pytest.approx(hours.trading_seconds(start, middle, LONDON)
                                  + hours.trading_seconds(middle, end, LONDON), abs=1e-6)
    assert 0 <= whole <= (end - start).total_seconds()


@settings(max_examples=30)
@given(moments, st.integers(0, 10 * 86_400))
def test_all_day_every_day_is_the_wall_clock(start: datetime, seconds: int) -> None:
    hours = parse_trading_hours("Daily 00:00-24:00")
    end = start + timedelta(seconds=seconds)
    assert hours.trading_seconds(start, end, LONDON) == seconds


def test_a_week_and_the_daylight_saving_days() -> None:
    hours = parse_trading_hours("Mon-Fri 09:00-17:00")
    monday = datetime(2026, 11, 30, tzinfo=UTC)  # London is on UTC in winter
    assert hours.trading_seconds(monday, monday + timedelta(days=7), LONDON) == 5 * 8 * 3600
    assert hours.is_open(monday + timedelta(hours=10), LONDON)
    assert not hours.is_open(monday + timedelta(days=5, hours=10), LONDON)  # Saturday
    # Sunday 29 March 2026 the clocks go forward; Monday's 09:00 is 08:00 UTC
    spring = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert hours.trading_seconds(spring, spring + timedelta(hours=8), LONDON) == 8 * 3600
    assert hours.trading_seconds(spring - timedelta(hours=1), spring, LONDON) == 0
    # a window past midnight: Friday 22:00 to Saturday 02:00
    late = parse_trading_hours("Fri 22:00-02:00")
    friday = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    assert late.trading_seconds(friday, friday + timedelta(days=1), LONDON) == 4 * 3600
