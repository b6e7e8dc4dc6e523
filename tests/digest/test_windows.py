"""Digest windows: ends at each recipient's own wall-clock time, contiguous across DST, one per run."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.config import Frequency
from digest.windows import Window, due_windows, next_window_end, parse_schedule, window_end

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # a 30-minute DST shift
WEEKDAYS = "30 8 * * 1-5"
WEEK = timedelta(days=7)
GRACE = timedelta(hours=12)


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> datetime:
    """A wall-clock time in `tz`, as the UTC instant it names."""
    return datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold).astimezone(UTC)


def walk(schedule: str, tz: ZoneInfo, start: datetime, count: int, frequency: Frequency = "daily") -> list[Window]:
    """The windows a daemon waking at every window end delivers, from `start`."""
    windows: list[Window] = []
    last_end, now = None, start
    for _ in range(count):
        end = next_window_end(schedule, tz, now, frequency)
        assert end is not None
        now = end
        window = due_windows(schedule, tz, last_end=last_end, now=now, lookback=WEEK, grace=GRACE,
                             frequency=frequency)
        assert window is not None and window.end == now and not window.missed
        windows.append(window)
        last_end = window.end
    return windows


def test_the_same_schedule_ends_at_each_recipients_own_0830() -> None:
    now = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)  # a Wednesday
    assert window_end(WEEKDAYS, AMSTERDAM, now) == datetime(2025, 1, 15, 7, 30, tzinfo=UTC)
    assert window_end(WEEKDAYS, NEW_YORK, now) == datetime(2025, 1, 15, 13, 30, tzinfo=UTC)
    assert window_end(WEEKDAYS, NEW_YORK, now - timedelta(hours=1)) == datetime(2025, 1, 14, 13, 30, tzinfo=UTC)


def test_weekday_numbers_are_crontabs_sunday_zero_not_apschedulers_monday_zero() -> None:
    ends = [window.end.astimezone(AMSTERDAM) for window in walk(WEEKDAYS, AMSTERDAM, at(AMSTERDAM, 2025, 1, 12), 6)]
    assert [end.strftime("%a %H:%M") for end in ends] == [
        "Mon 08:30", "Tue 08:30", "Wed 08:30", "Thu 08:30", "Fri 08:30", "Mon 08:30"]
    sundays = walk("0 9 * * 0,7", AMSTERDAM, at(AMSTERDAM, 2025, 1, 12), 2)
    assert [w.end.astimezone(AMSTERDAM).strftime("%a %d") for w in sundays] == ["Sun 12", "Sun 19"]


DST_WALKS = [
    # zone, schedule, start (local), the local ends in order, each window's length in hours
    (AMSTERDAM, "30 8 * * *", (2025, 3, 28), ["03-28 08:30 CET", "03-29 08:30 CET", "03-30 08:30 CEST",
                                              "03-31 08:30 CEST"], [24, 23, 24]),
    (AMSTERDAM, "30 8 * * *", (2025, 10, 24), ["10-24 08:30 CEST", "10-25 08:30 CEST", "10-26 08:30 CET",
                                               "10-27 08:30 CET"], [24, 25, 24]),
    (NEW_YORK, "30 8 * * *", (2025, 3, 7), ["03-07 08:30 EST", "03-08 08:30 EST", "03-09 08:30 EDT",
                                            "03-10 08:30 EDT"], [24, 23, 24]),
    (NEW_YORK, "30 8 * * *", (2025, 10, 31), ["10-31 08:30 EDT", "11-01 08:30 EDT", "11-02 08:30 EST",
                                              "11-03 08:30 EST"], [24, 25, 24]),
    # 02:30 does not exist on 30 March: it runs when the clock jumps to 03:00
    (AMSTERDAM, "30 2 * * *", (2025, 3, 28), ["03-28 02:30 CET", "03-29 02:30 CET", "03-30 03:00 CEST",
                                              "03-31 02:30 CEST"], [24, 23.5, 23.5]),
    # 02:30 happens twice on 26 October: it runs once, the first time
    (AMSTERDAM, "30 2 * * *", (2025, 10, 24), ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CEST",
                                               "10-27 02:30 CET"], [24, 24, 25]),
    (NEW_YORK, "30 1 * * *", (2025, 10, 31), ["10-31 01:30 EDT", "11-01 01:30 EDT", "11-02 01:30 EDT",
                                              "11-03 01:30 EST"], [24, 24, 25]),
    (LORD_HOWE, "15 2 * * *", (2025, 10, 3), ["10-03 02:15 +1030", "10-04 02:15 +1030", "10-05 02:30 +11",
                                              "10-06 02:15 +11"], [24, 23.75, 23.75]),
]


@pytest.mark.parametrize(("tz", "schedule", "start", "local_ends", "hours"), DST_WALKS)
def test_windows_across_dst_are_contiguous_and_a_local_day_long(
    tz: ZoneInfo, schedule: str, start: tuple[int, int, int], local_ends: list[str], hours: list[float],
) -> None:
    windows = walk(schedule, tz, at(tz, *start), 4)
    assert [w.end.astimezone(tz).strftime("%m-%d %H:%M %Z") for w in windows] == local_ends
    assert all(later.start == earlier.end for earlier, later in pairwise(windows))
    assert [(w.end - w.start) / timedelta(hours=1) for w in windows[1:]] == hours


def test_a_time_that_happens_twice_ends_one_window_not_two() -> None:
    first, second = at(AMSTERDAM, 2025, 10, 26, 2, 30), at(AMSTERDAM, 2025, 10, 26, 2, 30, fold=1)
    assert second - first == timedelta(hours=1)
    assert window_end("30 2 * * *", AMSTERDAM, second + timedelta(minutes=5)) == first
    window = due_windows("30 2 * * *", AMSTERDAM, last_end=first, now=second, lookback=WEEK, grace=GRACE)
    assert window is None


# Independent of the parser: what each schedule means, as a test on the clock's reading.
ORACLES: dict[str, Callable[[datetime], bool]] = {
    WEEKDAYS: lambda t: (t.hour, t.minute) == (8, 30) and t.isoweekday() <= 5,
    "30 2 * * *": lambda t: (t.hour, t.minute) == (2, 30),
    "30 1 * * *": lambda t: (t.hour, t.minute) == (1, 30),
    "*/20 1-3 * * *": lambda t: 1 <= t.hour <= 3 and t.minute % 20 == 0,
    "15 2 * * sun": lambda t: (t.hour, t.minute) == (2, 15) and t.isoweekday() == 7,
    "0 0,12 * * *": lambda t: t.minute == 0 and t.hour in (0, 12),
    "45 * 1,26 * 6": lambda t: t.minute == 45 and (t.day in (1, 26) or t.isoweekday() == 6),
}
TRANSITIONS = [
    (AMSTERDAM, datetime(2025, 3, 30, 1, tzinfo=UTC)), (AMSTERDAM, datetime(2025, 10, 26, 1, tzinfo=UTC)),
    (NEW_YORK, datetime(2025, 3, 9, 7, tzinfo=UTC)), (NEW_YORK, datetime(2025, 11, 2, 6, tzinfo=UTC)),
    (LORD_HOWE, datetime(2025, 4, 5, 15, tzinfo=UTC)), (LORD_HOWE, datetime(2025, 10, 4, 15, 30, tzinfo=UTC)),
]


def oracle_ends(fires: Callable[[datetime], bool], tz: ZoneInfo, start: datetime, stop: datetime) -> list[datetime]:
    """Every minute in [start, stop) at which the clock first shows a firing time, or jumps over one."""
    ends, minute = [], timedelta(minutes=1)
    previous = (start - minute).astimezone(tz).replace(tzinfo=None)
    for n in range(int((stop - start) / minute)):
        instant = start + n * minute
        reading = instant.astimezone(tz)
        wall = reading.replace(tzinfo=None)
        skipped = (previous + k * minute for k in range(1, int((wall - previous) / minute)))
        if (fires(wall) and reading.fold == 0) or any(fires(t) for t in skipped):
            ends.append(instant)
        previous = wall
    return ends


@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS, ids=lambda v: str(v)[:16])
@pytest.mark.parametrize("schedule", ORACLES)
def test_window_ends_match_the_clock_minute_by_minute(schedule: str, tz: ZoneInfo, transition: datetime) -> None:
    start, stop = transition - timedelta(days=2), transition + timedelta(days=2)
    expected = oracle_ends(ORACLES[schedule], tz, start, stop)
    ends, end = [], next_window_end(schedule, tz, start - timedelta(microseconds=1))
    while end is not None and end < stop:
        ends.append(end)
        end = next_window_end(schedule, tz, end)
    assert ends == expected
    assert [window_end(schedule, tz, e + timedelta(seconds=59)) for e in expected] == expected


def test_a_run_after_a_missed_time_sends_the_missed_window_within_grace() -> None:
    yesterday, today = at(AMSTERDAM, 2025, 1, 14, 8, 30), at(AMSTERDAM, 2025, 1, 15, 8, 30)
    ten = at(AMSTERDAM, 2025, 1, 15, 10, 0)
    window = due_windows(WEEKDAYS, AMSTERDAM, last_end=yesterday, now=ten, lookback=WEEK, grace=GRACE)
    assert window == Window(start=yesterday, end=today, missed=True)
    assert due_windows(WEEKDAYS, AMSTERDAM, last_end=yesterday, now=ten, lookback=WEEK,
                       grace=timedelta(hours=1)) is None


def test_a_window_past_grace_goes_with_the_next_one() -> None:
    tuesday, thursday = at(AMSTERDAM, 2025, 1, 14, 8, 30), at(AMSTERDAM, 2025, 1, 16, 8, 30)
    window = due_windows(WEEKDAYS, AMSTERDAM, last_end=tuesday, now=thursday + timedelta(seconds=3),
                         lookback=WEEK, grace=timedelta(hours=1))
    assert window == Window(start=tuesday, end=thursday, missed=False)


def test_a_daemon_down_for_days_sends_one_window_up_to_the_latest_time() -> None:
    friday, tuesday = at(AMSTERDAM, 2025, 1, 10, 8, 30), at(AMSTERDAM, 2025, 1, 14, 8, 30)
    window = due_windows(WEEKDAYS, AMSTERDAM, last_end=friday, now=tuesday + timedelta(hours=2),
                         lookback=WEEK, grace=GRACE)
    assert window == Window(start=friday, end=tuesday, missed=True)


def test_the_first_window_looks_back_and_a_delivered_one_is_not_due_again() -> None:
    end = at(NEW_YORK, 2025, 1, 15, 8, 30)
    window = due_windows(WEEKDAYS, NEW_YORK, last_end=None, now=end, lookback=WEEK, grace=GRACE)
    assert window == Window(start=end - WEEK, end=end, missed=False)
    assert due_windows(WEEKDAYS, NEW_YORK, last_end=end, now=end + timedelta(hours=3),
                       lookback=WEEK, grace=GRACE) is None


def test_weekly_recipients_get_the_first_time_of_each_iso_week() -> None:
    windows = walk(WEEKDAYS, AMSTERDAM, at(AMSTERDAM, 2025, 3, 19), 3, "weekly")
    assert [w.end.astimezone(AMSTERDAM).strftime("%a %m-%d %H:%M") for w in windows] == [
        "Mon 03-24 08:30", "Mon 03-31 08:30", "Mon 04-07 08:30"]
    assert (windows[1].end - windows[1].start) == WEEK - timedelta(hours=1)  # the clocks went forward
    wednesday = at(AMSTERDAM, 2025, 3, 26, 8, 30)
    assert due_windows(WEEKDAYS, AMSTERDAM, last_end=windows[0].end, now=wednesday, lookback=WEEK,
                       grace=GRACE, frequency="weekly") is None


def test_weekly_falls_on_the_weeks_first_time_when_monday_has_none() -> None:
    after = at(AMSTERDAM, 2025, 1, 13, 12)  # Monday noon; the schedule has no Mondays
    assert next_window_end("0 7 * * 2,4", AMSTERDAM, after, "weekly") == at(AMSTERDAM, 2025, 1, 14, 7)
    thursday = at(AMSTERDAM, 2025, 1, 16, 9)
    assert next_window_end("0 7 * * 2,4", AMSTERDAM, thursday, "weekly") == at(AMSTERDAM, 2025, 1, 21, 7)
    assert window_end("0 7 * * 2,4", AMSTERDAM, thursday, "weekly") == at(AMSTERDAM, 2025, 1, 14, 7)


def test_off_never_gets_a_window() -> None:
    now = at(AMSTERDAM, 2025, 1, 15, 8, 30)
    assert window_end(WEEKDAYS, AMSTERDAM, now, "off") is None
    assert next_window_end(WEEKDAYS, AMSTERDAM, now, "off") is None
    assert due_windows(WEEKDAYS, AMSTERDAM, last_end=None, now=now, lookback=WEEK, grace=GRACE,
                       frequency="off") is None


@pytest.mark.parametrize(("expression", "minutes", "hours"), [
    ("*/15 8-9 * * *", (0, 15, 30, 45), (8, 9)),
    ("5/20 0 * * *", (5, 25, 45), (0,)),
    ("0,30 6-18/4 * * *", (0, 30), (6, 10, 14, 18)),
])
def test_schedules_parse_steps_ranges_and_lists(
    expression: str, minutes: tuple[int, ...], hours: tuple[int, ...],
) -> None:
    schedule = parse_schedule(expression)
    assert (schedule.minutes, schedule.hours) == (minutes, hours)


def test_names_and_sunday_as_seven() -> None:
    assert parse_schedule("0 9 * jan-mar mon-fri") == parse_schedule("0 9 * 1-3 1-5")
    assert parse_schedule("0 9 * * 5-7").weekdays == {5, 6, 0}


@pytest.mark.parametrize(("expression", "message"), [
    ("30 8 * *", "expected 5 fields"),
    ("60 8 * * *", "minute: '60' is not in 0-59"),
    ("30 8 * * sat-sun", "weekday: range 'sat-sun' runs backwards"),
    ("*/0 8 * * *", "minute: step in '*/0' is zero"),
    ("30 8 L * *", "day of month: 'L' is not in 1-31"),
    ("30 8 30 feb *", "day of month '30' never occurs in month 'feb'"),
    ("30 8 * * 1;5", "weekday: cannot read '1;5'"),
])
def test_bad_schedules_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_schedule(expression)


SCHEDULES = st.sampled_from([WEEKDAYS, "30 2 * * *", "0 7 * * 1", "*/30 1-3 * * *", "0 9 1 * *", "15 2 * * 0"])
ZONES = st.sampled_from([AMSTERDAM, NEW_YORK, LORD_HOWE, ZoneInfo("UTC")])
INSTANTS = st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))
FREQUENCIES: st.SearchStrategy[Frequency] = st.sampled_from(["daily", "weekly"])


@settings(max_examples=150, deadline=None)
@given(SCHEDULES, ZONES, FREQUENCIES, INSTANTS,
       st.lists(st.integers(1, 4 * 24 * 60).map(lambda m: timedelta(minutes=m)), min_size=1, max_size=40),
       st.sampled_from([timedelta(minutes=30), GRACE, timedelta(days=2)]))
def test_runs_at_any_times_cover_time_without_gaps_or_overlaps(
    schedule: str, tz: ZoneInfo, frequency: Frequency, start: datetime, steps: list[timedelta], grace: timedelta,
) -> None:
    windows: list[Window] = []
    now = start
    for step in steps:
        now += step
        last_end = windows[-1].end if windows else None
        window = due_windows(schedule, tz, last_end=last_end, now=now, lookback=WEEK, grace=grace,
                             frequency=frequency)
        latest = window_end(schedule, tz, now, frequency)
        if window is None:
            assert latest is None or (last_end is not None and latest <= last_end) or now - latest > grace
            continue
        assert window.start < window.end == latest <= now
        following = next_window_end(schedule, tz, window.end, frequency)
        assert following is not None and following > now
        windows.append(window)
    assert all(later.start == earlier.end for earlier, later in pairwise(windows))
    if windows:
        assert windows[0].start == windows[0].end - WEEK


@settings(max_examples=200, deadline=None)
@given(SCHEDULES, ZONES, FREQUENCIES, INSTANTS)
def test_window_end_and_next_window_end_agree(schedule: str, tz: ZoneInfo, frequency: Frequency, now: datetime) -> None:
    latest = window_end(schedule, tz, now, frequency)
    following = next_window_end(schedule, tz, now, frequency)
    assert latest is not None and following is not None
    assert latest <= now < following
    assert next_window_end(schedule, tz, latest, frequency) == following
    assert window_end(schedule, tz, following, frequency) == following
    assert latest.tzinfo is UTC and following.tzinfo is UTC
    if frequency == "weekly":  # the time before it, daily, lies in an earlier ISO week
        before = window_end(schedule, tz, latest - timedelta(microseconds=1))
        assert before is None or before.astimezone(tz).isocalendar()[:2] < latest.astimezone(tz).isocalendar()[:2]
