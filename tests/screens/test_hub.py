"""The SSE hub on a real server on loopback: hello, publish, keep-alive, many clients, slow and gone clients, close."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, TCPConnector, web
from aiohttp.test_utils import TestClient

from screens.hub import ScreenHub, encode_event

DEADLINE = 2.0


async def read_event(response: ClientResponse, *, comments: bool = False) -> tuple[str, Any]:
    """The next SSE message as (event, data); with `comments`, a comment line comes back as (":", text)."""
    event, data = "message", None
    while True:
        line = (await response.content.readline()).decode()
        if line == "":
            raise EOFError("the stream ended")
        line = line.rstrip("\n")
        if line.startswith(":"):
            if comments:
                return ":", line[1:].strip()
            continue
        if line == "":
            if data is not None:
                return event, data
            continue
        name, _, value = line.partition(":")
        if name == "event":
            event = value.strip()
        elif name == "data":
            data = json.loads(value.strip())


async def wait_until(predicate: Callable[[], bool], deadline: float = DEADLINE) -> None:
    """Poll `predicate` on the event loop until it holds; fail after `deadline` seconds."""
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), deadline)


def hub_app(hub: ScreenHub) -> web.Application:
    async def events(request: web.Request) -> web.StreamResponse:
        return await hub.stream(request, request.match_info["id"])

    async def close(_: web.Application) -> None:
        await hub.close()

    app = web.Application()
    app.router.add_get("/s/{id}", events)
    app.on_shutdown.append(close)
    return app


@pytest.fixture
async def served(aiohttp_client: Callable[..., Awaitable[TestClient]]) -> AsyncIterator[Callable[..., Awaitable[tuple[ScreenHub, TestClient]]]]:
    async def make(**options: Any) -> tuple[ScreenHub, TestClient]:
        hub = ScreenHub(**{"version": "9.9", **options})
        return hub, await aiohttp_client(hub_app(hub))
    yield make


async def test_a_client_gets_hello_then_a_published_event(served) -> None:
    hub, client = await served()
    async with client.get("/s/kantine") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        assert await asyncio.wait_for(read_event(response), DEADLINE) == ("hello", {"screen": "kantine", "version": "9.9"})
        hub.publish(["hal"], "playlist", {"for": "hal"})
        hub.publish(["kantine"], "playlist", {"etag": "x", "naïef": True})
        assert await asyncio.wait_for(read_event(response), DEADLINE) == ("playlist", {"etag": "x", "naïef": True})


async def test_a_quiet_stream_sends_keepalive_comments(served) -> None:
    hub, client = await served(keepalive=0.05)
    async with client.get("/s/kantine") as response:
        await read_event(response)
        assert await asyncio.wait_for(read_event(response, comments=True), DEADLINE) == (":", "keepalive")


async def test_200_clients_all_get_one_publish_within_2_seconds(served) -> None:
    hub, client = await served()
    async with ClientSession(connector=TCPConnector(limit=0)) as session:
        responses = await asyncio.gather(*(session.get(client.make_url(f"/s/screen{i}")) for i in range(200)))
        try:
            await asyncio.gather(*(read_event(r) for r in responses))
            assert hub.count() == 200
            loop = asyncio.get_running_loop()
            start = loop.time()
            hub.publish([f"screen{i}" for i in range(200)], "playlist", {"n": 1})
            got = await asyncio.wait_for(asyncio.gather(*(read_event(r) for r in responses)), DEADLINE)
            assert got == [("playlist", {"n": 1})] * 200
            assert loop.time() - start < DEADLINE
        finally:
            for response in responses:
                response.close()


async def test_a_client_that_goes_is_removed(served) -> None:
    hub, client = await served(keepalive=0.05)
    response = await client.get("/s/kantine")
    await read_event(response)
    assert hub.count("kantine") == 1
    response.close()
    await wait_until(lambda: hub.count() == 0)
    assert hub.connected() == set()


async def test_close_ends_every_stream_and_refuses_new_ones(served) -> None:
    hub, client = await served()
    responses = [await client.get(f"/s/screen{i}") for i in range(3)]
    for response in responses:
        await read_event(response)
    await asyncio.wait_for(hub.close(), DEADLINE)
    assert hub.count() == 0
    for response in responses:
        await asyncio.wait_for(response.content.read(), DEADLINE)  # reaches the end of the stream
        assert response.content.at_eof()
        response.close()
    async with client.get("/s/late") as late:
        assert late.status == 503


async def test_a_slow_client_is_dropped_without_blocking_others(served) -> None:
    hub, client = await served(queue_size=4)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills fast; it never reads
    slow.setblocking(False)
    await asyncio.get_running_loop().sock_connect(slow, (client.host, client.port))
    _, writer = await asyncio.open_connection(sock=slow)
    writer.write(f"GET /s/slow HTTP/1.1\r\nHost: {client.host}\r\n\r\n".encode())
    await writer.drain()
    try:
        async with client.get("/s/fast") as fast:
            await read_event(fast)
            await wait_until(lambda: hub.count("slow") == 1)
            payload = {"text": "x" * 60_000}
            rounds = 0
            while hub.count("slow") and rounds < 2000:
                hub.publish(["slow", "fast"], "item", payload)
                assert await asyncio.wait_for(read_event(fast), DEADLINE) == ("item", payload)
                rounds += 1
            assert hub.count("slow") == 0, "the slow client was never dropped"
            hub.publish(["fast"], "after", {})
            assert await asyncio.wait_for(read_event(fast), DEADLINE) == ("after", {})
    finally:
        writer.close()


async def test_a_screen_keeps_at_most_a_few_streams(served) -> None:
    hub, client = await served(per_screen=2)
    first, second, third = [await client.get("/s/kantine") for _ in range(3)]
    for response in (first, second, third):
        await read_event(response)
    assert hub.count("kantine") == 2
    await asyncio.wait_for(first.content.read(), DEADLINE)  # the oldest was ended
    assert first.content.at_eof()
    for response in (first, second, third):
        response.close()


def test_event_names_cannot_break_the_framing() -> None:
    assert encode_event("playlist", {"a": "b\nc"}) == b'event: playlist\ndata: {"a":"b\\nc"}\n\n'
    with pytest.raises(ValueError):
        encode_event("bad\ndata: x", {})
