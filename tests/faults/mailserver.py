"""A mail server with a real one's outages: it goes down, comes back on the same port, and is busy for a while.

It serves the recording handler of tests/digest/smtpd.py (aiosmtpd, in the
test's loop), whose cues stay: `soft...` addresses get 451 on their first
attempt, `hard...` ones 550. On top of that:

- `stop()` goes down as a restarting server does: it stops listening and
  closes every connection after what it has written (a message it took has
  its 250 on the wire), so a transaction in progress is lost, never half-taken;
- `start(busy=True)` comes back answering `421 4.3.2` to new connections for
  `busy_for` seconds, and at least until it has turned one away (so that a
  client is known to have met it); `up` is set once it takes mail again.
"""

from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP

from tests.digest.smtpd import RecordingHandler

BUSY = b"421 4.3.2 Service not available, restarting; try again later\r\n"


class _Busy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(BUSY)
        transport.close()


class RestartingServer:
    def __init__(self, handler: RecordingHandler, *, busy_for: float):
        self.handler = handler
        self.busy_for = busy_for
        self.port = 0  # chosen at the first start, kept after
        self.turned_away = 0  # connections answered 421
        self.restarts = 0
        self.up = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._protocols: list[SMTP] = []
        self._busy_until: float | None = None

    async def start(self, *, busy: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self._busy_until = loop.time() + self.busy_for if busy else None
        if busy:
            self.restarts += 1
        else:
            self.up.set()
        self._server = await loop.create_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def _connection(self) -> asyncio.Protocol:
        loop = asyncio.get_running_loop()
        if self._busy_until is not None and (loop.time() < self._busy_until or self.turned_away == 0):
            self.turned_away += 1
            return _Busy()
        self._busy_until = None
        self.up.set()
        server = SMTP(self.handler, hostname="localhost", loop=loop)
        self.handler.connected(server)
        self._protocols.append(server)
        return server

    async def stop(self) -> None:
        """Stop listening and close every connection; a restart follows with `start(busy=True)`."""
        if self._server is None:
            return
        self.up.clear()
        self._server.close()
        protocols, self._protocols = self._protocols, []
        # Each session's task first, so that none takes a message whose reply could no longer be written;
        # then close, not abort: what the server did write (a 250) still goes out.
        tasks = [p._handler_coroutine for p in protocols if p._handler_coroutine is not None]
        for task in tasks:
            task.cancel()
        for protocol in protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> RestartingServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for protocol in self._protocols:
            if protocol.transport is not None:
                protocol.transport.abort()
        await self.stop()
