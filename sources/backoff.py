"""When to try a failing source again: exponential backoff with jitter, honouring Retry-After.

The first retry comes soon (a blip should cost little), each next one waits
twice as long, up to the larger of the source's interval and an hour, so a
dead intranet is not hammered. Jitter spreads the retries of many sources
that failed together (one intranet going down takes all its feeds with it).
A server's Retry-After is a floor, capped at a day.
"""

from __future__ import annotations

import random
from datetime import timedelta

FIRST_RETRY = timedelta(seconds=30)
MIN_CAP = timedelta(hours=1)
MAX_RETRY_AFTER = timedelta(days=1)


def retry_delay(
    every: timedelta, failures: int, retry_after: float | None = None, rng: random.Random | None = None
) -> timedelta:
    """The wait before the next attempt, after `failures` consecutive transient failures (>= 1)."""
    cap = max(every, MIN_CAP)
    delay = min(FIRST_RETRY * 2 ** min(failures - 1, 32), cap)
    delay *= (rng or random).uniform(0.5, 1.0)  # "equal jitter": never less than half the step
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
    return delay
