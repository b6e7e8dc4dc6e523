"""A small RSS feed on loopback whose items are always current: by default published an hour before the test."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web


class NewsFeed:
    """`/news.rss`: `items` items published at `published` (default: an hour before the test), `version` in every
    title; ETag and 304.

    `hits` holds when each request came (monotonic time).
    """

    def __init__(self, items: int, published: datetime | None = None) -> None:
        self.items, self.version = items, 0
        self.hits: list[float] = []
        self.published = format_datetime(published or datetime.now(UTC) - timedelta(hours=1), usegmt=True)
        self.app = web.Application()
        self.app.router.add_get("/news.rss", self.serve)

    async def serve(self, request: web.Request) -> web.Response:
        self.hits.append(time.monotonic())
        entries = "".join(
            f"<item><title>Nieuws {n} v{self.version}</title><link>https://intranet.example.org/news/{n}</link>"
            f"<guid>news-{n}</guid><pubDate>{self.published}</pubDate></item>"
            for n in range(self.items)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Nieuws</title>{entries}</channel></rss>'
        etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:16]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type="application/rss+xml", headers={"ETag": etag})
