"""Throttle arithmetic with a fake clock: pacing, halving, floor, recovery."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.throttle import Throttle


class FakeClock:
    """A clock that moves only when told to, or when the throttle sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def throttle(rate: float, clock: FakeClock, **options: float) -> Throttle:
    return Throttle(rate, clock=clock, sleep=clock.sleep, **options)


def test_a_full_bucket_lets_a_burst_through_then_paces() -> None:
    clock = FakeClock()
    bucket = throttle(10, clock, burst=3)
    assert [bucket.reserve() for _ in range(5)] == pytest.approx([0, 0, 0, 0.1, 0.2])
    clock.now += 0.2
    assert bucket.reserve() == pytest.approx(0.1)  # the debt is paid first


async def test_acquire_sleeps_until_its_token_is_due() -> None:
    clock = FakeClock()
    bucket = throttle(4, clock)
    for _ in range(5):
        await bucket.acquire()
    assert clock.slept == pytest.approx([0.25] * 4)
    assert clock.now == pytest.approx(1001.0)


async def test_a_cancelled_wait_gives_its_token_back() -> None:
    clock = FakeClock()
    sleeping, never = asyncio.Event(), asyncio.Event()

    async def stuck(seconds: float) -> None:
        sleeping.set()
        await never.wait()

    bucket = Throttle(1, clock=clock, sleep=stuck)
    bucket.reserve()
    waiting = asyncio.ensure_future(bucket.acquire())
    await sleeping.wait()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    clock.now += 1
    assert bucket.reserve() == 0


def test_slow_down_halves_at_most_once_per_cooldown() -> None:
    clock = FakeClock()
    bucket = throttle(20, clock, cooldown=1.0)
    bucket.slow_down()
    bucket.slow_down()  # replies to messages already in flight: same complaint
    assert bucket.rate == 10
    clock.now += 1.0
    bucket.slow_down()
    assert bucket.rate == 5


def test_slow_down_stops_at_the_floor() -> None:
    clock = FakeClock()
    bucket = throttle(20, clock, floor=0.1)
    for _ in range(20):
        bucket.slow_down()
        clock.now += 1
    assert bucket.rate == 0.1
    assert bucket.reserve() == 0
    assert bucket.reserve() == pytest.approx(10.0)


def test_a_floor_above_the_rate_is_the_rate() -> None:
    bucket = throttle(0.05, FakeClock(), floor=0.1)
    bucket.slow_down()
    assert bucket.rate == 0.05


def test_success_recovers_gradually_up_to_the_configured_rate() -> None:
    clock = FakeClock()
    bucket = throttle(20, clock, recovery=0.05)
    bucket.slow_down()
    assert bucket.rate == 10
    bucket.succeeded()
    assert bucket.rate == pytest.approx(11)
    for _ in range(9):
        bucket.succeeded()
    assert bucket.rate == pytest.approx(20)
    bucket.succeeded()
    assert bucket.rate == 20


def test_a_slower_rate_applies_to_the_time_after_the_change() -> None:
    clock = FakeClock()
    bucket = throttle(10, clock)
    bucket.reserve()
    clock.now += 0.05  # half a token at 10/s
    bucket.slow_down()  # 5/s from here
    assert bucket.reserve() == pytest.approx(0.1)  # the other half at 5/s


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError):
        Throttle(0)
    with pytest.raises(ValueError):
        Throttle(1, burst=0.5)


@given(
    rate=st.floats(0.1, 1000),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=200),
)
def test_never_more_than_rate_times_t_plus_burst(rate: float, burst: int, gaps: list[float]) -> None:
    """Callers arrive at arbitrary times; the starts they are granted obey the bucket's bound."""
    clock = FakeClock()
    bucket = throttle(rate, clock, burst=burst)
    starts = []
    for gap in gaps:
        clock.now += gap
        starts.append(clock.now + bucket.reserve())
    starts.sort()
    for i in range(len(starts)):
        for j in range(i, len(starts)):
            span = starts[j] - starts[i]
            assert j - i + 1 <= rate * span + burst + 1e-6
