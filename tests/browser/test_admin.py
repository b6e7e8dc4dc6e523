"""The dashboard driven in Chromium against `intracast run` (issue 7, "What the tests must show"):
login, every page with real data, fetch now, a digest's preview, send to me, an override, pairing a
second browser as a screen; nothing without login; a form without its CSRF token is refused."""

from __future__ import annotations

import asyncio
import functools
import mailbox
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from intracast.admin.passwords import hash_password
from tests.browser.conftest import TOKEN, Daemon, Feed, Watched, config_text, every_block_shows, watch
from tests.intracast.test_daemon import DEADLINE

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "a password for the browser tests"
ADMIN_EMAIL = "comms@example.org"
WAIT_MS = 15_000


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest_asyncio.fixture(loop_scope="session")
async def daemon(tmp_path: Path, feed: Feed) -> AsyncIterator[Daemon]:
    config = tmp_path / "intracast.yaml"
    # Due three hours from now: the start-up check finds no window to catch up, so An has had nothing
    # (the preview shows the items, and "send to me" is the only mail).
    later = (datetime.now(UTC) + timedelta(hours=3)).astimezone(ZoneInfo("Europe/Amsterdam"))
    config.write_text(config_text(feed.url, datetime.now(UTC)) + f"""\
admin: {{password_hash: "{password_hash()}", email: {ADMIN_EMAIL}}}
recipients: {{list: [{{email: an@example.org, name: An}}]}}
digests: [{{name: daily, schedule: "{later.minute} {later.hour} * * *", sources: [news]}}]
""")
    daemon = Daemon(config)
    await daemon.start()
    await asyncio.wait_for(every_block_shows(daemon), DEADLINE)
    yield daemon
    await daemon.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def admin(browser: Browser) -> AsyncIterator[Watched]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    yield watch(await context.new_page())
    await context.close()


async def log_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/admin/sources")
    assert page.url.startswith(f"{base}/admin/login"), "no page without login"
    await page.fill("#username", "admin")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/admin/sources", timeout=WAIT_MS)  # back where it was going


async def flash(page: Page) -> str:
    return (await page.locator("p.flash").inner_text(timeout=WAIT_MS)).strip()


def mails_to(outbox: Path, address: str) -> list[str]:
    box = mailbox.Maildir(outbox, create=False)
    return [key for key, message in box.items() if address in (message["To"] or "")]


async def test_an_admin_drives_every_page(admin: Watched, daemon: Daemon, browser: Browser) -> None:
    page, base = admin.page, daemon.base
    await log_in(page, base)

    for entry in await page.locator("nav a").all():
        href = await entry.get_attribute("href")
        await page.goto(f"{base}{href}")
        assert (await page.locator("h1").inner_text()).strip(), href
    await page.goto(f"{base}/admin/")
    overview = await page.inner_text("main")
    assert "intracast 0.1.0" in overview and "3 healthy" in overview and "2 offline" in overview, overview

    await page.goto(f"{base}/admin/sources")
    await page.locator("form[action$='/sources/news/fetch'] button").click()
    assert "news" in await flash(page)

    await page.goto(f"{base}/admin/digests")
    await page.locator("input[name=recipient]").first.fill("an@example.org")
    await page.locator("form.search button").first.click()
    preview = page.frame_locator("iframe.mail")
    await preview.locator("body").wait_for(timeout=WAIT_MS)
    assert "Plek" in await preview.locator("body").inner_text()
    await page.goto(f"{base}/admin/digests")
    await page.locator("form[action$='/send-to-me'] button").first.click()
    await flash(page)
    outbox = daemon.config.parent / "var" / "outbox"
    while not (outbox / "new").exists() or not mails_to(outbox, ADMIN_EMAIL):
        await asyncio.sleep(0.1)  # polling interval, bounded by the test's timeout: the sender drains it
    assert mails_to(outbox, "an@example.org") == [], "send to me sends to me only"

    await page.goto(f"{base}/admin/screens")
    await page.fill("#override-title", "Fire alarm test at 11:00")
    await page.check("input[name=mode][value=takeover]")
    await page.check("input[name=screens][value=hall]")
    await page.click("form[action$='/screens/overrides'] button[type=submit]")
    await page.locator("form.lift").first.wait_for(timeout=WAIT_MS)
    tv = await tv_screen(browser, base)
    await tv.page.locator("#takeover .alert-takeover").wait_for(state="visible", timeout=WAIT_MS)
    await page.locator("form.lift button").first.click()
    await tv.page.locator("#takeover").wait_for(state="hidden", timeout=WAIT_MS)
    await tv.page.context.close()

    await pair_a_second_browser(page, browser, base)
    assert admin.errors == []


async def tv_screen(browser: Browser, base: str) -> Watched:
    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
    tv = watch(await context.new_page())
    await tv.page.goto(f"{base}/screens/hall?token={TOKEN}")
    await tv.page.wait_for_function("() => document.documentElement.dataset.state === 'online'", timeout=WAIT_MS)
    return tv


async def pair_a_second_browser(page: Page, browser: Browser, base: str) -> None:
    context = await browser.new_context(viewport={"width": 1920, "height": 1080})
    tv = watch(await context.new_page())
    await tv.page.goto(f"{base}/screens/pair")
    code = (await tv.page.text_content("#code") or "").replace(" ", "")
    await page.goto(f"{base}/admin/screens")
    await page.fill("#pair-code", code.lower())  # typed as it comes
    await page.select_option("#pair-screen", "hall")
    await page.click("form[action$='/pair'] button[type=submit]")
    await flash(page)
    await tv.page.wait_for_url(f"{base}/screens/hall", timeout=WAIT_MS)
    await tv.page.wait_for_function("() => document.documentElement.dataset.slide", timeout=WAIT_MS)
    assert tv.errors == []
    await context.close()


async def test_a_form_without_its_csrf_token_is_refused(admin: Watched, daemon: Daemon) -> None:
    page, base = admin.page, daemon.base
    await log_in(page, base)
    await page.evaluate("() => document.querySelectorAll('input[name=csrf]').forEach(i => i.remove())")
    async with page.expect_response(lambda r: r.url.endswith("/sources/news/fetch")) as answer:
        await page.locator("form[action$='/sources/news/fetch'] button").click()
    assert (await answer.value).status == 403
