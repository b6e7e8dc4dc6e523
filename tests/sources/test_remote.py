"""Per-recipient sources: one request per recipient, built from that recipient's fields."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from pydantic import ValidationError

from sources.errors import SourceError
from sources.http import Http
from sources.registry import FetchContext, Services, adapter

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Unread</title>
<item><title>Unread for {user}</title><link>https://intranet.example.org/{user}</link><guid>{user}</guid></item>
</channel></rss>"""


@pytest.fixture
async def intranet(aiohttp_server):
    seen: list[tuple[str, str, str]] = []

    async def unread(request: web.Request) -> web.Response:
        user = request.match_info["user"]
        seen.append((user, request.query.get("mail", ""), request.headers.get("Authorization", "")))
        return web.Response(text=FEED.format(user=user), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/api/users/{user}/unread", unread)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), seen


def rss_source(options: dict, env: dict[str, str], session: ClientSession):
    model, factory = adapter("rss")
    return factory(model.model_validate({"name": "unread", "type": "rss", **options}),
                   Services(Http(session, Path(".")), env=env))


async def test_a_per_recipient_source_fetches_one_url_per_recipient(intranet) -> None:
    base, seen = intranet
    options = {
        "url": base + "/api/users/{recipient.id}/unread",
        "query": {"mail": "{recipient.email}"},
        "headers": {"Authorization": "Bearer {recipient.token}"},
        "per_recipient": True,
        "token_env": "TOKEN_{recipient.id}",
    }
    env = {"TOKEN_an": "secret-an", "TOKEN_bo": "secret-bo"}
    async with ClientSession() as session:
        source = rss_source(options, env, session)
        results = [
            await source.fetch(FetchContext(now=NOW, recipient={"id": rid, "email": f"{rid}@example.org"}))
            for rid in ("an", "bo")
        ]
    assert [[i.title for i in r.items] for r in results] == [["Unread for an"], ["Unread for bo"]]
    assert seen == [("an", "an@example.org", "Bearer secret-an"), ("bo", "bo@example.org", "Bearer secret-bo")]


async def test_recipient_fields_cannot_escape_their_url_segment(intranet) -> None:
    base, seen = intranet
    options = {"url": base + "/api/users/{recipient.id}/unread", "per_recipient": True}
    async with ClientSession() as session:
        source = rss_source(options, {}, session)
        result = await source.fetch(FetchContext(now=NOW, recipient={"id": "../../admin?x="}))
    # "../../admin?x=" stayed one encoded path segment: the user route got it whole, no query leaked
    assert seen == [("../../admin?x=", "", "")]
    assert len(result.items) == 1


async def test_a_missing_per_user_token_is_a_config_error(intranet) -> None:
    base, _ = intranet
    options = {"url": base + "/api/users/{recipient.id}/unread", "per_recipient": True,
               "headers": {"Authorization": "Bearer {recipient.token}"}, "token_env": "TOKEN_{recipient.id}"}
    async with ClientSession() as session:
        source = rss_source(options, {}, session)
        with pytest.raises(SourceError) as caught:
            await source.fetch(FetchContext(now=NOW, recipient={"id": "cy"}))
    assert caught.value.kind == "config"
    assert "environment variable TOKEN_cy (token_env) is not set" in str(caught.value)


@pytest.mark.parametrize(("options", "message"), [
    ({"url": "https://i.example.org/{recipient.id}"}, "need per_recipient: true"),
    ({"url": "https://i.example.org/{recipient.uid}", "per_recipient": True}, "unknown placeholder {recipient.uid}"),
])
def test_templates_are_checked_at_load_time(options: dict, message: str) -> None:
    model, _ = adapter("rss")
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"name": "unread", "type": "rss", **options})
    assert message in str(caught.value)


class CountingPool(ProcessPoolExecutor):
    """A real process pool that counts what it was given."""

    submitted: list[str]

    def submit(self, fn, /, *args, **kwargs):
        self.submitted.append(fn.__qualname__)
        return super().submit(fn, *args, **kwargs)


async def test_parsing_runs_in_the_worker_processes_not_on_the_loop(aiohttp_server) -> None:
    entries = "".join(f"<item><title>Post {i}</title><link>https://intranet.example.org/{i}</link></item>"
                      for i in range(2000))

    async def feed(request):
        return web.Response(text=f'<rss version="2.0"><channel><title>Big</title>{entries}</channel></rss>',
                            content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed", feed)
    server = await aiohttp_server(app)
    model, factory = adapter("rss")
    with CountingPool(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submitted = []
        async with ClientSession() as session:
            source = factory(model.model_validate({"name": "big", "type": "rss", "url": str(server.make_url("/feed"))}),
                             Services(Http(session, Path(".")), pool))
            result = await source.fetch(FetchContext(now=NOW))
    assert pool.submitted == ["parse_rss"]
    assert len(result.items) == 2000
