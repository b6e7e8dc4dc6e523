"""One fetch of one source: adapter -> items -> store, with its outcome recorded.

A failing source is recorded in its fetch state (for /healthz and the
dashboard) and never raises into the scheduler, so it cannot stop another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from intracast.metrics import Metrics
from intracast.store import SqlStore
from sources.errors import SourceError
from sources.item import Item
from sources.registry import Source

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FetchOutcome:
    source: str
    items: list[Item]
    new: int = 0
    updated: int = 0
    error: str | None = None


async def ingest(source: Source, store: SqlStore, metrics: Metrics, clock: Clock = utcnow) -> FetchOutcome:
    name = source.options.name
    started = time.perf_counter()
    try:
        items = [item async for item in source.fetch()]
        result = await store.upsert_items(items, clock())
        await store.record_fetch_success(name, clock(), items_seen=len(items))
    except Exception as e:
        error = str(e) if isinstance(e, SourceError) else f"source {name!r}: {type(e).__name__}: {e}"
        await store.record_fetch_failure(name, clock(), error)
        metrics.source_fetches.labels(name, "failed").inc()
        if isinstance(e, SourceError):
            log.warning("source.failed source=%s error=%r", name, error)
        else:  # a bug in an adapter: keep the traceback
            log.exception("source.failed source=%s error=%r", name, error)
        return FetchOutcome(name, [], error=error)
    took = time.perf_counter() - started
    metrics.source_fetches.labels(name, "ok").inc()
    metrics.source_fetch_seconds.labels(name).observe(took)
    metrics.source_items.labels(name, "new").inc(result.new)
    metrics.source_items.labels(name, "updated").inc(result.updated)
    log.info(
        "source.fetched source=%s items=%d new=%d updated=%d took=%.2fs",
        name, len(items), result.new, result.updated, took,
    )
    return FetchOutcome(name, items, result.new, result.updated)
