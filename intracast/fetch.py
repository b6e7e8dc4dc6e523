"""`intracast fetch`: fetch sources once, by the code the scheduler runs; store only when asked."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from intracast.config import LoadedConfig
from intracast.ingest import Clock, FetchOutcome, fetch
from intracast.runtime import create_sources, open_runtime, open_services
from sources.errors import SourceError
from sources.registry import FetchContext, Source


async def fetch_once(
    loaded: LoadedConfig, names: list[str], *, store: bool, clock: Clock, recipient: Mapping[str, str] | None = None
) -> list[FetchOutcome]:
    """Fetch `names` concurrently; one failing source does not stop the others."""
    if store:
        async with open_runtime(loaded, clock) as runtime:
            runs = (runtime.ingestor.run(name, force=True, recipient=recipient) for name in names)
            return await asyncio.gather(*runs)
    async with open_services(loaded) as services:
        sources = create_sources(loaded, services)
        return await asyncio.gather(*(_fetch_only(sources[name], clock, recipient) for name in names))


async def _fetch_only(source: Source, clock: Clock, recipient: Mapping[str, str] | None) -> FetchOutcome:
    name = source.options.name
    try:
        result = await fetch(source, FetchContext(clock(), recipient=recipient))
    except SourceError as e:
        return FetchOutcome(name, [], error=e)
    return FetchOutcome(name, result.items or [])
