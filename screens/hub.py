"""Server-sent events to connected screens: one stream per open player page.

`ScreenHub.stream` serves `GET /screens/{id}/events` (the caller checks the
token first). A stream starts with `event: hello` (the daemon's version),
then carries what
`publish` sends to its screen, and a `: keepalive` comment whenever it has
been quiet for `keepalive` seconds, so proxies keep the connection and a
client that went away is noticed by the failing write.

`publish` never waits: each stream has a bounded queue, and a client that
lets its queue overflow (it stopped reading) is dropped, its connection
aborted; the player reconnects and reloads its playlist (issue 6: one slow
TV must not delay the others). `close` ends every stream at shutdown.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_CLOSE = b""  # queued to end a stream; never a real event


@dataclass(eq=False)
class _Client:
    screen_id: str
    request: web.BaseRequest
    queue: asyncio.Queue[bytes] = field(repr=False)

    def end(self, *, abort: bool = False) -> None:
        """Make the stream finish; `abort` also cuts the connection (a write may be stuck on it)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_CLOSE)
        if abort and self.request.transport is not None:
            self.request.transport.abort()


def encode_event(event: str, data: dict[str, Any]) -> bytes:
    """One SSE message; the JSON is on one line, so a single `data:` field carries it."""
    if not event or any(c in event for c in "\r\n:"):
        raise ValueError(f"bad event name {event!r}")
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


class ScreenHub:
    """Owns the SSE streams of connected screens (a screen may have a few, e.g. a reconnect racing its old stream)."""

    def __init__(self, *, version: str = "", keepalive: float = 15.0, queue_size: int = 64,
                 per_screen: int = 4) -> None:
        """`version`: the daemon's, sent in `hello`; a player running another version reloads itself."""
        if keepalive <= 0 or queue_size < 1 or per_screen < 1:
            raise ValueError("keepalive, queue_size and per_screen must be positive")
        self._version = version
        self._keepalive = keepalive
        self._queue_size = queue_size
        self._per_screen = per_screen
        self._clients: dict[str, list[_Client]] = {}
        self._closed = False
        self._empty = asyncio.Event()
        self._empty.set()

    def count(self, screen_id: str | None = None) -> int:
        """Streams open, for one screen or all."""
        if screen_id is not None:
            return len(self._clients.get(screen_id, ()))
        return sum(map(len, self._clients.values()))

    def connected(self) -> set[str]:
        return set(self._clients)

    async def stream(self, request: web.Request, screen_id: str) -> web.StreamResponse:
        if self._closed:
            raise web.HTTPServiceUnavailable(text="shutting down\n")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx: pass events through at once
            }
        )
        client = _Client(screen_id, request, asyncio.Queue(self._queue_size))
        self._add(client)
        log.info("screen.connected screen=%s streams=%d", screen_id, self.count(screen_id))
        try:
            await response.prepare(request)
            await response.write(encode_event("hello", {"screen": screen_id, "version": self._version}))
            await self._pump(client, response)
        except ConnectionError:
            pass  # the client went; the finally cleans up
        finally:
            self._remove(client)
            log.info("screen.disconnected screen=%s streams=%d", screen_id, self.count(screen_id))
        return response

    async def _pump(self, client: _Client, response: web.StreamResponse) -> None:
        while True:
            try:
                message = await asyncio.wait_for(client.queue.get(), self._keepalive)
            except TimeoutError:
                message = b": keepalive\n\n"
            if message is _CLOSE:
                return
            await response.write(message)

    def publish(self, screen_ids: Iterable[str], event: str, data: dict[str, Any]) -> None:
        """Queue `event` for every stream of these screens; drop streams whose queue is full."""
        message = encode_event(event, data)
        for screen_id in set(screen_ids):
            for client in list(self._clients.get(screen_id, ())):
                try:
                    client.queue.put_nowait(message)
                except asyncio.QueueFull:
                    log.warning("screen.dropped screen=%s reason=slow queue=%d", screen_id, self._queue_size)
                    self._remove(client)
                    client.end(abort=True)

    async def close(self, timeout: float = 5.0) -> None:
        """End every stream and wait for them to finish; after `timeout` s, cut the stragglers' connections."""
        self._closed = True
        clients = [client for group in self._clients.values() for client in group]
        for client in clients:
            client.end()
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
        except TimeoutError:
            for group in list(self._clients.values()):
                for client in group:
                    client.end(abort=True)
            await self._empty.wait()

    def _add(self, client: _Client) -> None:
        group = self._clients.setdefault(client.screen_id, [])
        group.append(client)
        self._empty.clear()
        if len(group) > self._per_screen:
            oldest = group[0]
            self._remove(oldest)
            oldest.end()  # graceful: a half-open one fails at its next write

    def _remove(self, client: _Client) -> None:
        group = self._clients.get(client.screen_id, [])
        if client in group:
            group.remove(client)
        if not group:
            self._clients.pop(client.screen_id, None)
        if not self._clients:
            self._empty.set()
