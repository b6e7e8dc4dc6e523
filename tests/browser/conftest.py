"""The player in Debian's chromium (Playwright), against `intracast run` as a real process on loopback.

The daemon reads a test config whose sources (RSS news, a JSON API with
alerts, an iCalendar agenda, and the images) come from a feed server in the
test, `Feed`, which a test changes to make news happen. Slides last 2 s,
sources are fetched every second.

Everything async here runs in the session's event loop, the browser's.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
from contextlib import closing
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from PIL import Image
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, async_playwright

from tests.intracast.test_daemon import DEADLINE, browser_jar, read_until, start_daemon

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TZ = ZoneInfo("Europe/Amsterdam")
TOKEN = "hall-token-1234"
SLIDE_SECONDS = 2
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Feed:
    """The intranet the daemon fetches from: news (RSS), alerts (JSON), an agenda (iCal) and images."""

    news: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/news.rss", self._rss)
        app.router.add_get("/alerts.json", self._alerts)
        app.router.add_get("/agenda.ics", self._ics)
        app.router.add_get("/img/{name}.png", self._image)
        return app

    async def _rss(self, request: web.Request) -> web.Response:
        items = "".join(self._rss_item(n) for n in self.news)
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>{items}</channel></rss>'
        return web.Response(text=body, content_type="application/rss+xml")

    def _rss_item(self, n: dict[str, Any]) -> str:
        image = f'<enclosure url="{self.url}/img/{n["image"]}.png" type="image/png" length="1"/>' if "image" in n else ""
        return (
            f"<item><guid isPermaLink=\"false\">{escape(n['guid'])}</guid><title>{escape(n['title'])}</title>"
            f"<link>https://intranet.example.org/news/{escape(n['guid'])}</link>"
            f"<description>{escape(n.get('summary', ''))}</description>"
            f"<pubDate>{format_datetime(n['published'])}</pubDate>{image}</item>"
        )

    async def _alerts(self, request: web.Request) -> web.Response:
        return web.json_response({"items": self.alerts})

    async def _ics(self, request: web.Request) -> web.Response:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
        events = "".join(
            f"BEGIN:VEVENT\r\nUID:event-{n}@example.org\r\nDTSTAMP:20240101T000000Z\r\n"
            f"DTSTART:{(start + timedelta(days=n)):%Y%m%dT%H%M%SZ}\r\n"
            f"DTEND:{(start + timedelta(days=n, hours=1)):%Y%m%dT%H%M%SZ}\r\n"
            f"SUMMARY:{title}\r\nLOCATION:{place}\r\nEND:VEVENT\r\n"
            for n, (title, place) in enumerate([
                ("Works council meeting about the new roster and the summer holidays", "Board room, second floor"),
                ("Fire drill", "Everywhere"),
                ("Team lunch", "Canteen"),
            ])
        )
        body = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n"
        return web.Response(text=body, content_type="text/calendar")

    async def _image(self, request: web.Request) -> web.Response:
        if request.match_info["name"] == "missing":
            raise web.HTTPNotFound()
        colour = {"team": (30, 120, 200), "drill": (200, 60, 40)}.get(request.match_info["name"], (90, 160, 90))
        png = io.BytesIO()
        Image.new("RGB", (800, 600), colour).save(png, "PNG")
        return web.Response(body=png.getvalue(), content_type="image/png")


def default_news(now: datetime) -> list[dict[str, Any]]:
    return [
        {"guid": "canteen", "title": "The canteen opens at seven from Monday", "image": "canteen",
         "summary": "Breakfast is served from seven; the coffee machine is fixed.",
         "published": now - timedelta(hours=1)},
        {"guid": "long", "published": now - timedelta(hours=2),
         "title": "An exceptionally long headline " * 8,
         "summary": "A summary that goes on and on about the reorganisation and its many consequences. " * 12},
        {"guid": "roster", "title": "Summer roster", "summary": "", "published": now - timedelta(hours=3)},
    ]


def config_text(feed_url: str, now: datetime) -> str:
    """Screens `hall` (rotating) and `night` (its hours exclude today, so idle)."""
    other_day = DAYS[(now.astimezone(TZ).weekday() + 3) % 7]
    return f"""\
intranet: {{name: Plek, url: 'https://intranet.example.org', locale: en, timezone: Europe/Amsterdam}}
server: {{secret: browser-test-secret-0123456789}}
sources:
  - {{name: news, type: rss, url: '{feed_url}/news.rss', every: 1s}}
  - name: alerts
    type: json
    url: '{feed_url}/alerts.json'
    every: 1s
    entries: items
    fields: {{guid: id, title: title, summary: text, link: link, pinned: pinned, takeover: takeover, expires: expires}}
  - {{name: agenda, type: ical, url: '{feed_url}/agenda.ics', every: 1h}}
screens:
  - {{id: hall, name: Hall, token: {TOKEN}, playlist: main}}
  - {{id: night, name: Night, token: night-token-1234, playlist: main, hours: '{other_day} 03:00-04:00'}}
playlists:
  - name: main
    blocks:
      - {{sources: [news], duration: {SLIDE_SECONDS}s}}
      - type: announcement
        title: Fire drill on Thursday
        text: At ten the alarm sounds. Leave by the nearest exit and meet at the car park.
        image: '{feed_url}/img/drill.png'
        duration: {SLIDE_SECONDS}s
      - type: image
        url: '{feed_url}/img/team.png'
        caption: Our team at the summer outing
        duration: {SLIDE_SECONDS}s
      - {{type: agenda, ical: agenda, duration: {SLIDE_SECONDS}s}}
      - {{type: clock, duration: {SLIDE_SECONDS}s}}
"""


class Daemon:
    """`intracast run` on a port of its own; `stop` and `start` again keep the port (a restart)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.port = 0
        self.base = ""
        self.db = config.parent / "var" / "intracast.db"
        self.output: list[str] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._drains: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._proc = await start_daemon(self.config, "run", "--listen", f"127.0.0.1:{self.port}")
        try:
            match, seen = await asyncio.wait_for(
                read_until(self._proc.stdout, r"running on (http://127\.0\.0\.1:(\d+))"), DEADLINE)
        except BaseException:
            self._proc.kill()
            await self._proc.wait()
            raise
        self.output.append(seen)
        self.base, self.port = match.group(1), int(match.group(2))
        # Read what it prints, so that a full pipe never blocks it; kept for a failing test's message.
        self._drains = [asyncio.create_task(self._drain(stream)) for stream in (self._proc.stdout, self._proc.stderr)]

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), DEADLINE)
        await asyncio.gather(*self._drains)
        assert code == 0, self.log()
        assert "Traceback" not in self.log(), self.log()

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.output.append(line.decode(errors="replace"))

    def log(self) -> str:
        return "".join(self.output)

    async def ingested(self, source: str, guid: str) -> None:
        """Return once the daemon has stored the item (polled: the store is another process's)."""
        while True:
            with closing(sqlite3.connect(self.db)) as conn:
                try:
                    found = conn.execute("select 1 from items where source = ? and guid = ?", (source, guid)).fetchone()
                except sqlite3.OperationalError:  # the schema is still being created
                    found = None
            if found:
                return
            await asyncio.sleep(0.05)  # polling interval, bounded by the caller's deadline


async def every_block_shows(daemon: Daemon) -> None:
    """Return once the first fetch of every source is in the hall's playlist (agenda included)."""
    async with aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
        while True:
            async with session.get(f"{daemon.base}/screens/hall/playlist.json?token={TOKEN}") as response:
                kinds = {slide["kind"] for slide in (await response.json())["slides"]}
            if kinds == {"item", "announcement", "image", "agenda", "clock"}:
                return
            await asyncio.sleep(0.1)  # polling interval, bounded by the caller's deadline


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"the player tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def feed() -> AsyncIterator[Feed]:
    feed = Feed(news=default_news(datetime.now(UTC)))
    runner = web.AppRunner(feed.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    feed.url = f"http://{host}:{port}"
    yield feed
    await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def daemon(tmp_path: Path, feed: Feed) -> AsyncIterator[Daemon]:
    config = tmp_path / "intracast.yaml"
    config.write_text(config_text(feed.url, datetime.now(UTC)))
    daemon = Daemon(config)
    await daemon.start()
    await asyncio.wait_for(every_block_shows(daemon), DEADLINE)
    yield daemon
    await daemon.stop()


@dataclass
class Watched:
    """A page, and what went wrong in it: errors on the console, uncaught exceptions, dialogs;
    apart from them, resources that failed to load (a broken picture runs nothing)."""

    page: Page
    errors: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)


# In every page before its own scripts: a log of the player's state changes, read by the tests.
RECORDER = """
window.__log = [];
new MutationObserver(function (records) {
  records.forEach(function (r) {
    window.__log.push({name: r.attributeName.replace('data-', ''), value: r.target.getAttribute(r.attributeName),
                       at: Date.now()});
  });
}).observe(document, {attributes: true, subtree: true,
                      attributeFilter: ['data-slide', 'data-state', 'data-playlist-etag']});
"""


def watch(page: Page) -> Watched:
    watched = Watched(page)

    async def dialog(d: Dialog) -> None:
        watched.errors.append(f"dialog: {d.message}")
        await d.dismiss()  # a dialog left open would freeze the page

    def console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource"):
            watched.failed_loads.append(f"{url}: {message.text}")
        else:
            watched.errors.append(f"console: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda e: watched.errors.append(f"pageerror: {e}"))
    page.on("dialog", dialog)
    return watched


@pytest_asyncio.fixture(loop_scope="session")
async def player(browser: Browser) -> AsyncIterator[Watched]:
    """A fresh browser profile at 1920x1080 (no cookie, no storage, no service worker yet)."""
    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
    await context.add_init_script(RECORDER)
    yield watch(await context.new_page())
    await context.close()
