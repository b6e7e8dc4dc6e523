"""SIGKILL during a fetch cycle and during store writes: the store opens cleanly, no item is lost or doubled (issue 8).

`intracast fetch --store` (the code the scheduler runs) fetches many feeds
from a loopback server with ETags, and is killed:

- during a fetch cycle: half the feeds are stored, and another server holds
  the requests for the others (at most 4 at a time go to one host);
- during store writes: at a moment it holds SQLite's write lock, found
  without touching the database by asking the kernel who holds the WAL
  write lock (byte 120 of the `-shm` file, an fcntl lock); three times,
  at its first write and later and later, while every feed changes.

After each kill the database passes `PRAGMA integrity_check`, and no feed's
ETag is ahead of its items: were it recorded before them, the next fetch
would get a 304 and those items would never come. After `intracast
migrate` and a complete fetch, each feed holds each of its items once, at
its last version.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import signal
import sqlite3
import struct
import textwrap
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

from tests.faults.feeds import Feeds, rss
from tests.intracast.test_digest_faults import DEADLINE, POLL, before_exit, database, intracast, kill, start

FLOCK = "hhqqi4x"  # struct flock on Linux x86-64 and arm64: type, whence, start, len, pid
WAL_WRITE_LOCK = 120  # SQLite: WALINDEX_LOCK_OFFSET + WAL_WRITE_LOCK


def write_config(tmp_path: Path, bases: dict[str, str]) -> Path:
    """A source per feed name, served from its base URL."""
    path = tmp_path / "intracast.yaml"
    path.write_text(textwrap.dedent("""\
        intranet: {name: Plek, url: "https://intranet.example.org"}
        storage: {url: "sqlite:///var/intracast.db"}
        sources:
        """) + "".join(f"  - {{name: {name}, type: rss, url: '{base}/feed/{name}'}}\n" for name, base in bases.items()))
    return path


def query(config: Path, sql: str, *, read_only: bool = False) -> list[tuple]:
    """Rows of `sql`; read-write by default, which recovers the WAL index after a kill, as the next opener would."""
    uri = f"file:{database(config)}?mode={'ro' if read_only else 'rw'}"
    with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
        return conn.execute(sql).fetchall()


def writer(config: Path) -> int | None:
    """The pid of the process holding the database's write lock, if one does."""
    try:
        fd = os.open(f"{database(config)}-shm", os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        probe = struct.pack(FLOCK, fcntl.F_WRLCK, os.SEEK_SET, WAL_WRITE_LOCK, 1, 0)
        kind, _, _, _, pid = struct.unpack(FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def etag(name: str, items: int, version: int) -> str:
    return f'"{hashlib.sha256(rss(name, items, version)).hexdigest()[:16]}"'  # as tests/faults/feeds.py makes it


def check_store(config: Path, feeds: Feeds, names: list[str]) -> dict[str, int]:
    """Integrity, and no ETag recorded ahead of its items; source -> items held.

    An ETag may lag behind (killed after the items, before the ETag: the next
    fetch gets the whole feed again), never lead: the server would answer 304,
    and the items of that version would never come.
    """
    assert query(config, "pragma integrity_check") == [("ok",)]
    versions: dict[str, list[int]] = {}
    for source, title in query(config, "select source, title from items"):
        versions.setdefault(source, []).append(int(title.rpartition(" v")[2]))
    tags = {name: {etag(name, feeds.items, v): v for v in range(feeds.version + 1)} for name in names}
    for source, tag in query(config, "select source, etag from source_state where etag is not null"):
        version, held = tags[source][tag], versions.get(source, [])
        assert len(held) == feeds.items and min(held) >= version, \
            f"{source}: the ETag of version {version} is recorded, its items are at versions {sorted(set(held))}"
    guids = query(config, "select count(*), count(distinct source || ' ' || guid) from items")
    assert guids[0][0] == guids[0][1]
    return {source: len(held) for source, held in versions.items()}


async def complete_fetch(config: Path, feeds: Feeds, names: list[str]) -> None:
    assert "schema revision" in await asyncio.wait_for(intracast(config, "migrate"), DEADLINE)
    await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)
    assert check_store(config, feeds, names) == dict.fromkeys(names, feeds.items), "each item exactly once"
    last = f"% v{feeds.version}"
    assert query(config, f"select count(*) from items where title not like '{last}'") == [(0,)], "at the last version"


async def killed_when(config: Path, output: Path, reached: Callable[[int], Awaitable[object]]) -> None:
    """Start `fetch --store`, and SIGKILL it once `reached(pid)` is done."""
    proc = await start(config, "fetch", "--store", output=output)
    try:
        await asyncio.wait_for(before_exit(proc, reached(proc.pid), output.read_text), DEADLINE)
    finally:
        status = await kill(proc)
    assert status == -signal.SIGKILL, f"the fetch ended before the kill:\n{output.read_text()}"


async def test_sigkill_during_a_fetch_cycle(
    tmp_path: Path, aiohttp_server, fault_report: Callable[[str], None],
) -> None:
    names = [f"feed{n:02d}" for n in range(40)]
    stored, held = names[:20], names[20:]
    # Two intranets: at most 4 requests go to one host at a time, and the held ones must not hold up the others.
    feeds, holding = Feeds(items=50), Feeds(items=50, held=frozenset(held))
    quick, slow = [str((await aiohttp_server(app)).make_url("")).rstrip("/") for app in (feeds.app, holding.app)]
    config = write_config(tmp_path, {**dict.fromkeys(stored, quick), **dict.fromkeys(held, slow)})
    await asyncio.wait_for(intracast(config, "migrate"), DEADLINE)  # the kill is for the fetch, not the schema

    async def midway(pid: int) -> None:
        """Half the feeds stored, and the others asked for and held (as many as the per-host limit lets go)."""
        done = "select count(*) from source_state where last_success is not null"
        while not (holding.hits and query(config, done, read_only=True) == [(20,)]):
            await asyncio.sleep(POLL)  # polling interval, bounded by the caller's deadline

    await killed_when(config, tmp_path / "fetch-killed.log", midway)
    in_flight = len(holding.hits)
    at_kill = check_store(config, feeds, names)
    assert at_kill == dict.fromkeys(stored, 50), "what was stored stays; what was in flight is not half there"
    holding.release.set()

    await complete_fetch(config, feeds, names)
    fault_report(f"killed with {len(stored)} of {len(names)} feeds stored and {in_flight} requests in flight; "
                 f"after a restart all {len(names)} x 50 items once each")


async def test_sigkill_while_the_store_writes(
    tmp_path: Path, aiohttp_server, fault_report: Callable[[str], None],
) -> None:
    names = [f"feed{n:02d}" for n in range(20)]
    feeds = Feeds(items=400)
    base = str((await aiohttp_server(feeds.app)).make_url("")).rstrip("/")
    config = write_config(tmp_path, dict.fromkeys(names, base))
    await asyncio.wait_for(intracast(config, "migrate"), DEADLINE)

    def stored(version: int) -> int:
        return query(config, f"select count(*) from items where title like '% v{version}'", read_only=True)[0][0]

    held = []
    for version, at_least in enumerate([0, 2000, 4000]):  # the first write of a run, then later and later
        feeds.version = version  # every item changes: each fetch updates them all

        async def writing(pid: int) -> None:
            while writer(config) != pid or stored(version) < at_least:
                await asyncio.sleep(0.001)  # polling interval (a write lasts milliseconds), bounded by the deadline

        await killed_when(config, tmp_path / f"fetch-killed-{version}.log", writing)
        held.append(check_store(config, feeds, names))

    await complete_fetch(config, feeds, names)
    fault_report(f"killed 3 times holding the write lock, with {[sum(h.values()) for h in held]} items and "
                 f"{[len(h) for h in held]} feeds held after each kill; "
                 f"after a restart all {len(names)} x {feeds.items} items once each, at their last version")
