"""Several `intracast run` processes on one PostgreSQL database (issue 9), with the suite's own server.

`write_config` writes one config that every daemon of a test reads, as a
shared file would be in production; `daemons(config, n)` runs n of them.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from tests.faults.daemon import Daemon, running
from tests.postgres import PostgresServer

SECRET = "a-cluster-test-secret-of-enough-length"


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
