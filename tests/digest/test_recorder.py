"""Recorder: outcomes committed in batches, into a real SqlStore on SQLite (statements counted on its engine)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from digest.recorder import Recorder
from digest.store import OutboxRow, OutboxState, Settlement
from intracast.store import SqlStore, open_store
from intracast.store.engine import create_engine
from tests.digest.test_sender import T0, enqueue, outbox

URL = "sqlite:///var/t.db"
LEASE = timedelta(minutes=5)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with open_store(URL, tmp_path):  # creates the schema
        pass
    engine = create_engine(URL, tmp_path)
    yield engine
    await engine.dispose()


class Statements:
    """Every UPDATE and every commit on the engine, as they happen."""

    def __init__(self, engine: AsyncEngine, on_update: Any = lambda: None):
        self.updates: list[str] = []
        self.commits = 0
        self._on_update = on_update
        event.listen(engine.sync_engine, "before_cursor_execute", self._executed)
        event.listen(engine.sync_engine, "commit", self._committed)

    def _executed(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            self.updates.append(statement)
            self._on_update()

    def _committed(self, conn: Any) -> None:
        self.commits += 1


async def claimed(store: SqlStore, count: int) -> list[OutboxRow]:
    await enqueue(store, [f"user{n}@example.org" for n in range(count)])
    return await store.claim_pending(count, LEASE, T0)


def sent(row: OutboxRow) -> Settlement:
    return Settlement(row.id, OutboxState.SENT, f"250 2.0.0 Ok: queued as {row.id}", T0)


async def test_outcomes_queued_meanwhile_are_committed_in_one_transaction(engine: AsyncEngine) -> None:
    store = SqlStore(engine)
    rows = await claimed(store, 10)
    statements = Statements(engine)
    async with Recorder(store, limit=10) as recorder:
        for row in rows:  # no await yields here: the writer has not started yet
            await recorder.record(row, sent(row))
    assert (len(statements.updates), statements.commits) == (1, 1)
    recorded = await outbox(store)
    assert {(row.state, row.attempts) for row in recorded.values()} == {(OutboxState.SENT, 1)}
    assert {row.last_reply for row in recorded.values()} == {sent(row).reply for row in rows}
    assert recorder.error is None


async def test_record_waits_while_limit_outcomes_are_unrecorded(engine: AsyncEngine) -> None:
    store = SqlStore(engine)
    first, second, third = await claimed(store, 3)
    late: list[asyncio.Task[None]] = []
    waiting_at_update: list[bool] = []
    statements = Statements(engine, on_update=lambda: waiting_at_update.append(not late[0].done()))
    async with Recorder(store, limit=2) as recorder:
        await recorder.record(first, sent(first))
        await recorder.record(second, sent(second))
        late.append(asyncio.create_task(recorder.record(third, sent(third))))
        await late[0]
    # The third was still waiting for room while the first two were written; then it went alone.
    assert waiting_at_update == [True, False]
    assert (len(statements.updates), statements.commits) == (2, 2)
    assert {row.state for row in (await outbox(store)).values()} == {OutboxState.SENT}


async def test_a_failed_commit_is_logged_per_row_and_kept(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore(engine)
    [row] = await claimed(store, 1)
    missing = Settlement(999, OutboxState.SENT, "250 ok", T0)
    async with Recorder(store, limit=2) as recorder:
        await recorder.record(row, missing)
        await recorder.record(row, sent(row))  # committed with it: the whole batch fails
    assert recorder.error is not None and "no delivery with id 999" in str(recorder.error)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mail.unrecorded ")]
    assert len(lines) == 2 and all(line.startswith(f"mail.unrecorded digest=daily id={row.id} ") for line in lines)
    # Rolled back whole: the row stays `sending`, and goes again after its lease.
    assert [r.state for r in (await outbox(store)).values()] == [OutboxState.SENDING]
