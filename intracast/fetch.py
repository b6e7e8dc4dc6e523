"""`intracast fetch`: fetch sources once, through the same ingest as the scheduler."""

from __future__ import annotations

import asyncio

from intracast.config import LoadedConfig
from intracast.ingest import FetchOutcome, ingest
from intracast.runtime import open_runtime


async def fetch_once(loaded: LoadedConfig, names: list[str]) -> list[FetchOutcome]:
    """Fetch and store `names` concurrently; one failing source does not stop the others."""
    async with open_runtime(loaded) as runtime:
        return await asyncio.gather(
            *(ingest(runtime.sources[name], runtime.store, runtime.metrics) for name in names)
        )
