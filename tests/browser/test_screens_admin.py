"""The Screens page's parts that run in a browser (issue 7): a second browser paired as a screen by
its code (pair.js), and the live preview of a screen, which must not pass for the screen.

Served in this process on loopback (the admin pages and the screens' routes, as the daemon composes
them: tests/intracast/admin/screens_dashboard.py), so the test can claim a code the way the admin's
form does, through `Screens.pair`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Request

from intracast.admin.context import Admin
from intracast.ingest import utcnow
from tests.browser.conftest import watch
from tests.intracast.admin.conftest import PASSWORD, write_config
from tests.intracast.admin.screens_dashboard import screens_app

pytestmark = pytest.mark.asyncio(loop_scope="session")

WAIT_MS = 10_000  # pair.js polls every 3 s


@pytest_asyncio.fixture(loop_scope="session")
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Admin]]:
    config = write_config(tmp_path, "http://127.0.0.1:9")  # its sources are never fetched here
    async with screens_app(config, utcnow) as (app, admin):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", admin
        await runner.cleanup()


async def test_a_second_browser_becomes_a_screen_by_the_code_it_shows(
    browser: Browser, served: tuple[str, Admin]
) -> None:
    base, admin = served
    assert admin.screens is not None
    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
    tv = watch(await context.new_page())
    await tv.page.goto(f"{base}/screens/pair")
    code = (await tv.page.text_content("#code") or "").replace(" ", "")
    box = await tv.page.locator("#code").bounding_box()
    assert box is not None and box.get("height", 0) > 150  # px at 1080p: legible across a room

    assert await admin.screens.pair(code, "canteen", by="admin")
    await tv.page.wait_for_url(f"{base}/screens/canteen", timeout=WAIT_MS)
    await tv.page.wait_for_function("() => document.documentElement.dataset.slide", timeout=WAIT_MS)
    assert tv.errors == tv.failed_loads == []
    await context.close()


async def test_the_preview_rotates_on_the_screens_page_without_passing_for_the_screen(
    browser: Browser, served: tuple[str, Admin]
) -> None:
    base, admin = served
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    watched = watch(await context.new_page())
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    watched.page.on("request", record)
    await watched.page.goto(f"{base}/admin/login")
    await watched.page.fill("#username", "admin")
    await watched.page.fill("#password", PASSWORD)
    await watched.page.click("button[type=submit]")
    await watched.page.goto(f"{base}/admin/screens")
    frame = watched.page.frame_locator('iframe[src="/admin/screens/canteen/preview"]')
    # Online once its first poll of the playlist came back: a screen would have sent its heartbeat before.
    await frame.locator("html[data-state=online][data-slide]").wait_for(state="attached", timeout=WAIT_MS)

    assert not [url for url in requests if url.endswith("/heartbeat") or url.endswith("/events")]
    assert await admin.store.last_heartbeats() == {}
    assert watched.errors == watched.failed_loads == []  # a refused frame or script would show here
    await context.close()
