"""The screens' routes and builds against a real server on loopback and SQLite in tmp_path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from intracast.store import open_store
from screens.builds import Builds
from screens.config import PlaylistConfig, ScreenConfig
from screens.hub import ScreenHub
from screens.present import Presenter
from screens.render import qr_svg
from screens.web import COOKIE, add_screen_routes
from sources.item import Item
from tests.screens.test_hub import DEADLINE, read_event

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Amsterdam
TOKEN = "kantine-secret-token"
PRESENTER = Presenter("nl", AMS, "test-1")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def screen(id: str, **options: Any) -> ScreenConfig:
    fields = {"id": id, "name": id.title(), "token": f"{id}-secret-token", "playlist": "main", **options}
    return ScreenConfig.model_validate(fields)


PLAYLISTS = [
    PlaylistConfig.model_validate({"name": "main", "blocks": [{"sources": ["news"]}, {"type": "clock"}]}),
    PlaylistConfig.model_validate({"name": "lobby", "blocks": [{"type": "clock"}]}),
]
SCREENS = [
    screen("kantine"),
    screen("hal"),
    screen("zorg", audience=["zorg"]),
    screen("nacht", hours="mon-fri 07:00-18:00"),
    screen("lobby", playlist="lobby"),
]


def item(guid: str, hours: float = 1, **fields: Any) -> Item:
    fields.setdefault("published", NOW - timedelta(hours=hours))
    return Item("news", guid, f"Title {guid}", f"https://intranet.example.org/{guid}", **fields)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    async with open_store("sqlite:///var/t.db", tmp_path) as store:
        await store.upsert_items([item("a"), item("b", hours=2)], NOW)
        yield store


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def builds(store: Any, clock: Clock) -> Builds:
    return Builds(store, PLAYLISTS, SCREENS, clock, PRESENTER)


@pytest.fixture
def hub() -> ScreenHub:
    return ScreenHub()


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], builds: Builds, hub: ScreenHub, store: Any, clock: Clock
) -> TestClient:
    app = web.Application()
    add_screen_routes(app, screens=SCREENS, builds=builds, hub=hub, store=store, clock=clock, qr_link=qr_link)
    return await aiohttp_client(app)


async def qr_link(screen: ScreenConfig, source: str, guid: str, link: str) -> str:
    return f"{link}?screen={screen.id}"


async def log_in(client: TestClient, screen_id: str = "kantine", token: str = TOKEN) -> None:
    async with client.get(f"/screens/{screen_id}/playlist.json", params={"token": token}, allow_redirects=False) as r:
        assert r.status == 303


# the token

async def test_a_url_token_becomes_a_cookie_and_leaves_the_url(client: TestClient) -> None:
    url = "/screens/kantine/playlist.json"
    async with client.get(url, params={"token": TOKEN, "debug": "1"}, allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == f"{url}?debug=1"
        cookie = response.cookies[COOKIE]
        assert cookie.value == TOKEN
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == "/screens/kantine"
        assert int(cookie["max-age"]) > 300 * 86400
    async with client.get(url) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        assert response.headers["Cache-Control"] == "no-cache"
        body = await response.json()
    assert [s["key"] for s in body["slides"]] == ["item:news:a", "item:news:b", "clock:1"]
    assert body["slides"][0]["data"]["published"] == (NOW - timedelta(hours=1)).isoformat()


async def test_the_cookie_is_not_sent_to_other_screens(client: TestClient) -> None:
    await log_in(client)
    async with client.get("/screens/hal/playlist.json") as response:
        assert response.status == 403


async def test_no_token_is_403_with_a_page_saying_how_to_get_one(client: TestClient) -> None:
    async with client.get("/screens/kantine/playlist.json") as response:
        assert response.status == 403
        assert response.content_type == "text/plain"
        text = await response.text()
    assert "'kantine'" in text and "intranet admin" in text and "token=" in text
    assert TOKEN not in text


@pytest.mark.parametrize("where", ["url", "cookie"])
async def test_a_wrong_token_is_403(client: TestClient, where: str) -> None:
    if where == "url":
        response = await client.get("/screens/kantine/playlist.json", params={"token": "hal-secret-token"},
                                    allow_redirects=False)
    else:
        client.session.cookie_jar.update_cookies({COOKIE: "guessed-wrong-token"})
        response = await client.get("/screens/kantine/playlist.json")
    async with response:
        assert response.status == 403
        assert "'kantine'" in await response.text()


@pytest.mark.parametrize("path", ["/screens/nope/playlist.json", "/screens/nope/events"])
async def test_an_unknown_screen_is_404(client: TestClient, path: str) -> None:
    async with client.get(path, params={"token": TOKEN}, allow_redirects=False) as response:
        assert response.status == 404


# playlist.json

async def test_if_none_match_is_304_until_the_playlist_changes(client: TestClient, builds: Builds, store: Any) -> None:
    await log_in(client)
    url = "/screens/kantine/playlist.json"
    async with client.get(url) as response:
        etag = response.headers["ETag"]
    async with client.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert response.headers["ETag"] == etag
        assert await response.read() == b""
    await store.upsert_items([item("c")], NOW)
    builds.invalidate()
    async with client.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status == 200
        assert response.headers["ETag"] != etag
        assert "item:news:c" in [s["key"] for s in (await response.json())["slides"]]


# heartbeat

BEAT = {"width": 1920, "height": 1080, "slide": "item:news:a", "playlist_age": 12.5, "version": "1.0", "heap": 123456}


async def test_a_heartbeat_is_stored(client: TestClient, store: Any, clock: Clock) -> None:
    await log_in(client)
    async with client.post("/screens/kantine/heartbeat", json=BEAT, headers={"User-Agent": "TV/1"}) as response:
        assert response.status == 204
    beat = (await store.last_heartbeats())["kantine"]
    assert (beat.at, beat.width, beat.height, beat.slide, beat.user_agent) == (NOW, 1920, 1080, "item:news:a", "TV/1")
    assert (beat.playlist_age, beat.version, beat.heap) == (12.5, "1.0", 123456)
    clock.now = NOW + timedelta(seconds=30)
    minimal = {"width": 1080, "height": 1920}
    async with client.post("/screens/kantine/heartbeat", json=minimal) as response:
        assert response.status == 204
    assert (await store.last_heartbeats())["kantine"].at == clock.now


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps({**BEAT, "width": "1920"}).encode(),
        json.dumps({**BEAT, "width": True}).encode(),
        json.dumps({**BEAT, "height": -1}).encode(),
        json.dumps({**BEAT, "slide": "x" * 301}).encode(),
        json.dumps({**BEAT, "version": 3}).encode(),
        json.dumps({**BEAT, "playlist_age": "12"}).encode(),
        json.dumps({**BEAT, "heap": 1.5}).encode(),
        json.dumps({**BEAT, "extra": 1}).encode(),
        json.dumps({"height": 1080}).encode(),
    ],
)
async def test_a_bad_heartbeat_is_400(client: TestClient, store: Any, body: bytes) -> None:
    await log_in(client)
    async with client.post("/screens/kantine/heartbeat", data=body,
                           headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
    assert await store.last_heartbeats() == {}


async def test_an_oversized_heartbeat_is_413(client: TestClient, store: Any) -> None:
    await log_in(client)
    big = json.dumps({**BEAT, "slide": "x" * 5000}).encode()
    async with client.post("/screens/kantine/heartbeat", data=big) as response:
        assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(10):
            yield b" " * 1000

    async with client.post("/screens/kantine/heartbeat", data=chunks()) as response:
        assert response.status == 413
    assert await store.last_heartbeats() == {}


async def test_a_heartbeat_needs_the_cookie(client: TestClient) -> None:
    async with client.post("/screens/kantine/heartbeat", params={"token": TOKEN}, json=BEAT) as response:
        assert response.status == 403


# events

async def test_events_need_the_token_and_push_changed_playlists(
    client: TestClient, builds: Builds, hub: ScreenHub, store: Any
) -> None:
    async with client.get("/screens/kantine/events") as response:
        assert response.status == 403
    await log_in(client)
    await builds.get("kantine")
    async with client.get("/screens/kantine/events") as response:
        assert await asyncio.wait_for(read_event(response), DEADLINE) == ("hello", {"screen": "kantine", "version": ""})
        await store.upsert_items([item("c")], NOW)
        builds.invalidate()
        changed = await builds.changed()
        hub.publish(changed, "playlist", {})
        assert await asyncio.wait_for(read_event(response), DEADLINE) == ("playlist", {})


# builds

async def test_screens_with_the_same_playlist_and_audience_share_one_build(builds: Builds) -> None:
    kantine, hal, zorg, lobby = [await builds.get(s) for s in ("kantine", "hal", "zorg", "lobby")]
    assert kantine is hal
    assert kantine.body == zorg.body and kantine is not zorg  # same items today, another audience
    assert lobby.etag != kantine.etag


async def test_builds_are_kept_until_invalidated(builds: Builds, store: Any) -> None:
    first = await builds.get("kantine")
    await store.upsert_items([item("c")], NOW)
    assert await builds.get("kantine") is first
    builds.invalidate()
    assert (await builds.get("kantine")).etag != first.etag


async def test_changed_names_only_the_screens_whose_body_changed(builds: Builds, store: Any) -> None:
    for screen_id in ("kantine", "hal", "zorg", "nacht", "lobby"):
        await builds.get(screen_id)
    await store.upsert_items([item("z", audience=("zorg",))], NOW)
    builds.invalidate()
    assert await builds.changed() == {"zorg"}
    builds.invalidate()
    assert await builds.changed() == set()
    await store.upsert_items([item("c")], NOW)
    builds.invalidate()
    assert await builds.changed() == {"kantine", "hal", "zorg", "nacht"}


async def test_an_hours_flip_changes_the_build_without_invalidate(builds: Builds, clock: Clock) -> None:
    on = await builds.get("nacht")
    assert on is await builds.get("kantine")
    await builds.changed()
    clock.now = NOW + timedelta(hours=7)  # 19:00 in Amsterdam
    assert await builds.changed() == {"nacht"}
    off = json.loads((await builds.get("nacht")).body)
    assert [s["kind"] for s in off["slides"]] == ["idle"]
    assert datetime.fromisoformat(off["slides"][0]["data"]["until"]) == datetime(2024, 5, 9, 7, 0, tzinfo=AMS)
    assert await builds.get("kantine") is on


def test_a_screen_with_an_unknown_playlist_is_refused(store: Any, clock: Clock) -> None:
    with pytest.raises(ValueError, match="nowhere"):
        Builds(store, PLAYLISTS, [screen("x", playlist="nowhere")], clock, PRESENTER)


# what the player gets

async def test_each_slide_comes_with_its_html_and_images(client: TestClient, store: Any) -> None:
    hostile = Item("news", "x", "<script>alert(1)</script>", "https://intranet.example.org/x", published=NOW,
                   image="https://intranet.example.org/x.jpg")
    await store.upsert_items([hostile], NOW)
    await log_in(client)
    async with client.get("/screens/kantine/playlist.json") as response:
        body = await response.json()
    assert body["version"] == "test-1" and body["alerts"] == []
    first = body["slides"][0]
    assert first["key"] == "item:news:x"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first["html"] and "<script" not in first["html"]
    assert first["images"] == ["https://intranet.example.org/x.jpg", "qr?key=item%3Anews%3Ax"]
    assert 'data-key="clock:1"' in body["slides"][-1]["html"]


async def test_the_qr_code_leads_where_the_daemon_says_and_only_for_items_shown(client: TestClient) -> None:
    await log_in(client)
    async with client.get("/screens/kantine/qr", params={"key": "item:news:a"}) as response:
        assert response.status == 200 and response.content_type == "image/svg+xml"
        assert await response.text() == qr_svg("https://intranet.example.org/a?screen=kantine")
        etag = response.headers["ETag"]
    async with client.get("/screens/kantine/qr", params={"key": "item:news:a"}, headers={"If-None-Match": etag}) as r:
        assert r.status == 304
    for key in ("item:news:nope", "clock:1", ""):
        async with client.get("/screens/kantine/qr", params={"key": key}) as response:
            assert response.status == 404
    async with client.get("/screens/hal/qr", params={"key": "item:news:a"}) as response:
        assert response.status == 403  # kantine's cookie is not hal's


async def test_a_screen_with_qr_off_shows_no_codes(store: Any, clock: Clock) -> None:
    builds = Builds(store, PLAYLISTS, [screen("kantine"), screen("stil", qr="off")], clock, PRESENTER)
    on, off = [json.loads((await builds.get(s)).body)["slides"][0]["html"] for s in ("kantine", "stil")]
    assert "qr-code" in on and "qr-code" not in off


async def test_pinned_items_are_alerts_for_their_audience_until_they_expire(
    builds: Builds, store: Any, clock: Clock
) -> None:
    await store.upsert_items([
        item("all", pinned=True, expires=NOW + timedelta(minutes=30)),
        item("zorg-only", pinned=True, takeover=True, audience=("zorg",)),
    ], NOW)
    kantine, zorg, nacht = [json.loads((await builds.get(s)).body)["alerts"] for s in ("kantine", "zorg", "nacht")]
    assert [(a["key"], a["mode"]) for a in kantine] == [("alert:news:all", "banner")]
    assert [(a["key"], a["mode"]) for a in zorg] == [("alert:news:zorg-only", "takeover"), ("alert:news:all", "banner")]
    assert kantine[0]["expires"] == (NOW + timedelta(minutes=30)).isoformat()
    assert 'class="alert alert-banner"' in kantine[0]["html"] and "Title all" in kantine[0]["html"]
    assert "alert-takeover" in zorg[0]["html"] and "Belangrijk" in zorg[0]["html"]
    await builds.changed()
    assert builds.next_expiry() == NOW + timedelta(minutes=30)
    clock.now = NOW + timedelta(minutes=31)
    builds.invalidate()
    assert await builds.changed() >= {"kantine", "zorg"}
    assert builds.next_expiry() is None
    assert json.loads((await builds.get("kantine")).body)["alerts"] == []


async def test_a_slide_says_how_old_it_is_when_its_source_is_failing(store: Any, clock: Clock) -> None:
    async def stale(now: datetime) -> dict[str, datetime]:
        return {"news": now - timedelta(hours=2)}

    builds = Builds(store, PLAYLISTS, SCREENS, clock, PRESENTER, stale=stale)
    slides = json.loads((await builds.get("kantine")).body)["slides"]
    assert [("bijgewerkt 2 uur geleden" in s["html"]) for s in slides] == [True, True, False]
