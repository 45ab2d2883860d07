"""Trading hours: when a store expects orders, as a recipe writes them ("Mon-Fri 09:00-17:00").

The alert "no Magento orders seen during trading hours" counts only trading time: a quiet
night or weekend is not silence. The text is a list of windows separated by `;`, each days
then a time range in the recipe's zone: `Mon-Fri 09:00-17:30; Sat 10:00-14:00`, days as a
range (`Mon-Fri`), a list (`Mon,Wed,Fri`) or both (`Mon-Wed,Fri`), or `Daily`. An end at or
before the start runs past midnight (`Fri 22:00-02:00` ends on Saturday); `24:00` is the end
of the day. Pure: no I/O, so the parser and the arithmetic are tested on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")
EXAMPLE = '"Mon-Fri 09:00-17:00" (windows separated by ";", e.g. "Mon-Fri 09:00-17:00; ' \
          'Sat 10:00-14:00")'


class TradingHoursError(ValueError):
    """The text is not trading hours; the message says which part and what is expected."""


@dataclass(frozen=True)
class Window:
    """One window: the weekdays it starts on (0 = Monday), and its start and length."""

    days: frozenset[int]
    start_minute: int
    minutes: int


@dataclass(frozen=True)
class TradingHours:
    windows: tuple[Window, ...]
    text: str

    def __str__(self) -> str:
        return self.text

    def spans(self, since: datetime, until: datetime, zone: ZoneInfo
              ) -> list[tuple[datetime, datetime]]:
        """The trading windows (UTC) that overlap [since, until], clipped to it."""
        found: list[tuple[datetime, datetime]] = []
        if until <= since:
            return found
        first = since.astimezone(zone).date() - timedelta(days=2)
        last = until.astimezone(zone).date()
        day = first
        while day <= last:
            for window in self.windows:
                if day.weekday() not in window.days:
                    continue
                start, end = _utc_span(day, window, zone)
                low, high = max(start, since), min(end, until)
                if low < high:
                    found.append((low, high))
            day += timedelta(days=1)
        return found

    def trading_seconds(self, since: datetime, until: datetime, zone: ZoneInfo) -> float:
        """How much trading time lies between two moments (overlapping windows count once)."""
        total = timedelta(0)  # exact (microseconds), so the sums add up
        reach: datetime | None = None
        for low, high in sorted(self.spans(since, until, zone)):
            if reach is not None and low < reach:
                low = reach
            if low < high:
                total += high - low
                reach = high
        return total.total_seconds()

    def is_open(self, moment: datetime, zone: ZoneInfo) -> bool:
        return bool(self.spans(moment, moment + timedelta(seconds=1), zone))


def _utc_span(day: date, window: Window, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A window of a local day as UTC moments (wall-clock times through DST changes)."""
    start = _wall(day, window.start_minute, zone)
    end = _wall(day, window.start_minute + window.minutes, zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _wall(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The local wall-clock time `minute` minutes after the day's midnight (may be a later day)."""
    extra_days, minute = divmod(minute, 24 * 60)
    when = day + timedelta(days=extra_days)
    return datetime(when.year, when.month, when.day, minute // 60, minute % 60, tzinfo=zone)


def _days(text: str) -> frozenset[int]:
    if text.lower() in ("daily", "every", "all"):
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        try:
            first = DAYS.index(low.strip().lower()[:3]) if len(low.strip()) >= 3 else -1
            end = DAYS.index(high.strip().lower()[:3]) if dash and len(high.strip()) >= 3 \
                else first
        except ValueError:
            first = end = -1
        if first < 0 or end < 0 or not _is_day(low) or (dash and not _is_day(high)):
            raise TradingHoursError(f"{part!r} is not a day or a range of days such as "
                                    "'Mon-Fri' (days: Mon Tue Wed Thu Fri Sat Sun, or Daily)")
        day = first
        found.add(day)
        while day != end:
            day = (day + 1) % 7
            found.add(day)
    return frozenset(found)


def _is_day(text: str) -> bool:
    word = text.strip().lower()
    return any(word in (day, full) for day, full in zip(DAYS, (
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        strict=True))


def _minute(text: str) -> int:
    found = _TIME.match(text.strip())
    if not found or (found.group(1) == "24" and found.group(2) != "00"):
        raise TradingHoursError(f"{text.strip()!r} is not a time HH:MM from 00:00 to 24:00")
    return int(found.group(1)) * 60 + int(found.group(2))


def parse_trading_hours(text: str | list[str]) -> TradingHours:
    """Windows from a recipe's text (or list of texts); TradingHoursError says what is wrong."""
    parts = text if isinstance(text, list) else text.split(";")
    windows: list[Window] = []
    for raw in parts:
        if not isinstance(raw, str):
            raise TradingHoursError(f"{raw!r} is not a text such as {EXAMPLE}")
        part = raw.strip()
        if not part:
            continue
        days, _, hours = part.rpartition(" ")
        start, dash, end = hours.partition("-")
        if not days.strip() or not dash:
            raise TradingHoursError(f"{part!r} is not days and hours such as {EXAMPLE}")
        first, last = _minute(start), _minute(end)
        if first == 24 * 60:
            raise TradingHoursError(f"{part!r}: a window cannot start at 24:00")
        minutes = last - first if last > first else last + 24 * 60 - first
        windows.append(Window(_days(days.strip()), first, minutes))
    if not windows:
        raise TradingHoursError(f"no trading window given; write one such as {EXAMPLE}")
    shown = text if isinstance(text, str) else "; ".join(text)
    return TradingHours(tuple(windows), shown.strip())
