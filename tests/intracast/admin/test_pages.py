"""Every page with real data in a real store, in Dutch and English; fetch now, the outbox, resubscribing."""

from __future__ import annotations

import logging
import re

import pytest

from tests.intracast.admin.conftest import Dashboard, Page
from tests.intracast.admin.seed import seed

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
# (path, words only that page shows in English, and in Dutch)
PAGES = [
    ("/admin/", ["Messages today", "1 healthy", "1 degraded", "1 online", "1 offline", "1 sent", "1 deferred",
                 "1 failed", "1 queued", "Running for 3 hours"],
     ["Berichten vandaag", "1 gezond", "1 verstoord", "1 verbonden", "1 niet verbonden", "1 verzonden",
      "Draait al 3 uur"]),
    ("/admin/sources", ["Fetched every 15m", "Items held 12", "News item 0", "source 'events': HTTP 503", "Fetch now"],
     ["Opgehaald elke 15m", "Berichten bewaard 12", "News item 0", "Nu ophalen"]),
    ("/admin/outbox", ["Digest deferred", "421 4.7.0 Try again later", "550 5.1.1 No such user", "bounce@example.org"],
     ["Postvak uit", "uitgesteld", "421 4.7.0 Try again later"]),
    ("/admin/recipients", ["Anna Jansen zorg daily (their own choice)", "Why resubscribe them?", "Subscribed",
                           "Bram de Vries ict, Team Noord weekly"],
     ["Anna Jansen zorg dagelijks (eigen keuze)", "Waarom weer aanmelden?", "Aangemeld", "E-mailadres, naam of groep"]),
]


@pytest.fixture
async def seeded(logged_in: Dashboard) -> Dashboard:
    await seed(logged_in.store, logged_in.clock.now)
    return logged_in


@pytest.mark.parametrize("locale", ["en", "nl"])
@pytest.mark.parametrize(("path", "english", "dutch"), PAGES, ids=[p[0] for p in PAGES])
async def test_every_page_renders_with_real_data_in_both_languages(
    seeded: Dashboard, path: str, english: list[str], dutch: list[str], locale: str
) -> None:
    response = await seeded.client.get(path, headers={"Accept-Language": locale})
    assert response.status == 200
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.text()
    assert "style=" not in html and "<script" not in html  # the CSP would refuse both
    page = Page(html)
    assert page.lang == locale
    for words in english if locale == "en" else dutch:
        assert words in page.text, (path, words)
    assert page.nav[:4] == ["/admin/", "/admin/sources", "/admin/outbox", "/admin/recipients"]


async def test_the_nav_lists_only_the_pages_that_exist(seeded: Dashboard) -> None:
    page = await seeded.page("/admin/")
    assert "Overview Sources Outbox Recipients Log out admin" in page.text
    for path in ("/admin/digests", "/admin/screens"):
        assert path not in page.nav
        assert (await seeded.client.get(path)).status == 404


async def test_the_overview_shows_a_refused_config_s_problems(seeded: Dashboard) -> None:
    problem = "config/intracast.yaml:12:5: sources[news].every: invalid duration '5x'"
    seeded.admin.config.problems.append(problem)
    page = await seeded.page("/admin/")
    assert "The changed config was refused" in page.text and problem in page.text
    seeded.admin.config.problems.clear()
    assert "refused" not in (await seeded.page("/admin/")).text


async def test_the_sources_page_shows_each_source_and_its_latest_ten_items(seeded: Dashboard) -> None:
    page = await seeded.page("/admin/sources")
    assert re.search(r"news healthy Type rss Fetched every 15m · next .* Last success 24 Nov 2026 09:55", page.text)
    assert "events degraded Type rss Fetched every 1h Last success – Last error 24 Nov 2026 09:50:" in page.text
    items = [link for link in page.links if (link["href"] or "").startswith("https://intranet.example.org/n/")]
    assert [link["href"] for link in items] == [f"https://intranet.example.org/n/{i}" for i in range(10)]
    assert all(link["target"] == "_blank" and "noopener" in (link["rel"] or "") for link in items)
    assert [form["action"] for form in page.forms if "fetch" in (form["action"] or "")] == [
        "/admin/sources/news/fetch", "/admin/sources/events/fetch"]


async def test_fetch_now_fetches_the_feed_and_says_how_many_items_came_in(
    logged_in: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    refreshed = []

    async def after_fetch() -> None:
        refreshed.append(True)

    logged_in.admin.after_fetch = after_fetch
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        response = await logged_in.post("/admin/sources/news/fetch", {})
    assert (response.status, response.headers["Location"]) == (303, "/admin/sources")
    assert "admin.action user=admin action=fetch target=news" in caplog.text
    assert logged_in.feed.hits == {"news": 1} and refreshed == [True]
    page = await logged_in.page("/admin/sources")
    assert "news: fetched 2 items, 2 new and 0 updated." in page.text
    assert "Canteen closed Friday" in page.text and "New roster" in page.text
    assert [item.title for item in await logged_in.store.get_items("news")] == ["New roster", "Canteen closed Friday"]
    assert "fetched 2 items" not in (await logged_in.page("/admin/sources")).text, "a flash shows once"
    logged_in.feed.titles.append("Third")
    await logged_in.post("/admin/sources/news/fetch", {})
    assert "news: opgehaald" not in (page := await logged_in.page("/admin/sources", locale="nl")).text
    assert "news: 3 berichten opgehaald, 1 nieuw en 0 bijgewerkt." in page.text


async def test_fetch_now_says_what_went_wrong(logged_in: Dashboard) -> None:
    response = await logged_in.post("/admin/sources/events/fetch", {})
    assert response.status == 303
    page = await logged_in.page("/admin/sources")
    assert re.search(r"events: the fetch failed: source 'events': .*HTTP 500", page.text), page.text
    assert (await logged_in.store.get_fetch_state("events")).consecutive_failures == 1


async def test_fetch_now_of_an_unknown_source_is_not_found(logged_in: Dashboard) -> None:
    response = await logged_in.post("/admin/sources/nope/fetch", {})
    assert response.status == 404
    assert logged_in.feed.hits == {}


async def test_a_message_shows_its_headers_html_and_text_as_sent(seeded: Dashboard) -> None:
    failed = next(row for row in await seeded.store.outbox(10) if row.key.recipient == "bounce@example.org")
    outbox = await seeded.page("/admin/outbox")
    assert f"/admin/outbox/{failed.id}" in [link["href"] for link in outbox.links]
    response = await seeded.client.get(f"/admin/outbox/{failed.id}")
    assert response.headers["Content-Security-Policy"] == CSP + "; frame-src 'self'"
    page = Page(await response.text())
    for words in ("Digest failed", "State failed Attempts 1", "550 5.1.1 No such user", "To bounce@example.org",
                  "Subject Digest failed", "From Plek <digest@intranet.example.org>",
                  "Hello, Digest failed: Canteen closed Friday"):
        assert words in page.text, words
    [frame] = page.iframes
    assert frame["sandbox"] == "" and frame["src"] == f"/admin/outbox/{failed.id}/html"
    html = await seeded.client.get(frame["src"])
    assert html.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none';")
    assert "frame-ancestors 'self'" in html.headers["Content-Security-Policy"]
    assert "<h1>Nieuw op Plek</h1>" in await html.text()


async def test_a_missing_message_is_not_found(seeded: Dashboard) -> None:
    for path in ("/admin/outbox/999", "/admin/outbox/999/html"):
        assert (await seeded.client.get(path)).status == 404


async def test_recipients_are_found_by_email_name_or_group(seeded: Dashboard) -> None:
    async def found(query: str) -> list[str]:
        page = await seeded.page(f"/admin/recipients?q={query}")
        return re.findall(r"\S+@example\.org", page.text.split("Resubscribed by an admin")[0])

    assert await found("") == ["anna@example.org", "bram@example.org", "cas_1@example.org"]
    assert await found("DE VRIES") == ["bram@example.org"]
    assert await found("anna@") == ["anna@example.org"]
    assert await found("%25") == ["cas_1@example.org"]  # "%" is a character, not a wildcard
    assert await found("s_") == ["cas_1@example.org"]
    assert await found("ZORG") == ["anna@example.org"]
    assert await found("team noord") == ["bram@example.org"]  # a group's name with a space
    assert await found('"') == [], "the quotes of the stored list of groups are no match"


async def test_resubscribing_needs_a_reason_and_keeps_it(seeded: Dashboard, caplog: pytest.LogCaptureFixture) -> None:
    page = await seeded.page("/admin/recipients?q=bram")
    assert "Unsubscribed 22 Nov 2026 10:00" in page.text
    for reason in ("", "   "):
        response = await seeded.post("/admin/recipients/resubscribe", {"email": "bram@example.org", "reason": reason})
        assert response.status == 400
        assert "Give a reason (at most 500 characters)" in Page(await response.text()).text
    assert (await seeded.store.get_preference("bram@example.org")).unsubscribed_at is not None
    seeded.clock.advance(minutes=1)
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        response = await seeded.post("/admin/recipients/resubscribe",
                                     {"email": "bram@example.org", "reason": "Asked by phone,\n ticket 42"})
    assert (response.status, response.headers["Location"]) == (303, "/admin/recipients?q=bram@example.org")
    assert "admin.action user=admin action=resubscribe target=bram@example.org" in caplog.text
    assert (await seeded.store.get_preference("bram@example.org")).unsubscribed_at is None
    [entry] = await seeded.store.resubscriptions()
    assert (entry.email, entry.admin, entry.reason) == ("bram@example.org", "admin", "Asked by phone, ticket 42")
    page = await seeded.page("/admin/recipients?q=bram@example.org")
    assert "bram@example.org gets the digest again." in page.text
    assert "24 Nov 2026 10:01 bram@example.org admin Asked by phone, ticket 42 22 Nov 2026 10:00" in page.text
    again = await seeded.post("/admin/recipients/resubscribe", {"email": "bram@example.org", "reason": "twice"})
    assert again.status == 303
    page = await seeded.page(again.headers["Location"])
    assert "bram@example.org had not unsubscribed; nothing changed." in page.text
    assert len(await seeded.store.resubscriptions()) == 1
