"""An aiohttp application served on loopback in a process of its own.

The feed server and the screens scenario's baseline run here, so that
serving costs the measured process nothing but the other core. `factory`
builds the application in the child; it and its arguments must pickle (a
module-level function), since the child is spawned, not forked.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

Factory = Callable[..., web.Application]


def serve(factory: Factory, args: tuple[Any, ...], conn: Connection) -> None:
    """The child: build the app, send its port, serve until terminated."""
    async def main() -> None:
        runner = web.AppRunner(factory(*args), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        conn.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def app_process(name: str, factory: Factory, *args: Any, start_timeout: float = 120) -> Iterator[str]:
    """The base URL of `factory(*args)` served in a child process, until the block ends."""
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    process = spawn.Process(target=serve, args=(factory, args, child), name=name, daemon=True)
    process.start()
    try:
        if not parent.poll(start_timeout):
            raise SystemExit(f"{name} did not start within {start_timeout:.0f} s")
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        process.terminate()
        process.join()
