"""The admin's Recipients page in Chromium against `intracast run` (issue 14, item 3): the people of the
config's list and its CSV are found by email, name or group, also after a digest was sent to them; one who
unsubscribed through the link in their digest is resubscribed only with a reason, which is kept."""

from __future__ import annotations

import asyncio
import mailbox
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.browser.conftest import Daemon, Feed, Watched, config_text, every_block_shows
from tests.browser.test_admin import WAIT_MS, admin, flash, log_in, password_hash  # noqa: F401 (admin: a fixture)
from tests.intracast.test_daemon import DEADLINE

pytestmark = pytest.mark.asyncio(loop_scope="session")

PEOPLE = "email;name;groups\nbram@example.org;Bram de Vries;zorg|Team Noord\ncees@example.org;Cees Bakker;ict\n"
EVERYONE = ["anna@example.org", "bram@example.org", "cees@example.org"]


@pytest_asyncio.fixture(loop_scope="session")
async def daemon(tmp_path: Path, feed: Feed) -> AsyncIterator[Daemon]:
    config = tmp_path / "intracast.yaml"
    # Due three hours from now: no start-up run, so the digest Anna gets is the one "send now" sends.
    later = (datetime.now(UTC) + timedelta(hours=3)).astimezone(ZoneInfo("Europe/Amsterdam"))
    (tmp_path / "people.csv").write_text(PEOPLE)
    config.write_text(config_text(feed.url, datetime.now(UTC)) + f"""\
admin: {{password_hash: "{password_hash()}"}}
recipients: {{file: people.csv, list: [{{email: anna@example.org, name: Anna Jansen}}]}}
digests: [{{name: daily, schedule: "{later.minute} {later.hour} * * *", sources: [news]}}]
""")
    daemon = Daemon(config)
    await daemon.start()
    try:
        await asyncio.wait_for(every_block_shows(daemon), DEADLINE)  # the news is in: Anna's digest has some
        yield daemon
    finally:
        await daemon.stop()


async def search(page: Page, text: str) -> list[str]:
    """Search the Recipients page as an admin types it; the addresses it lists."""
    await page.fill("#q", text)
    await page.click("form.search button")
    await page.wait_for_url(re.compile(r"/admin/recipients\?q="), timeout=WAIT_MS)
    return [email.strip() for email in await page.locator("table.stack td[data-label=Email]").all_inner_texts()]


async def unsubscribe_link(outbox: Path, address: str) -> str:
    """The path of the unsubscribe link in the digest mailed to `address`, once the sender wrote it."""
    while True:
        box = mailbox.Maildir(outbox, create=False) if (outbox / "new").exists() else None
        for key in box.keys() if box else []:
            mail = message_from_bytes(box.get_bytes(key), policy=policy.default)
            if mail["To"] and address in mail["To"]:
                found = re.search(r"/u/[^>,\s]+", str(mail["List-Unsubscribe"]))
                assert found, mail["List-Unsubscribe"]
                return found.group(0)
        await asyncio.sleep(0.1)  # polling interval, bounded by the caller's deadline


async def test_an_admin_finds_recipients_and_resubscribes_one_with_a_reason(
    admin: Watched, daemon: Daemon, browser: Browser  # noqa: F811
) -> None:
    page, base = admin.page, daemon.base
    await log_in(page, base)
    await page.goto(f"{base}/admin/digests")
    await page.locator("form[action$='/digests/daily/send'] button").click()
    await flash(page)
    link = await asyncio.wait_for(unsubscribe_link(daemon.config.parent / "var" / "outbox", "anna@example.org"),
                                  DEADLINE)

    employee = await browser.new_context(locale="en-GB")
    mailbox_page = await employee.new_page()
    await mailbox_page.goto(f"{base}{link}")  # Anna follows the link in her digest, and confirms
    await mailbox_page.click("button[type=submit]")
    await mailbox_page.get_by_text("You are unsubscribed").wait_for(timeout=WAIT_MS)
    await employee.close()

    await page.goto(f"{base}/admin/recipients")
    assert await search(page, "") == EVERYONE
    assert await search(page, "example") == EVERYONE
    assert await search(page, "de vries") == ["bram@example.org"]
    assert await search(page, "noord") == ["bram@example.org"]  # a group
    assert await search(page, "anna") == ["anna@example.org"]
    row = page.locator("table.stack tbody tr")
    assert "Unsubscribed" in await row.inner_text()

    await page.fill("form.resubscribe input[name=reason]", "   ")  # `required` is met; the daemon refuses it
    await page.click("form.resubscribe button")
    assert "Give a reason" in await page.locator("form.resubscribe p.bad").inner_text(timeout=WAIT_MS)
    await page.fill("form.resubscribe input[name=reason]", "Asked by phone, ticket 42")
    await page.click("form.resubscribe button")
    assert await flash(page) == "anna@example.org gets the digest again."
    assert "Subscribed" in await row.inner_text()
    history = await page.locator("table").last.inner_text()
    assert "anna@example.org" in history and "Asked by phone, ticket 42" in history and "admin" in history
    assert admin.errors == []
