"""The pages around the player, in Debian's chromium against `intracast run` (issue 14, item 7):
the page a TV shows without its token, and the icon every screen page declares."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response

from screens.config import contrast
from tests.browser.conftest import TOKEN, Daemon, watch
from tests.browser.test_player import open_screen
from tests.intracast.test_daemon import DEADLINE

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Each text of the page: its size, colour and box; and the page's background.
MEASURE = """() => {
  const hex = c => '#' + c.match(/\\d+/g).slice(0, 3).map(n => (+n).toString(16).padStart(2, '0')).join('');
  const texts = [...document.querySelectorAll('main > *')].map(e => ({
    text: e.innerText, px: parseFloat(getComputedStyle(e).fontSize), colour: hex(getComputedStyle(e).color),
    box: e.getBoundingClientRect().toJSON(), overflows: e.scrollWidth > e.clientWidth}));
  return {texts, background: hex(getComputedStyle(document.body).backgroundColor)};
}"""


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1080, 1920), (1280, 720)])
async def test_the_wrong_token_page_is_legible_across_a_room_and_leads_to_pairing(
    browser: Browser, daemon: Daemon, tmp_path: Path, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height})
    watched = watch(await context.new_page())
    try:
        url = f"{daemon.base}/screens/hall?token=not-{TOKEN}"
        response = await watched.page.goto(url)
        assert response is not None and response.status == 403
        await watched.page.screenshot(path=tmp_path / f"denied-{width}x{height}.png")
        measured = await watched.page.evaluate(MEASURE)
        short = min(width, height)
        [title, *texts] = measured["texts"]
        assert title["text"] == "Hall is not set up" and title["px"] >= 0.062 * short, title
        for text in measured["texts"]:
            assert text["px"] >= 0.036 * short, text  # the slides' smallest text (README, Screens)
            assert contrast(text["colour"], measured["background"]) >= 7, text
            box = text["box"]
            assert 0 <= box["left"] and box["right"] <= width and 0 <= box["top"] and box["bottom"] <= height, text
            assert not text["overflows"], text
        assert "The token in the address is not this screen's token." in texts[0]["text"]
        address = texts[2]["text"].replace("\n", "")
        assert address == f"{daemon.base.removeprefix('http://')}/screens/pair", texts
        await watched.page.click(".address a")
        await watched.page.locator("#code").wait_for(state="visible", timeout=DEADLINE * 1000)
        assert watched.page.url == f"{daemon.base}/screens/pair"
        assert watched.errors == []
        assert [load for load in watched.failed_loads if not load.startswith(f"{url}: ")] == []
    finally:
        await context.close()


async def test_the_player_declares_its_icon_and_asks_for_nothing_that_is_not_there(
    browser: Browser, daemon: Daemon
) -> None:
    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
    answered: list[Response] = []
    context.on("response", lambda response: answered.append(response))
    watched = watch(await context.new_page())
    icon = first_icon(watched.page)
    try:
        await open_screen(watched, daemon)
        status, url, content_type = await asyncio.wait_for(icon, DEADLINE)
        assert (status, url.split("?")[0]) == (200, f"{daemon.base}/screens/static/icon.svg")
        assert content_type.startswith("image/svg+xml")
        assert [(r.status, r.url) for r in answered if r.status >= 400] == []
        assert watched.errors == watched.failed_loads == []
    finally:
        await context.close()


def first_icon(page: Page) -> asyncio.Future[tuple[int, str, str]]:
    """(status, URL, content type) of the first icon the page asks for: the one it declares (seen as a
    response), or the /favicon.ico a browser asks for when a page declares none (Playwright reports no
    response for that one, only its console error)."""
    found: asyncio.Future[tuple[int, str, str]] = asyncio.get_running_loop().create_future()

    def response(answer: Response) -> None:
        if "/icon.svg" in answer.url and not found.done():
            found.set_result((answer.status, answer.url, answer.headers.get("content-type", "")))

    def console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if url.endswith("/favicon.ico") and not found.done():
            found.set_result((404 if " 404 " in message.text else 0, url, ""))

    page.context.on("response", response)
    page.on("console", console)
    return found
