"""The Digests page on a real store and the daemon's own `Digests`: the list in Dutch and English, a preview
that records nothing, "send now" through the outbox, "send to me" to the admin's address alone."""

from __future__ import annotations

import logging
import mailbox
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient

from intracast.admin.context import FixedConfig
from intracast.admin.digests import Rhythm, rhythm
from intracast.admin.outbox import MAIL_CSP
from intracast.admin.render import FRAMING_CSP
from intracast.digests import Digests
from sources.item import Item
from tests.intracast.admin.conftest import Clock, Dashboard, Feed, Page, open_dashboard

DIGESTS = """\
digests:
  - {name: daily, schedule: "30 8 * * 1-5", sources: [news]}
  - {name: zorg, schedule: "0 7,12 * * *", audience: [zorg]}
  - {name: events, schedule: "0 9 * * 1", sources: [events]}
"""
ME = "me@example.org"


@pytest.fixture
async def page(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
               clock: Clock) -> AsyncIterator[Dashboard]:
    """Logged in, with three digests and two items of news from the last hours."""
    async for dashboard in open_dashboard(tmp_path, aiohttp_client, feed, clock, extra=DIGESTS):
        items = [Item(source="news", guid=f"n{i}", title=f"Canteen news {i}",
                      link=f"https://intranet.example.org/n/{i}", published=clock.now - timedelta(hours=i + 1))
                 for i in range(2)]
        await dashboard.store.upsert_items(items, clock.now - timedelta(minutes=5))
        assert (await dashboard.login()).status == 303
        yield dashboard


def digests(dashboard: Dashboard) -> Digests:
    assert dashboard.admin.digests is not None
    return dashboard.admin.digests


def set_admin_email(dashboard: Dashboard, email: str | None) -> None:
    """The config with `admin.email` set, as a reload would bring it."""
    state = dashboard.admin.config
    assert isinstance(state, FixedConfig) and state.loaded.config.admin is not None
    admin = state.loaded.config.admin.model_copy(update={"email": email})
    state.loaded = replace(state.loaded, config=state.loaded.config.model_copy(update={"admin": admin}))


async def flash(dashboard: Dashboard, response_status: int, locale: str = "en") -> str:
    assert response_status == 303
    return " ".join(Page(await (await dashboard.client.get(
        "/admin/digests", headers={"Accept-Language": locale})).text()).text.split())


@pytest.mark.parametrize(("locale", "words"), [
    ("en", ["daily Schedule 30 8 * * 1-5 · Monday to Friday at 08:30 in each recipient's own time zone",
            "Sources news Audience everyone Next run 25 Nov 2026 08:30 Last run not run yet",
            "zorg Schedule 0 7,12 * * * in each recipient's own time zone Sources all Audience zorg",
            "events Schedule 0 9 * * 1 · every Monday at 09:00", "Next run 30 Nov 2026 09:00",
            "Send now", "Send to me"]),
    ("nl", ["daily Planning 30 8 * * 1-5 · maandag tot en met vrijdag om 08:30",
            "Volgende keer 25 nov 2026 08:30 Laatste keer nog niet gelopen", "Bronnen alle Doelgroep zorg",
            "elke maandag om 09:00",
            "Nu versturen", "Naar mij sturen"]),
])
async def test_the_page_lists_each_digest_with_its_next_run_in_the_intranet_s_time(
    page: Dashboard, locale: str, words: list[str]
) -> None:
    # Tuesday 10:00 in Amsterdam: the next weekday 08:30 is Wednesday's, 07:30 UTC.
    shown = await page.page("/admin/digests", locale)
    assert shown.lang == locale
    for phrase in words:
        assert phrase in shown.text, phrase
    assert shown.nav[:5] == ["/admin/", "/admin/sources", "/admin/digests", "/admin/outbox", "/admin/recipients"]
    assert [form["action"] for form in shown.forms if form["method"] == "post"][1:] == [
        "/admin/digests/daily/send", "/admin/digests/daily/send-to-me",
        "/admin/digests/zorg/send", "/admin/digests/zorg/send-to-me",
        "/admin/digests/events/send", "/admin/digests/events/send-to-me"]


async def test_the_next_run_is_the_scheduler_s_when_it_has_the_digest_s_job(page: Dashboard) -> None:
    async def never() -> None:
        raise AssertionError("the tests run no scheduled job")

    page.admin.scheduler.once("digest:daily", never, datetime(2099, 1, 5, 7, 30, tzinfo=UTC))
    assert "Next run 5 Jan 2099 08:30" in (await page.page("/admin/digests")).text


async def test_a_preview_shows_subject_headers_text_and_sandboxed_html_and_records_nothing(page: Dashboard) -> None:
    response = await page.client.get("/admin/digests/daily/preview", params={"recipient": "Anna@example.org"})
    assert response.status == 200
    assert response.headers["Content-Security-Policy"] == FRAMING_CSP
    shown = Page(await response.text())
    assert "Subject 2 nieuwe berichten op Plek Recipient anna@example.org (Anna Jansen)" in shown.text
    assert "To Anna Jansen <anna@example.org>" in shown.text  # the headers
    assert "Canteen news 0" in shown.text and "https://intranet.example.org/n/1" in shown.text  # the text part
    [frame] = shown.iframes
    assert frame["sandbox"] == "" and frame["src"] == "/admin/digests/daily/preview.html?recipient=Anna@example.org"

    html = await page.client.get(frame["src"] or "")
    assert html.status == 200 and html.content_type == "text/html"
    assert html.headers["Content-Security-Policy"] == MAIL_CSP
    assert "Canteen news 1" in await html.text()

    assert await page.store.outbox(10) == []
    assert await page.store.last_window_ends("daily") == {}
    assert await page.store.outcomes_for("anna@example.org") == []


async def test_a_preview_says_who_the_schedule_skips(page: Dashboard) -> None:
    shown = await page.page("/admin/digests/zorg/preview?recipient=anna@example.org")
    assert "Canteen news 0" in shown.text
    assert "anna@example.org is not in this digest's audience: the schedule does not send it to them." in shown.text
    assert "audience" not in (await page.page("/admin/digests/daily/preview?recipient=anna@example.org")).text


async def test_a_preview_says_when_there_is_nothing_new_or_no_such_recipient(page: Dashboard) -> None:
    nothing = await page.page("/admin/digests/events/preview?recipient=anna@example.org")
    assert "Nothing new for anna@example.org now" in nothing.text and not nothing.iframes
    stranger = await page.page("/admin/digests/daily/preview?recipient=nobody@example.org", status=404)
    assert "nobody@example.org is not a recipient" in stranger.text
    assert (await page.client.get("/admin/digests/daily/preview.html?recipient=nobody@example.org")).status == 404


async def test_send_now_queues_one_message_per_recipient_and_a_second_queues_none(
    page: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        response = await page.post("/admin/digests/daily/send", {})
    assert response.headers["Location"] == "/admin/digests"
    assert "daily: 2 messages queued." in await flash(page, response.status)
    assert "admin.action user=admin action=digest.send target=daily" in caplog.text
    rows = await page.store.outbox(10)
    assert sorted(row.key.recipient for row in rows) == ["anna@example.org", "bram@example.org"]
    assert {row.key.window_end for row in rows} == {page.clock.now}
    assert "Last run 24 Nov 2026 10:00 2 queued" in (await page.page("/admin/digests")).text

    again = await page.post("/admin/digests/daily/send", {})
    assert "daily: 0 messages queued. 2 recipients had nothing new." in await flash(page, again.status)
    assert len(await page.store.outbox(10)) == 2


async def test_send_now_words_who_did_not_get_it_in_dutch(page: Dashboard) -> None:
    response = await page.post("/admin/digests/zorg/send", {})
    assert ("zorg: 0 berichten in de wachtrij gezet. 2 ontvangers krijgen hem niet "
            "(afgemeld, uitgezet of niet in de doelgroep).") in await flash(page, response.status, "nl")
    assert "Laatste keer 24 nov 2026 10:00 2 niet in de doelgroep" in (await page.page("/admin/digests", "nl")).text


async def test_send_to_me_mails_the_admin_s_address_and_nobody_else(
    page: Dashboard, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    set_admin_email(page, ME)
    assert f"to {ME} only" in (await page.page("/admin/digests")).text
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        response = await page.post("/admin/digests/daily/send-to-me", {})
    assert f"daily is on its way to {ME}." in await flash(page, response.status)
    assert "admin.action user=admin action=digest.send_to_me target=daily" in caplog.text
    [row] = await page.store.outbox(10)
    assert row.key.recipient == ME

    backend = digests(page).backend
    await backend.open()
    try:
        assert (await digests(page).sender.drain()).sent == 1
    finally:
        await backend.close()
    [mail] = mailbox.Maildir(tmp_path / "var" / "outbox", create=False)
    assert mail["To"] == ME and "Canteen news 0" in mail.get_payload()[0].get_payload(decode=True).decode()

    # Nothing counts as sent to anyone: the recipients' own digests still hold both items.
    assert await page.store.last_window_ends("daily") == {}
    assert await page.store.delivered_item_ids(ME) == set()
    assert "Last run not run yet" in (await page.page("/admin/digests")).text
    await page.post("/admin/digests/daily/send", {})
    assert len(await page.store.outbox(10)) == 3


async def test_send_to_me_says_so_when_the_digest_has_nothing_for_the_admin(page: Dashboard) -> None:
    set_admin_email(page, ME)
    response = await page.post("/admin/digests/events/send-to-me", {})
    assert f"events has nothing new for {ME} now, so nothing was sent." in await flash(page, response.status)
    assert await page.store.outbox(10) == []


async def test_send_to_me_is_off_without_the_admin_s_address(page: Dashboard) -> None:
    shown = await page.page("/admin/digests")
    assert "Send to me needs your address: add email to the admin section of the config." in shown.text
    response = await page.post("/admin/digests/daily/send-to-me", {})
    assert "Send to me needs your address" in await flash(page, response.status)
    assert await page.store.outbox(10) == []


@pytest.mark.parametrize("action", ["send", "send-to-me"])
async def test_a_form_without_its_csrf_token_is_refused(page: Dashboard, action: str) -> None:
    set_admin_email(page, ME)
    response = await page.post(f"/admin/digests/daily/{action}", {}, csrf=False)
    assert response.status == 403
    assert await page.store.outbox(10) == []


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/digests/nope/preview?recipient=anna@example.org"),
    ("GET", "/admin/digests/nope/preview.html?recipient=anna@example.org"),
    ("POST", "/admin/digests/nope/send"),
    ("POST", "/admin/digests/nope/send-to-me"),
])
async def test_an_unknown_digest_is_not_found(page: Dashboard, method: str, path: str) -> None:
    set_admin_email(page, ME)
    if method == "GET":
        response = await page.client.get(path)
    else:
        response = await page.post(path, {})
    assert response.status == 404


@pytest.mark.parametrize(("cron", "expected"), [
    ("30 8 * * *", Rhythm("08:30", "daily")),
    ("0 9 * * mon-fri", Rhythm("09:00", "weekdays")),
    ("15 7 * * 7", Rhythm("07:15", "weekly", 0)),
    ("0 7,12 * * *", None),  # twice a day
    ("0 8 1 * *", None),  # monthly
    ("0 8 * * 1,3", None),
    ("*/30 8 * * *", None),
])
def test_a_simple_schedule_is_said_in_words(cron: str, expected: Rhythm | None) -> None:
    assert rhythm(cron) == expected
