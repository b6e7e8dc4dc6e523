"""Per-source fetch state: conditional-request validators, health, and backoff.

`consecutive_failures` counts failures since the last success (a success
resets it to 0) and `failing_since` is when that run of failures began; the
last error, its kind and its time stay as history for the dashboard.
`retry_at` is set by a transient failure: no attempt is due before it.

Sources tick together (1,000 at once in bench/ingest.py), so the per-source
calls are coalesced (intracast/store/batch.py): the reads that arrive together
are one `SELECT ... WHERE source IN (...)`, the successes and failures that
arrive together one transaction (an executemany per kind of row; a source
written twice in a batch keeps the calls' order). Each call still returns only once its row is read or
committed, and nothing is cached: several daemons may share a database, so
every tick reads the store. If a batch's transaction fails because of a row
(a constraint, a value the driver refuses), its rows are written again one by
one so that only the culprit's caller gets the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intracast.store.base import StoreBase
from intracast.store.batch import Batcher
from intracast.store.errors import StoreError
from intracast.store.schema import source_state

BATCH_SIZE = 500  # sources per query: well under SQLite's and asyncpg's 32,766 parameters


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


@dataclass(frozen=True, slots=True)
class _Success:
    source: str
    now: datetime
    etag: str | None
    last_modified: str | None
    items_seen: int | None  # None: a 304, keep the previous count


@dataclass(frozen=True, slots=True)
class _Failure:
    source: str
    now: datetime
    error: str
    kind: str
    retry_at: datetime | None


_Write = _Success | _Failure


class FetchStateMixin(StoreBase):
    def __init__(self, engine: AsyncEngine):
        super().__init__(engine)
        self._state_reads: Batcher[str, FetchState | None] = Batcher(
            self._read_states, max_size=BATCH_SIZE, name=f"database {self.database}: fetch state reads"
        )
        self._state_writes: Batcher[_Write, None] = Batcher(
            self._write_states, max_size=BATCH_SIZE, name=f"database {self.database}: fetch state writes"
        )

    async def _close_fetch_state(self) -> None:
        """Before the engine goes: a batch still in flight would run on a disposed engine."""
        await self._state_reads.aclose()
        await self._state_writes.aclose()

    async def get_fetch_state(self, source: str) -> FetchState | None:
        return await self._state_reads.load(source)

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
        await self._state_writes.load(_Success(source, now, etag, last_modified, items_seen))

    async def record_fetch_failure(
        self, source: str, now: datetime, error: str, *, kind: str, retry_at: datetime | None = None
    ) -> None:
        await self._state_writes.load(_Failure(source, now, error, kind, retry_at))

    async def _read_states(self, sources: list[str]) -> list[FetchState | None]:
        query = select(source_state).where(source_state.c.source.in_(set(sources)))
        async with self._begin() as conn:
            found = {row.source: FetchState(**row._mapping) for row in await conn.execute(query)}
        return [found.get(source) for source in sources]

    async def _write_states(self, writes: list[_Write]) -> list[StoreError | None]:
        try:
            async with self._begin() as conn:
                await self._execute(conn, writes)
        except StoreError as e:
            if len(writes) == 1 or not _about_a_row(e.__cause__):
                raise
            return [await self._write_alone(write) for write in writes]
        return [None] * len(writes)

    async def _write_alone(self, write: _Write) -> StoreError | None:
        try:
            async with self._begin() as conn:
                await self._execute(conn, [write])
        except StoreError as e:
            return e
        return None

    async def _execute(self, conn: AsyncConnection, writes: Sequence[_Write]) -> None:
        """One executemany per run of rows of the same shape, in arrival order, so that of two writes
        to one source the later wins; with no source twice, rows of one shape go together."""
        if len({write.source for write in writes}) == len(writes):
            writes = sorted(writes, key=_shape)
        for shape, run in groupby(writes, key=_shape):
            await conn.execute(self._upsert(shape), [_row(write) for write in run])

    def _upsert(self, shape: str) -> sqlite.Insert | postgresql.Insert:
        """The statement for rows of `shape`: an INSERT, or on conflict an update of what a fetch changes."""
        if shape == "failure":
            return self._failure_upsert()
        return self._success_upsert(items_seen=shape == "counted")

    def _success_upsert(self, *, items_seen: bool) -> sqlite.Insert | postgresql.Insert:
        stmt = self._insert(source_state)
        columns = ["etag", "last_modified", "last_attempt", "last_success", "consecutive_failures",
                   "failing_since", "retry_at"] + (["items_seen"] if items_seen else [])
        return stmt.on_conflict_do_update(
            index_elements=[source_state.c.source], set_={c: stmt.excluded[c] for c in columns}
        )

    def _failure_upsert(self) -> sqlite.Insert | postgresql.Insert:
        stmt = self._insert(source_state)
        columns = ["last_attempt", "last_error", "last_error_at", "last_error_kind", "retry_at"]
        return stmt.on_conflict_do_update(
            index_elements=[source_state.c.source],
            set_={c: stmt.excluded[c] for c in columns} | {
                "consecutive_failures": source_state.c.consecutive_failures + 1,
                "failing_since": func.coalesce(source_state.c.failing_since, stmt.excluded.failing_since),
            },
        )


def _shape(write: _Write) -> str:
    if isinstance(write, _Failure):
        return "failure"
    return "304" if write.items_seen is None else "counted"


def _row(write: _Write) -> dict[str, object]:
    if isinstance(write, _Failure):
        return {"source": write.source, "last_attempt": write.now, "last_error": write.error,
                "last_error_at": write.now, "last_error_kind": write.kind, "retry_at": write.retry_at,
                "consecutive_failures": 1, "failing_since": write.now}
    row: dict[str, object] = {
        "source": write.source, "etag": write.etag, "last_modified": write.last_modified,
        "last_attempt": write.now, "last_success": write.now, "consecutive_failures": 0,
        "failing_since": None, "retry_at": None,
    }
    if write.items_seen is not None:
        row["items_seen"] = write.items_seen
    return row


def _about_a_row(error: BaseException | None) -> bool:
    """Whether a failed statement is the fault of a row's values rather than of the database
    (locked, gone, full: writing the rows one by one would only fail them one by one, slower)."""
    if isinstance(error, (IntegrityError, DataError)):
        return True
    return isinstance(error, StatementError) and not isinstance(error, DBAPIError)
