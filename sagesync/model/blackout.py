"""Sage's blackout windows: when Sage cannot take files (a nightly backup, a weekend, month-end
close), read from the recipe's `[sage] blackout` texts and asked "is this moment inside one, and
when does it end?".

One window is `[DAYS] [HH:MM-HH:MM]`, in the recipe's (Sage server's) time zone:

- DAYS: nothing (every day); weekday names `Mon`..`Sun`, comma-separated or a range
  (`Sat,Sun`, `Mon-Fri`); `day 1,15` (days of the month); `last 3 days` (the month's last
  three days: month-end close).
- HH:MM-HH:MM: the times, the end exclusive; `24:00` is the day's end; an end before the start
  crosses midnight into the next day (`Fri 22:00-02:00` ends on Saturday). Left out: the whole
  day.

Local times are turned into instants with the zone's rules, so a window keeps its wall-clock
times across a daylight-saving change (see `_instant` for the skipped and repeated hour). This
module is pure: it is given `now`, never reads a
clock, so tests fix time without sleeping.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["BlackoutWindow", "Closed", "closed_at", "parse_window"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIMES = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_MONTH_DAYS = re.compile(r"^days?\s+(\d{1,2}(?:\s*,\s*\d{1,2})*)$", re.IGNORECASE)
_LAST_DAYS = re.compile(r"^last\s+(\d{1,2})\s+days?$", re.IGNORECASE)
SYNTAX = ("'[DAYS] [HH:MM-HH:MM]': e.g. '01:30-03:00' (daily), 'Sat,Sun', 'Mon-Fri 22:00-02:00', "
          "'day 1,15 00:00-06:00', 'last 3 days'")


class WindowSyntaxError(ValueError):
    """A blackout text that does not follow SYNTAX; the message says which part."""


@dataclass(frozen=True)
class BlackoutWindow:
    """One window: the days it starts on and its local start and end (minutes from midnight;
    an end at or before the start crosses midnight, 1440 is the day's end)."""

    text: str
    weekdays: frozenset[int] = frozenset()  # 0 = Monday; empty: not by weekday
    month_days: frozenset[int] = frozenset()  # 1..31
    last_days: int = 0  # the month's last N days
    start: int = 0
    end: int = 1440

    def starts_on(self, day: date) -> bool:
        if self.weekdays:
            return day.weekday() in self.weekdays
        if self.month_days:
            return day.day in self.month_days
        if self.last_days:
            return day.day > calendar.monthrange(day.year, day.month)[1] - self.last_days
        return True

    def span(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The window that starts on `day`, as UTC instants [start, end)."""
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return _instant(day, self.start, zone), _instant(end_day, self.end, zone, end=True)


def _instant(day: date, minutes: int, zone: ZoneInfo, *, end: bool = False) -> datetime:
    """The UTC instant of a local wall-clock time. A time the spring change skips becomes the
    change itself (the first moment the clock reads later); a time the autumn change repeats is
    read as its first occurrence for a start, its second for an end: the window never shrinks."""
    if minutes >= 1440:
        day, minutes = day + timedelta(days=1), minutes - 1440
    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != wall:  # skipped: find the change
        moment, latest = min(first, second), max(first, second)
        while moment < latest and moment.astimezone(zone).replace(tzinfo=None) < wall:
            moment += timedelta(minutes=1)
        return moment
    return second if end else first


def parse_window(text: str) -> BlackoutWindow:
    """A window from its recipe text; WindowSyntaxError says what is wrong."""
    words = text.strip().split()
    if not words:
        raise WindowSyntaxError("an empty window")
    start, end = 0, 1440
    times = _TIMES.match(words[-1])
    if times:
        start, end = _minutes(times[1], times[2]), _minutes(times[3], times[4])
        if start >= 1440:
            raise WindowSyntaxError(f"the start {words[-1].split('-')[0]} is past 23:59")
        if start == end:
            raise WindowSyntaxError(f"{words[-1]} is empty (write 00:00-24:00 for a whole day)")
        words = words[:-1]
    elif "-" in words[-1] and ":" in words[-1]:
        raise WindowSyntaxError(f"{words[-1]!r} is not HH:MM-HH:MM")
    days = " ".join(words)
    if not days:
        return BlackoutWindow(text, start=start, end=end)
    if found := _MONTH_DAYS.match(days):
        numbers = frozenset(int(n) for n in found[1].split(","))
        if not all(1 <= n <= 31 for n in numbers):
            raise WindowSyntaxError(f"{days!r}: days of the month run from 1 to 31")
        return BlackoutWindow(text, month_days=numbers, start=start, end=end)
    if found := _LAST_DAYS.match(days):
        count = int(found[1])
        if not 1 <= count <= 28:
            raise WindowSyntaxError(f"{days!r}: the month's last 1 to 28 days")
        return BlackoutWindow(text, last_days=count, start=start, end=end)
    return BlackoutWindow(text, weekdays=_weekdays(days), start=start, end=end)


def _minutes(hours: str, minutes: str) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m):
        raise WindowSyntaxError(f"{hours}:{minutes} is not a time from 00:00 to 24:00")
    return h * 60 + m


def _weekdays(text: str) -> frozenset[int]:
    found: set[int] = set()
    for part in text.replace(" ", "").lower().split(","):
        first, _, last = part.partition("-")
        if first[:3] not in DAY_NAMES or (last and last[:3] not in DAY_NAMES) \
                or len(first) < 3 or (last and len(last) < 3):
            raise WindowSyntaxError(f"{part!r} is not a weekday (Mon, Tue, ... Sun), a range "
                                    "such as Mon-Fri, 'day N' or 'last N days'")
        a = DAY_NAMES.index(first[:3])
        b = DAY_NAMES.index(last[:3]) if last else a
        found.update((a + n) % 7 for n in range((b - a) % 7 + 1))
    return frozenset(found)


@dataclass(frozen=True)
class Closed:
    """Sage is inside `window` now; delivery resumes at `resumes` (UTC), past any window that
    begins before the last one ends."""

    window: BlackoutWindow
    resumes: datetime

    def resumes_local(self, zone: ZoneInfo) -> datetime:
        return self.resumes.astimezone(zone)

    def message(self, zone: ZoneInfo) -> str:
        """What the run tells the operator: the window, and when delivery resumes."""
        local = self.resumes_local(zone)
        return (f"Sage is in its blackout window '{self.window.text}' ([sage] blackout, "
                f"{zone.key}): nothing was delivered and every queued document stays queued. "
                f"Delivery resumes at {local:%Y-%m-%d %H:%M} {local.tzname()} ({zone.key}; "
                f"{self.resumes:%Y-%m-%d %H:%M} UTC): the first run after that delivers.")


def closed_at(windows: tuple[BlackoutWindow, ...], now: datetime, zone: ZoneInfo
              ) -> Closed | None:
    """The window `now` (an aware instant) falls in, and when delivery may resume; None when
    Sage is open."""
    first = _containing(windows, now, zone)
    if first is None:
        return None
    resumes = first[1]
    for _ in range(400):  # back-to-back windows: resume when none covers the moment
        following = _containing(windows, resumes, zone)
        if following is None:
            break
        resumes = following[1]
    return Closed(first[0], resumes)


def _containing(windows: tuple[BlackoutWindow, ...], moment: datetime, zone: ZoneInfo
                ) -> tuple[BlackoutWindow, datetime] | None:
    """The window holding `moment` that ends last, with its end (UTC)."""
    moment = moment.astimezone(UTC)
    today = moment.astimezone(zone).date()
    best: tuple[BlackoutWindow, datetime] | None = None
    for window in windows:
        for day in (today - timedelta(days=1), today):  # a window may cross midnight
            if not window.starts_on(day):
                continue
            start, end = window.span(day, zone)
            if start <= moment < end and (best is None or end > best[1]):
                best = (window, end)
    return best
