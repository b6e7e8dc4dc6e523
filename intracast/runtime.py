"""The long-lived resources of one process, opened in one place and closed in reverse.

Used by the daemon and by one-shot CLI commands alike, so `intracast fetch`
runs the very code the scheduler runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout

from intracast import __version__
from intracast.config import LoadedConfig
from intracast.metrics import Metrics
from intracast.store import SqlStore, open_store
from sources import registry
from sources.registry import Source

USER_AGENT = f"intracast/{__version__} (intranet delivery daemon; +https://github.com/intracast/intracast)"


@dataclass(frozen=True)
class Runtime:
    loaded: LoadedConfig
    store: SqlStore
    http: ClientSession
    metrics: Metrics
    sources: dict[str, Source]


@asynccontextmanager
async def open_runtime(loaded: LoadedConfig) -> AsyncIterator[Runtime]:
    config = loaded.config
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(config.storage.url, loaded.base_dir))
        http = await stack.enter_async_context(
            ClientSession(timeout=ClientTimeout(total=60, connect=10), headers={"User-Agent": USER_AGENT})
        )
        sources = {options.name: registry.create(options, http) for options in config.sources}
        yield Runtime(loaded, store, http, Metrics(), sources)
