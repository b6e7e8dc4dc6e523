"""The screens pipeline in the daemon: QR scans counted per screen, staleness from the sources' health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from digest.links import Links
from digest.tokens import Signer
from digest.web import add_employee_routes
from intracast.config import load_config
from intracast.screens import Screens
from intracast.store import open_store
from sources.item import Item
from tests.screens.test_hub import DEADLINE, read_event

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CONFIG = """
intranet: {name: Plek, url: "https://intranet.example.org", locale: nl}
server: {secret: a-secret-of-at-least-16-chars}
sources:
  - {name: news, type: rss, url: "https://intranet.example.org/feed", every: 10m}
screens:
  - {id: canteen, name: Canteen, token: canteen-token, playlist: main}
  - {id: private, name: Board room, token: private-token, playlist: main, qr: direct}
playlists:
  - {name: main, blocks: [{sources: [news]}]}
"""
SIGNER = Signer("a-secret-of-at-least-16-chars")


@pytest.fixture
async def screens(tmp_path: Path) -> AsyncIterator[tuple[Screens, Any]]:
    path = tmp_path / "intracast.yaml"
    path.write_text(CONFIG)
    async with open_store("sqlite:///t.db", tmp_path) as store:
        item = Item("news", "g1", "Nieuwe kantine", "https://intranet.example.org/news/1", published=NOW)
        await store.upsert_items([item], NOW)
        yield Screens(load_config(path), store, Links("http://tv.example.org", SIGNER), clock=CLOCK), store


class Clock:
    now = NOW

    def __call__(self) -> datetime:
        return self.now


CLOCK = Clock()


@pytest.fixture(autouse=True)
def reset_clock() -> None:
    CLOCK.now = NOW


async def test_a_scan_of_a_tracked_qr_code_counts_for_the_item_and_screen(
    screens: tuple[Screens, Any], aiohttp_client: Any
) -> None:
    screens_, store = screens
    canteen, private = (screens_.builds.screen(s) for s in ("canteen", "private"))
    link = "https://intranet.example.org/news/1"
    tracked = await screens_.qr_link(canteen, "news", "g1", link)
    assert tracked.startswith("http://tv.example.org/r/")
    assert await screens_.qr_link(private, "news", "g1", link) == link  # qr: direct counts nothing
    app = web.Application()
    add_employee_routes(app, store, SIGNER, intranet_url="https://intranet.example.org",
                        allowed_hosts=frozenset({"intranet.example.org"}), locale="nl", clock=lambda: NOW)
    client: TestClient = await aiohttp_client(app)
    async with client.get(tracked.removeprefix("http://tv.example.org"), allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (302, link)
    [click] = await store.clicks()
    assert (click.screen, click.recipient, click.item_id) == ("canteen", None, await store.item_id("news", "g1"))


async def test_slides_of_a_source_failing_too_long_say_when_they_were_updated(screens: tuple[Screens, Any]) -> None:
    screens_, store = screens
    await store.record_fetch_success("news", NOW - timedelta(hours=3), etag=None, last_modified=None, items_seen=1)
    await store.record_fetch_failure("news", NOW - timedelta(minutes=5), "timed out", kind="timeout")
    body = json.loads((await screens_.builds.get("canteen")).body)
    assert "bijgewerkt" not in body["slides"][0]["html"]  # failing 5 minutes, every 10m: retrying, not stale
    CLOCK.now = NOW + timedelta(hours=1)
    screens_.builds.invalidate()
    body = json.loads((await screens_.builds.get("canteen")).body)
    assert "bijgewerkt 4 uur geleden" in body["slides"][0]["html"]


async def test_an_override_takes_over_its_screens_at_once_until_lifted(
    screens: tuple[Screens, Any], aiohttp_client: Any
) -> None:
    screens_, _ = screens
    app = web.Application()
    screens_.mount(app)
    canteen_tv, private_tv = [await aiohttp_client(app) for _ in range(2)]
    streams = {}
    for client, screen_id in ((canteen_tv, "canteen"), (private_tv, "private")):
        await client.get(f"/screens/{screen_id}/playlist.json", params={"token": f"{screen_id}-token"})
        streams[screen_id] = await client.get(f"/screens/{screen_id}/events")
        assert (await asyncio.wait_for(read_event(streams[screen_id]), DEADLINE))[0] == "hello"
    override = await screens_.override("Brandoefening", "Verlaat het gebouw via de trap.", mode="takeover",
                                       screens=["canteen"], until=None, by="admin")
    assert await asyncio.wait_for(read_event(streams["canteen"]), DEADLINE) == ("playlist", {})
    [alert] = json.loads((await screens_.builds.get("canteen")).body)["alerts"]
    assert (alert["key"], alert["mode"]) == (f"override:{override}", "takeover")
    assert "Brandoefening" in alert["html"] and "Verlaat het gebouw" in alert["html"]
    assert json.loads((await screens_.builds.get("private")).body)["alerts"] == []
    assert await screens_.lift(override, by="admin") is True
    assert await asyncio.wait_for(read_event(streams["canteen"]), DEADLINE) == ("playlist", {})
    assert json.loads((await screens_.builds.get("canteen")).body)["alerts"] == []
    assert await screens_.lift(override, by="admin") is False
    await screens_.override("Voor iedereen", "", mode="banner", screens=[], until=None, by="admin")
    # The private screen's first event since hello is this one: the canteen's override never reached it.
    assert await asyncio.wait_for(read_event(streams["private"]), DEADLINE) == ("playlist", {})
    for stream in streams.values():
        stream.close()


async def test_an_override_for_all_screens_ends_at_its_time(screens: tuple[Screens, Any]) -> None:
    screens_, _ = screens
    until = NOW + timedelta(minutes=10)
    await screens_.override("Koffie is op", "", mode="banner", screens=[], until=until, by="admin")
    for screen_id in ("canteen", "private"):
        assert [a["mode"] for a in json.loads((await screens_.builds.get(screen_id)).body)["alerts"]] == ["banner"]
    assert screens_.builds.next_expiry() == until
    CLOCK.now = until
    await screens_.refresh()
    assert json.loads((await screens_.builds.get("canteen")).body)["alerts"] == []


async def test_an_override_names_real_screens_and_ends_in_the_future(screens: tuple[Screens, Any]) -> None:
    screens_, _ = screens
    with pytest.raises(ValueError, match="'lobby'"):
        await screens_.override("x", "", mode="banner", screens=["lobby"], until=None, by="admin")
    with pytest.raises(ValueError, match="future"):
        await screens_.override("x", "", mode="banner", screens=[], until=NOW, by="admin")
