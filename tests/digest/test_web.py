"""The employee's pages over HTTP, on a real SqlStore in SQLite: unsubscribe, preferences, tracked links."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp import ClientResponse, FormData, web
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pytest_aiohttp import AiohttpClient

from digest.i18n import LOCALES
from digest.tokens import Claims, Signer
from digest.web import add_employee_routes, page_locale, redirect_target
from intracast.store import SqlStore, open_store
from sources.item import Item

NOW = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
SIGNER = Signer("a-test-secret-of-enough-length")
INTRANET = "https://intranet.example.org"
HOSTS = frozenset({"intranet.example.org", "Files.Example.org"})
AN = "An@example.org"
HEADERS = {  # spelled out, so that a change in digest/web.py shows up here
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

Client = TestClient[web.Request, web.Application]
Serve = Callable[..., Awaitable[Client]]


def token(action: str, recipient: str = AN, item_id: int | None = None, link: str | None = None) -> str:
    return SIGNER.sign(Claims(action, recipient, item_id, link))  # type: ignore[arg-type]


def tampered(token: str, at: int) -> str:
    return token[:at] + ("B" if token[at] == "A" else "A") + token[at + 1:]


U, PREFERENCES = f"/u/{token('unsubscribe')}", f"/preferences/{token('preferences')}"
BAD_TOKENS = {
    "tampered payload": tampered(token("unsubscribe"), 5),
    "tampered signature": tampered(token("unsubscribe"), -5),
    "other secret": Signer("another-secret-of-enough-length").sign(Claims("unsubscribe", AN)),
    "garbage": "garbage",
    "cut off": token("unsubscribe")[:-10],
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with open_store("sqlite:///var/t.db", tmp_path) as store:
        yield store


@pytest.fixture
def serve(aiohttp_client: AiohttpClient, store: SqlStore) -> Serve:
    async def serve(locale: str = "en") -> Client:
        app = web.Application()
        add_employee_routes(app, store, SIGNER, intranet_url=INTRANET, allowed_hosts=HOSTS, locale=locale,
                            clock=lambda: NOW)
        return await aiohttp_client(app)
    return serve


@pytest.fixture
async def client(serve: Serve) -> Client:
    return await serve()


class Page(HTMLParser):
    """What the tests read of a page: language, title, text, forms, radio buttons, links, tags."""

    def __init__(self, html: str):
        super().__init__()
        self.lang, self.title, self.words = "", "", []
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.links: list[str | None] = []
        self.tags: set[str] = set()
        self._open: str | None = None
        self.feed(html)
        self.text = " ".join(self.words)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._open = tag
        values = dict(attrs)
        if tag == "html":
            self.lang = values["lang"] or ""
        elif tag == "form":
            self.forms.append(values)
        elif tag == "input":
            self.inputs.append(values)
        elif tag == "a":
            self.links.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "title":
            self.title += data
        elif self._open != "style":
            self.words.extend(data.split())

    @property
    def checked(self) -> list[str | None]:
        return [i["value"] for i in self.inputs if i.get("type") == "radio" and "checked" in i]

    @property
    def form_data(self) -> dict[str, str | None]:
        """What a browser posts when the only button is pressed, radio buttons as they are."""
        return {i["name"] or "": i["value"] for i in self.inputs if i.get("type") != "radio" or "checked" in i}


def assert_safe(response: ClientResponse) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name


async def read(response: ClientResponse, status: int = 200) -> Page:
    assert response.status == status
    assert_safe(response)
    assert response.content_type == "text/html"
    html = await response.text()
    page = Page(html)
    assert "script" not in page.tags and "<script" not in html.lower()
    assert page.title.endswith(" · intranet.example.org")
    return page


async def news_item(store: SqlStore) -> int:
    await store.upsert_items([Item("news", "n1", "Canteen reopens", f"{INTRANET}/news/1", published=NOW)], NOW)
    item_id = await store.item_id("news", "n1")
    assert item_id is not None
    return item_id


# Unsubscribe

@pytest.mark.parametrize("body", [
    pytest.param({"data": "List-Unsubscribe=One-Click",
                  "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, id="rfc8058"),
    pytest.param({"data": FormData({"List-Unsubscribe": "One-Click"}, default_to_multipart=True)}, id="multipart"),
    pytest.param({}, id="empty"),
])
async def test_one_click_post_unsubscribes(client: Client, store: SqlStore, body: dict[str, object]) -> None:
    page = await read(await client.post(U, **body))  # type: ignore[arg-type]
    assert page.title == "You are unsubscribed · intranet.example.org"
    preference = await store.get_preference(AN)
    assert preference is not None and preference.unsubscribed_at == NOW
    assert any(link and link.startswith("/preferences/") for link in page.links)


async def test_get_only_asks_and_its_button_unsubscribes(client: Client, store: SqlStore) -> None:
    for _ in range(2):  # a mail scanner, then the employee
        page = await read(await client.get(U))
    assert await store.get_preference(AN) is None
    assert page.title == "Unsubscribe from the digest? · intranet.example.org"
    assert page.forms == [{"method": "post"}]  # no action: the page's own URL
    assert page.form_data == {"List-Unsubscribe": "One-Click"}
    await read(await client.post(U, data=page.form_data))
    preference = await store.get_preference(AN)
    assert preference is not None and preference.unsubscribed_at == NOW


async def test_head_changes_nothing(client: Client, store: SqlStore) -> None:
    assert (await client.head(U)).status == 200
    assert await store.get_preference(AN) is None


async def test_the_confirmation_offers_the_recipients_own_preferences(client: Client) -> None:
    page = await read(await client.get(U))
    [link] = [link for link in page.links if link and link.startswith("/preferences/")]
    assert SIGNER.verify(link.removeprefix("/preferences/"), "preferences") == Claims("preferences", AN)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("bad", [*BAD_TOKENS.values(), token("preferences"), token("click", item_id=1, link=INTRANET)],
                         ids=[*BAD_TOKENS, "preferences token", "click token"])
async def test_a_bad_unsubscribe_link_is_refused_and_changes_nothing(
    client: Client, store: SqlStore, method: str, bad: str
) -> None:
    page = await read(await client.request(method, f"/u/{bad}", data="List-Unsubscribe=One-Click"), 400)
    assert page.title == "This link does not work · intranet.example.org"
    assert INTRANET in page.links
    assert await store.preferences() == {}


# Preferences

async def test_preferences_show_the_organisations_choice_until_they_make_their_own(client: Client) -> None:
    page = await read(await client.get(PREFERENCES))
    assert [i["value"] for i in page.inputs if i.get("type") == "radio"] == ["default", "daily", "weekly", "off"]
    assert page.checked == ["default"]
    assert "As set by your organisation" in page.text
    assert "saved" not in page.text


async def test_post_weekly_saves_it_and_redirects_to_the_page(client: Client, store: SqlStore) -> None:
    response = await client.post(PREFERENCES, data={"frequency": "weekly"}, allow_redirects=False)
    assert response.status == 303
    assert_safe(response)
    assert response.headers["Location"] == f"{PREFERENCES}?saved=1"
    preference = await store.get_preference(AN)
    assert preference is not None and preference.frequency == "weekly" and preference.unsubscribed_at is None
    page = await read(await client.get(response.headers["Location"]))
    assert page.checked == ["weekly"]
    assert "Your choice is saved." in page.text


@pytest.mark.parametrize(("choice", "stored"), [("off", "off"), ("daily", "daily"), ("default", None)])
async def test_each_choice_is_stored(client: Client, store: SqlStore, choice: str, stored: str | None) -> None:
    await store.set_frequency(AN, "weekly", NOW)
    page = await read(await client.post(PREFERENCES, data={"frequency": choice}))  # following the 303
    assert page.checked == [choice]
    preference = await store.get_preference(AN)
    assert preference is not None and preference.frequency == stored


@pytest.mark.parametrize("data", [{"frequency": "hourly"}, {"frequency": "Weekly"}, {"frequency": ""}, {},
                                  {"frequency": "weekly\x00"}])
async def test_a_choice_not_offered_is_refused(client: Client, store: SqlStore, data: dict[str, str]) -> None:
    page = await read(await client.post(PREFERENCES, data=data), 400)
    assert page.title == "That is not one of the choices · intranet.example.org"
    assert PREFERENCES in page.links
    assert await store.preferences() == {}


async def test_choosing_a_frequency_resubscribes(client: Client, store: SqlStore) -> None:
    await store.unsubscribe(AN, NOW)
    page = await read(await client.get(PREFERENCES))
    assert page.checked == ["off"]
    assert "You are unsubscribed and get no digest." in page.text
    page = await read(await client.post(PREFERENCES, data={"frequency": "daily"}))
    assert page.checked == ["daily"] and "You are unsubscribed" not in page.text
    preference = await store.get_preference(AN)
    assert preference is not None and preference.frequency == "daily" and preference.unsubscribed_at is None


async def test_choosing_off_leaves_an_unsubscribe_in_place(client: Client, store: SqlStore) -> None:
    await store.unsubscribe(AN, NOW)
    await read(await client.post(PREFERENCES, data={"frequency": "off"}))
    preference = await store.get_preference(AN)
    assert preference is not None and preference.frequency == "off" and preference.unsubscribed_at == NOW


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("bad", [tampered(token("preferences"), 8), tampered(token("preferences"), -2),
                                 token("unsubscribe"), "garbage"],
                         ids=["tampered payload", "tampered signature", "unsubscribe token", "garbage"])
async def test_a_bad_preferences_link_is_refused_and_changes_nothing(
    client: Client, store: SqlStore, method: str, bad: str
) -> None:
    page = await read(await client.request(method, f"/preferences/{bad}", data={"frequency": "off"}), 400)
    assert page.title == "This link does not work · intranet.example.org"
    assert await store.preferences() == {}


# Tracked links

async def test_a_tracked_link_marks_the_item_read_and_redirects(client: Client, store: SqlStore) -> None:
    item_id = await news_item(store)
    link = f"{INTRANET}/news/1?from=digest#comments"
    response = await client.get(f"/r/{token('click', item_id=item_id, link=link)}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == link
    assert_safe(response)  # no-referrer: the intranet must not see the token
    assert await store.read_item_ids(AN) == {item_id}
    [click] = await store.clicks()
    assert (click.recipient, click.link, click.at) == (AN.lower(), link, NOW)


async def test_a_link_checkers_head_is_redirected_but_not_recorded(client: Client, store: SqlStore) -> None:
    item_id = await news_item(store)
    response = await client.head(f"/r/{token('click', item_id=item_id, link=f'{INTRANET}/news/1')}",
                                 allow_redirects=False)
    assert response.status == 302
    assert await store.clicks() == []


@pytest.mark.parametrize("link", [
    "https://elsewhere.example.com/news/1",
    "https://intranet.example.org@elsewhere.example.com/",
    "https://intranet.example.org.elsewhere.example.com/",
    "https://elsewhere.example.com\\@intranet.example.org/",
    "//elsewhere.example.com/news/1",
    "/news/1",
    "javascript:alert(1)//intranet.example.org",
    "ftp://intranet.example.org/news/1",
])
async def test_a_link_off_the_intranet_is_refused_and_not_recorded(client: Client, store: SqlStore, link: str) -> None:
    item_id = await news_item(store)
    page = await read(await client.get(f"/r/{token('click', item_id=item_id, link=link)}", allow_redirects=False), 400)
    assert page.title == "This link does not lead to intranet.example.org · intranet.example.org"
    assert await store.clicks() == []


@pytest.mark.parametrize("bad", [
    tampered(token("click", item_id=1, link=f"{INTRANET}/news/1"), 10),
    token("unsubscribe"),
    token("click"),  # signed, but names no item
    "garbage",
], ids=["tampered", "unsubscribe token", "no item", "garbage"])
async def test_a_bad_tracked_link_is_refused_and_not_recorded(client: Client, store: SqlStore, bad: str) -> None:
    await news_item(store)
    page = await read(await client.get(f"/r/{bad}", allow_redirects=False), 400)
    assert page.title == "This link does not work · intranet.example.org"
    assert await store.clicks() == []


async def test_a_link_to_an_item_no_longer_kept_still_leads_there(client: Client, store: SqlStore,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    link = f"{INTRANET}/news/old"  # the store pruned item 404: the click is kept, without it
    response = await client.get(f"/r/{token('click', item_id=404, link=link)}", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, link)
    assert [(c.link, c.item_id) for c in await store.clicks()] == [(link, None)]
    assert "read_not_recorded" not in caplog.text


@pytest.mark.parametrize(("link", "target"), [
    ("https://intranet.example.org/news/1", "https://intranet.example.org/news/1"),
    ("http://INTRANET.example.org./a", "http://intranet.example.org./a"),
    ("https://files.example.org:8443/a/../b.pdf", "https://files.example.org:8443/b.pdf"),
    ("https://intranet.example.org/a\r\nSet-Cookie: x", "https://intranet.example.org/aSet-Cookie:%20x"),
    ("https://intranet.example.org/é", "https://intranet.example.org/%C3%A9"),
    ("https://user:secret@intranet.example.org/", None),
    ("https://@elsewhere.example.com/", None),
    ("http://[::1", None),
    ("mailto:an@intranet.example.org", None),
    ("", None),
])
def test_redirect_targets(link: str, target: str | None) -> None:
    hosts = frozenset({"intranet.example.org", "files.example.org"})
    assert redirect_target(link, hosts) == target


# Language

@pytest.mark.parametrize(("locale", "accept", "expected"), [
    ("nl", None, "nl"),
    ("en", None, "en"),
    ("en", "nl-NL,nl;q=0.9,en;q=0.8", "nl"),
    ("nl", "en-GB", "en"),
    ("nl", "de-DE,de;q=0.9", "nl"),
    ("en", "de-DE, nl;q=0.5, en;q=0.3", "nl"),
])
async def test_pages_speak_the_browsers_language_else_the_intranets(
    serve: Serve, locale: str, accept: str | None, expected: str
) -> None:
    client = await serve(locale)
    headers = {"Accept-Language": accept} if accept else {}
    titles = {"nl": "Afmelden voor de nieuwsmail?", "en": "Unsubscribe from the digest?"}
    response = await client.get(U, headers=headers)
    page = await read(response)
    assert (page.lang, page.title) == (expected, f"{titles[expected]} · intranet.example.org")
    assert response.headers["Vary"] == "Accept-Language"
    problem = await read(await client.get("/r/garbage", headers=headers), 400)
    assert problem.lang == expected


async def test_dutch_pages_are_dutch(serve: Serve, store: SqlStore) -> None:
    client = await serve("nl")
    page = await read(await client.post(U))
    assert page.title == "Je bent afgemeld · intranet.example.org"
    page = await read(await client.get(PREFERENCES))
    assert page.checked == ["off"]
    assert "Je bent afgemeld en krijgt geen nieuwsmail." in page.text
    assert "Zoals je organisatie het heeft ingesteld Elke dag Eén keer per week Nooit Opslaan" in page.text


@pytest.mark.parametrize(("header", "expected"), [
    ("nl", "nl"), ("en-US,en;q=0.9", "en"), ("NL-be", "nl"), ("en_GB", "en"),
    ("en;q=0.2, nl;q=0.8", "nl"), ("nl;q=0.5, en;q=0.5", "nl"), ("en;q=0, nl;q=0.1", "nl"),
    ("*", "en"), ("fr, *;q=0.5, nl;q=0.1", "en"), ("fr", "en"), ("", "en"), (None, "en"),
    ("nl;q=2, en;q=0.1", "en"), ("nl;q=abc", "en"), ("nl;q=0.0001", "en"), ("nl;level=1;q=0.9, en;q=0.8", "nl"),
    (",,;,;q=", "en"),
])
def test_accept_language(header: str | None, expected: str) -> None:
    assert page_locale(header, "en") == expected


@given(st.text(), st.sampled_from(LOCALES))
def test_accept_language_always_answers_a_locale_we_have(header: str, default: str) -> None:
    assert page_locale(header, default) in LOCALES
    assert page_locale(f"nl, {header}", default) == "nl"  # a first range without q is the favourite


def test_the_intranet_locale_must_be_one_we_have(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="'de'"):
        add_employee_routes(web.Application(), store, SIGNER, intranet_url=INTRANET, allowed_hosts=HOSTS,
                            locale="de", clock=lambda: NOW)


# Failures and logs

async def test_a_store_failure_is_a_localised_503(serve: Serve, store: SqlStore, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    client = await serve("nl")
    with sqlite3.connect(tmp_path / "var" / "t.db") as db:
        db.execute("DROP TABLE preferences")
    page = await read(await client.post(U), 503)
    assert page.title == "Er ging iets mis · intranet.example.org"
    assert "digest.page_failed route=/u/{token}" in caplog.text
    assert AN.lower() not in caplog.text.lower()


async def test_logs_name_events_not_people(client: Client, store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="digest.web")
    item_id = await news_item(store)
    click = f"/r/{token('click', item_id=item_id, link=f'{INTRANET}/news/1')}"
    await client.post(U)
    await client.post(PREFERENCES, data={"frequency": "weekly"})
    await client.get(click, allow_redirects=False)
    await client.get(f"/u/{BAD_TOKENS['tampered signature']}")
    messages = [r.getMessage() for r in caplog.records if r.name == "digest.web"]
    assert messages == ["digest.unsubscribed", "digest.frequency_chosen frequency=weekly",
                        "digest.refused route=/u/{token} reason=link"]
    assert "example.org" not in caplog.text
    for url in (U, PREFERENCES, click):
        assert url.split("/")[-1] not in caplog.text
