"""sources/http.py against real servers on loopback: conditional GET, limits, redirects, statuses, files."""

from __future__ import annotations

import asyncio
import errno
import gzip
import logging
import os
import re
import socket
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from email.utils import format_datetime, formatdate
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from sources.errors import ErrorKind, SourceError
from sources.http import BodyError, Http, Inflater, Limits, Response, parse_retry_after, redact

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Nieuws</title></channel></rss>'
DEADLINE = 30  # seconds: a bound on awaits that take milliseconds, so a bug fails instead of hanging
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def http(session: aiohttp.ClientSession, tmp_path: Path) -> Http:
    return Http(session, tmp_path)


@pytest.fixture
def serve(aiohttp_server) -> Callable[[dict[str, Handler]], Awaitable[str]]:
    """Start a loopback server with {path: handler}; returns its base URL."""

    async def start(routes: dict[str, Handler]) -> str:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        server = await aiohttp_server(app)
        return str(server.make_url("")).rstrip("/")

    return start


@pytest.fixture
async def gate(aiohttp_server) -> asyncio.Event:
    """What blocked handlers wait on; set at teardown, before the servers (set up earlier) close."""
    event = asyncio.Event()
    yield event
    event.set()


async def fails(fetch: Awaitable[Response]) -> SourceError:
    with pytest.raises(SourceError) as info:
        await fetch
    return info.value


def feed(**headers: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=FEED, headers={"Content-Type": "application/rss+xml; charset=UTF-8", **headers})

    return handler


# Conditional GET


async def test_etag_then_not_modified(http, serve):
    sent = []

    async def handler(request: web.Request) -> web.Response:
        sent.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return await feed(ETag='"v1"')(request)

    base = await serve({"/feed": handler})
    first = await http.get("news", f"{base}/feed")
    second = await http.get("news", f"{base}/feed", etag=first.etag)

    assert first == Response(f"{base}/feed", 200, FEED, False, '"v1"', None, "application/rss+xml", "UTF-8")
    assert second == Response(f"{base}/feed", 304, b"", True, '"v1"', None, None, None)
    assert sent == [None, '"v1"']


async def test_changed_etag_brings_the_new_body_and_etag(http, serve):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"<rss>v2</rss>", headers={"ETag": '"v2"'})

    base = await serve({"/feed": handler})
    response = await http.get("news", f"{base}/feed", etag='"v1"')

    assert (response.status, response.body, response.etag, response.not_modified) == (200, b"<rss>v2</rss>", '"v2"', False)


async def test_last_modified_then_not_modified_and_a_new_etag_on_the_304(http, serve):
    stamp = "Mon, 02 Mar 2026 08:30:00 GMT"

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304, headers={"ETag": '"v9"'})
        return await feed(**{"Last-Modified": stamp})(request)

    base = await serve({"/feed": handler})
    first = await http.get("news", f"{base}/feed")
    second = await http.get("news", f"{base}/feed", last_modified=first.last_modified)

    assert (first.status, first.last_modified, first.etag) == (200, stamp, None)
    assert (second.not_modified, second.body, second.last_modified, second.etag) == (True, b"", stamp, '"v9"')


# Statuses and timeouts


async def test_a_handler_that_never_answers_times_out(http, serve, gate):
    async def stuck(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(text="too late")

    base = await serve({"/feed": stuck})
    error = await fails(http.get("news", f"{base}/feed", limits=Limits(total_timeout=0.5)))

    assert (error.kind, error.transient) == (ErrorKind.TIMEOUT, True)
    assert str(error) == f"source 'news': {base}/feed: timed out after 0.5s"


async def test_500_then_recovery(http, serve):
    calls = 0

    async def flaky(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=500) if calls == 1 else await feed()(request)

    base = await serve({"/feed": flaky})
    error = await fails(http.get("news", f"{base}/feed"))
    response = await http.get("news", f"{base}/feed")

    assert (error.kind, error.transient, error.status) == (ErrorKind.HTTP, True, 500)
    assert str(error).endswith(": HTTP 500 Internal Server Error")
    assert response.body == FEED


async def test_429_retry_after_seconds(http, serve):
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    base = await serve({"/feed": busy})
    error = await fails(http.get("news", f"{base}/feed"))

    assert (error.kind, error.transient, error.status, error.retry_after) == (ErrorKind.HTTP, True, 429, 120)


async def test_503_retry_after_http_date(http, serve):
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503, headers={"Retry-After": formatdate(time.time() + 120, usegmt=True)})

    base = await serve({"/feed": down})
    error = await fails(http.get("news", f"{base}/feed"))

    assert (error.transient, error.status) == (True, 503)
    assert str(error).endswith("HTTP 503 Service Unavailable")
    assert 100 < error.retry_after <= 120  # the date has whole seconds, and a loaded machine is slow


@pytest.mark.parametrize(("status", "message"), [(404, "HTTP 404 Not Found"), (401, "HTTP 401 Unauthorized")])
async def test_client_errors_are_permanent(http, serve, status, message):
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Retry-After": "5"})

    base = await serve({"/feed": refuse})
    error = await fails(http.get("news", f"{base}/feed"))

    assert (error.kind, error.transient, error.status, error.retry_after) == (ErrorKind.HTTP, False, status, None)
    assert str(error) == f"source 'news': {base}/feed: {message}"


# Size caps and decompression


async def test_content_length_over_the_cap_is_refused_before_reading(http, serve, gate):
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 10 * 2**20
        await response.prepare(request)
        await response.write(b"x" * 1024)
        await gate.wait()  # never sends the rest: a client that waited for it would time out
        return response

    base = await serve({"/feed": huge})
    error = await fails(http.get("news", f"{base}/feed", limits=Limits(max_bytes=64 * 1024)))

    assert (error.kind, error.transient) == (ErrorKind.TOO_LARGE, False)
    assert str(error).endswith(": body larger than 64 KiB (Content-Length: 10485760)")


async def test_a_chunked_body_over_the_cap_stops_the_transfer(http, serve):
    chunk, total = b"x" * 2**16, 1024  # 64 MiB offered, far beyond what socket buffers absorb
    written, finished = 0, asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal written
        response = web.StreamResponse()  # no Content-Length: chunked
        await response.prepare(request)
        try:
            for _ in range(total):
                await response.write(chunk)
                written += 1
        except ConnectionResetError:
            pass  # the client hung up: what this test expects
        finally:
            finished.set()
        return response

    base = await serve({"/feed": endless})
    error = await fails(http.get("news", f"{base}/feed", limits=Limits(max_bytes=2**20)))
    await asyncio.wait_for(finished.wait(), DEADLINE)

    assert error.kind == ErrorKind.TOO_LARGE
    assert str(error).endswith(": body larger than 1 MiB")
    assert written < total // 2


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """64 MiB of zeros, gzipped to about 64 KiB: over the default 50 MiB decompressed cap."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    return b"".join(compressor.compress(zeros) for _ in range(64)) + compressor.flush()


def gzipped(body: bytes) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    return handler


async def test_gzip_bomb_stops_at_the_decompressed_cap(http, serve, bomb):
    base = await serve({"/feed": gzipped(bomb)})
    error = await fails(http.get("news", f"{base}/feed"))

    assert len(bomb) < 2**20
    assert (error.kind, error.transient) == (ErrorKind.TOO_LARGE, False)
    assert str(error).endswith(": decompressed body larger than 50 MiB")


async def test_gzip_bomb_never_inflates_in_memory(http, serve, bomb):
    base = await serve({"/feed": gzipped(bomb)})
    tracemalloc.start()
    try:
        error = await fails(http.get("news", f"{base}/feed", limits=Limits(max_decompressed=16 * 2**20)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert error.kind == ErrorKind.TOO_LARGE
    # The cap (a bytearray grows by an eighth) plus one 1 MiB inflate step: about 19 MiB. Inflating
    # one wire chunk of the bomb whole takes 64 MiB; one step bounded by the cap alone, 32 MiB.
    assert peak < 24 * 2**20


def raw_deflate(body: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(FEED)),
        ("x-gzip", gzip.compress(FEED)),
        ("deflate", zlib.compress(FEED)),
        ("deflate", raw_deflate(FEED)),
        ("identity", FEED),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "identity"],
)
async def test_encoded_bodies_are_decoded(http, serve, encoding, body):
    sent = []

    async def handler(request: web.Request) -> web.Response:
        sent.append(request.headers["Accept-Encoding"])
        return web.Response(body=body, headers={"Content-Encoding": encoding})

    base = await serve({"/feed": handler})
    response = await http.get("news", f"{base}/feed", headers={"accept-encoding": "br"})

    assert response.body == FEED
    assert sent == ["gzip, deflate"]


@pytest.mark.parametrize("body", [gzip.compress(FEED * 50)[:-30], b"not gzip at all"], ids=["truncated", "garbage"])
async def test_corrupt_gzip_is_a_parse_error(http, serve, body):
    base = await serve({"/feed": gzipped(body)})
    error = await fails(http.get("news", f"{base}/feed"))

    assert (error.kind, error.transient) == (ErrorKind.PARSE, False)
    assert "corrupt gzip body" in str(error)


async def test_unknown_content_encoding_is_refused(http, serve):
    base = await serve({"/feed": feed(**{"Content-Encoding": "br"})})
    error = await fails(http.get("news", f"{base}/feed"))

    assert (error.kind, error.transient, error.status) == (ErrorKind.HTTP, False, None)
    assert str(error).endswith(": unsupported Content-Encoding 'br'")


# Redirects


async def hop(request: web.Request) -> web.Response:
    left = int(request.match_info["left"])
    if left:
        raise web.HTTPFound(f"/hop/{left - 1}")
    return await feed()(request)


@pytest.mark.parametrize("hops", [3, Limits().max_redirects])
async def test_redirect_chain_gives_the_final_url(http, serve, hops):
    base = await serve({"/hop/{left}": hop})
    response = await http.get("news", f"{base}/hop/{hops}")

    assert (response.url, response.body) == (f"{base}/hop/0", FEED)


async def test_one_redirect_too_many(http, serve):
    base = await serve({"/hop/{left}": hop})
    error = await fails(http.get("news", f"{base}/hop/{Limits().max_redirects + 1}"))

    assert (error.kind, error.transient) == (ErrorKind.REDIRECTS, False)


async def test_a_status_error_after_a_redirect_names_where_it_ended(http, serve):
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/gone?token=hunter2")

    base = await serve({"/feed": moved})
    error = await fails(http.get("news", f"{base}/feed"))

    assert (error.status, error.transient) == (404, False)
    assert str(error) == f"source 'news': {base}/feed: HTTP 404 Not Found (redirected to {base}/gone)"


async def test_redirect_loop(http, serve):
    async def a(request: web.Request) -> web.Response:
        raise web.HTTPFound("/b")

    async def b(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/a")

    base = await serve({"/a": a, "/b": b})
    error = await fails(http.get("news", f"{base}/a"))

    assert (error.kind, error.transient) == (ErrorKind.REDIRECTS, False)
    assert str(error) == f"source 'news': {base}/a: more than 5 redirects (a redirect loop?)"


# Concurrency and connections


async def test_per_host_limit(session, tmp_path, serve, gate):
    http = Http(session, tmp_path, per_host=2)
    in_flight = peak = arrived = 0
    two_in = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak, arrived
        in_flight, arrived = in_flight + 1, arrived + 1
        peak = max(peak, in_flight)
        if in_flight == 2:
            two_in.set()
        await gate.wait()
        in_flight -= 1
        return await feed()(request)

    busy = await serve({"/feed": slow})
    other = await serve({"/feed": feed()})
    async with asyncio.TaskGroup() as group:
        gets = [group.create_task(http.get("news", f"{busy}/feed")) for _ in range(10)]
        await asyncio.wait_for(two_in.wait(), DEADLINE)
        # Another host is not held up by a busy one; its round trip also gives the
        # other eight requests the time to arrive, had nothing held them back.
        assert (await http.get("other", f"{other}/feed")).body == FEED
        assert (arrived, in_flight) == (2, 2)
        gate.set()

    assert [get.result().body for get in gets] == [FEED] * 10
    assert peak == 2


async def test_connection_refused(http):
    with socket.socket() as probe:  # a port that was free a moment ago, and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = await fails(http.get("news", f"http://127.0.0.1:{port}/feed"))

    assert (error.kind, error.transient) == (ErrorKind.CONNECTION, True)
    assert str(error) == (f"source 'news': http://127.0.0.1:{port}/feed: "
                          f"cannot connect to 127.0.0.1:{port}: {os.strerror(errno.ECONNREFUSED)}")


async def test_connection_lost_mid_body(http, serve):
    async def hang_up(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b"x" * 10)
        request.transport.close()
        return response

    base = await serve({"/feed": hang_up})
    error = await fails(http.get("news", f"{base}/feed"))

    assert (error.kind, error.transient) == (ErrorKind.CONNECTION, True)
    assert str(error).endswith(": the connection broke off mid-body")


async def test_credentials_and_query_are_sent_but_stay_out_of_errors(http, serve):
    received = []

    async def private(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization"), dict(request.query)))
        return web.Response(status=403)

    base = URL(await serve({"/private": private}))
    url = str(base.with_user("alice").with_password("s3cret").with_path("/private").with_query(token="hunter2"))
    error = await fails(http.get("news", url, params={"key": "k3y"}))

    assert str(error) == f"source 'news': {base}/private: HTTP 403 Forbidden"
    assert received == [(aiohttp.encode_basic_auth("alice", "s3cret"), {"token": "hunter2", "key": "k3y"})]


async def test_explicit_auth_wins_over_the_urls(http, serve):
    received = []

    async def private(request: web.Request) -> web.Response:
        received.append(request.headers.get("Authorization"))
        return await feed()(request)

    base = URL(await serve({"/private": private}))
    await http.get("news", str(base.with_user("alice").with_password("s3cret") / "private"), auth=("bob", "pw"))

    assert received == [aiohttp.encode_basic_auth("bob", "pw")]


async def test_one_debug_line_per_request_without_the_query(http, serve, caplog):
    base = await serve({"/feed": feed()})
    caplog.set_level(logging.DEBUG, logger="sources.http")
    await http.get("news", f"{base}/feed?token=hunter2")

    [line] = [record.getMessage() for record in caplog.records if record.name == "sources.http"]
    assert re.fullmatch(rf"http\.fetched source=news url={re.escape(base)}/feed status=200 bytes={len(FEED)} ms=\d+",
                        line)


@pytest.mark.parametrize("url", ["ftp://example.org/feed.xml", "javascript:alert(1)", "mailto:a@example.org",
                                 "http://intranet.example.org:http/feed", "https:///feed", "file://fileserver/feed.xml"])
async def test_unusable_urls_are_config_errors(http, url):
    error = await fails(http.get("news", url))

    assert (error.kind, error.transient) == (ErrorKind.CONFIG, False)


# Files


@pytest.fixture
def news_file(tmp_path: Path) -> Path:
    path = tmp_path / "feeds" / "news.rss"
    path.parent.mkdir()
    path.write_bytes(FEED)
    return path


async def test_files_by_path_and_file_url(http, news_file):
    stamp = formatdate(news_file.stat().st_mtime, usegmt=True)
    expected = Response(news_file.as_uri(), 200, FEED, False, None, stamp, "application/rss+xml", None)

    for url in ["feeds/news.rss", "file:feeds/news.rss", str(news_file), news_file.as_uri(),
                f"file://localhost{news_file}"]:
        assert await http.get("news", url) == expected, url


@pytest.mark.parametrize(("name", "media_type"), [("a.xml", "text/xml"), ("a.json", "application/json"),
                                                 ("a.atom", "application/atom+xml"), ("a.ics", "text/calendar"),
                                                 ("a.feed", None)])
async def test_file_media_types(http, tmp_path, name, media_type):
    (tmp_path / name).write_bytes(FEED)

    assert (await http.get("news", name)).content_type == media_type


async def test_file_not_modified_by_mtime(http, news_file):
    first = await http.get("news", "feeds/news.rss")
    second = await http.get("news", "feeds/news.rss", last_modified=first.last_modified)
    later = news_file.stat().st_mtime + 60
    os.utime(news_file, (later, later))
    third = await http.get("news", "feeds/news.rss", last_modified=first.last_modified)

    assert (second.status, second.not_modified, second.body, second.last_modified) == (304, True, b"", first.last_modified)
    assert (third.not_modified, third.body, third.last_modified) == (False, FEED, formatdate(later, usegmt=True))


async def test_file_over_the_cap(http, tmp_path):
    (tmp_path / "big.xml").write_bytes(b"x" * 2048)
    error = await fails(http.get("news", "big.xml", limits=Limits(max_bytes=1024)))

    assert (error.kind, error.transient) == (ErrorKind.TOO_LARGE, False)
    assert str(error) == f"source 'news': {(tmp_path / 'big.xml').as_uri()}: file larger than 1 KiB"


@pytest.mark.parametrize(("name", "message"), [("missing.xml", "no such file"), (".", "cannot read: Is a directory")])
async def test_unreadable_files(http, tmp_path, name, message):
    error = await fails(http.get("news", name))

    assert (error.kind, error.transient, error.status) == (ErrorKind.HTTP, False, None)
    assert str(error).endswith(f": {message}")


# Pure parts


COMPRESSORS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "identity": bytes,
}


@given(data=st.binary(max_size=4000), encoding=st.sampled_from(["gzip", "deflate", "raw deflate", "identity"]),
       cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=8), limit=st.integers(0, 5000))
def test_inflater_round_trip_under_any_chunking(data, encoding, cuts, limit):
    encoded = raw_deflate(data) if encoding == "raw deflate" else COMPRESSORS[encoding](data)
    bounds = [0, *sorted(cut % (len(encoded) + 1) for cut in cuts), len(encoded)]
    inflater = Inflater(encoding.split()[-1], limit)
    try:
        for start, end in zip(bounds, bounds[1:]):
            inflater.feed(encoded[start:end])
        assert inflater.finish() == data
        assert len(data) <= limit or encoding == "identity"  # identity is bounded by the wire cap
    except BodyError as e:
        assert (e.kind, len(data) > limit) == (ErrorKind.TOO_LARGE, True)


@given(seconds=st.integers(min_value=0, max_value=10**12))
def test_retry_after_delta_seconds(seconds):
    assert parse_retry_after(f" {seconds} ", datetime.now(timezone.utc)) == seconds


@given(when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
       now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)))
def test_retry_after_http_date_is_relative_to_now(when, now):
    when = when.replace(microsecond=0)

    assert parse_retry_after(format_datetime(when, usegmt=True), now) == max(0.0, (when - now).total_seconds())


@given(st.text())
def test_retry_after_never_raises(value):
    seconds = parse_retry_after(value, datetime.now(timezone.utc))

    assert seconds is None or 0 <= seconds < float("inf")


@given(user=st.text(min_size=1), password=st.text(), query=st.dictionaries(st.text(), st.text()),
       fragment=st.text())
def test_redact_drops_credentials_query_and_fragment(user, password, query, fragment):
    url = URL.build(scheme="https", user=user, password=password, host="intranet.example.org", port=8443,
                    path="/feed/news", query=query, fragment=fragment)

    assert redact(str(url)) == "https://intranet.example.org:8443/feed/news"
