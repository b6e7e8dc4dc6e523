"""Instances on one PostgreSQL database hear each other (intracast/cluster.py), with the suite's own server."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from intracast.cluster import Postgres, Solo, make_cluster
from intracast.store import SqlStore, open_store
from tests.postgres import PostgresServer

NOW = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
DEADLINE = 10


class Heard:
    """Counts each topic's handler runs; `wait(topic, n)` until it has run n times."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self._changed = asyncio.Condition()

    def handler(self, topic: str):
        async def run() -> None:
            async with self._changed:
                self.runs[topic] += 1
                self._changed.notify_all()
        return run

    async def wait(self, topic: str, count: int) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.runs[topic] >= count), DEADLINE)


@asynccontextmanager
async def instance(url: str, tmp_path: Path, heard: Heard | None = None) -> AsyncIterator[tuple[Postgres, SqlStore]]:
    """A store and a listening cluster member, as one daemon has them."""
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(url, tmp_path))
        cluster = make_cluster(store, url)
        assert isinstance(cluster, Postgres)
        if heard is not None:
            for topic in ("items", "overrides", "outbox"):
                cluster.on(topic, heard.handler(topic))
        stop = asyncio.Event()
        serving = asyncio.create_task(cluster.serve(stop))
        stack.push_async_callback(lambda: serving)
        stack.callback(stop.set)
        await asyncio.wait_for(cluster.listening(), DEADLINE)
        yield cluster, store


async def test_an_announcement_reaches_the_other_instances_not_the_one_that_made_it(
    postgres: PostgresServer, tmp_path: Path,
) -> None:
    url = postgres.fresh_database()
    mine, theirs = Heard(), Heard()
    async with instance(url, tmp_path, mine) as (a, _), instance(url, tmp_path, theirs):
        await theirs.wait("items", 1)  # on connecting: whatever was said before it listened counts as said
        await mine.wait("items", 1)
        before = mine.runs.copy()
        await a.announce("items")
        await theirs.wait("items", 2)
        await a.announce("overrides")
        await theirs.wait("overrides", 2)
        assert theirs.runs["outbox"] == 1
    assert mine.runs == before, "an instance does not act twice on its own change"


async def test_a_burst_of_announcements_runs_a_handler_a_few_times_not_once_per_announcement(
    postgres: PostgresServer, tmp_path: Path,
) -> None:
    url = postgres.fresh_database()
    heard = Heard()
    async with instance(url, tmp_path) as (a, _), instance(url, tmp_path, heard):
        await heard.wait("outbox", 1)
        await asyncio.gather(*(a.announce("outbox") for _ in range(50)))
        await heard.wait("outbox", 2)
    assert heard.runs["outbox"] < 50


async def test_a_lost_listening_connection_is_reopened_and_counts_as_everything_changed(
    postgres: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    url = postgres.fresh_database()
    heard = Heard()
    async with instance(url, tmp_path) as (a, store), instance(url, tmp_path, heard) as (b, _):
        await heard.wait("items", 1)
        async with store._begin() as conn:  # the DBA, or a failover, ends the listening session
            await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"))
        await heard.wait("items", 2)  # heard nothing for a while: refresh anyway
        await asyncio.wait_for(b.listening(), DEADLINE)
        await a.announce("items")
        await heard.wait("items", 3)
    assert "cluster.listen_lost" in caplog.text


async def test_a_malformed_notification_is_logged_and_ignored(
    postgres: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    url = postgres.fresh_database()
    heard = Heard()
    async with instance(url, tmp_path) as (a, store), instance(url, tmp_path, heard):
        await heard.wait("items", 1)
        with caplog.at_level(logging.WARNING, logger="intracast.cluster"):
            await store.notify("intracast", "not json")
            await a.announce("items")
            await heard.wait("items", 2)
    assert "cluster.bad_announcement" in caplog.text


async def test_one_daemon_on_sqlite_claims_every_tick_and_tells_nobody(tmp_path: Path) -> None:
    async with open_store("sqlite:///var/t.db", tmp_path) as store:
        cluster = make_cluster(store, "sqlite:///var/t.db")
        assert isinstance(cluster, Solo)
        assert await cluster.claim("source:news", NOW, NOW) and await cluster.claim("source:news", NOW, NOW)
        await cluster.announce("items")
        await cluster.serve(asyncio.Event())  # nothing to listen to: returns at once
