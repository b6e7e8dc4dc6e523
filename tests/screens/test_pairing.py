"""Pairing a new TV, over HTTP against the daemon's composition: the TV asks for a code on
/screens/pair, an admin claims it on the Screens page, and the TV's next poll makes it the screen.
The TV and the admin are two clients of one server, each with its own cookie jar."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from screens.pairing import ALPHABET, COOKIE, LENGTH, NEW_CODES, new_code, normalise_code
from screens.web import COOKIE as SCREEN_COOKIE
from tests.intracast.admin.conftest import NOW, Client, Clock, Feed
from tests.intracast.admin.screens_dashboard import ScreensDashboard, open_screens_dashboard

CODE = re.compile(r'<p class="code" id="code">([A-Z0-9]{3}) ([A-Z0-9]{3})</p>')


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def wall(tmp_path: Path, aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer,
               clock: Clock) -> AsyncIterator[ScreensDashboard]:
    feed = Feed()
    server: TestServer = await aiohttp_server(feed.app)
    async for opened in open_screens_dashboard(tmp_path, aiohttp_client, (feed, server), clock):
        assert (await opened.dashboard.login()).status == 303
        yield opened


async def show_code(tv: Client) -> str:
    response = await tv.get("/screens/pair")
    assert response.status == 200, await response.text()
    found = CODE.search(await response.text())
    assert found, "no code on the page"
    return found[1] + found[2]


async def claim(wall: ScreensDashboard, code: str, screen: str = "canteen") -> str:
    """The admin types `code` for `screen`; what the Screens page then says."""
    response = await wall.dashboard.post("/admin/screens/pair", {"code": code, "screen": screen})
    assert response.status == 303 and response.headers["Location"] == "/admin/screens"
    return (await wall.dashboard.page("/admin/screens")).text


async def poll(tv: Client) -> ClientResponse:
    return await tv.get("/screens/pair/status", allow_redirects=False)


def holds(tv: Client, name: str) -> bool:
    return any(cookie.key == name for cookie in tv.session.cookie_jar)


async def test_a_tv_becomes_the_screen_an_admin_pairs_its_code_with(
    wall: ScreensDashboard, caplog: pytest.LogCaptureFixture
) -> None:
    tv = await wall.tv()
    assert (await tv.get("/screens/canteen/playlist.json")).status == 403  # not a screen yet
    response = await tv.get("/screens/pair")
    pairing = response.cookies[COOKIE]
    assert pairing["httponly"] and pairing["path"] == "/screens/pair" and pairing["samesite"] == "Strict"
    code = CODE.search(await response.text())
    assert code is not None
    assert (await poll(tv)).status == 204  # waiting

    with caplog.at_level(logging.INFO, logger="intracast.admin.audit"):
        said = await claim(wall, f"{code[1].lower()}-{code[2]}")  # typed loosely
    assert "The TV is Canteen now" in said
    assert "admin.action user=admin action=pair target=canteen" in caplog.text

    handover = await poll(tv)
    assert handover.status == 303 and handover.headers["Location"] == "/screens/canteen"
    screen = handover.cookies[SCREEN_COOKIE]
    assert screen["httponly"] and screen["path"] == "/screens/canteen" and screen["samesite"] == "Strict"
    assert handover.cookies[COOKIE]["max-age"] == "0"  # the pairing secret is dropped
    assert not holds(tv, COOKIE)
    assert (await tv.get("/screens/canteen/playlist.json")).status == 200
    assert (await tv.get("/screens/canteen")).status == 200
    assert (await tv.get("/screens/hall/playlist.json")).status == 403  # that screen, and only that one


async def test_a_tv_that_reloads_its_page_keeps_its_code_and_is_handed_over_there_too(
    wall: ScreensDashboard,
) -> None:
    tv = await wall.tv()
    code = await show_code(tv)
    assert await show_code(tv) == code
    await claim(wall, code, "hall")
    response = await tv.get("/screens/pair", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/screens/hall"
    assert (await tv.get("/screens/hall/playlist.json")).status == 200


async def test_the_pairing_page_is_large_plain_and_localised(wall: ScreensDashboard) -> None:
    tv = await wall.tv()
    response = await tv.get("/screens/pair")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.text()
    assert '<html lang="nl">' in html  # the intranet's language, as on the player
    assert "Voer deze code in op de pagina Schermen van het beheer" in html
    assert "De code is 15 minuten geldig" in html
    assert "style=" not in html and re.findall(r"<script[^>]*>", html) == [
        re.search(r'<script src="/screens/pair/pair\.js\?v=\w+" defer>', html)[0]  # type: ignore[index]
    ]
    for name, kind in (("pair.js", "text/javascript"), ("pair.css", "text/css")):
        served = await tv.get(f"/screens/pair/{name}")
        assert served.status == 200 and served.content_type == kind


async def test_an_expired_code_is_refused(wall: ScreensDashboard) -> None:
    tv = await wall.tv()
    code = await show_code(tv)
    wall.dashboard.clock.advance(minutes=15)
    assert (await poll(tv)).status == 410  # the page reloads for a new code
    assert "No TV is waiting with the code" in await claim(wall, code)
    assert await show_code(tv) != code


async def test_a_used_code_is_refused(wall: ScreensDashboard) -> None:
    tv = await wall.tv()
    code = await show_code(tv)
    await claim(wall, code)
    assert "No TV is waiting with the code" in await claim(wall, code, "hall")  # claimed: not twice
    assert (await poll(tv)).headers["Location"] == "/screens/canteen"
    assert (await poll(tv)).status == 410
    assert "No TV is waiting with the code" in await claim(wall, code)  # collected: gone


async def test_a_code_works_only_for_the_browser_holding_its_pairing_cookie(wall: ScreensDashboard) -> None:
    tv, thief = await wall.tv(), await wall.tv()
    code = await show_code(tv)
    assert (await poll(thief)).status == 410  # no pairing cookie: nothing to wait for
    assert await show_code(thief) != code  # a code of its own, which nobody claims
    await claim(wall, code)
    assert (await poll(thief)).status == 204
    thief.session.cookie_jar.clear()
    thief.session.cookie_jar.update_cookies({COOKIE: "a-guessed-secret"})
    assert (await poll(thief)).status == 410
    assert not holds(thief, SCREEN_COOKIE)
    assert (await poll(tv)).status == 303


async def test_wrong_codes_are_rate_limited(wall: ScreensDashboard) -> None:
    tv = await wall.tv()
    code = await show_code(tv)
    wrong = next(c for c in ("ABCDEF", "BCDEFG") if c != code)
    for guess in [wrong] * 4 + ["not a code"]:
        assert "No TV is waiting with the code" in await claim(wall, guess)
    assert "Too many wrong codes: try again in 1 minute." in await claim(wall, code)  # refused unchecked
    assert (await poll(tv)).status == 204
    wall.dashboard.clock.advance(minutes=1)
    assert "The TV is Canteen now" in await claim(wall, code)
    assert (await poll(tv)).status == 303


async def test_new_codes_are_limited_per_address(wall: ScreensDashboard) -> None:
    tv = await wall.tv()
    codes = set()
    for _ in range(NEW_CODES):
        tv.session.cookie_jar.clear()  # a browser without its cookie asks for a new code
        codes.add(await show_code(tv))
    assert len(codes) == NEW_CODES
    tv.session.cookie_jar.clear()
    refused = await tv.get("/screens/pair")
    assert refused.status == 429 and COOKIE not in refused.cookies
    html = await refused.text()
    assert '<meta http-equiv="refresh" content="60">' in html and "Vanaf dit netwerk zijn te veel codes" in html
    wall.dashboard.clock.advance(minutes=15)
    assert await show_code(tv)


async def test_a_code_is_claimed_only_for_a_screen_in_the_config(wall: ScreensDashboard) -> None:
    tv = await wall.tv()
    code = await show_code(tv)
    response = await wall.dashboard.post("/admin/screens/pair", {"code": code, "screen": "attic"})
    assert response.status == 404
    assert (await poll(tv)).status == 204


def test_codes_are_six_characters_without_look_alikes() -> None:
    assert LENGTH == 6 and len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("0O1I") & set(ALPHABET)
    drawn = [new_code() for _ in range(2000)]
    assert all(len(code) == LENGTH for code in drawn)
    assert set("".join(drawn)) == set(ALPHABET)  # every character turns up; no other does


@pytest.mark.parametrize(("typed", "code"), [
    ("ABCDEF", "ABCDEF"), ("abc def", "ABCDEF"), (" abc-def ", "ABCDEF"), ("ABCDE", None), ("ABCDEFG", None),
    ("ABCDE0", None), ("ABCDEI", None), ("ÀBCDEF", None), ("", None),
])
def test_a_typed_code_is_read_loosely_but_only_from_the_alphabet(typed: str, code: str | None) -> None:
    assert normalise_code(typed) == code
