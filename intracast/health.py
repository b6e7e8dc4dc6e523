"""A source's health from its fetch state: one of `SourceState`.

A source that fails is `retrying` at first: one timeout is no news. Once it
has been failing for longer than its `degraded_after` (default three
intervals), it is `degraded`, and screens say how old their news is.

`SourceState` is the one list of states: /healthz, the admin pages and
`intracast status` say these words, and the README's table lists them (a
test compares the two, issue 14).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from intracast.store import FetchState
from screens.store import Heartbeat
from sources.registry import SourceOptions


ONLINE_WITHIN = timedelta(minutes=2)  # a screen without a heartbeat for longer is offline


class SourceState(StrEnum):
    """In the order the overview counts them."""

    HEALTHY = "healthy"  # the last fetch succeeded
    RETRYING = "retrying"  # failing, for less than `degraded_after`; retried with backoff
    DEGRADED = "degraded"  # failing for longer than `degraded_after`
    PENDING = "pending"  # not fetched yet


def is_online(beat: Heartbeat | None, now: datetime) -> bool:
    return beat is not None and now - beat.at < ONLINE_WITHIN


def source_state(options: SourceOptions, state: FetchState | None, now: datetime) -> SourceState:
    if state is None or state.last_attempt is None:
        return SourceState.PENDING
    if state.consecutive_failures == 0:
        return SourceState.HEALTHY
    failing_since = state.failing_since or state.last_attempt
    failing_long = now - failing_since >= options.degraded_threshold()
    return SourceState.DEGRADED if failing_long else SourceState.RETRYING


def source_health(options: SourceOptions, state: FetchState | None, held: int, now: datetime) -> dict[str, Any]:
    health: dict[str, Any] = {"state": source_state(options, state, now), "type": getattr(options, "type"),
                              "items_held": held}
    if state is None:
        return health
    health |= {
        "last_attempt": _iso(state.last_attempt),
        "last_success": _iso(state.last_success),
        "consecutive_failures": state.consecutive_failures,
        "items_seen": state.items_seen,
    }
    if state.last_error:
        health["last_error"] = {"kind": state.last_error_kind, "message": state.last_error,
                                "at": _iso(state.last_error_at)}
    if state.retry_at and state.consecutive_failures:
        health["retry_at"] = _iso(state.retry_at)
    return health


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
