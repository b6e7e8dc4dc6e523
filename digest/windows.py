"""Digest windows: which span of time a recipient's digest covers, and when one is due.

A digest's `schedule` is a standard five-field cron expression (minute, hour,
day of month, month, weekday; 0 and 7 are Sunday) read as wall-clock time in
each recipient's own time zone: `30 8 * * 1-5` is 08:30 in Amsterdam for one
recipient and 08:30 in New York for another. The instants at which it fires
are the *window ends*; a recipient's window runs from the end of their
previous window to the latest end, so windows never leave a gap or overlap.

Cron is parsed here rather than by APScheduler 3.11's `CronTrigger.from_crontab`,
which reads weekdays from Monday = 0 (`1-5` would be Tuesday to Saturday),
fires twice when an hour repeats and fires at a wall time that does not exist.
Across daylight-saving changes, as Vixie cron and cronie do:

- a time the clock skips (02:30 when 02:00 jumps to 03:00) fires at the jump,
  03:00, so a daily digest still goes out that day;
- a time the clock shows twice (02:30 when 03:00 falls back to 02:00) fires
  once, the first time.

Every wall time thus maps to one instant, in the same order, which is what lets
the search below walk wall-clock days and stop at the first fit.

Frequency: `daily` recipients get every end; `weekly` ones only the first end
of each ISO week (Monday to Sunday in their zone), so with `30 8 * * 1-5` that
is Monday 08:30, or Tuesday's when Monday has none; `off` recipients none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.config import Frequency

_MISSED_AFTER = timedelta(minutes=1)  # a tick this late is a catch-up, not the scheduled run
_TICK = timedelta(microseconds=1)
# A schedule that fires only on 29 February can go 8 years without a time (2096 to 2104).
_HORIZON_DAYS = 8 * 366 + 7


@dataclass(frozen=True, slots=True)
class Window:
    """The span a digest covers, UTC-aware: items changed in (start, end], as `candidate_items` reads it."""

    start: datetime
    end: datetime
    missed: bool  # the scheduled time passed while the daemon was down; this run catches up


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] is the value low + i


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    _Field("weekday", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")),
)
_ITEM = re.compile(r"(?:(\*)|(\w+)(?:-(\w+))?)(?:/(\d+))?")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed cron expression. Weekdays count from Sunday = 0, as `date.isoweekday() % 7`."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    either_day: bool  # both day fields restricted: cron fires on a day matching either

    def fires_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_date, by_weekday = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        return by_date or by_weekday if self.either_day else by_date and by_weekday

    def wall_times(self, day: date) -> list[datetime]:
        """The naive wall-clock times it fires on `day`, ascending."""
        return [datetime.combine(day, time(hour, minute)) for hour in self.hours for minute in self.minutes]


def parse_schedule(expression: str) -> Schedule:
    """Parse `minute hour day month weekday`; ValueError names the field at fault."""
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(parts)}")
    minutes, hours, days, months, weekdays = (_parse_field(text, spec) for text, spec in zip(parts, _FIELDS))
    weekdays = {day % 7 for day in weekdays}
    # Vixie cron: a day field starting with `*` is unrestricted; only when both are restricted do they OR.
    either_day = not parts[2].startswith("*") and not parts[4].startswith("*")
    if not either_day and not any(day <= _MONTH_DAYS[month - 1] for day in days for month in months):
        raise ValueError(f"day of month {parts[2]!r} never occurs in month {parts[3]!r}")
    return Schedule(tuple(sorted(minutes)), tuple(sorted(hours)), frozenset(days), frozenset(months),
                    frozenset(weekdays), either_day)


def _parse_field(text: str, spec: _Field) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"{spec.name}: cannot read {item!r}; use *, 5, 1-5, */15, 1-5/2 or a list of them")
        star, first, last, step = match.groups()
        low = spec.low if star else _value(first, spec)
        # `5/15` counts from 5 to the end of the range, as in cronie and APScheduler
        high = spec.high if star or (step and not last) else _value(last or first, spec)
        if low > high:
            raise ValueError(f"{spec.name}: range {item!r} runs backwards")
        if step is not None and int(step) == 0:
            raise ValueError(f"{spec.name}: step in {item!r} is zero")
        values.update(range(low, high + 1, int(step or 1)))
    return values


def _value(text: str, spec: _Field) -> int:
    if text.lower() in spec.names:
        return spec.low + spec.names.index(text.lower())
    if not text.isdigit() or not spec.low <= int(text) <= spec.high:
        raise ValueError(f"{spec.name}: {text!r} is not in {spec.low}-{spec.high}")
    return int(text)


def window_end(schedule: str, tz: ZoneInfo, now: datetime, frequency: Frequency = "daily") -> datetime | None:
    """The latest scheduled time <= now of `schedule` read as wall-clock time in `tz`, as an aware UTC datetime.

    None for `off`, and when the schedule had no time in the 8 years before `now`.
    """
    if frequency == "off":
        return None
    parsed = parse_schedule(schedule)
    end = _last_end(parsed, tz, now)
    if end is None or frequency == "daily":
        return end
    return _first_in_week(parsed, tz, end)


def next_window_end(schedule: str, tz: ZoneInfo, after: datetime, frequency: Frequency = "daily") -> datetime | None:
    """The earliest scheduled time > after, as an aware UTC datetime; None for `off`."""
    if frequency == "off":
        return None
    parsed = parse_schedule(schedule)
    end = _next_end(parsed, tz, after)
    if end is None or frequency == "daily" or _first_in_week(parsed, tz, end) == end:
        return end
    # Not its week's first: the next week that has a time starts with it.
    local = _local_date(end, tz)
    return _next_end(parsed, tz, _first_instant(local + timedelta(days=7 - local.weekday()), tz) - _TICK)


def due_windows(
    schedule: str, tz: ZoneInfo, *, last_end: datetime | None, now: datetime,
    lookback: timedelta, grace: timedelta, frequency: Frequency = "daily",
) -> Window | None:
    """The window a run at `now` should send this recipient, or None when nothing is due.

    It ends at `window_end(now)` when that is after `last_end` (the end of the
    last window delivered; None before the first) and at most `grace` ago, and
    starts at `last_end`, or `lookback` before its end the first time. Several
    ends passed while the daemon was down make one window up to the latest, not
    a digest each; an end past its grace is never sent on its own, its items
    go with the next window, which still starts at `last_end`.
    """
    end = window_end(schedule, tz, now, frequency)
    if end is None or (last_end is not None and end <= last_end) or now - end > grace:
        return None
    start = end - lookback if last_end is None else last_end
    return Window(start=start, end=end, missed=now - end > _MISSED_AFTER)


def _last_end(schedule: Schedule, tz: ZoneInfo, now: datetime) -> datetime | None:
    # Wall times map to instants in order, so the first fit walking back is the latest.
    latest_day = _local_date(now, tz) + timedelta(days=1)  # a day's margin for a jump across midnight
    for back in range(_HORIZON_DAYS):
        day = latest_day - timedelta(days=back)
        if schedule.fires_on(day):
            for wall in reversed(schedule.wall_times(day)):
                end = _instant(wall, tz)
                if end <= now:
                    return end
    return None


def _next_end(schedule: Schedule, tz: ZoneInfo, after: datetime) -> datetime | None:
    first_day = _local_date(after, tz) - timedelta(days=1)
    for forward in range(_HORIZON_DAYS):
        day = first_day + timedelta(days=forward)
        if schedule.fires_on(day):
            for wall in schedule.wall_times(day):
                end = _instant(wall, tz)
                if end > after:
                    return end
    return None


def _first_in_week(schedule: Schedule, tz: ZoneInfo, end: datetime) -> datetime:
    """The first scheduled time of the ISO week (in `tz`) that `end` falls in; `end` itself at the latest."""
    local = _local_date(end, tz)
    first = _next_end(schedule, tz, _first_instant(local - timedelta(days=local.weekday()), tz) - _TICK)
    assert first is not None and first <= end
    return first


def _local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def _first_instant(day: date, tz: ZoneInfo) -> datetime:
    return _instant(datetime.combine(day, time()), tz)


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """When the clock in `tz` first shows `wall` (naive), in UTC; for a time it skips, when it jumps over it."""
    first = wall.replace(tzinfo=tz, fold=0)
    # zoneinfo (PEP 495): fold=0 takes the offset before a change, fold=1 the one after.
    before, after = first.utcoffset(), wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None and after is not None
    if before >= after:  # an ordinary time, or one the clock shows twice: its first showing
        return first.astimezone(UTC)
    # A skipped time: the jump lies between reading it with the new offset and with the old one.
    still_before = int((wall - after).replace(tzinfo=UTC).timestamp())
    already_after = int((wall - before).replace(tzinfo=UTC).timestamp())
    while already_after - still_before > 1:
        middle = (still_before + already_after) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == before:
            still_before = middle
        else:
            already_after = middle
    return datetime.fromtimestamp(already_after, UTC)
