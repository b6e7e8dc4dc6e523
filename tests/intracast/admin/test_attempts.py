"""Failed logins slow guessing down: five free, then locks that double up to fifteen minutes."""

from __future__ import annotations

from datetime import timedelta

from intracast.admin.attempts import LoginAttempts
from tests.intracast.admin.conftest import NOW

KEYS = ["ip:192.0.2.1", "user:admin"]


def fail(attempts: LoginAttempts, times: int, keys: list[str] = KEYS) -> None:
    for _ in range(times):
        attempts.failed(keys, NOW)


def test_five_failures_lock_for_a_minute_then_each_doubles_up_to_fifteen() -> None:
    attempts = LoginAttempts()
    fail(attempts, 4)
    assert attempts.locked_until(KEYS, NOW) is None
    locks, now = [], NOW
    for _ in range(7):
        attempts.failed(KEYS, now)
        until = attempts.locked_until(KEYS, now)
        assert until is not None
        locks.append(until - now)
        now = until  # the next attempt comes when the lock ends
    assert locks == [timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 15, 15)]


def test_a_lock_on_the_name_holds_from_any_address_and_on_the_address_for_any_name() -> None:
    attempts = LoginAttempts()
    fail(attempts, 5)
    assert attempts.locked_until(["ip:198.51.100.7", "user:admin"], NOW)
    assert attempts.locked_until(["ip:192.0.2.1", "user:someone"], NOW)
    assert attempts.locked_until(["ip:198.51.100.7", "user:someone"], NOW) is None


def test_success_and_quiet_time_forget_failures() -> None:
    attempts = LoginAttempts(forget=timedelta(minutes=30))
    fail(attempts, 4)
    attempts.succeeded(KEYS)
    fail(attempts, 4)
    assert attempts.locked_until(KEYS, NOW) is None
    attempts.failed(KEYS, NOW + timedelta(minutes=31))  # the four before are forgotten
    assert attempts.locked_until(KEYS, NOW + timedelta(minutes=31)) is None


def test_a_flood_of_names_keeps_memory_bounded() -> None:
    attempts = LoginAttempts(max_keys=100)
    for i in range(1000):
        attempts.failed([f"user:{i}"], NOW)
    assert len(attempts._records) <= 100
