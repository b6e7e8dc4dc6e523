"""A real dashboard for the admin tests: the config loaded from YAML, a real SQLite store and
ingestor (open_runtime), a feed on a loopback aiohttp server, and the pages behind aiohttp's test client.

Time is a `Clock` the test moves; nothing sleeps.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from intracast.admin.context import Admin, FixedConfig
from intracast.admin.passwords import hash_password
from intracast.admin.web import add_admin_routes
from intracast.config import load_config
from intracast.digests import Digests
from intracast.ingest import utcnow
from intracast.runtime import open_runtime
from intracast.scheduler import Scheduler
from intracast.store import SqlStore

PASSWORD = "correct horse battery staple"
SECRET = "a-test-secret-of-enough-length"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Amsterdam

Client = TestClient[web.Request, web.Application]


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Feed:
    """The intranet's feeds: `/news` answers RSS with `titles`, `/broken` a 500; counts what it was asked."""

    def __init__(self) -> None:
        self.titles = ["Canteen closed Friday", "New roster"]
        self.hits: dict[str, int] = {}
        self.app = web.Application()
        self.app.router.add_get("/news", self.news)
        self.app.router.add_get("/broken", self.broken)

    async def news(self, request: web.Request) -> web.Response:
        self.hits["news"] = self.hits.get("news", 0) + 1
        entries = "".join(
            f"<item><title>{title}</title><link>https://intranet.example.org/news/{i}</link><guid>n{i}</guid>"
            f"<pubDate>Tue, 24 Nov 2026 0{i}:00:00 GMT</pubDate></item>"
            for i, title in enumerate(self.titles)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>{entries}</channel></rss>'
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    async def broken(self, request: web.Request) -> web.Response:
        self.hits["broken"] = self.hits.get("broken", 0) + 1
        return web.Response(status=500)


def write_config(folder: Path, feed_url: str, *, admin: bool = True, extra: str = "") -> Path:
    path = folder / "intracast.yaml"
    text = textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl}}
        server: {{secret: "${{TEST_SECRET:-{SECRET}}}"}}
        storage: {{url: "sqlite:///var/test.db"}}
        sources:
          - {{name: news, type: rss, url: "{feed_url}/news", every: 15m, timeout: 5s}}
          - {{name: events, type: rss, url: "{feed_url}/broken", every: 1h, timeout: 5s}}
        recipients:
          list:
            - {{email: anna@example.org, name: Anna Jansen}}
            - {{email: bram@example.org, name: Bram de Vries}}
        screens:
          - {{id: canteen, name: Canteen, token: "${{T:-a-screen-token-of-length}}", playlist: main}}
          - {{id: hall, name: Hall, token: "${{T:-a-screen-token-of-length}}", playlist: main}}
        playlists:
          - {{name: main, blocks: [{{type: clock}}]}}
        """) + extra
    if admin:
        text += 'admin: {password_hash: "${INTRACAST_ADMIN_PASSWORD_HASH}", session_lifetime: 12h}\n'
    path.write_text(text, encoding="utf-8")
    return path


class Page(HTMLParser):
    """What the tests read of a page: its language, text, links, forms and their hidden CSRF fields."""

    def __init__(self, html: str):
        super().__init__()
        self.lang, self.words = "", []
        self.links: list[dict[str, str | None]] = []
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.iframes: list[dict[str, str | None]] = []
        self._skip = False
        self.feed(html)
        self.text = " ".join(self.words)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        self._skip = tag in ("style", "script", "title")
        {"a": self.links, "form": self.forms, "input": self.inputs, "iframe": self.iframes}.get(tag, []).append(values)

    def handle_endtag(self, tag: str) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.words.extend(data.split())

    @property
    def csrf(self) -> str:
        tokens = {i["value"] for i in self.inputs if i.get("name") == "csrf"}
        assert len(tokens) == 1, tokens
        return tokens.pop() or ""

    @property
    def nav(self) -> list[str]:
        return [link["href"] or "" for link in self.links if (link["href"] or "").startswith("/admin")]


@dataclass
class Dashboard:
    client: Client
    admin: Admin
    store: SqlStore
    clock: Clock
    feed: Feed

    async def page(self, path: str, locale: str = "en", status: int = 200) -> Page:
        response = await self.client.get(path, headers={"Accept-Language": locale}, allow_redirects=False)
        text = await response.text()
        assert response.status == status, (path, response.status, text[:500])
        return Page(text)

    async def post(self, path: str, data: dict[str, str], *, csrf: bool = True) -> ClientResponse:
        form = dict(data)
        if csrf:
            form["csrf"] = (await self.page("/admin/login" if "login" in path else "/admin/")).csrf
        return await self.client.post(path, data=form, allow_redirects=False)

    async def login(self, password: str = PASSWORD, username: str = "admin") -> ClientResponse:
        return await self.post("/admin/login", {"username": username, "password": password})

    def cookie(self, name: str = "intracast_admin") -> str | None:
        found = [c.value for c in self.client.session.cookie_jar if c.key == name]
        return found[0] if found else None


@pytest.fixture
async def feed(aiohttp_server: AiohttpServer) -> AsyncIterator[tuple[Feed, TestServer]]:
    feed = Feed()
    yield feed, await aiohttp_server(feed.app)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


async def open_dashboard(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
                         clock: Clock, *, admin: bool = True, extra: str = "") -> AsyncIterator[Dashboard]:
    """`extra`: more top-level YAML for the config; with `digests`, the Digests page is there too."""
    feeds, server = feed
    path = write_config(tmp_path, str(server.make_url("")).rstrip("/"), admin=admin, extra=extra)
    loaded = load_config(path, env={"INTRACAST_ADMIN_PASSWORD_HASH": password_hash()})
    async with open_runtime(loaded) as runtime:
        scheduler = Scheduler(runtime.metrics, loaded.config.intranet.timezone)

        async def never() -> None:
            raise AssertionError("the tests run no scheduled job")

        # A day off in real time: listed with its next run, never run.
        scheduler.every("source:news", never, timedelta(minutes=15), first_run=utcnow() + timedelta(days=1))
        scheduler.start()
        try:
            state = FixedConfig(loaded, loaded_at=clock.now - timedelta(hours=1))
            digests = Digests(loaded, runtime.store, runtime.ingestor, clock) if loaded.config.digests else None
            dashboard = Admin(state, runtime.store, scheduler, runtime.ingestor, started=clock.now - timedelta(hours=3),
                              clock=clock, digests=digests)
            app = web.Application()
            add_admin_routes(app, dashboard)
            client = await aiohttp_client(app, headers={"Accept-Language": "en"})
            yield Dashboard(client, dashboard, runtime.store, clock, feeds)
        finally:
            await scheduler.shutdown()


@pytest.fixture
async def dashboard(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
                    clock: Clock) -> AsyncIterator[Dashboard]:
    async for opened in open_dashboard(tmp_path, aiohttp_client, feed, clock):
        yield opened


@pytest.fixture
async def logged_in(dashboard: Dashboard) -> Dashboard:
    response = await dashboard.login()
    assert response.status == 303, await response.text()
    return dashboard
