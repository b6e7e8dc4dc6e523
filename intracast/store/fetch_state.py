"""Per-source fetch state: conditional-request validators, health, and backoff.

`consecutive_failures` counts failures since the last success (a success
resets it to 0) and `failing_since` is when that run of failures began; the
last error, its kind and its time stay as history for the dashboard.
`retry_at` is set by a transient failure: no attempt is due before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select

from intracast.store.base import StoreBase
from intracast.store.schema import source_state


@dataclass(frozen=True, slots=True)
class FetchState:
    source: str
    etag: str | None
    last_modified: str | None
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_error_kind: str | None
    failing_since: datetime | None
    retry_at: datetime | None
    consecutive_failures: int
    items_seen: int


class FetchStateMixin(StoreBase):
    async def get_fetch_state(self, source: str) -> FetchState | None:
        query = select(source_state).where(source_state.c.source == source)
        async with self._begin() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else FetchState(**row._mapping)

    async def fetch_states(self) -> dict[str, FetchState]:
        async with self._begin() as conn:
            rows = await conn.execute(select(source_state))
            return {row.source: FetchState(**row._mapping) for row in rows}

    async def record_fetch_success(
        self,
        source: str,
        now: datetime,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        items_seen: int | None = None,
    ) -> None:
        """A fetch worked; `etag` and `last_modified` are the latest response's (None: it sent none).

        `items_seen` None (a 304) keeps the previous count.
        """
        values: dict[str, object] = {
            "etag": etag,
            "last_modified": last_modified,
            "last_attempt": now,
            "last_success": now,
            "consecutive_failures": 0,
            "failing_since": None,
            "retry_at": None,
        }
        if items_seen is not None:
            values["items_seen"] = items_seen
        stmt = self._insert(source_state).values(source=source, **values)
        async with self._begin() as conn:
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=[source_state.c.source], set_=values)
            )

    async def record_fetch_failure(
        self, source: str, now: datetime, error: str, *, kind: str, retry_at: datetime | None = None
    ) -> None:
        values = {
            "last_attempt": now,
            "last_error": error,
            "last_error_at": now,
            "last_error_kind": kind,
            "retry_at": retry_at,
        }
        stmt = self._insert(source_state).values(
            source=source, consecutive_failures=1, failing_since=now, **values
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[source_state.c.source],
            set_=values
            | {
                "consecutive_failures": source_state.c.consecutive_failures + 1,
                "failing_since": func.coalesce(
                    source_state.c.failing_since, literal(now, source_state.c.failing_since.type)
                ),
            },
        )
        async with self._begin() as conn:
            await conn.execute(stmt)
