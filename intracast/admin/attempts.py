"""Failed logins, counted per client address and per username, in memory.

Five failures are free; the fifth locks the key for a minute, and each
further failure doubles the lock, up to fifteen minutes. While a key is
locked, a login is refused before its password is checked, so guessing
runs at a few tries an hour. Counting the username as well as the address
stops a guesser who changes addresses; the price is that a guesser can keep
the real admin waiting, for at most the longest lock.

Counts live in memory: a restart forgets them, which costs a guesser the
restart's time. Entries of keys quiet for longer than `forget` are dropped,
and at most `max_keys` are kept, so spraying names cannot fill the memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FREE_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(minutes=15)
FORGET = timedelta(minutes=30)
MAX_KEYS = 10_000


@dataclass(slots=True)
class _Record:
    failures: int
    last: datetime
    locked_until: datetime | None = None


class LoginAttempts:
    def __init__(self, *, forget: timedelta = FORGET, max_keys: int = MAX_KEYS):
        self._records: dict[str, _Record] = {}
        self._forget, self._max_keys = forget, max_keys

    def locked_until(self, keys: list[str], now: datetime) -> datetime | None:
        """The latest lock on any of `keys` still in force at `now`, or None."""
        locks = [r.locked_until for key in keys if (r := self._records.get(key)) and r.locked_until]
        latest = max(locks, default=None)
        return latest if latest is not None and latest > now else None

    def failed(self, keys: list[str], now: datetime) -> None:
        self._prune(now)
        for key in keys:
            record = self._records.get(key)
            if record is None or now - record.last > self._forget:
                record = self._records[key] = _Record(0, now)
            record.failures += 1
            record.last = now
            if record.failures >= FREE_FAILURES:
                doublings = min(record.failures - FREE_FAILURES, 10)  # 2**10 minutes is past the longest lock
                lock = FIRST_LOCK * 2**doublings
                record.locked_until = now + min(lock, LONGEST_LOCK)

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._records.pop(key, None)

    def _prune(self, now: datetime) -> None:
        quiet = [key for key, r in self._records.items() if now - max(r.last, r.locked_until or r.last) > self._forget]
        for key in quiet:
            del self._records[key]
        # Still full: a flood of names. The oldest go first (dicts keep insertion order).
        while len(self._records) >= self._max_keys:
            del self._records[next(iter(self._records))]
