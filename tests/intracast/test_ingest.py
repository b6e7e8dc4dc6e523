"""Fetching many sources in one run against a real server: each fault gets its clear error,
the good sources still deliver, and health and backoff say what happened."""

from __future__ import annotations

import asyncio
import functools
import gzip
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import event

from intracast.config import load_config
from intracast.health import source_state
from intracast.ingest import FetchOutcome
from intracast.runtime import open_runtime

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def rss(*titles: str) -> bytes:
    entries = "".join(
        f"<item><title>{t}</title><link>https://intranet.example.org/{i}</link><guid>g{i}</guid>"
        f"<pubDate>Tue, 24 Nov 2026 0{i}:00:00 GMT</pubDate></item>"
        for i, t in enumerate(titles)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{entries}</channel></rss>'.encode()


class Intranet:
    """A misbehaving intranet: one route per fault, counting what it was asked."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.release = asyncio.Event()
        self.app = web.Application()
        routes = {
            "/good": self.good, "/etag": self.etag, "/slow": self.slow, "/flaky": self.flaky,
            "/limited": self.limited, "/big": self.big, "/bomb": self.bomb, "/loop": self.loop,
            "/truncated": self.truncated, "/badutf8": self.badutf8, "/html": self.html,
            "/gone": self.gone,
        }
        for path, handler in routes.items():
            self.app.router.add_get(path, self.counted(path, handler))

    def counted(self, path, handler):
        async def wrapped(request: web.Request) -> web.StreamResponse:
            self.hits[path] += 1
            return await handler(request)
        return wrapped

    async def good(self, request):
        return web.Response(body=rss("Canteen", "Roster"), content_type="application/rss+xml")

    async def etag(self, request):
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=rss("Tagged"), content_type="application/rss+xml", headers={"ETag": '"v1"'})

    async def slow(self, request):
        await self.release.wait()
        return web.Response(body=rss("Late"))

    async def flaky(self, request):
        if self.hits["/flaky"] == 1:
            return web.Response(status=500)
        return web.Response(body=rss("Back"), content_type="application/rss+xml")

    async def limited(self, request):
        return web.Response(status=429, headers={"Retry-After": "120"})

    async def big(self, request):
        return web.Response(body=rss(*["x" * 100] * 2000), content_type="application/rss+xml")

    async def bomb(self, request):
        return web.Response(body=bomb(), headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})

    async def loop(self, request):
        raise web.HTTPFound("/loop")

    async def truncated(self, request):
        return web.Response(body=rss("Cut")[:70], content_type="application/rss+xml")

    async def badutf8(self, request):
        return web.Response(body=b'<?xml version="1.0" encoding="utf-8"?>\xff\xfe\x00<rss', content_type="application/rss+xml")

    async def html(self, request):
        return web.Response(text="<!doctype html><html><body><h1>Welcome to the intranet</h1></body></html>",
                            content_type="text/html")

    async def gone(self, request):
        return web.Response(status=404)


@functools.cache
def bomb() -> bytes:
    """64 MiB of spaces in 64 KiB of gzip, compressed once: compressing blocks the server's loop for a while."""
    return gzip.compress(b"<rss>" + b" " * (64 * 2**20))


@pytest.fixture
async def intranet(aiohttp_server):
    intranet = Intranet()
    server = await aiohttp_server(intranet.app)
    intranet.base = str(server.make_url("")).rstrip("/")
    yield intranet
    intranet.release.set()


def config_for(tmp_path: Path, base: str, names: list[str]) -> Path:
    # Only `slow` should time out; the others answer at once, but a loaded machine may take seconds to say so.
    sources = "\n".join(
        f"  - {{name: {name}, type: rss, url: '{base}/{name}', timeout: {'2s' if name == 'slow' else '30s'}, "
        f"max_bytes: 131072}}" for name in names
    )
    path = tmp_path / "intracast.yaml"
    path.write_text(textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org"}}
        storage: {{url: "sqlite:///var/test.db"}}
        sources:
        """) + sources + "\n")
    return path


FAULTS = {
    "slow": ("timeout", True, "timed out"),
    "limited": ("http", True, "HTTP 429"),
    "big": ("too_large", False, "larger than"),
    "bomb": ("too_large", False, "decompressed"),
    "loop": ("redirects", False, "redirects"),
    "truncated": ("parse", False, ""),
    "badutf8": ("parse", False, ""),
    "html": ("parse", False, "HTML"),
    "gone": ("http", False, "HTTP 404"),
}


async def test_every_fault_is_named_and_the_good_sources_still_deliver(tmp_path: Path, intranet: Intranet) -> None:
    names = ["good", *FAULTS, "etag"]
    loaded = load_config(config_for(tmp_path, intranet.base, names), env={})
    async with open_runtime(loaded) as runtime:
        outcomes: list[FetchOutcome] = await asyncio.gather(*(runtime.ingestor.run(n) for n in names))
        by_name = {o.source: o for o in outcomes}
        assert [i.title for i in by_name["good"].items] == ["Canteen", "Roster"]
        assert by_name["good"].new == 2 and by_name["etag"].new == 1
        for name, (kind, transient, words) in FAULTS.items():
            error = by_name[name].error
            assert error is not None, name
            assert (error.kind, error.transient) == (kind, transient), (name, str(error))
            assert str(error).startswith(f"source '{name}': "), str(error)
            assert words in str(error), (name, str(error))
            assert (by_name[name].retry_at is not None) is transient
        states = await runtime.store.fetch_states()
        assert states["limited"].retry_at - states["limited"].last_attempt >= timedelta(seconds=120)
        assert states["gone"].last_error_kind == "http" and states["gone"].consecutive_failures == 1
        assert states["good"].consecutive_failures == 0


async def test_a_304_costs_no_parse_and_keeps_the_items(tmp_path: Path, intranet: Intranet) -> None:
    loaded = load_config(config_for(tmp_path, intranet.base, ["etag"]), env={})
    async with open_runtime(loaded) as runtime:
        first = await runtime.ingestor.run("etag")
        second = await runtime.ingestor.run("etag")
        assert (first.new, second.not_modified, second.items) == (1, True, [])
        assert [i.title for i in await runtime.store.get_items("etag")] == ["Tagged"]
        state = await runtime.store.get_fetch_state("etag")
        assert (state.etag, state.items_seen) == ('"v1"', 1)
    assert intranet.hits["/etag"] == 2


async def test_a_500_then_recovery(tmp_path: Path, intranet: Intranet) -> None:
    loaded = load_config(config_for(tmp_path, intranet.base, ["flaky"]), env={})
    async with open_runtime(loaded) as runtime:
        failed = await runtime.ingestor.run("flaky")
        assert failed.error.kind == "http" and failed.retry_at is not None
        assert (await runtime.ingestor.run("flaky")).skipped, "an interval tick before retry_at waits"
        recovered = await runtime.ingestor.run("flaky", force=True)
        assert [i.title for i in recovered.items] == ["Back"]
        state = await runtime.store.get_fetch_state("flaky")
        assert (state.consecutive_failures, state.retry_at, state.failing_since) == (0, None, None)
        assert state.last_error_kind == "http"  # history for the dashboard


async def test_failing_longer_than_degraded_after_is_degraded(tmp_path: Path, intranet: Intranet) -> None:
    loaded = load_config(config_for(tmp_path, intranet.base, ["gone"]), env={})
    options = loaded.config.sources[0]
    async with open_runtime(loaded) as runtime:
        await runtime.ingestor.run("gone")
        state = await runtime.store.get_fetch_state("gone")
    assert source_state(options, state, state.failing_since + timedelta(minutes=29)) == "retrying"
    assert source_state(options, state, state.failing_since + timedelta(minutes=30)) == "degraded"


class Unchanged:
    """Many feeds that answer 304 to their ETag, except those listed in `broken`, which answer 503."""

    def __init__(self) -> None:
        self.broken: set[str] = set()
        self.app = web.Application()
        self.app.router.add_get("/{name}", self.feed)

    async def feed(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in self.broken:
            return web.Response(status=503)
        if request.headers.get("If-None-Match") == f'"{name}"':
            return web.Response(status=304, headers={"ETag": f'"{name}"'})
        return web.Response(body=rss("One"), content_type="application/rss+xml", headers={"ETag": f'"{name}"'})


async def test_a_tick_of_200_sources_reads_their_state_once_and_records_outcomes_in_batches(tmp_path: Path, aiohttp_server) -> None:
    feeds = Unchanged()
    server = await aiohttp_server(feeds.app)
    names = [f"f{n:03d}" for n in range(200)]
    loaded = load_config(config_for(tmp_path, str(server.make_url("")).rstrip("/"), names), env={})
    async with open_runtime(loaded) as runtime:
        first = await asyncio.gather(*(runtime.ingestor.run(n) for n in names))
        assert sum(o.new for o in first) == 200
        before = await runtime.store.fetch_states()
        feeds.broken = set(names[::20])
        statements: list[tuple[str, int]] = []

        def executed(conn, cursor, statement, parameters, context, executemany) -> None:
            if "source_state" in statement:
                statements.append((statement.split()[0].upper(), len(parameters) if executemany else 1))

        engine = runtime.store._engine.sync_engine
        event.listen(engine, "before_cursor_execute", executed)
        try:
            outcomes = await asyncio.gather(*(runtime.ingestor.run(n) for n in names))
        finally:
            event.remove(engine, "before_cursor_execute", executed)
        after = await runtime.store.fetch_states()
    assert [verb for verb, _ in statements].count("SELECT") == 1, "one read for the whole tick"
    writes = [rows for verb, rows in statements if verb == "INSERT"]
    assert sum(writes) == 200 and len(writes) < 100, writes  # executemany batches, not a row each
    assert sum(o.not_modified for o in outcomes) == 190
    for name in names:
        if name in feeds.broken:
            assert (after[name].consecutive_failures, after[name].last_error_kind) == (1, "http"), name
            assert after[name].retry_at is not None and after[name].last_success == before[name].last_success
        else:
            assert after[name].last_success > before[name].last_success, name
            assert (after[name].etag, after[name].items_seen, after[name].consecutive_failures) == (f'"{name}"', 1, 0)
