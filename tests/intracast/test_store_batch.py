"""The batcher (intracast/store/batch.py) on its own, then the fetch state it batches, on a real
database (SQLite, and PostgreSQL through the `db_url` fixture), its statements counted on the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from intracast.store import SqlStore, StoreError, open_store
from intracast.store.batch import Batcher

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class Doubler:
    """A batch function that records its batches; `gate`, when set, holds each batch until opened."""

    batches: list[list[int]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False

    async def __call__(self, keys: list[int]) -> list[int | Exception]:
        self.batches.append(keys)
        self.started.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return [ValueError(f"odd key {k}") if k == 13 else 2 * k for k in keys]


def other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def test_callers_that_arrive_together_share_one_batch() -> None:
    run = Doubler()
    batcher = Batcher(run)
    assert await asyncio.gather(*(batcher.load(k) for k in range(10))) == [2 * k for k in range(10)]
    assert run.batches == [list(range(10))]
    assert not other_tasks(), "the batcher's task ends with its queue"


async def test_callers_arriving_during_a_batch_form_the_next_one() -> None:
    run = Doubler(gate=asyncio.Event())
    batcher = Batcher(run)
    first = asyncio.create_task(batcher.load(1))
    await run.started.wait()
    later = [asyncio.create_task(batcher.load(k)) for k in (2, 3, 4)]
    run.gate.set()
    assert (await first, await asyncio.gather(*later)) == (2, [4, 6, 8])
    assert run.batches == [[1], [2, 3, 4]]


async def test_batches_hold_at_most_max_size_keys() -> None:
    run = Doubler()
    batcher = Batcher(run, max_size=4)
    await asyncio.gather(*(batcher.load(k) for k in range(10)))
    assert run.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_an_error_for_one_key_reaches_its_caller_alone() -> None:
    batcher = Batcher(Doubler())
    outcomes = await asyncio.gather(*(batcher.load(k) for k in (12, 13, 14)), return_exceptions=True)
    assert outcomes[0] == 24 and outcomes[2] == 28
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "odd key 13"


async def test_a_failing_batch_reaches_each_of_its_callers_and_the_next_batch_runs() -> None:
    calls = 0

    async def flaky(keys: list[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database gone")
        return list(keys)

    batcher = Batcher(flaky)
    outcomes = await asyncio.gather(*(batcher.load(k) for k in range(3)), return_exceptions=True)
    assert [type(o) for o in outcomes] == [ConnectionError] * 3
    assert await batcher.load(7) == 7


async def test_a_wrong_number_of_outcomes_is_an_error_not_a_hang() -> None:
    async def short(keys: list[int]) -> list[int | Exception]:
        return keys[:-1]

    batcher = Batcher(short, name="short")
    outcomes = await asyncio.gather(batcher.load(1), batcher.load(2), return_exceptions=True)
    assert [str(o) for o in outcomes] == ["short: 1 outcomes for 2 keys"] * 2


async def test_a_cancelled_caller_leaves_the_others_answered() -> None:
    run = Doubler(gate=asyncio.Event())
    batcher = Batcher(run)
    callers = [asyncio.create_task(batcher.load(k)) for k in range(3)]
    await run.started.wait()
    callers[0].cancel()
    run.gate.set()
    assert await asyncio.gather(*callers[1:]) == [2, 4]
    assert callers[0].cancelled() and not run.cancelled


async def test_when_every_caller_is_cancelled_the_batch_is_cancelled_and_awaited() -> None:
    run = Doubler(gate=asyncio.Event())
    batcher = Batcher(run)
    callers = [asyncio.create_task(batcher.load(k)) for k in range(3)]
    await run.started.wait()
    for caller in callers:
        caller.cancel()
    await asyncio.wait(callers)
    assert run.cancelled
    assert not other_tasks(), "nothing runs once nobody waits"
    run.gate.set()
    assert await batcher.load(5) == 10, "a later caller starts a new task"


async def test_aclose_fails_whoever_waits_and_leaves_no_task() -> None:
    run = Doubler(gate=asyncio.Event())
    batcher = Batcher(run, max_size=1, name="reads")
    callers = [asyncio.create_task(batcher.load(k)) for k in range(2)]
    await run.started.wait()
    await batcher.aclose()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["reads: closed", "reads: closed"]
    assert all(isinstance(o, StoreError) for o in outcomes)
    assert run.cancelled and not other_tasks()
    with pytest.raises(StoreError, match="reads: closed"):
        await batcher.load(3)


# the fetch state, batched


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with open_store(db_url, tmp_path) as store:
        yield store


@dataclass
class Statements:
    """What the engine sent to the database: (SQL, rows) per statement, and the commits."""

    sent: list[tuple[str, int]] = field(default_factory=list)
    commits: int = 0

    def on(self, table: str, verb: str) -> list[int]:
        return [rows for sql, rows in self.sent if sql.lstrip().upper().startswith(verb) and table in sql]


@contextmanager
def counted(store: SqlStore) -> Iterator[Statements]:
    statements = Statements()
    engine = store._engine.sync_engine

    def executed(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.sent.append((statement, len(parameters) if executemany else 1))

    def committed(conn) -> None:  # type: ignore[no-untyped-def]
        statements.commits += 1

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)


async def test_concurrent_reads_are_one_query(store: SqlStore) -> None:
    names = [f"s{n:03d}" for n in range(200)]
    await asyncio.gather(*(store.record_fetch_success(n, NOW, etag=f'"{n}"', items_seen=1) for n in names[::2]))
    with counted(store) as statements:
        states = await asyncio.gather(*(store.get_fetch_state(n) for n in names + ["s000"]))
    assert len(statements.on("source_state", "SELECT")) == 1
    assert [s and s.etag for s in states] == [f'"{n}"' if i % 2 == 0 else None for i, n in enumerate(names)] + ['"s000"']


async def test_concurrent_writes_are_one_transaction_with_each_meaning_kept(store: SqlStore) -> None:
    names = [f"s{n:03d}" for n in range(300)]
    await asyncio.gather(*(store.record_fetch_success(n, NOW, etag='"v1"', items_seen=5) for n in names[:200]))
    await store.record_fetch_failure("s000", NOW, "HTTP 503", kind="http")
    later = NOW + timedelta(minutes=10)
    retry = later + timedelta(minutes=5)
    with counted(store) as statements:
        await asyncio.gather(
            *(store.record_fetch_success(n, later, etag='"v1"') for n in names[:100]),  # 304s
            *(store.record_fetch_success(n, later, etag='"v2"', items_seen=7) for n in names[100:200]),
            *(store.record_fetch_failure(n, later, "timed out", kind="timeout", retry_at=retry) for n in names[200:]),
        )
    assert statements.commits == 1
    assert sorted(statements.on("source_state", "INSERT")) == [100, 100, 100]
    states = await store.fetch_states()
    assert {(s.etag, s.items_seen, s.last_success, s.consecutive_failures) for n, s in states.items()
            if n < "s100"} == {('"v1"', 5, later, 0)}
    assert states["s000"].failing_since is None and states["s000"].last_error == "HTTP 503"
    assert {(s.etag, s.items_seen, s.last_success) for n, s in states.items()
            if "s100" <= n < "s200"} == {('"v2"', 7, later)}
    assert {(s.last_error, s.consecutive_failures, s.failing_since, s.retry_at, s.items_seen) for n, s in states.items()
            if n >= "s200"} == {("timed out", 1, later, retry, 0)}


async def test_writes_to_one_source_in_one_batch_apply_in_order(store: SqlStore) -> None:
    first, second = NOW, NOW + timedelta(minutes=1)
    await store.record_fetch_failure("news", NOW - timedelta(hours=1), "DNS", kind="connection")
    await asyncio.gather(
        store.record_fetch_failure("news", first, "HTTP 503", kind="http"),
        store.record_fetch_success("news", second, etag='"a"', items_seen=2),
        store.record_fetch_failure("events", first, "HTTP 503", kind="http"),
        store.record_fetch_failure("events", second, "HTTP 502", kind="http"),
    )
    news, events = await store.get_fetch_state("news"), await store.get_fetch_state("events")
    assert (news.consecutive_failures, news.failing_since, news.last_success) == (0, None, second)
    assert (events.consecutive_failures, events.failing_since, events.last_error) == (2, first, "HTTP 502")


async def test_a_bad_row_fails_its_caller_alone_and_the_rest_are_committed(store: SqlStore) -> None:
    naive = datetime(2026, 11, 24, 9, 0)
    outcomes = await asyncio.gather(
        *(store.record_fetch_success(f"s{n}", NOW, items_seen=n) for n in range(5)),
        store.record_fetch_success("bad", naive, items_seen=1),
        store.record_fetch_failure("s9", NOW, "HTTP 404", kind="http"),
        return_exceptions=True,
    )
    assert outcomes[:5] == [None] * 5 and outcomes[6] is None
    assert isinstance(outcomes[5], StoreError) and "naive datetime" in str(outcomes[5])
    states = await store.fetch_states()
    assert sorted(states) == ["s0", "s1", "s2", "s3", "s4", "s9"]
    assert states["s4"].items_seen == 4 and states["s9"].consecutive_failures == 1


async def test_a_lone_call_is_not_kept_waiting(store: SqlStore) -> None:
    with counted(store) as statements:
        await store.record_fetch_success("news", NOW, items_seen=1)
        assert (await store.get_fetch_state("news")).items_seen == 1
    assert statements.commits == 2 and len(statements.on("source_state", "SELECT")) == 1
