"""The Screens page with the screens pipeline beside it: health from real heartbeats (posted to the
screens' own route), the live preview, set-up links, and overrides reaching the screens' playlists."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient

from intracast.admin.sessions import COOKIE as ADMIN_COOKIE
from screens.store import Heartbeat
from sources.item import Item
from tests.intracast.admin.conftest import Client, Clock, Dashboard, Feed, Page
from tests.intracast.admin.screens_dashboard import SCREEN_TOKEN, ScreensDashboard, open_screens_dashboard
from tests.screens.test_hub import DEADLINE, read_event

LIVE = 2.0  # seconds: what an admin does over the screens reaches them this fast (issue 14)
BEAT = {"width": 1920, "height": 1080, "slide": "clock:0", "playlist_age": 42.0, "version": "0.0.1"}


@pytest.fixture
async def wall(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
               clock: Clock) -> AsyncIterator[ScreensDashboard]:
    async for opened in open_screens_dashboard(tmp_path, aiohttp_client, feed, clock):
        response = await opened.dashboard.login()
        assert response.status == 303
        yield opened


async def alerts(tv: Client, screen_id: str = "canteen") -> list[dict[str, str]]:
    response = await tv.get(f"/screens/{screen_id}/playlist.json")
    assert response.status == 200
    return json.loads(await response.text())["alerts"]  # type: ignore[no-any-return]


DRILL = {"title": "Fire drill at 14:00", "text": "Leave by the stairs.", "mode": "takeover", "until": ""}


async def override(board: Dashboard, locale: str = "en", **fields: str | list[str]) -> ClientResponse:
    """The override form as the Screens page posts it: DRILL, changed by `fields`; a list is checkboxes."""
    form = [(key, value) for key, values in (DRILL | fields).items()
            for value in ([values] if isinstance(values, str) else values)]
    form.append(("csrf", (await board.page("/admin/screens")).csrf))
    return await board.client.post("/admin/screens/overrides", data=form, headers={"Accept-Language": locale},
                                   allow_redirects=False)


@pytest.mark.parametrize(("locale", "words"), [
    ("en", ["Canteen online", "Hall offline", "30 seconds ago", "5 minutes ago", "1920 × 1080",
            "Playlist age 42 seconds", "Showing the clock", "Player version 0.0.1 (the daemon runs"]),
    ("nl", ["Canteen verbonden", "Hall niet verbonden", "30 seconden geleden", "5 minuten geleden", "1920 × 1080",
            "Leeftijd afspeellijst 42 seconden", "Toont nu de klok", "Versie van de speler 0.0.1 (de daemon draait"]),
])
async def test_each_screen_is_online_or_offline_by_its_heartbeats(
    wall: ScreensDashboard, locale: str, words: list[str]
) -> None:
    board = wall.dashboard
    tv = await wall.screen_client("canteen")
    assert (await tv.post("/screens/canteen/heartbeat", json=BEAT)).status == 204
    await board.store.record_heartbeat(Heartbeat("hall", at=board.clock.now - timedelta(minutes=4, seconds=30)))
    board.clock.advance(seconds=30)
    response = await board.client.get("/admin/screens", headers={"Accept-Language": locale})
    assert response.status == 200
    assert "frame-src 'self'" in response.headers["Content-Security-Policy"]
    html = await response.text()
    assert "style=" not in html and "<script" not in html
    page = Page(html)
    assert page.lang == locale
    for word in words:
        assert word in page.text, word
    assert page.nav.index("/admin/screens") == page.nav.index("/admin/sources") + 1 + ("/admin/digests" in page.nav)
    assert [frame["src"] for frame in page.iframes] == ["/admin/screens/canteen/preview", "/admin/screens/hall/preview"]

    await board.store.record_heartbeat(Heartbeat("hall", at=board.clock.now - timedelta(seconds=119)))
    assert "Hall online" in (await board.page("/admin/screens")).text
    board.clock.advance(seconds=1)
    assert "Hall offline" in (await board.page("/admin/screens")).text  # two minutes without a beat


@pytest.fixture
async def news_wall(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
                    clock: Clock) -> AsyncIterator[ScreensDashboard]:
    """The Screens page over screens whose playlist shows the news, then the clock."""
    blocks = "[{sources: [news]}, {type: clock}]"
    async for opened in open_screens_dashboard(tmp_path, aiohttp_client, feed, clock, blocks=blocks):
        assert (await opened.dashboard.login()).status == 303
        yield opened


def showing(page: Page, screen: str) -> str:
    """What the screen's card says it shows, up to the next fact."""
    return page.text.split(f"{screen} ", 1)[1].split("Showing ", 1)[1].split(" Playlist age")[0]


async def test_a_screen_shows_the_title_of_its_slide_not_its_key(news_wall: ScreensDashboard) -> None:
    board = news_wall.dashboard
    news = Item("news", "intranet:2026-11-24:vpn", "VPN maintenance tonight", "https://intranet.example.org/vpn",
                published=board.clock.now - timedelta(hours=1))
    await board.store.upsert_items([news], board.clock.now)
    await news_wall.screens.refresh()
    tv = await news_wall.screen_client("canteen")
    slides = json.loads(await (await tv.get("/screens/canteen/playlist.json")).text())["slides"]
    assert [s["key"] for s in slides] == ["item:news:intranet:2026-11-24:vpn", "clock:1"]
    for slide, says in [(slides[0]["key"], "VPN maintenance tonight"), ("clock:1", "the clock"),
                        ("item:news:gone", "an item no longer on its playlist")]:
        assert (await tv.post("/screens/canteen/heartbeat", json=BEAT | {"slide": slide})).status == 204
        page = await board.page("/admin/screens")
        assert showing(page, "Canteen") == says
        assert slide not in page.text
    nl = await board.page("/admin/screens", "nl")
    assert "Toont nu een bericht dat niet meer in de afspeellijst staat" in nl.text


@pytest.mark.parametrize(("locale", "says"), [
    ("en", "Playlist age unknown while the screen is offline"),
    ("nl", "Leeftijd afspeellijst onbekend zolang het scherm niet verbonden is"),
])
async def test_an_offline_screen_s_playlist_age_is_unknown(wall: ScreensDashboard, locale: str, says: str) -> None:
    board = wall.dashboard
    tv = await wall.screen_client("hall")
    assert (await tv.post("/screens/hall/heartbeat", json=BEAT | {"playlist_age": 1.0})).status == 204
    board.clock.advance(minutes=2)
    page = await board.page("/admin/screens", locale)
    assert says in page.text and "1 second" not in page.text and "1 seconde" not in page.text


@pytest.mark.parametrize(("locale", "says"), [
    ("en", "Canteen offline Location – Playlist main Last seen never"),
    ("nl", "Canteen niet verbonden Plaats – Afspeellijst main Laatst gezien nooit"),
])
async def test_a_screen_never_seen_says_so(wall: ScreensDashboard, locale: str, says: str) -> None:
    assert says in (await wall.dashboard.page("/admin/screens", locale)).text


async def test_the_token_shows_only_inside_the_set_up_details(wall: ScreensDashboard) -> None:
    html = await (await wall.dashboard.client.get("/admin/screens")).text()
    link = f"http://tv.example.org/screens/canteen?token={SCREEN_TOKEN}"
    assert link in html
    for found in re.finditer(re.escape(SCREEN_TOKEN), html):
        opened, closed = html.rfind("<details>", 0, found.start()), html.rfind("</details>", 0, found.start())
        assert opened > closed, "the token outside a <details>"
    assert "http://tv.example.org/screens/pair" in html


async def test_the_preview_is_the_screens_player_page_served_to_the_admin_without_a_heartbeat(
    wall: ScreensDashboard,
) -> None:
    client, tv = wall.dashboard.client, await wall.screen_client("canteen")
    response = await client.get("/admin/screens/canteen/preview")
    assert response.status == 200
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    html = await response.text()
    assert '<base href="/admin/screens/canteen/preview/">' in html
    assert 'data-base="/admin/screens/canteen/preview/" data-preview>' in html
    assert not any(cookie.key == "intracast_screen" for cookie in client.session.cookie_jar)

    mine = await client.get("/admin/screens/canteen/preview/playlist.json")
    theirs = await tv.get("/screens/canteen/playlist.json")
    assert mine.status == theirs.status == 200 and await mine.read() == await theirs.read()
    etag = {"If-None-Match": mine.headers["ETag"]}
    assert (await client.get("/admin/screens/canteen/preview/playlist.json", headers=etag)).status == 304
    assert '<link rel="stylesheet" href="theme.css?v=' in html  # relative: against the base above
    theme = await client.get("/admin/screens/canteen/preview/theme.css")
    assert theme.status == 200 and theme.content_type == "text/css"
    assert await wall.dashboard.store.last_heartbeats() == {}
    assert (await client.get("/admin/screens/nowhere/preview")).status == 404


async def test_the_preview_needs_the_admin_login(wall: ScreensDashboard) -> None:
    tv = await wall.screen_client("canteen")  # the screen's own cookie opens no admin page
    response = await tv.get("/admin/screens/canteen/preview", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/admin/login")
    assert (await tv.get("/admin/screens/canteen/preview/playlist.json", allow_redirects=False)).status == 303


async def test_an_override_reaches_the_chosen_screens_and_the_list_until_lifted(
    wall: ScreensDashboard, caplog: pytest.LogCaptureFixture
) -> None:
    board, canteen, hall = wall.dashboard, await wall.screen_client("canteen"), await wall.screen_client("hall")
    with caplog.at_level(logging.INFO, logger="intracast.admin.audit"):
        assert (await override(board, screens=["canteen"])).status == 303
    page = await board.page("/admin/screens")
    assert "“Fire drill at 14:00” is on the screens now." in page.text
    assert "Fire drill at 14:00 Leave by the stairs. takes over the whole screen Canteen it is lifted" in page.text
    [alert] = await alerts(canteen, "canteen")
    assert alert["mode"] == "takeover" and "Fire drill at 14:00" in alert["html"]
    assert await alerts(hall, "hall") == []

    [shown] = await board.store.active_overrides(board.clock.now)
    assert shown.created_by == "admin" and shown.screens == ("canteen",)
    lift = f"/admin/screens/overrides/{shown.id}/lift"
    with caplog.at_level(logging.INFO, logger="intracast.admin.audit"):
        response = await board.post(lift, {})
    assert response.status == 303
    page = await board.page("/admin/screens")
    assert "The message was lifted" in page.text and "No message is over the screens." in page.text
    assert await alerts(canteen, "canteen") == []
    assert (await board.post(lift, {})).status == 303
    assert "That message had already ended." in (await board.page("/admin/screens")).text
    assert f"admin.action user=admin action=override target=\"{shown.id} takeover canteen\"" in caplog.text
    assert f"admin.action user=admin action=lift target={shown.id}" in caplog.text


async def test_an_override_for_no_chosen_screen_is_on_all_of_them_until_its_end(wall: ScreensDashboard) -> None:
    board, canteen, hall = wall.dashboard, await wall.screen_client("canteen"), await wall.screen_client("hall")
    assert (await override(board, mode="banner", until="2026-11-24T18:00")).status == 303
    [shown] = await board.store.active_overrides(board.clock.now)
    assert shown.screens == () and shown.until == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Amsterdam is UTC+1
    for tv, screen in ((canteen, "canteen"), (hall, "hall")):
        assert [alert["mode"] for alert in await alerts(tv, screen)] == ["banner"]
    assert "banner over the slides all screens 24 Nov 2026 18:00" in (await board.page("/admin/screens")).text


@pytest.mark.parametrize(("locale", "fields", "says"), [
    ("en", {"title": ""}, "Give the message a title of at most 120 characters."),
    ("nl", {"title": "x" * 121}, "Geef het bericht een titel van hoogstens 120 tekens."),
    ("en", {"text": "x" * 501}, "The text is longer than 500 characters."),
    ("en", {"until": "2026-11-24T09:59"}, "The end has passed"),  # 08:59 UTC: a minute ago
    ("nl", {"until": "morgen"}, "Het einde is geen datum en tijd."),
    ("en", {"screens": ["canteen", "attic"]}, "Choose a way to show it and screens from the list."),
    ("en", {"mode": "fullscreen"}, "Choose a way to show it and screens from the list."),
])
async def test_a_wrong_override_says_what_is_wrong_and_changes_nothing(
    wall: ScreensDashboard, locale: str, fields: dict[str, str | list[str]], says: str
) -> None:
    board = wall.dashboard
    response = await override(board, locale, **fields)
    assert response.status == 400
    page = Page(await response.text())
    assert says in page.text
    assert [i.get("value") for i in page.inputs if i.get("name") == "title"] == [(DRILL | fields)["title"]]  # to fix
    assert await board.store.active_overrides(board.clock.now) == []


async def test_the_forms_are_refused_without_their_csrf_token(wall: ScreensDashboard) -> None:
    board = wall.dashboard
    response = await board.post("/admin/screens/overrides", {"title": "Forged", "mode": "banner"}, csrf=False)
    assert response.status == 403
    assert await board.store.active_overrides(board.clock.now) == []
    assert (await override(board)).status == 303
    [shown] = await board.store.active_overrides(board.clock.now)
    assert (await board.post(f"/admin/screens/overrides/{shown.id}/lift", {}, csrf=False)).status == 403
    assert (await board.post("/admin/screens/pair", {"code": "ABCDEF", "screen": "hall"}, csrf=False)).status == 403
    assert await board.store.active_overrides(board.clock.now) == [shown]


async def test_the_screens_pages_need_a_login(wall: ScreensDashboard) -> None:
    stranger = await wall.tv()
    for path in ("/admin/screens", "/admin/screens/canteen/preview"):
        response = await stranger.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/admin/login")
    response = await stranger.post("/admin/screens/overrides", data={"title": "x"}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/admin/login"
    assert await wall.dashboard.store.active_overrides(wall.dashboard.clock.now) == []
    assert not any(cookie.key == ADMIN_COOKIE for cookie in stranger.session.cookie_jar)


# every alert over the screens, and hiding a pinned one

# Dated in the intranet's zone, as a feed dates it: the store gives it back in UTC, which must not make it
# another version of the item.
VPN = Item("news", "vpn", "VPN maintenance tonight", "https://intranet.example.org/vpn", summary="From 22:00 to 23:00.",
           pinned=True, published=datetime(2026, 11, 24, 9, 30, tzinfo=ZoneInfo("Europe/Amsterdam")))


async def pin(wall: ScreensDashboard, item: Item) -> None:
    """What a fetch that stores a pinned item does: the store, then the screens' refresh."""
    await wall.dashboard.store.upsert_items([item], wall.dashboard.clock.now)
    await wall.screens.refresh()


def hide_form(page: Page) -> dict[str, str]:
    """The fields of the page's (one) "Hide from the screens" form."""
    names = ("source", "guid", "version")
    return {str(i["name"]): str(i["value"]) for i in page.inputs if i.get("name") in names}


async def test_a_pinned_item_is_listed_and_hidden_from_the_screens_live_until_it_changes(
    wall: ScreensDashboard, caplog: pytest.LogCaptureFixture
) -> None:
    board, canteen = wall.dashboard, await wall.screen_client("canteen")
    await pin(wall, VPN)
    assert [a["key"] for a in await alerts(canteen)] == ["alert:news:vpn"]
    page = await board.page("/admin/screens")
    assert ("VPN maintenance tonight From 22:00 to 23:00. banner over the slides all screens the source unpins it "
            "pinned in source news Hide from the screens") in page.text
    assert "No message is over the screens." not in page.text

    async with canteen.get("/screens/canteen/events") as events:
        assert (await asyncio.wait_for(read_event(events), DEADLINE))[0] == "hello"
        with caplog.at_level(logging.INFO, logger="intracast.admin.audit"):
            response = await board.post("/admin/screens/alerts/hide", hide_form(page))
        assert response.status == 303
        assert await asyncio.wait_for(read_event(events), LIVE) == ("playlist", {})
    assert await alerts(canteen) == [] and await alerts(await wall.screen_client("hall"), "hall") == []
    page = await board.page("/admin/screens")
    assert "“VPN maintenance tonight” is hidden from the screens until it changes." in page.text
    assert "No message is over the screens." in page.text
    assert ("Hidden from the screens until they change VPN maintenance tonight hidden 24 Nov 2026 10:00 by admin "
            "Show again") in page.text
    assert 'admin.action user=admin action=hide target=news:vpn' in caplog.text

    await pin(wall, replace(VPN, summary="From 22:00 to 01:00."))  # the intranet changed it: back on the screens
    assert [a["key"] for a in await alerts(canteen)] == ["alert:news:vpn"]
    page = await board.page("/admin/screens")
    assert "From 22:00 to 01:00. banner over the slides" in page.text and "Hidden from the screens" not in page.text


async def test_a_hidden_alert_can_be_shown_again(wall: ScreensDashboard, caplog: pytest.LogCaptureFixture) -> None:
    board, hall = wall.dashboard, await wall.screen_client("hall")
    await pin(wall, VPN)
    assert (await board.post("/admin/screens/alerts/hide", hide_form(await board.page("/admin/screens")))).status == 303
    assert await alerts(hall, "hall") == []
    with caplog.at_level(logging.INFO, logger="intracast.admin.audit"):
        response = await board.post("/admin/screens/alerts/show", {"source": "news", "guid": "vpn"})
    assert response.status == 303
    assert [a["key"] for a in await alerts(hall, "hall")] == ["alert:news:vpn"]
    assert "The message is back on the screens." in (await board.page("/admin/screens")).text
    assert 'admin.action user=admin action=show target=news:vpn' in caplog.text


async def test_hiding_an_alert_that_changed_since_the_page_was_shown_hides_nothing(wall: ScreensDashboard) -> None:
    board, canteen = wall.dashboard, await wall.screen_client("canteen")
    await pin(wall, VPN)
    seen = hide_form(await board.page("/admin/screens"))
    await pin(wall, replace(VPN, title="VPN maintenance moved to Friday"))
    assert (await board.post("/admin/screens/alerts/hide", seen)).status == 303
    page = await board.page("/admin/screens")
    assert ("“VPN maintenance moved to Friday” changed since the page was shown, and is still on the screens: "
            "look at it again.") in page.text
    assert [a["key"] for a in await alerts(canteen)] == ["alert:news:vpn"]
    assert (await board.post("/admin/screens/alerts/hide", seen, csrf=False)).status == 403


@pytest.mark.parametrize(("locale", "says"), [
    ("en", "Messages on the screens now Message How Screens Until From Fire drill at 14:00"),
    ("nl", "Berichten nu op de schermen Bericht Hoe Schermen Tot Herkomst Fire drill at 14:00"),
])
async def test_overrides_and_pinned_items_are_one_list(wall: ScreensDashboard, locale: str, says: str) -> None:
    board = wall.dashboard
    await pin(wall, VPN)
    assert (await override(board, screens=["canteen"])).status == 303
    text = (await board.page("/admin/screens", locale)).text
    assert says in text
    assert text.index("Fire drill at 14:00") < text.index("VPN maintenance tonight")
