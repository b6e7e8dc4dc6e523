"""Several processes on one database: which instance runs a job's tick, a lock held across processes,
and notifications between instances."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from intracast.store.base import StoreBase, wrap_errors
from intracast.store.engine import describe
from intracast.store.schema import job_claims as table

LOCK_POLL_S = 0.1  # how often a process waiting for a SQLite lock file tries again


class ClusterMixin(StoreBase):
    async def claim_tick(self, job: str, tick: datetime, instance: str, now: datetime) -> bool:
        """True for the one caller that moves `job`'s claimed tick forward to `tick`.

        One statement: the upsert's WHERE is decided under the row's lock, so of
        two instances claiming the same tick at the same moment exactly one
        gets its row back.
        """
        values = {"tick": tick, "instance": instance, "claimed_at": now}
        stmt = (
            self._insert(table)
            .values(job=job, **values)
            .on_conflict_do_update(index_elements=[table.c.job], set_=values, where=table.c.tick < tick)
            .returning(table.c.job)
        )
        async with self._begin() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def notify(self, channel: str, payload: str) -> None:
        """PostgreSQL's NOTIFY, sent when the transaction commits (intracast/cluster.py listens)."""
        async with self._begin() as conn:
            await conn.execute(select(func.pg_notify(channel, payload)))

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold the lock `name` for the block, waiting for any other process that holds it (`exclusive`)."""
        return exclusive(self._engine, name)


@asynccontextmanager
async def exclusive(engine: AsyncEngine, name: str) -> AsyncIterator[None]:
    """Hold the lock `name` on `engine`'s database for the block, waiting for any other process that holds it.

    A process that dies loses its locks: PostgreSQL's session advisory lock
    goes with the connection, a SQLite database's lock file (beside it) with
    the file descriptor.
    """
    if engine.dialect.name == "postgresql":
        async with _advisory_lock(engine, name):
            yield
    else:
        async with _file_lock(Path(str(engine.url.database)), name):
            yield


@asynccontextmanager
async def _advisory_lock(engine: AsyncEngine, name: str) -> AsyncIterator[None]:
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], signed=True)
    with wrap_errors(describe(engine.url)):
        async with engine.connect() as conn:
            await conn.execute(select(func.pg_advisory_lock(key)))
            await conn.commit()  # the lock is the session's; no transaction stays open meanwhile
            try:
                yield
            finally:
                await conn.execute(select(func.pg_advisory_unlock(key)))
                await conn.commit()


@asynccontextmanager
async def _file_lock(database: Path, name: str) -> AsyncIterator[None]:
    path = database.with_name(f"{database.name}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock")
    with path.open("a") as file:
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(LOCK_POLL_S)  # another process holds it; flock cannot be awaited
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
