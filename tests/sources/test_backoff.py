from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from sources.backoff import FIRST_RETRY, MAX_RETRY_AFTER, MIN_CAP, retry_delay

every = st.integers(min_value=60, max_value=7 * 86400).map(lambda s: timedelta(seconds=s))


@given(every, st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_delay_grows_within_its_bounds(interval: timedelta, failures: int, seed: int) -> None:
    delay = retry_delay(interval, failures, rng=random.Random(seed))
    step = min(FIRST_RETRY * 2 ** min(failures - 1, 32), max(interval, MIN_CAP))
    assert step / 2 <= delay <= step


@given(every, st.integers(min_value=1, max_value=50), st.floats(min_value=0, max_value=10**7))
def test_retry_after_is_a_floor_capped_at_a_day(interval: timedelta, failures: int, seconds: float) -> None:
    delay = retry_delay(interval, failures, retry_after=seconds)
    assert delay >= min(timedelta(seconds=seconds), MAX_RETRY_AFTER)
    assert delay <= max(MAX_RETRY_AFTER, max(interval, MIN_CAP))


def test_the_first_retry_is_soon_and_later_ones_back_off() -> None:
    rng = random.Random(7)
    delays = [retry_delay(timedelta(minutes=10), n, rng=rng) for n in range(1, 10)]
    assert delays[0] <= timedelta(seconds=30)
    assert delays[5] >= timedelta(minutes=8)
    assert max(delays) <= timedelta(hours=1)
