"""Feeds on loopback for the fault tests: many plain ones with ETags, and hostile ones.

`Feeds` is an aiohttp app. `/feed/{name}` is an RSS feed of `items` items
(guid `{name}-{n}`, `version` in each title), with an ETag, answering 304
when it matches; feeds named in `held` wait until `release` is set before
they answer, and one named in `growing` has one item more at each request (a
new item each fetch). The hostile routes are the faults of issue 8:

- `/slowloris`: status and headers, then nothing, until the test ends;
- `/drip`: status and headers, then one byte a second;
- `/huge`: 50 MB of body, chunked (no Content-Length to refuse up front);
- `/bomb`: a gzip body of ~250 KB that inflates to 256 MiB.

`hits` records when each path was asked for (monotonic time, in the test's
process), so a test can time an error against the request that caused it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
import zlib
from collections import defaultdict

from aiohttp import web

HUGE = 50 * 10**6
BOMB = 256 * 2**20


def rss(name: str, count: int, version: int = 0) -> bytes:
    entries = "".join(
        f"<item><title>{name} item {n} v{version}</title><link>https://intranet.example.org/{name}/{n}</link>"
        f"<guid>{name}-{n}</guid><pubDate>Tue, 24 Nov 2026 08:{n % 60:02d}:00 GMT</pubDate>"
        f"<description>Item {n} of {name}, with a few words of summary.</description></item>"
        for n in range(count)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
            f"<link>https://intranet.example.org/{name}</link>{entries}</channel></rss>").encode()


@functools.cache
def gzip_bomb() -> bytes:
    """BOMB bytes of spaces inside an <rss>, gzipped; built once, 1 MiB at a time."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * 2**20
    parts = [deflate.compress(b"<rss>")]
    parts += [deflate.compress(chunk) for _ in range(BOMB // len(chunk))]
    return b"".join(parts) + deflate.flush()


class Feeds:
    def __init__(self, *, items: int = 50, held: frozenset[str] = frozenset(), growing: frozenset[str] = frozenset()):
        self.items = items
        self.held = held
        self.growing = growing
        self.version = 0  # in every title: a new version updates every item
        self.release = asyncio.Event()
        self.ended = asyncio.Event()  # set at teardown: ends the hanging responses
        self.hits: dict[str, list[float]] = defaultdict(list)
        self.app = web.Application()
        self.app.router.add_get("/feed/{name}", self.feed)
        for path, handler in {"/slowloris": self.slowloris, "/drip": self.drip, "/huge": self.huge,
                              "/bomb": self.bomb}.items():
            self.app.router.add_get(path, handler)
        self.app.on_shutdown.append(self._end)

    async def _end(self, app: web.Application) -> None:
        self.ended.set()
        self.release.set()

    async def feed(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name].append(time.monotonic())
        if name in self.held:
            await self.release.wait()
        body = rss(name, len(self.hits[name]) if name in self.growing else self.items, self.version)
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def _headers_only(self, request: web.Request, **headers: str) -> web.StreamResponse:
        self.hits[request.path].append(time.monotonic())
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml", **headers})
        response.enable_chunked_encoding()
        await response.prepare(request)
        return response

    async def slowloris(self, request: web.Request) -> web.StreamResponse:
        response = await self._headers_only(request)
        await self.ended.wait()
        return response

    async def drip(self, request: web.Request) -> web.StreamResponse:
        response = await self._headers_only(request)
        try:
            for byte in rss("drip", 1):
                await response.write(bytes([byte]))
                await asyncio.sleep(1)  # one byte a second: the fault itself
        except ConnectionError:
            pass  # the client gave up, as it should
        return response

    async def huge(self, request: web.Request) -> web.StreamResponse:
        response = await self._headers_only(request)
        chunk = b"<!-- padding -->" * 4096  # 64 KiB
        try:
            for _ in range(HUGE // len(chunk)):
                await response.write(chunk)
        except ConnectionError:
            pass  # the client gave up, as it should
        return response

    async def bomb(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path].append(time.monotonic())
        headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
        return web.Response(body=gzip_bomb(), headers=headers)
