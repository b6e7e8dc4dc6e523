"""The player as a TV runs it (issue 6, "What the tests must show"): Debian's chromium, headless,
against `intracast run` on loopback. Times are read from the page's own log of its state
changes (conftest.RECORDER), so a loaded machine slows the test, not the measurement."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.browser.conftest import SLIDE_SECONDS, TOKEN, Daemon, Feed, Watched
from tests.intracast.test_daemon import DEADLINE, browser_jar

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIVE_MS = 2000  # issue 6: a change reaches the screen within 2 seconds


async def open_screen(watched: Watched, daemon: Daemon, screen: str = "hall", token: str = TOKEN) -> None:
    response = await watched.page.goto(f"{daemon.base}/screens/{screen}?token={token}")
    assert response is not None and response.status == 200, await response.text() if response else None
    assert watched.page.url == f"{daemon.base}/screens/{screen}", "the token left the address"
    await watched.page.wait_for_function("() => document.documentElement.dataset.slide", timeout=10_000)


async def events(watched: Watched, name: str, since: float = 0) -> list[dict[str, Any]]:
    """The page's recorded changes of data-`name` (slide, state, playlist-etag) at or after `since` (ms)."""
    return await watched.page.evaluate(
        "([name, since]) => window.__log.filter(e => e.name === name && e.at >= since)", [name, since])


async def player_playlist(watched: Watched, screen: str = "hall") -> dict[str, Any]:
    """The playlist the player rotates, as it keeps it for an outage."""
    stored = await watched.page.evaluate(f"() => localStorage.getItem('intracast.playlist.{screen}')")
    return json.loads(json.loads(stored)["body"])


async def wait_for_slide_changes(watched: Watched, count: int, since: float, timeout_s: float) -> None:
    await watched.page.wait_for_function(
        "([count, since]) => window.__log.filter(e => e.name === 'slide' && e.at >= since).length >= count",
        arg=[count, since], timeout=timeout_s * 1000)


async def wait_for_item(watched: Watched, key: str, timeout_ms: float) -> None:
    await watched.page.wait_for_function(
        """key => {
             const stored = localStorage.getItem('intracast.playlist.hall');
             return stored && JSON.parse(JSON.parse(stored).body).slides.some(s => s.key === key);
           }""", arg=key, timeout=timeout_ms)


def now_ms() -> float:
    return time.time() * 1000


def news(guid: str, title: str, summary: str = "") -> dict[str, Any]:
    return {"guid": guid, "title": title, "summary": summary, "published": datetime.now(UTC)}


# rotation

async def test_the_screen_rotates_its_slides_in_order_for_their_durations(player: Watched, daemon: Daemon) -> None:
    await open_screen(player, daemon)
    slides = (await player_playlist(player))["slides"]
    assert {s["kind"] for s in slides} == {"item", "announcement", "image", "agenda", "clock"}
    await wait_for_slide_changes(player, len(slides) + 1, 0, len(slides) * SLIDE_SECONDS + 20)
    shown = (await events(player, "slide"))[: len(slides) + 1]
    keys = [s["key"] for s in slides]
    assert [e["value"] for e in shown] == keys + keys[:1]
    for slide, start, end in zip(slides, shown, shown[1:]):
        assert slide["duration"] == SLIDE_SECONDS
        seconds = (end["at"] - start["at"]) / 1000
        assert SLIDE_SECONDS - 0.05 <= seconds <= SLIDE_SECONDS + 1.5, (slide["key"], seconds)
    assert player.errors == player.failed_loads == []


async def test_an_item_slide_shows_its_picture_and_qr_code(player: Watched, daemon: Daemon) -> None:
    await open_screen(player, daemon)
    slide = player.page.locator('.layer.is-current .slide[data-key="item:news:canteen"]')
    await slide.wait_for(state="visible", timeout=(7 * SLIDE_SECONDS + 10) * 1000)
    # decode() fails for an image the browser cannot draw: a 404, or an SVG that is not a document of its own.
    drawn = await slide.evaluate("""async slide => {
      const images = [slide.querySelector('.media img'), slide.querySelector('img.qr-code')];
      const drawable = await Promise.all(images.map(i => i.decode().then(() => true, e => String(e))));
      const px = images.map(i => i.getBoundingClientRect()).map(box => Math.min(box.width, box.height));
      return {drawable, px};
    }""")
    assert drawn["drawable"] == [True, True], drawn
    assert min(drawn["px"]) > 200, drawn  # px at 1920x1080: a picture, and a QR code a phone reads across a table
    assert player.errors == player.failed_loads == []


async def test_a_picture_that_cannot_load_leaves_no_broken_image(player: Watched, daemon: Daemon, feed: Feed) -> None:
    feed.news.insert(0, {**news("gone", "The picture of this item is gone"), "image": "missing"})
    await asyncio.wait_for(daemon.ingested("news", "gone"), DEADLINE)
    await open_screen(player, daemon)
    slide = player.page.locator('.layer.is-current .slide[data-key="item:news:gone"]')
    await slide.wait_for(state="visible", timeout=(7 * SLIDE_SECONDS + 10) * 1000)
    await player.page.wait_for_function(
        "() => document.querySelector('.layer.is-current .slide .media').hidden", timeout=5_000)
    assert "has-media" not in (await slide.get_attribute("class") or "")
    assert await slide.locator("h1.title").is_visible()
    assert player.errors == [] and all("/media/" in failed for failed in player.failed_loads)


# legibility

# Every element with text of its own, in each slide laid out in a layer of the player's stage:
# where its text is (the element's box where it clips, else its text's own box) must lie on the
# screen and inside every ancestor that clips; an element that clips must say so with an ellipsis.
TEXT_PROBLEMS = """
(slides) => {
  const stage = document.getElementById('stage');
  const problems = [];
  const sizes = [];
  const outside = (box, area) =>
    box.left < area.left - 1 || box.top < area.top - 1 || box.right > area.right + 1 || box.bottom > area.bottom + 1;
  for (const slide of slides) {
    const layer = document.createElement('div');
    layer.className = 'layer is-current';
    layer.innerHTML = slide.html;
    stage.appendChild(layer);
    const texts = [...layer.querySelectorAll('*')].filter(el =>
      [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim()));
    for (const el of texts) {
      const name = `${slide.key} ${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`;
      const style = getComputedStyle(el);
      const clips = style.overflow !== 'visible';
      const range = document.createRange();
      range.selectNodeContents(el);
      const box = clips ? el.getBoundingClientRect() : range.getBoundingClientRect();
      if (outside(box, {left: 0, top: 0, right: innerWidth, bottom: innerHeight})) {
        problems.push(`${name} leaves the screen: ${JSON.stringify(box)}`);
      }
      for (let up = el.parentElement; up && up !== layer; up = up.parentElement) {
        if (getComputedStyle(up).overflow !== 'visible' && outside(box, up.getBoundingClientRect())) {
          problems.push(`${name} is cut off by ${up.className}`);
        }
      }
      const spills = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
      if (clips && spills && style.textOverflow !== 'ellipsis' && style.webkitLineClamp === 'none') {
        problems.push(`${name} is cut off without an ellipsis`);
      }
      sizes.push({name: name, title: !!el.closest('.title'), px: parseFloat(style.fontSize)});
    }
    layer.remove();
  }
  return {problems, sizes};
}
"""


async def idle_playlist(daemon: Daemon) -> dict[str, Any]:
    async with aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
        async with session.get(f"{daemon.base}/screens/night/playlist.json?token=night-token-1234") as response:
            assert response.status == 200
            return await response.json()


SIZES = [(1920, 1080), (1080, 1920)]


async def test_no_slide_s_text_leaves_the_screen_and_text_is_large_enough(player: Watched, daemon: Daemon) -> None:
    await open_screen(player, daemon)
    slides = (await player_playlist(player))["slides"] + (await idle_playlist(daemon))["slides"]
    assert {s["kind"] for s in slides} == {"item", "announcement", "image", "agenda", "clock", "idle"}
    for width, height in SIZES:
        await player.page.set_viewport_size({"width": width, "height": height})
        measured = await player.page.evaluate(TEXT_PROBLEMS, slides)
        assert measured["problems"] == [], (width, height)
        assert len(measured["sizes"]) > 20
        if width == 1920:
            small = [s for s in measured["sizes"] if s["px"] < (60 if s["title"] else 36)]
            assert small == []


BANNER_LAYOUT = """() => {
  const banner = document.querySelector('#banner .alert-banner');
  const stage = document.getElementById('stage').getBoundingClientRect();
  const strip = document.getElementById('banner').getBoundingClientRect();
  return {px: parseFloat(getComputedStyle(banner).fontSize), strip: strip.toJSON(), stage: stage.toJSON(),
          text: banner.getBoundingClientRect().toJSON()};
}"""


async def test_a_banner_is_legible_and_the_slides_give_it_room(player: Watched, daemon: Daemon, feed: Feed) -> None:
    feed.alerts.append({"id": "parking", "title": "Parking garage closed on Friday", "pinned": True,
                        "text": "Park at the P+R; the shuttle runs every ten minutes. " * 4,
                        "link": "https://intranet.example.org/parking"})
    await open_screen(player, daemon)
    await player.page.locator("#banner .alert-banner").wait_for(state="visible", timeout=DEADLINE * 1000)
    slides = (await player_playlist(player))["slides"]
    for width, height in SIZES:
        await player.page.set_viewport_size({"width": width, "height": height})
        layout = await player.page.evaluate(BANNER_LAYOUT)
        assert layout["px"] >= 0.033 * height, layout  # issue 6: text at least 3.3% of the screen height
        assert layout["strip"]["bottom"] == height and layout["strip"]["height"] < 0.15 * height, layout
        assert layout["stage"]["bottom"] <= layout["strip"]["top"], "the strip covers no slide"
        assert layout["text"]["bottom"] <= height and layout["text"]["right"] <= width, layout
        assert (await player.page.evaluate(TEXT_PROBLEMS, slides))["problems"] == [], (width, height)
    assert player.errors == player.failed_loads == []


# live

async def test_a_new_item_reaches_the_screen_within_2_s_and_is_shown_next(
    player: Watched, daemon: Daemon, feed: Feed
) -> None:
    await open_screen(player, daemon)
    feed.news.insert(0, news("fresh", "Fresh: the new roster is out"))
    await asyncio.wait_for(daemon.ingested("news", "fresh"), DEADLINE)
    await wait_for_item(player, "item:news:fresh", LIVE_MS)
    arrived = now_ms()
    await wait_for_slide_changes(player, 1, arrived, SLIDE_SECONDS + 5)
    assert (await events(player, "slide", arrived))[0]["value"] == "item:news:fresh"


async def test_an_emergency_takes_over_within_2_s_and_leaves_when_it_expires(
    player: Watched, daemon: Daemon, feed: Feed
) -> None:
    await open_screen(player, daemon)
    expires = datetime.now(UTC) + timedelta(seconds=8)
    feed.alerts.append({"id": "flood", "title": "Flooding: leave the ground floor", "text": "Use the east stairs.",
                        "link": "https://intranet.example.org/flood", "pinned": True, "takeover": True,
                        "expires": expires.isoformat()})
    await asyncio.wait_for(daemon.ingested("alerts", "flood"), DEADLINE)
    takeover = player.page.locator("#takeover .alert-takeover")
    await takeover.wait_for(state="visible", timeout=LIVE_MS)
    assert "Flooding: leave the ground floor" in await takeover.inner_text()
    box = await takeover.bounding_box()
    assert box is not None and (box["width"], box["height"]) == (1920, 1080)
    await player.page.locator("#takeover").wait_for(state="hidden", timeout=(expires.timestamp() + 3) * 1000 - now_ms())
    assert now_ms() >= expires.timestamp() * 1000 - 500, "it left before it expired"
    assert player.errors == player.failed_loads == []


# outages

@pytest.mark.timeout(240)
async def test_without_the_daemon_it_keeps_rotating_and_reconnects_when_it_is_back(
    player: Watched, daemon: Daemon, feed: Feed
) -> None:
    await open_screen(player, daemon)
    await player.page.wait_for_function("() => document.documentElement.dataset.state === 'online'", timeout=10_000)
    await player.page.evaluate("() => { window.__marker = 'no reload'; }")
    await daemon.stop()
    stopped = now_ms()
    await player.page.wait_for_function("() => document.documentElement.dataset.state === 'offline'", timeout=5_000)
    minute = stopped + 60_000
    await player.page.wait_for_function("t => window.__log.some(e => e.name === 'slide' && e.at >= t)", arg=minute,
                                        timeout=80_000)
    changes = [e["at"] for e in await events(player, "slide", stopped) if e["at"] <= minute]
    gaps = [(b - a) / 1000 for a, b in zip([stopped, *changes], [*changes, minute])]
    assert len(changes) >= 60 // (SLIDE_SECONDS + 1) and max(gaps) <= SLIDE_SECONDS + 1.5, gaps
    assert await player.page.evaluate("() => document.documentElement.dataset.state") == "offline"

    await daemon.start()
    await player.page.wait_for_function("() => document.documentElement.dataset.state === 'online'", timeout=50_000)
    feed.news.insert(0, news("after", "Back after the outage"))
    await asyncio.wait_for(daemon.ingested("news", "after"), DEADLINE)
    await wait_for_item(player, "item:news:after", LIVE_MS)
    assert await player.page.evaluate("() => window.__marker") == "no reload"


async def test_a_reload_during_an_outage_still_shows_the_last_slides(player: Watched, daemon: Daemon) -> None:
    await open_screen(player, daemon)
    await player.page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)
    await player.page.reload()  # now through the service worker, which keeps what it passes on
    await player.page.wait_for_function("() => document.documentElement.dataset.state === 'online'", timeout=10_000)
    keys = [s["key"] for s in (await player_playlist(player))["slides"]]
    await daemon.stop()
    response = await player.page.reload()
    assert response is not None and response.status == 200
    picture = player.page.locator('.slide[data-key="item:news:canteen"] .media img')
    assert await picture.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0, "the picture, from the cache"
    await wait_for_slide_changes(player, 3, 0, 2 * SLIDE_SECONDS + 10)
    assert [e["value"] for e in await events(player, "slide")][:3] == keys[:3]
    assert await player.page.evaluate("() => document.documentElement.dataset.state") == "offline"
    assert await player.page.locator(".layer.is-current .slide").count() == 1


# safety

async def test_a_hostile_item_executes_nothing(player: Watched, daemon: Daemon, feed: Feed) -> None:
    await open_screen(player, daemon)
    feed.news.insert(0, news(
        "evil", "<script>alert(1)</script><img src=x onerror=alert(2)>",
        '<a href="javascript:alert(3)">Read</a> <img src=x onerror=alert(4)> <script>alert(5)</script>'))
    feed.alerts.append({"id": "evil", "title": "<img src=x onerror=alert(6)>Evil banner", "pinned": True,
                        "text": '<script>alert(7)</script><a href="javascript:alert(8)">more</a>',
                        "link": "https://intranet.example.org/evil"})
    await asyncio.wait_for(daemon.ingested("news", "evil"), DEADLINE)
    await player.page.wait_for_function(
        "() => document.documentElement.dataset.slide === 'item:news:evil'", timeout=(SLIDE_SECONDS + 5) * 1000)
    await player.page.locator("#banner .alert-banner").wait_for(state="visible", timeout=(SLIDE_SECONDS + 5) * 1000)
    assert "Evil banner" in await player.page.inner_text("#banner")
    await wait_for_slide_changes(player, 1, now_ms(), SLIDE_SECONDS + 5)
    assert player.errors == []  # a picture that does not load (src=x) is no error of this kind


async def test_no_token_or_a_wrong_token_is_403(player: Watched, daemon: Daemon) -> None:
    for url in (f"{daemon.base}/screens/hall", f"{daemon.base}/screens/hall?token=night-token-1234"):
        response = await player.page.goto(url)
        assert response is not None and response.status == 403
        assert "Hall is not set up" in await player.page.inner_text("h1")


async def test_outside_its_hours_a_screen_shows_the_idle_slide(player: Watched, daemon: Daemon) -> None:
    await open_screen(player, daemon, "night", "night-token-1234")
    assert await player.page.evaluate("() => document.documentElement.dataset.slide") == "idle:off"
    await player.page.locator(".layer.is-current .slide-idle .time").wait_for(state="visible")
    assert player.errors == player.failed_loads == []
