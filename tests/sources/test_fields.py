from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.fields import format_duration, parse_duration, parse_timezone


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("45s", 45), ("1w", 604800), ("1h0m5s", 3605),
])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "1m1h", "-5m", "0s", "1.5h", 10])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10**8))
def test_duration_format_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_timezones() -> None:
    assert str(parse_timezone("America/New_York")) == "America/New_York"
    for bad in ("Mars/Olympus", "", "../etc/passwd", 5):
        with pytest.raises(ValueError):
            parse_timezone(bad)
