"""Pace outgoing mail: a token bucket that backs off when the server asks.

`await throttle.acquire()` before each message. The bucket holds up to
`burst` tokens and refills at `rate` per second, so in any span of `t`
seconds at most `rate * t + burst` messages start. A caller that finds the
bucket empty takes its token on credit and sleeps until it is due, so
waiters go in the order they came.

`slow_down()`, on a throttling reply, halves the rate (not below `floor`), at
most once per `cooldown` seconds: the replies to messages that were already
in flight when the server complained count once. `succeeded()` wins back
`recovery` of the configured rate per delivered message, up to it.

The clock (`time.monotonic`) and the sleep are parameters, so the arithmetic
is tested with a fake clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable


class Throttle:
    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        floor: float = 0.1,
        recovery: float = 0.05,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError(f"need rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        self.configured = rate
        self.rate = rate
        self.burst = burst
        self.floor = min(floor, rate)
        self._recovery = recovery * rate
        self._cooldown = cooldown
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._updated = clock()
        self._slowed_at = -math.inf

    async def acquire(self) -> None:
        """Wait until the next message may start."""
        delay = self.reserve()
        if delay <= 0:
            return
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            self._tokens += 1  # not used: give it back
            raise

    def reserve(self) -> float:
        """Take a token now; seconds until it may be used (0: at once)."""
        self._refill()
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def slow_down(self) -> None:
        now = self._clock()
        if now - self._slowed_at < self._cooldown:
            return
        self._refill()
        self._slowed_at = now
        self.rate = max(self.floor, self.rate / 2)

    def succeeded(self) -> None:
        if self.rate < self.configured:
            self._refill()
            self.rate = min(self.configured, self.rate + self._recovery)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
