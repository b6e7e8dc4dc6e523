"""The player page and its files, over HTTP without a browser: tokens, headers, the inlined playlist."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from intracast.store import open_store
from screens.builds import Builds
from screens.config import PlaylistConfig, ScreenConfig
from screens.player import PlayerPage, add_player_routes, content_security_policy
from screens.present import Presenter
from screens.render import Theme, theme_css
from screens.web import COOKIE
from sources.item import Item

NOW = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)
TOKEN = "kantine-secret-token"
BREAKOUT = "</script><script>alert(1)</script>"

PLAYLISTS = [
    PlaylistConfig.model_validate({
        "name": "main",
        "webpage_hosts": ["status.example.org", "grafana.example.org"],
        "blocks": [{"sources": ["news"]}, {"type": "webpage", "url": "https://status.example.org/board"}],
    }),
    PlaylistConfig.model_validate({"name": "lobby", "blocks": [{"type": "clock"}]}),
]
SCREENS = [
    ScreenConfig.model_validate({"id": "kantine", "name": "Kantine", "token": TOKEN, "playlist": "main"}),
    ScreenConfig.model_validate({"id": "lobby", "name": "Lobby", "token": "lobby-secret-token", "playlist": "lobby"}),
]


def frame_hosts(screen: ScreenConfig) -> list[str]:
    return next(p.webpage_hosts for p in PLAYLISTS if p.name == screen.playlist)


def theme(screen: ScreenConfig) -> str:
    return theme_css(Theme.from_config(screen.theme, accent="#1f5fa8", logo=None))


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: Callable[..., Awaitable[TestClient]]) -> AsyncIterator[TestClient]:
    async with open_store("sqlite:///var/t.db", tmp_path) as store:
        news = Item("news", "x", BREAKOUT, "https://intranet.example.org/x", summary="A & B <i>", published=NOW)
        await store.upsert_items([news], NOW)
        presenter = Presenter("nl", ZoneInfo("Europe/Amsterdam"), "9.9.9")
        builds = Builds(store, PLAYLISTS, SCREENS, lambda: NOW + timedelta(minutes=5), presenter)
        app = web.Application()
        add_player_routes(app, PlayerPage(builds, version="9.9.9", locale=lambda: "nl", theme=theme, frame_hosts=frame_hosts))
        yield await aiohttp_client(app)


async def log_in(client: TestClient, screen_id: str = "kantine", token: str = TOKEN) -> None:
    async with client.get(f"/screens/{screen_id}", params={"token": token}, allow_redirects=False) as response:
        assert response.status == 303


class Scripts(HTMLParser):
    """The page's script elements: attributes and text, as a browser's parser splits them."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


# the token

async def test_a_url_token_becomes_an_httponly_cookie_and_the_page_loads(client: TestClient) -> None:
    async with client.get("/screens/kantine", params={"token": TOKEN}, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/screens/kantine"
        assert response.cookies[COOKIE]["httponly"] is True
    async with client.get("/screens/kantine") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert '<html lang="nl">' in page
    assert '<base href="/screens/kantine/">' in page
    assert TOKEN not in page


@pytest.mark.parametrize(("token", "why"), [
    (None, "Deze tv heeft geen token voor dit scherm."),
    ("lobby-secret-token", "Het token in het adres is niet het token van dit scherm."),
])
async def test_no_token_or_a_wrong_one_is_403_sending_the_tv_to_pairing(client: TestClient, token: str | None,
                                                                       why: str) -> None:
    params = {"token": token} if token else {}
    async with client.get("/screens/kantine", params=params, allow_redirects=False) as response:
        assert (response.status, response.content_type) == (403, "text/html")
        assert response.headers["Content-Security-Policy"] == content_security_policy([])
        page = await response.text()
    assert "<h1>Kantine is nog niet ingesteld</h1>" in page and f'<p class="why">{why}</p>' in page
    host = client.make_url("/").authority
    assert f'<a href="/screens/pair">{host}<wbr>/screens/pair</a>' in page
    assert TOKEN not in page and "lobby-secret-token" not in page
    async with client.get("/screens/kantine/theme.css", allow_redirects=False) as response:
        assert response.status == 403


async def test_an_unknown_screen_is_404(client: TestClient) -> None:
    async with client.get("/screens/nope", params={"token": TOKEN}, allow_redirects=False) as response:
        assert response.status == 404


# headers

async def test_the_csp_allows_no_inline_code_and_frames_only_the_playlist_s_hosts(client: TestClient) -> None:
    await log_in(client)
    async with client.get("/screens/kantine") as response:
        headers = response.headers
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "unsafe-eval" not in headers["Content-Security-Policy"]
    assert policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["frame-src"] == "https://grafana.example.org https://status.example.org"
    assert policy["frame-ancestors"] == "'self'"
    assert (headers["Cache-Control"], headers["Referrer-Policy"], headers["X-Content-Type-Options"]) == (
        "no-cache", "no-referrer", "nosniff")
    await log_in(client, "lobby", "lobby-secret-token")
    async with client.get("/screens/lobby") as response:
        assert "frame-src 'none'" in response.headers["Content-Security-Policy"]


# the inlined playlist

async def test_the_inlined_playlist_is_the_screen_s_playlist_and_cannot_end_its_script(client: TestClient) -> None:
    await log_in(client)
    async with client.get("/screens/kantine") as response:
        page = await response.text()
    parser = Scripts()
    parser.feed(page)
    assert [attrs.get("src") or attrs.get("type") for attrs, _ in parser.scripts] == [
        next(attrs["src"] for attrs, _ in parser.scripts if attrs.get("src")), "application/json"]
    attrs, text = parser.scripts[1]
    assert "<" not in text and ">" not in text and "&" not in text
    playlist = json.loads(text)
    assert playlist["slides"][0]["data"]["title"] == BREAKOUT
    assert attrs["id"] == "playlist" and attrs["data-etag"].startswith('"')


async def test_the_page_tells_the_player_its_screen_version_and_heartbeat(client: TestClient) -> None:
    await log_in(client)
    async with client.get("/screens/kantine") as response:
        page = await response.text()
    assert '<body data-screen="kantine" data-version="9.9.9" data-heartbeat="30" data-base="/screens/kantine/">' in page
    assert '<base href="/screens/kantine/">' in page
    assert "<noscript>" in page


# theme and static files

async def test_the_theme_is_the_screen_s_css(client: TestClient) -> None:
    await log_in(client)
    async with client.get("/screens/kantine/theme.css") as response:
        assert response.status == 200
        assert response.content_type == "text/css"
        assert await response.text() == theme(SCREENS[0])


@pytest.mark.parametrize(("name", "content_type"), [
    ("static/slides.css", "text/css"), ("static/player.css", "text/css"),
    ("static/player.js", "text/javascript"), ("sw.js", "text/javascript"),
])
async def test_static_files_have_an_etag_and_answer_304(client: TestClient, name: str, content_type: str) -> None:
    async with client.get(f"/screens/{name}") as response:
        assert response.status == 200
        assert response.content_type == content_type
        assert response.headers["Cache-Control"] == "no-cache"
        etag = response.headers["ETag"]
        assert len(await response.read()) > 100
    async with client.get(f"/screens/{name}", headers={"If-None-Match": etag}) as response:
        assert (response.status, response.headers["ETag"]) == (304, etag)


async def test_the_page_links_each_file_by_its_content(client: TestClient) -> None:
    await log_in(client)
    async with client.get("/screens/kantine") as response:
        page = await response.text()
    async with client.get("/screens/static/player.js") as response:
        tag = response.headers["ETag"].strip('"')[:12]
    assert f'<script src="/screens/static/player.js?v={tag}" defer></script>' in page


@pytest.mark.parametrize("path", ["/screens/static/app.js", "/screens/static/../web.py", "/screens/static/"])
async def test_other_static_names_are_404(client: TestClient, path: str) -> None:
    async with client.get(path) as response:
        assert response.status == 404


def test_a_host_that_could_rewrite_the_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="frame-src"):
        content_security_policy(["status.example.org; script-src *"])
