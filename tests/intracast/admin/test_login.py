"""Getting in, and staying out: login, lockout, session expiry, tampered cookies, CSRF, pages off."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient

from tests.intracast.admin.conftest import Clock, Dashboard, Feed, Page, open_dashboard

PAGES = ["/admin/", "/admin/sources", "/admin/outbox", "/admin/outbox/1", "/admin/recipients", "/admin/nowhere"]


async def test_login_then_every_page_opens_and_logout_ends_it(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    form = await dashboard.page("/admin/login")
    assert [f["method"] for f in form.forms] == ["post"]
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        response = await dashboard.login()
    assert (response.status, response.headers["Location"]) == (303, "/admin/")
    cookie = response.cookies["intracast_admin"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/admin"
    assert cookie["max-age"] == str(12 * 3600) and not cookie["secure"]  # plain http on loopback
    assert "admin.login outcome=ok user=admin ip=127.0.0.1" in caplog.text
    assert Page(await (await dashboard.client.get("/admin/")).text()).nav[:4] == [
        "/admin/", "/admin/sources", "/admin/outbox", "/admin/recipients"]
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        response = await dashboard.post("/admin/logout", {})
    assert (response.status, response.headers["Location"]) == (303, "/admin/login")
    assert "admin.action user=admin action=logout target=-" in caplog.text
    response = await dashboard.client.get("/admin/", allow_redirects=False)
    assert response.headers["Location"] == "/admin/login?next=/admin/"


@pytest.mark.parametrize("path", PAGES)
async def test_unauthenticated_requests_go_to_the_login_page(dashboard: Dashboard, path: str) -> None:
    response = await dashboard.client.get(path, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/login?next=")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_login_returns_to_the_page_asked_for_and_only_within_admin(dashboard: Dashboard) -> None:
    response = await dashboard.client.get("/admin/outbox", allow_redirects=False)
    assert response.headers["Location"] == "/admin/login?next=/admin/outbox"
    for target, lands in [("/admin/outbox", "/admin/outbox"), ("//evil.example/admin/", "/admin/"),
                          ("https://evil.example/admin/", "/admin/"), ("/elsewhere", "/admin/")]:
        dashboard.client.session.cookie_jar.clear()
        form = await dashboard.page("/admin/login")
        response = await dashboard.client.post(
            "/admin/login", params={"next": target}, allow_redirects=False,
            data={"username": "admin", "password": "correct horse battery staple", "csrf": form.csrf})
        assert response.headers["Location"] == lands, target


async def test_an_unauthenticated_post_does_nothing(dashboard: Dashboard) -> None:
    response = await dashboard.post("/admin/sources/news/fetch", {}, csrf=False)
    assert (response.status, response.headers["Location"]) == (303, "/admin/login")
    assert dashboard.feed.hits == {}


@pytest.mark.parametrize(("username", "password", "logged"), [
    ("admin", "wrong", "admin"),
    ("root", "correct horse battery staple", "root"),
    ("", "", '""'),
    ("x y=z\nadmin.login outcome=ok", "", '"x y=z\\nadmin.login outcome=ok"'),  # no forged line or field
])
async def test_a_failed_login_says_nothing_about_why(dashboard: Dashboard, caplog: pytest.LogCaptureFixture,
                                                      username: str, password: str, logged: str) -> None:
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        response = await dashboard.login(password, username)
    assert response.status == 401
    page = Page(await response.text())
    assert "Logging in failed. Check the name and the password" in page.text
    assert dashboard.cookie() is not None, "the login form's own session stays"
    assert (await dashboard.client.get("/admin/", allow_redirects=False)).status == 303
    assert f"admin.login outcome=failed user={logged} ip=127.0.0.1" in caplog.text


async def test_the_sixth_attempt_within_a_minute_is_refused_even_with_the_right_password(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        assert (await dashboard.login("guess")).status == 401
    dashboard.clock.advance(seconds=59)
    with caplog.at_level(logging.INFO, logger="intracast.admin"):
        refused = await dashboard.login()
    assert refused.status == 429
    assert "Logging in failed" in Page(await refused.text()).text
    assert "admin.login outcome=locked user=admin" in caplog.text
    assert (await dashboard.client.get("/admin/", allow_redirects=False)).status == 303
    dashboard.clock.advance(seconds=2)
    assert (await dashboard.login()).status == 303


async def test_a_session_ends_after_its_lifetime(logged_in: Dashboard) -> None:
    logged_in.clock.advance(hours=11, minutes=59)
    assert (await logged_in.client.get("/admin/", allow_redirects=False)).status == 200
    logged_in.clock.advance(minutes=1)
    response = await logged_in.client.get("/admin/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/admin/login?next=/admin/")


@pytest.mark.parametrize("change", ["payload", "signature", "other secret", "garbage"])
async def test_a_tampered_session_cookie_is_refused(logged_in: Dashboard, change: str) -> None:
    from intracast.admin.seal import Seal

    value = logged_in.cookie()
    assert value is not None
    payload, _, signature = value.partition(".")
    forged = {
        "payload": f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}",
        "signature": f"{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}",
        "other secret": Seal("another-secret-of-enough-length", "session").seal({"u": "admin", "t": 0, "c": "x"}),
        "garbage": "garbage",
    }[change]
    logged_in.client.session.cookie_jar.clear()
    logged_in.client.session.cookie_jar.update_cookies({"intracast_admin": forged})
    response = await logged_in.client.get("/admin/", allow_redirects=False)
    assert response.status == 303


async def test_changing_the_password_ends_every_session(logged_in: Dashboard) -> None:
    from dataclasses import replace

    from intracast.admin.passwords import hash_password

    state = logged_in.admin.config
    config = state.loaded.config
    new_admin = config.admin.model_copy(update={"password_hash": hash_password("another password")})
    state.loaded = replace(state.loaded, config=config.model_copy(update={"admin": new_admin}))
    assert (await logged_in.client.get("/admin/", allow_redirects=False)).status == 303


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
async def test_a_post_without_its_csrf_token_is_refused_and_does_nothing(
    logged_in: Dashboard, token: str | None
) -> None:
    data = {} if token is None else {"csrf": token}
    response = await logged_in.client.post("/admin/sources/news/fetch", data=data, allow_redirects=False)
    assert response.status == 403
    assert "This form has expired" in Page(await response.text()).text
    assert logged_in.feed.hits == {}
    assert await logged_in.store.get_fetch_state("news") is None


async def test_a_csrf_token_of_another_session_is_refused(logged_in: Dashboard) -> None:
    stale = (await logged_in.page("/admin/")).csrf
    await logged_in.post("/admin/logout", {})
    assert (await logged_in.login()).status == 303
    response = await logged_in.client.post("/admin/sources/news/fetch", data={"csrf": stale}, allow_redirects=False)
    assert response.status == 403


async def test_the_login_form_needs_its_csrf_token_too(dashboard: Dashboard) -> None:
    await dashboard.page("/admin/login")
    response = await dashboard.client.post("/admin/login", allow_redirects=False,
                                           data={"username": "admin", "password": "correct horse battery staple"})
    assert response.status == 403


@pytest.fixture
async def pages_off(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
                    clock: Clock) -> AsyncIterator[Dashboard]:
    async for opened in open_dashboard(tmp_path, aiohttp_client, feed, clock, admin=False):
        yield opened


@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/login", "/admin/sources", "/admin/nowhere"])
async def test_without_an_admin_section_the_pages_are_off_and_say_how_to_turn_them_on(
    pages_off: Dashboard, path: str
) -> None:
    response = await pages_off.client.get(path, allow_redirects=False)
    assert response.status == 404
    assert response.content_type == "text/plain"
    assert "add an admin section to the config" in await response.text()
    dutch = await pages_off.client.get(path, headers={"Accept-Language": "nl"}, allow_redirects=False)
    assert "De beheerpagina's staan uit" in await dutch.text()
    response = await pages_off.client.post(path, data={"username": "admin"}, allow_redirects=False)
    assert response.status == 404
