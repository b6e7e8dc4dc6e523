"""On-times: parsing, is_on in the intranet's wall-clock time, and next_change across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screens.hours import DAYS, parse_hours

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=AMS, fold=fold)


# 2024-05-06 is a Monday.
@pytest.mark.parametrize(("spec", "on", "off"), [
    ("mon-fri 07:00-18:00", [(6, 7, 0), (10, 17, 59)], [(6, 6, 59), (6, 18, 0), (11, 12, 0), (12, 12, 0)]),
    ("mon,wed 07:00-18:00", [(6, 12, 0), (8, 12, 0)], [(7, 12, 0), (9, 12, 0)]),
    ("mon-tue,thu 09:00-10:00", [(6, 9, 0), (7, 9, 0), (9, 9, 59)], [(8, 9, 0), (10, 9, 0)]),
    ("fri-mon 10:00-11:00", [(10, 10, 0), (11, 10, 0), (12, 10, 0), (13, 10, 0)], [(7, 10, 0), (8, 10, 0)]),
    ("08:00-09:00", [(d, 8, 30) for d in range(6, 13)], [(d, 9, 0) for d in range(6, 13)]),
    ("Mon-Fri 07:00-12:30,13:00-18:00", [(6, 12, 29), (6, 13, 0)], [(6, 12, 30), (6, 12, 59)]),
    ("fri 22:00-02:00", [(10, 22, 0), (11, 1, 59)], [(10, 21, 59), (11, 2, 0), (9, 23, 0), (11, 22, 0)]),
    ("sun 22:00-01:00", [(6, 0, 30), (12, 23, 0), (13, 0, 30)], [(7, 0, 30), (12, 21, 0), (13, 1, 0)]),
    ("sat 00:00-24:00", [(11, 0, 0), (11, 23, 59)], [(10, 23, 59), (12, 0, 0)]),
    ("mon 07:00 - 18:00", [(6, 7, 0)], [(6, 18, 0)]),
])
def test_is_on_in_wall_clock_time(spec: str, on: list[tuple[int, int, int]], off: list[tuple[int, int, int]]) -> None:
    hours = parse_hours(spec)
    assert [hours.is_on(local(2024, 5, d, h, m), AMS) for d, h, m in on] == [True] * len(on)
    assert [hours.is_on(local(2024, 5, d, h, m), AMS) for d, h, m in off] == [False] * len(off)


def test_entries_add_up_and_touching_ranges_merge() -> None:
    hours = parse_hours(["mon-fri 07:00-12:00", "mon-fri 12:00-18:00", "sat 09:00-13:00", "sun 22:00-02:00"])
    assert hours.intervals == (
        (0, 120), (420, 1080), (1860, 2520), (3300, 3960), (4740, 5400), (6180, 6840), (7740, 7980), (9960, 10080),
    )
    assert hours.spec == ("mon-fri 07:00-12:00", "mon-fri 12:00-18:00", "sat 09:00-13:00", "sun 22:00-02:00")


def test_is_on_reads_the_instant_in_the_given_zone() -> None:
    hours = parse_hours("mon-fri 07:00-18:00")
    at = utc(2024, 5, 6, 5, 30)  # 07:30 in Amsterdam, 01:30 in New York
    assert (hours.is_on(at, AMS), hours.is_on(at, NYC)) == (True, False)


@pytest.mark.parametrize(("spec", "message"), [
    ("mon-fry 07:00-18:00", "invalid hours 'mon-fry 07:00-18:00': unknown day 'fry'; did you mean 'fri'?"),
    ("monday 07:00-18:00", "invalid hours 'monday 07:00-18:00': unknown day 'monday'; did you mean 'mon'?"),
    ("xyz 07:00-18:00", "invalid hours 'xyz 07:00-18:00': unknown day 'xyz'; use mon, tue, wed, thu, fri, sat, sun"),
    ("mon-fri", "invalid hours 'mon-fri': expected DAYS HH:MM-HH:MM, e.g. 'mon-fri 07:00-18:00'"),
    ("mon 07:00", "invalid hours 'mon 07:00': expected a time range HH:MM-HH:MM, got '07:00' "
     "(e.g. 'mon-fri 07:00-18:00')"),
    ("mon 07:00-18:00,", "invalid hours 'mon 07:00-18:00,': expected a time range HH:MM-HH:MM, got '' "
     "(e.g. 'mon-fri 07:00-18:00')"),
    ("mon 07:60-18:00", "invalid hours 'mon 07:60-18:00': 07:60 is not a time of day (00:00 to 24:00)"),
    ("mon 07:00-24:30", "invalid hours 'mon 07:00-24:30': 24:30 is not a time of day (00:00 to 24:00)"),
    ("mon 24:00-02:00", "invalid hours 'mon 24:00-02:00': a range cannot start at 24:00; write 00:00"),
    ("mon 09:00-09:00", "invalid hours 'mon 09:00-09:00': '09:00-09:00' is empty; write 00:00-24:00 for the whole day"),
    ([], "no on-times given; leave hours out to keep the screen on all the time"),
    (7, "expected on-times such as 'mon-fri 07:00-18:00' or a list of them, got 7"),
    (["mon 07:00-18:00", 8], "expected on-times such as 'mon-fri 07:00-18:00' or a list of them, "
     "got ['mon 07:00-18:00', 8]"),
])
def test_bad_hours_say_what_is_wrong(spec: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hours(spec)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_next_change_on_an_ordinary_week() -> None:
    hours = parse_hours("mon-fri 07:00-18:00")
    assert hours.next_change(local(2024, 5, 6, 6, 0), AMS) == local(2024, 5, 6, 7, 0)
    assert hours.next_change(local(2024, 5, 6, 7, 0), AMS) == local(2024, 5, 6, 18, 0)
    assert hours.next_change(local(2024, 5, 10, 18, 0), AMS) == local(2024, 5, 13, 7, 0)  # Friday to Monday


def test_next_change_across_midnight() -> None:
    hours = parse_hours("fri 22:00-02:00")
    assert hours.next_change(local(2024, 5, 10, 23, 0), AMS) == local(2024, 5, 11, 2, 0)
    assert hours.next_change(local(2024, 5, 11, 2, 0), AMS) == local(2024, 5, 17, 22, 0)


def test_always_on_never_changes() -> None:
    hours = parse_hours("mon-sun 00:00-24:00")
    assert hours.is_on(utc(2024, 3, 31, 1, 30), AMS)
    assert hours.next_change(utc(2024, 3, 31, 1, 30), AMS) is None


def test_spring_forward_keeps_the_wall_clock() -> None:
    # Sunday 31 March 2024: 02:00 CET becomes 03:00 CEST; the day is 23 hours long.
    hours = parse_hours("mon-sun 07:00-18:00")
    assert hours.next_change(utc(2024, 3, 30, 17, 0), AMS) == utc(2024, 3, 31, 5, 0)  # 07:00 CEST, not 06:00 UTC
    assert not hours.is_on(utc(2024, 3, 31, 4, 59), AMS)
    assert hours.is_on(utc(2024, 3, 31, 5, 0), AMS)
    assert hours.next_change(utc(2024, 3, 31, 5, 0), AMS) == utc(2024, 3, 31, 16, 0)


def test_fall_back_keeps_the_wall_clock() -> None:
    # Sunday 27 October 2024: 03:00 CEST becomes 02:00 CET; the day is 25 hours long.
    hours = parse_hours("mon-sun 07:00-18:00")
    assert hours.next_change(utc(2024, 10, 26, 16, 0), AMS) == utc(2024, 10, 27, 6, 0)  # 07:00 CET
    assert hours.next_change(utc(2024, 10, 27, 6, 0), AMS) == utc(2024, 10, 27, 17, 0)


def test_a_boundary_in_the_skipped_hour_takes_effect_when_the_clock_jumps() -> None:
    hours = parse_hours("sun 02:30-04:00")
    assert hours.next_change(utc(2024, 3, 31, 0, 30), AMS) == utc(2024, 3, 31, 1, 0)  # 03:00 CEST
    assert hours.is_on(utc(2024, 3, 31, 1, 0), AMS)


def test_a_boundary_in_the_repeated_hour_is_passed_twice() -> None:
    hours = parse_hours("sun 00:00-02:30")
    first_0230, repeat_0200, repeat_0230 = utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 0), utc(2024, 10, 27, 1, 30)
    assert hours.next_change(utc(2024, 10, 27, 0, 0), AMS) == first_0230
    assert hours.next_change(first_0230, AMS) == repeat_0200
    assert hours.next_change(repeat_0200, AMS) == repeat_0230
    assert [hours.is_on(t, AMS) for t in (first_0230, repeat_0200, repeat_0230)] == [False, True, False]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_hours("mon 07:00-08:00").is_on(datetime(2024, 5, 6, 7, 30), AMS)


# Random schedules around the year, in zones with whole-hour, half-hour and no DST shifts.
ZONES = st.sampled_from(["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "UTC"]).map(ZoneInfo)
MINUTES = st.integers(0, 24 * 60 - 1).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")
DAY_SETS = st.sets(st.sampled_from(DAYS), min_size=1).map(lambda days: ",".join(sorted(days, key=DAYS.index)))
ENTRIES = st.builds(lambda days, a, b: f"{days} {a}-{b}", DAY_SETS, MINUTES, MINUTES).filter(
    lambda entry: entry[-11:-6] != entry[-5:]
)
INSTANTS = st.datetimes(datetime(2024, 1, 1), datetime(2025, 12, 31)).map(lambda d: d.replace(tzinfo=UTC))


@given(st.lists(ENTRIES, min_size=1, max_size=4), INSTANTS, ZONES)
def test_next_change_is_the_first_instant_is_on_differs(entries: list[str], at: datetime, tz: ZoneInfo) -> None:
    hours = parse_hours(entries)
    change = hours.next_change(at, tz)
    if change is None:
        assert hours.intervals == ((0, 7 * 24 * 60),)
        return
    state = hours.is_on(at, tz)
    assert at < change <= at + timedelta(days=8)
    assert hours.is_on(change, tz) != state
    assert hours.is_on(change - timedelta(microseconds=1), tz) == state
    assert hours.is_on(at + (change - at) / 2, tz) == state


@given(DAY_SETS, MINUTES, MINUTES, INSTANTS, ZONES)
def test_is_on_matches_the_day_and_the_time_on_the_wall(
    days: str, start: str, end: str, at: datetime, tz: ZoneInfo
) -> None:
    if start >= end:
        start, end = end, start
    if start == end:
        return
    wall = at.astimezone(tz)
    expected = DAYS[wall.weekday()] in days.split(",") and start <= wall.strftime("%H:%M") < end
    assert parse_hours(f"{days} {start}-{end}").is_on(at, tz) == expected
