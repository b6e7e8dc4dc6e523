"""`python -m bench screens`: 1,000 screens on live updates from one daemon, and playlist.json's throughput.

The real daemon (bench/daemon.py) runs on a generated config: one `rss`
source fetched every second from the feed server (bench/feeds.py), and one
screen per client (a screen keeps at most 4 streams, as a TV has one), all
on one playlist, so they share one build. The clients are aiohttp, in this
process; each opens its events stream as a TV does: `?token=` once, a 303
with an HttpOnly cookie, then the stream with the cookie.

1. Latency: a new item is put in the feed; the time from the daemon's
   ingest (its `source.fetched ... new=1` log line, millisecond stamp)
   until each client has the `playlist` event: p50, p99, max. Goal: p99
   under 1 s. Also shown from when the feed server first served the new
   body (that adds the fetch interval, the fetch and the parse).
2. Throughput: `playlist.json` requests per second from 50 concurrent
   clients (each its own screen and cookie, keep-alive), against the same
   load on an aiohttp handler in a process of its own that returns a
   constant body of the same size. Goal: at least 0.5x.

The daemon's peak RSS is reported too (bench/memory.py reads it from here).
--quick: 200 clients.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.appserver import app_process
from bench.daemon import Daemon, running_daemon
from bench.feeds import FeedServer, feed_server
from bench.report import Check, Report

# clients (one per screen), seconds of playlist.json load per server
SIZES = {"full": (1000, 10.0), "quick": (200, 3.0), "smoke": (5, 0.5)}
CONCURRENCY = 50
LATENCY_GOAL, RPS_GOAL = 1.0, 0.5
TIMEOUT = 60


def token(n: int) -> str:
    return f"bench-screen-token-{n:04d}"


def write_config(folder: Path, feed_url: str, screens: int) -> Path:
    tvs = "".join(f'  - {{id: tv{n:04d}, name: "TV {n}", token: "{token(n)}", playlist: main}}\n'
                  for n in range(screens))
    path = folder / "intracast.yaml"
    path.write_text('intranet: {name: Plek, url: "https://intranet.example.org", locale: nl}\n'
                    'storage: {url: "sqlite:///intracast.db", maildir: outbox}\n'
                    f'sources: [{{name: news, type: rss, url: "{feed_url}", every: 1s}}]\n'
                    f"screens:\n{tvs}"
                    "playlists: [{name: main, blocks: [{sources: [news], max_items: 10}, {type: clock}]}]\n")
    return path


class Tally:
    """Counts to `total`, then sets `done`."""

    def __init__(self, total: int) -> None:
        self.total, self.count, self.done = total, 0, asyncio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count >= self.total:
            self.done.set()


@dataclass(eq=False)
class Viewer:
    """One TV's events stream: when each `playlist` event arrived (time.time())."""

    screen: int
    playlists: list[float] = field(default_factory=list)


class Audience:
    """The connected clients; `updated` counts the first `playlist` event each gets after `arm`."""

    def __init__(self, screens: int) -> None:
        self.viewers = [Viewer(n) for n in range(screens)]
        self.greeted = Tally(screens)
        self.updated = Tally(screens)
        self.armed_at = float("inf")

    def arm(self) -> None:
        self.armed_at = time.time()

    def heard(self, viewer: Viewer, event: bytes) -> None:
        if event == b"hello":
            self.greeted.add()
        elif event == b"playlist":
            now = time.time()
            viewer.playlists.append(now)
            if now >= self.armed_at and sum(t >= self.armed_at for t in viewer.playlists) == 1:
                self.updated.add()


async def follow(session: aiohttp.ClientSession, base: str, viewer: Viewer, audience: Audience) -> None:
    """A TV's stream until cancelled: the token once (303, cookie), then events."""
    url = f"{base}/screens/tv{viewer.screen:04d}/events?token={token(viewer.screen)}"
    async with session.get(url) as response:
        response.raise_for_status()
        async for line in response.content:
            if line.startswith(b"event: "):
                audience.heard(viewer, line[7:].strip())


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


async def latency(daemon: Daemon, feeds: FeedServer, audience: Audience) -> dict[str, float]:
    """A new item in the feed; how long until every client had its `playlist` event, in ms."""
    mark = len(daemon.lines)
    audience.arm()
    await feeds.change([0])
    ingested = await daemon.wait_log(r"source\.fetched source=news .* new=1 ", TIMEOUT, after=mark)
    await asyncio.wait_for(audience.updated.done.wait(), TIMEOUT)
    served = await feeds.served_at(0)
    firsts = [min(t for t in v.playlists if t >= audience.armed_at) for v in audience.viewers]
    after_ingest = [(t - ingested.at) * 1000 for t in firsts]
    return {"latency_p50_ms": statistics.median(after_ingest), "latency_p99_ms": percentile(after_ingest, 99),
            "latency_max_ms": max(after_ingest), "from_served_max_ms": (max(firsts) - served) * 1000,
            "from_served_p50_ms": (statistics.median(firsts) - served) * 1000}


async def live(daemon: Daemon, feeds: FeedServer, screens: int) -> dict[str, float]:
    """Connect every client, wait for their `hello`, then measure one update."""
    audience = Audience(screens)
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1: a bare IP is "unsafe" to aiohttp
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as session, asyncio.TaskGroup() as group:
        started = time.perf_counter()
        tasks = [group.create_task(follow(session, daemon.base, v, audience)) for v in audience.viewers]
        await asyncio.wait_for(audience.greeted.done.wait(), TIMEOUT)
        connect = time.perf_counter() - started
        figures = await latency(daemon, feeds, audience)
        for task in tasks:
            task.cancel()
    return {"clients": screens, "connect_s": connect, **figures}


async def hammer(base: str, seconds: float) -> tuple[float, int]:
    """Requests per second for playlist.json from CONCURRENCY clients, each its own screen; the body size."""
    jar = aiohttp.CookieJar(unsafe=True)
    sizes: list[int] = []
    async with aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(limit=0)) as session:
        async def client(n: int) -> int:
            url = f"{base}/screens/tv{n:04d}/playlist.json"
            async with session.get(f"{url}?token={token(n)}") as response:  # the cookie, as a TV gets it
                sizes.append(len(await response.read()))
            done = 0
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{url}: HTTP {response.status}")
                    await response.read()
                done += 1
            return done

        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        counts = await asyncio.gather(*(client(n) for n in range(CONCURRENCY)))
        return sum(counts) / (time.perf_counter() - started), max(sizes)


def constant_app(body: bytes) -> web.Application:
    """The baseline: what serving playlist.json costs with nothing to decide."""
    async def playlist(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", charset="utf-8",
                            headers={"ETag": '"constant"', "Cache-Control": "no-cache"})

    app = web.Application()
    app.router.add_get("/screens/{id}/playlist.json", playlist)
    return app


async def measure(screens: int, seconds: float) -> dict[str, float]:
    # The daemon (a child) inherits the raised limit: both ends hold a socket per client.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * screens + 1024)), hard))
    with feed_server(1, datetime.now(UTC)) as feeds, tempfile.TemporaryDirectory(prefix="bench-screens-") as folder:
        async with running_daemon(write_config(Path(folder), feeds.url(0), max(screens, CONCURRENCY))) as daemon:
            await daemon.wait_log(r"screens\.pushed", TIMEOUT)  # the first fetch is built and pushed
            figures = await live(daemon, feeds, screens)
            figures["daemon_rps"], size = await hammer(daemon.base, seconds)
            figures["daemon_peak_rss_mb"] = daemon.peak_rss_mb()
            figures["workers_peak_rss_mb"] = daemon.workers_peak_rss_mb()
    with app_process("constant-playlist", constant_app, b"x" * size) as base:
        figures["constant_rps"], _ = await hammer(base, seconds)
    return figures | {"playlist_kb": size / 1024, "rps_vs_constant": figures["daemon_rps"] / figures["constant_rps"]}


def run(size: str) -> Report:
    screens, seconds = SIZES[size]
    f = asyncio.run(measure(screens, seconds))
    report = Report("screens", size, figures=f)
    report.row("SSE clients", f"{screens}, one per screen, connected in {f['connect_s']:.2f} s")
    report.row("new item: ingest -> every client",
               f"p50 {f['latency_p50_ms']:.0f} ms, p99 {f['latency_p99_ms']:.0f} ms, max {f['latency_max_ms']:.0f} ms")
    report.row("  from the feed serving it", f"p50 {f['from_served_p50_ms']:.0f} ms, "
               f"max {f['from_served_max_ms']:.0f} ms (with up to 1 s until the next fetch)")
    report.row(f"playlist.json, {CONCURRENCY} clients", f"{f['daemon_rps']:.0f} requests/s "
               f"({f['playlist_kb']:.1f} KiB body, {seconds:.0f} s)")
    report.row("constant handler, same size", f"{f['constant_rps']:.0f} requests/s")
    report.row("daemon peak RSS", f"{f['daemon_peak_rss_mb']:.0f} MB "
               f"(largest parser worker {f['workers_peak_rss_mb']:.0f} MB)")
    report.checks += [Check("latency_p99_s", f["latency_p99_ms"] / 1000, f"< {LATENCY_GOAL}"),
                      Check("rps_vs_constant", f["rps_vs_constant"], f">= {RPS_GOAL}")]
    return report
