"""A screen that connects and disconnects 1,000 times leaves no stream, task or socket behind (issue 8).

Two views of one fault:

- the daemon, a real process: 1,000 SSE connections to two screens, 20 at a
  time, half closed as soon as the headers come, half after `hello`. The
  `intracast_sse_clients` gauge returns to 0 and the daemon's sockets to
  what they were. A client that went away is noticed by the next write: the
  keep-alive comment every `KEEPALIVE` seconds (screens/hub.py), or, to wait
  less, a playlist push (a reload renames the announcement);
- the hub in process (`ScreenHub` on aiohttp's test server, as in
  tests/screens/test_hub.py, keep-alive 0.1 s):
  `hub.count()` and the event loop's tasks return to what they were.
"""

from __future__ import annotations

import asyncio
import signal
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient

from screens.hub import ScreenHub
from tests.faults.daemon import Daemon, running
from tests.intracast.test_daemon import browser_jar
from tests.screens.test_hub import hub_app

CYCLES = 1000
AT_ONCE = 20
KEEPALIVE = 15.0  # screens/hub.py's default, which the daemon uses
POLL = 0.05
CONFIG = textwrap.dedent("""\
    intranet: {{name: Plek, url: "https://intranet.example.org"}}
    storage: {{url: "sqlite:///var/intracast.db"}}
    screens:
      - {{id: hall, name: Hall, token: hall-token-123, playlist: main}}
      - {{id: lobby, name: Lobby, token: lobby-token-123, playlist: main}}
    playlists:
      - {{name: main, blocks: [{{type: announcement, title: {title}}}]}}
    """)


async def churn(session: aiohttp.ClientSession, urls: list[str]) -> None:
    """CYCLES connections, AT_ONCE at a time; even ones close at the headers, odd ones after `hello`."""
    slots = asyncio.Semaphore(AT_ONCE)

    async def cycle(n: int) -> None:
        async with slots:
            response = await session.get(urls[n % len(urls)])
            try:
                assert response.status == 200
                if n % 2:
                    assert await response.content.readline() == b"event: hello\n"
            finally:
                response.close()

    async with asyncio.TaskGroup() as tasks:
        for n in range(CYCLES):
            tasks.create_task(cycle(n))


async def until(predicate: Callable[[], Awaitable[bool]]) -> None:
    while not await predicate():
        await asyncio.sleep(POLL)  # polling interval, bounded by the caller's deadline


async def no_streams(daemon: Daemon, session: aiohttp.ClientSession) -> bool:
    return await daemon.metric(session, "intracast_sse_clients") == 0


async def sockets_back(daemon: Daemon, sockets: int) -> bool:
    return daemon.sockets() <= sockets


async def test_the_daemon_holds_no_stream_or_socket_after_1000_connects_and_disconnects(
    tmp_path: Path, fault_report: Callable[[str], None],
) -> None:
    config = tmp_path / "intracast.yaml"
    config.write_text(CONFIG.format(title="Welkom"))
    # No keep-alive: once a request is answered the daemon holds no socket for it.
    no_keepalive = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=no_keepalive, cookie_jar=browser_jar()) as session, \
            running(config) as daemon:
        urls = [f"{daemon.url}/screens/{screen}/events" for screen in ("hall", "lobby")]
        for screen in ("hall", "lobby"):  # once with the token: the cookie it sets opens the streams after
            async with session.get(f"{daemon.url}/screens/{screen}/playlist.json?token={screen}-token-123") as r:
                assert r.status == 200
        await daemon.within(until(lambda: no_streams(daemon, session)), "no stream before")
        sockets, rss = daemon.sockets(), daemon.status("VmRSS")

        await daemon.within(churn(session, urls), f"{CYCLES} connections")
        # The streams of the last clients end at their next write: a keep-alive within KEEPALIVE seconds,
        # or at once, the playlist push of a reload.
        config.write_text(CONFIG.format(title="Tot ziens"))
        daemon.proc.send_signal(signal.SIGHUP)
        await daemon.within(daemon.log.next(r"config\.reloaded reason=SIGHUP"), "the reload")
        await daemon.within(until(lambda: no_streams(daemon, session)), "every stream closed", KEEPALIVE + 30)
        await daemon.within(until(lambda: sockets_back(daemon, sockets)), "the sockets closed", 30)
        after_sockets, after_rss = daemon.sockets(), daemon.status("VmRSS")
        async with session.get(urls[0]) as response:  # and the screen still connects
            assert await response.content.readline() == b"event: hello\n"
    fault_report(f"{CYCLES} connections: intracast_sse_clients back to 0, sockets {sockets} -> {after_sockets}, "
                 f"VmRSS {rss // 1024} -> {after_rss // 1024} MiB")


async def test_the_hub_holds_no_stream_or_task_after_1000_connects_and_disconnects(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
) -> None:
    hub = ScreenHub(version="9.9", keepalive=0.1)
    client = await aiohttp_client(hub_app(hub))
    before = asyncio.all_tasks()

    await asyncio.wait_for(churn(client.session, [str(client.make_url("/s/hall")), str(client.make_url("/s/lobby"))]),
                           60)

    async def settled() -> bool:
        """No stream, and no task but those from before (and the one polling)."""
        return hub.count() == 0 and asyncio.all_tasks() - {asyncio.current_task()} <= before

    await asyncio.wait_for(until(settled), 10)
    assert hub.connected() == set()
