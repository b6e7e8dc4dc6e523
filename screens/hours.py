"""A screen's on-times: when it shows its playlist, and when the dark idle slide.

    hours: mon-fri 07:00-18:00
    hours: ["mon-fri 07:00-12:30,13:00-18:00", "sat 09:00-13:00", "fri 22:00-02:00"]

An entry is `DAYS HH:MM-HH:MM[,HH:MM-HH:MM...]`. DAYS is a comma list of
day names (mon tue wed thu fri sat sun) and ranges (`mon-fri`; `fri-mon`
wraps over the weekend); without DAYS an entry holds for every day. A range
ending before it starts runs past midnight into the next day (`fri
22:00-02:00` is on until Saturday 02:00); `24:00` ends a range at midnight.
Entries add up; no `hours` at all means always on.

Times are wall-clock times in the intranet's zone (issue 6): a screen on
from 07:00 turns on at 07:00 local time on the day the clocks change too.
A boundary inside the hour skipped in spring takes effect when the clocks
jump over it; in the hour repeated in autumn the wall clock passes a
boundary twice, and so does the screen.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = 24 * 60
_WEEK = 7 * _DAY
_ENTRY = re.compile(r"\s*(?:(?P<days>[a-z][a-z\s,-]*?)\s+)?(?P<times>\d.*?)\s*")
_RANGE = re.compile(r"\s*(\d{1,2}):(\d\d)\s*-\s*(\d{1,2}):(\d\d)\s*")
_EXAMPLE = "e.g. 'mon-fri 07:00-18:00'"


@dataclass(frozen=True, slots=True)
class Hours:
    """On-times as minutes since Monday 00:00 local time: sorted, merged, [start, end) within one week."""

    spec: tuple[str, ...]
    intervals: tuple[tuple[int, int], ...]

    def is_on(self, at: datetime, tz: ZoneInfo) -> bool:
        local = _aware(at).astimezone(tz)
        minute = local.weekday() * _DAY + local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
        return any(start <= minute < end for start, end in self.intervals)

    def next_change(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """The first instant after `at` at which `is_on` changes (UTC); None when it never does."""
        if self.intervals == ((0, _WEEK),):
            return None
        state = self.is_on(at, tz)
        for candidate in sorted(set(self._candidates(_aware(at), tz))):
            if candidate > at and self.is_on(candidate, tz) != state:
                return candidate
        return None

    def _candidates(self, at: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        """Every instant in the next eight days where the wall clock crosses a boundary or jumps."""
        boundaries = sorted({m % _WEEK for interval in self.intervals for m in interval})
        today = at.astimezone(tz).date()
        for offset in range(-1, 9):
            day = today + timedelta(days=offset)
            for minute in boundaries:
                if minute // _DAY == day.weekday():
                    yield from _instants(day, minute % _DAY, tz)
        yield from _transitions(at, at + timedelta(days=8), tz)


def parse_hours(spec: str | list[str]) -> Hours:
    """Parse one entry or a list of them; ValueError names the entry and what is wrong with it."""
    entries = [spec] if isinstance(spec, str) else spec
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ValueError(f"expected on-times such as 'mon-fri 07:00-18:00' or a list of them, got {spec!r}")
    if not entries:
        raise ValueError("no on-times given; leave hours out to keep the screen on all the time")
    spans: list[tuple[int, int]] = []
    for entry in entries:
        try:
            spans += _entry(entry)
        except ValueError as e:
            raise ValueError(f"invalid hours {entry!r}: {e}") from None
    return Hours(tuple(entries), _merge(spans))


def _entry(text: str) -> list[tuple[int, int]]:
    match = _ENTRY.fullmatch(text.lower())
    if match is None:
        raise ValueError(f"expected DAYS HH:MM-HH:MM, {_EXAMPLE}")
    days = _days(match["days"]) if match["days"] else list(range(7))
    spans = []
    for part in match["times"].split(","):
        start, end = _range(part)
        spans += [(day * _DAY + start, day * _DAY + end) for day in days]
    return spans


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        a = _day(first)
        b = _day(last) if sep else a
        days += [(a + i) % 7 for i in range((b - a) % 7 + 1)]
    return sorted(set(days))


def _day(name: str) -> int:
    if name in DAYS:
        return DAYS.index(name)
    close = difflib.get_close_matches(name, DAYS, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else f"; use {', '.join(DAYS)}"
    raise ValueError(f"unknown day {name!r}{hint}")


def _range(text: str) -> tuple[int, int]:
    """Minutes since the day's midnight; an end before the start is on the next day."""
    match = _RANGE.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a time range HH:MM-HH:MM, got {text.strip()!r} ({_EXAMPLE})")
    h1, m1, h2, m2 = map(int, match.groups())
    for h, m in ((h1, m1), (h2, m2)):
        if m > 59 or h > 24 or (h == 24 and m):
            raise ValueError(f"{h:02d}:{m:02d} is not a time of day (00:00 to 24:00)")
    if h1 == 24:
        raise ValueError("a range cannot start at 24:00; write 00:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"{text.strip()!r} is empty; write 00:00-24:00 for the whole day")
    return start, end if end > start else end + _DAY


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Fold spans into one week (Sunday night runs into Monday) and join those that touch."""
    folded = []
    for start, end in spans:
        if end > _WEEK:
            folded += [(start, _WEEK), (0, end - _WEEK)]
        else:
            folded.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(folded):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {at!r}")
    return at


def _instants(day: date, minute: int, tz: ZoneInfo) -> Iterator[datetime]:
    """Both readings of a wall-clock time (they differ only in the repeated hour), in UTC."""
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    for fold in (0, 1):
        yield wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)


def _transitions(start: datetime, stop: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    """The instants in [start, stop) where the zone's UTC offset changes, to the second.

    zoneinfo does not list its transitions, so look hourly and bisect; zones
    do not change their offset twice within an hour.
    """
    step = timedelta(hours=1)
    at = start.astimezone(UTC).replace(microsecond=0)
    while at < stop:
        if _offset(at, tz) != _offset(at + step, tz):
            low, high = at, at + step
            while high - low > timedelta(seconds=1):
                middle = (low + (high - low) / 2).replace(microsecond=0)
                low, high = (middle, high) if _offset(middle, tz) == _offset(low, tz) else (low, middle)
            yield high
        at += step


def _offset(at: datetime, tz: ZoneInfo) -> timedelta | None:
    return at.astimezone(tz).utcoffset()
