"""The long-lived resources of one process, opened in one place and closed in reverse.

Used by the daemon and by one-shot CLI commands alike, so `intracast fetch`
runs the very code the scheduler runs. Parsers run in a pool of worker
processes (spawned, not forked: forking a process that runs threads can
deadlock), so parsing a large feed uses both cores and never blocks the loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout

from intracast import __version__
from intracast.config import LoadedConfig
from intracast.ingest import Clock, Ingestor, utcnow
from intracast.metrics import Metrics
from intracast.store import SqlStore, open_store
from sources import registry
from sources.http import Http
from sources.registry import Services, Source

USER_AGENT = f"intracast/{__version__} (intranet delivery daemon; +https://github.com/intracast/intracast)"


@dataclass(frozen=True)
class Runtime:
    loaded: LoadedConfig
    store: SqlStore
    metrics: Metrics
    ingestor: Ingestor
    services: Services  # the HTTP client and worker processes, shared by sources and screens' media


@asynccontextmanager
async def open_services(loaded: LoadedConfig) -> AsyncIterator[Services]:
    """The HTTP session and parser processes that sources (and the media cache) share."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            ClientSession(timeout=ClientTimeout(total=60, connect=10), headers={"User-Agent": USER_AGENT})
        )
        executor = ProcessPoolExecutor(os.cpu_count() or 2, mp_context=multiprocessing.get_context("spawn"))
        stack.push_async_callback(asyncio.to_thread, executor.shutdown, wait=True, cancel_futures=True)
        yield Services(Http(http, loaded.base_dir), executor, loaded.base_dir)


def create_sources(loaded: LoadedConfig, services: Services) -> dict[str, Source]:
    return {options.name: registry.create(options, services) for options in loaded.config.sources}


@asynccontextmanager
async def open_runtime(loaded: LoadedConfig, clock: Clock = utcnow) -> AsyncIterator[Runtime]:
    """`clock`: what "now" is for fetches (a command's `now`, a test's own)."""
    async with AsyncExitStack() as stack:
        # Migrations run apart: a long-running daemon never holds Alembic in its memory.
        store = await stack.enter_async_context(
            open_store(loaded.config.storage.url, loaded.base_dir, migrate_apart=True)
        )
        services = await stack.enter_async_context(open_services(loaded))
        metrics = Metrics()
        yield Runtime(loaded, store, metrics, Ingestor(create_sources(loaded, services), store, metrics, clock), services)
