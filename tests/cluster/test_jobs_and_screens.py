"""Two daemons on one PostgreSQL database: a tick runs on one of them, and a TV on either sees every change."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
import pytest

from tests.cluster.conftest import daemons, query, write_config
from tests.newsfeed import NewsFeed
from tests.faults.daemon import Daemon
from tests.intracast.test_daemon import browser_jar, next_event

TOKEN = "hall-token-123"
RUN_FOR = 10.0  # seconds the two daemons run side by side with a source on a 1-second interval


def news_config(tmp_path: Path, database: str, feed: str) -> Path:
    return write_config(tmp_path, database, f"""\
        sources:
          - {{name: news, type: rss, url: "{feed}/news.rss", every: 1s}}
        screens:
          - {{id: hall, name: Hall, token: {TOKEN}, playlist: main}}
        playlists:
          - {{name: main, blocks: [{{sources: [news]}}]}}
        """)


@pytest.mark.timeout(180)
async def test_a_source_on_a_one_second_interval_is_fetched_once_a_second_across_two_daemons(
    tmp_path: Path, database: str, aiohttp_server,
) -> None:
    feeds = NewsFeed(items=5)
    feed = str((await aiohttp_server(feeds.app)).make_url("")).rstrip("/")
    config = news_config(tmp_path, database, feed)
    async with daemons(config, 2) as pair:
        for daemon in pair:
            await daemon.within(daemon.log.find(r"cluster\.listening"), "listening")
        start = time.monotonic()
        await asyncio.sleep(RUN_FOR)  # the measured span itself: the daemons run for RUN_FOR seconds
        fetched = [at for at in feeds.hits if at >= start]
    # One fetch per tick: about RUN_FOR, where two daemons fetching on their own would make twice as many.
    assert RUN_FOR - 3 <= len(fetched) <= RUN_FOR + 2, f"{len(fetched)} fetches in {RUN_FOR}s"
    instances = {line.split("instance=")[1].split()[0] for daemon in pair for _, line in daemon.log.lines
                 if "cluster.listening" in line}
    [claim] = await query(database, "SELECT instance FROM job_claims WHERE job = 'source:news'")
    assert claim["instance"] in instances, "the last tick was claimed by one of the two daemons"


async def playlist_event(session: aiohttp.ClientSession, daemon: Daemon) -> aiohttp.ClientResponse:
    """An open stream of screen `hall` on `daemon`, past its `hello`."""
    response = await session.get(f"{daemon.url}/screens/hall/events")
    assert response.status == 200, await response.text()
    assert await next_event(response.content) == "hello"
    return response


@pytest.mark.timeout(180)
async def test_a_tv_on_one_daemon_gets_an_item_the_other_ingested_within_two_seconds(
    tmp_path: Path, database: str, aiohttp_server,
) -> None:
    feeds = NewsFeed(items=3)
    feed = str((await aiohttp_server(feeds.app)).make_url("")).rstrip("/")
    config = news_config(tmp_path, database, feed)
    async with daemons(config, 2) as pair, aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
        for daemon in pair:
            await daemon.within(daemon.log.find(r"cluster\.listening"), "listening")
            async with session.get(f"{daemon.url}/screens/hall/playlist.json?token={TOKEN}") as response:
                assert response.status == 200
        for _ in range(3):  # the daemon that fetches is whichever claims the tick: see which it was each time
            streams = [await playlist_event(session, daemon) for daemon in pair]
            marks = [len(daemon.log.lines) for daemon in pair]
            feeds.version += 1  # every item's title changes: the next fetch updates them
            fetcher, fetched_at = await pair[0].within(_first_fetch(pair, marks), "a fetch of the new version")
            other = pair[1 - fetcher]
            await other.within(_shows(session, other, streams[1 - fetcher], f"v{feeds.version}"),
                               "the new version on the other daemon's screen")
            took = time.monotonic() - fetched_at
            own = [line for _, line in other.log.lines[marks[1 - fetcher]:]
                   if re.search(r"source\.fetched source=news .*updated=[1-9]", line)]
            assert not own, f"the other daemon fetched the update itself, so its push proves no NOTIFY: {own}"
            for stream in streams:
                stream.close()
            assert took < 2.0, f"the other daemon pushed the new items {took:.2f}s after the fetch"
    rows = await query(database, "SELECT count(*) AS n FROM items WHERE source = 'news'")
    assert rows[0]["n"] == 3


async def _shows(session: aiohttp.ClientSession, daemon: Daemon, stream: aiohttp.ClientResponse, text: str) -> None:
    """Once a `playlist` event on `stream` brings a playlist with `text` in it."""
    while True:
        assert await next_event(stream.content) == "playlist"
        async with session.get(f"{daemon.url}/screens/hall/playlist.json") as response:
            if text in await response.text():
                return


async def _first_fetch(pair: list[Daemon], marks: list[int]) -> tuple[int, float]:
    """Which daemon stored the update first, and when its log said so."""
    async def fetched(n: int) -> tuple[int, float]:
        at, _ = await pair[n].log.find(r"source\.fetched source=news .*updated=3", start=marks[n])
        return n, at

    tasks = [asyncio.create_task(fetched(n)) for n in range(len(pair))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return min((task.result() for task in done), key=lambda found: found[1])
    finally:
        for task in tasks:
            task.cancel()
