"""The screens pipeline in the daemon: QR scans counted per screen, staleness from the sources' health."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from digest.tokens import Signer
from digest.web import add_employee_routes
from intracast.config import load_config
from intracast.screens import Screens
from intracast.store import open_store
from sources.item import Item

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
        yield Screens(load_config(path), store, SIGNER, public_url="http://tv.example.org", clock=CLOCK), store


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
