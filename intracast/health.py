"""A source's health from its fetch state: pending, healthy, retrying, or degraded.

A source that fails is `retrying` at first: one timeout is no news. Once it
has been failing for longer than its `degraded_after` (default three
intervals), it is `degraded`, and screens say how old their news is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from intracast.store import FetchState
from screens.store import Heartbeat
from sources.registry import SourceOptions


ONLINE_WITHIN = timedelta(minutes=2)  # a screen without a heartbeat for longer is offline


def is_online(beat: Heartbeat | None, now: datetime) -> bool:
    return beat is not None and now - beat.at < ONLINE_WITHIN


def source_state(options: SourceOptions, state: FetchState | None, now: datetime) -> str:
    if state is None or state.last_attempt is None:
        return "pending"
    if state.consecutive_failures == 0:
        return "healthy"
    failing_since = state.failing_since or state.last_attempt
    return "degraded" if now - failing_since >= options.degraded_threshold() else "retrying"


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
