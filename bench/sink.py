"""An SMTP server on loopback that accepts every message and discards it, in a process of its own.

aiosmtpd's `Controller` in a thread would share the measured process's GIL
with its event loop (and aiosqlite's thread), and measure that contention
more than the pipeline; in its own process it costs the measured one only
the other core. It keeps a count of the messages it accepted, shared with
the parent through a `multiprocessing.Value`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event


class Discard:
    """Accepts every message and keeps only a count."""

    def __init__(self, count: Synchronized[int]) -> None:
        self.count = count

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.count.get_lock():
            self.count.value += len(envelope.rcpt_tos)
        return "250 2.0.0 Ok: discarded"


def serve(port: int, count: Synchronized[int], ready: Event) -> None:
    """The sink process: serve until terminated."""
    Controller(Discard(count), hostname="127.0.0.1", port=port).start()
    ready.set()
    threading.Event().wait()


def free_port() -> int:
    # aiosmtpd's Controller checks it is up by connecting to its port, so it needs a real number, not 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Sink:
    port: int
    count: Synchronized[int]

    @property
    def received(self) -> int:
        return self.count.value

    async def wait_for(self, total: int, timeout: float) -> bool:
        """Whether `received` reached `total` within `timeout` s (polled: the count lives in another process)."""
        deadline = time.monotonic() + timeout
        while self.received < total and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.received >= total


@contextmanager
def smtp_sink() -> Iterator[Sink]:
    spawn = multiprocessing.get_context("spawn")
    count, ready, port = spawn.Value("q", 0), spawn.Event(), free_port()
    process = spawn.Process(target=serve, args=(port, count, ready), name="smtp-sink", daemon=True)
    process.start()
    try:
        if not ready.wait(timeout=60):
            raise SystemExit("the SMTP sink did not start within 60 s")
        yield Sink(port, count)
    finally:
        process.terminate()
        process.join()
