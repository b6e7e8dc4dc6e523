"""Several `intracast run` processes on one PostgreSQL database (issue 9), with the suite's own server.

`cluster_config` writes one config that every daemon of a test reads, as a
shared file would be in production; `daemons(config, n)` runs n of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from sqlalchemy import make_url

from tests.faults.daemon import Daemon, running
from tests.postgres import PostgresServer

SECRET = "a-cluster-test-secret-of-enough-length"


class NewsFeed:
    """`/news.rss`: `items` items published an hour before the test, `version` in every title; ETag and 304.

    `hits` holds when each request came (monotonic time).
    """

    def __init__(self, items: int) -> None:
        self.items, self.version = items, 0
        self.hits: list[float] = []
        self.published = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
        self.app = web.Application()
        self.app.router.add_get("/news.rss", self.serve)

    async def serve(self, request: web.Request) -> web.Response:
        self.hits.append(time.monotonic())
        entries = "".join(
            f"<item><title>Nieuws {n} v{self.version}</title><link>https://intranet.example.org/news/{n}</link>"
            f"<guid>news-{n}</guid><pubDate>{self.published}</pubDate></item>"
            for n in range(self.items)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Nieuws</title>{entries}</channel></rss>'
        etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:16]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type="application/rss+xml", headers={"ETag": etag})


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    """A fresh database's `storage.url`."""
    return postgres.fresh_database()


def write_config(folder: Path, database: str, body: str) -> Path:
    """`body` (sources, digests, screens...) under the settings every daemon shares."""
    path = folder / "intracast.yaml"
    path.write_text(textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}}
        server: {{public_url: "https://mail.example.org", secret: "{SECRET}"}}
        storage: {{url: "{database}", maildir: var/outbox}}
        """) + textwrap.dedent(body))
    return path


@asynccontextmanager
async def daemons(config: Path, count: int) -> AsyncIterator[list[Daemon]]:
    """`count` daemons on `config`, started side by side; each stopped (and checked) at the end."""
    async with AsyncExitStack() as stack:
        started = await asyncio.gather(*(stack.enter_async_context(running(config)) for _ in range(count)))
        yield list(started)


async def query(database: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """Rows of `sql` on the test's database, as an admin would look."""
    dsn = make_url(database).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


async def until(predicate: Callable[[], object], poll: float = 0.05) -> None:
    """Once `predicate()` (awaited if it is a coroutine) is true; the caller bounds the wait."""
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(poll)  # polling interval, bounded by the caller's deadline
