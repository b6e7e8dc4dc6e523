"""Fetching sources into the store: conditional GET, backoff, retention, health, metrics.

A failing source is recorded in its fetch state (for /healthz and the
dashboard) and never raises into the scheduler, so it cannot stop another.
A transient failure sets `retry_at`; the caller schedules that retry and
interval ticks before it are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from intracast.metrics import Metrics
from intracast.store import FetchState, SqlStore
from sources.backoff import retry_delay
from sources.errors import ErrorKind, SourceError
from sources.item import Item
from sources.registry import FetchContext, FetchResult, Source

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
    not_modified: bool = False
    skipped: bool = False  # backing off: not attempted
    error: SourceError | None = None
    retry_at: datetime | None = None


class Ingestor:
    def __init__(self, sources: Mapping[str, Source], store: SqlStore, metrics: Metrics, clock: Clock = utcnow):
        self.sources = sources
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._running: dict[str, asyncio.Lock] = {}  # a retry and an interval tick never overlap

    def reconfigure(self, sources: Mapping[str, Source]) -> None:
        """A reloaded config's sources; a source whose options did not change keeps its adapter.
        A fetch in progress finishes with the options it started with."""
        kept = {name: self.sources[name] for name, source in sources.items()
                if name in self.sources and self.sources[name].options == source.options}
        self.sources = {**sources, **kept}

    async def run(self, name: str, *, force: bool = False, recipient: Mapping[str, str] | None = None) -> FetchOutcome:
        """Fetch one source and store what changed. `force` ignores backoff (a manual fetch).

        Per-recipient fetches (one per employee at digest time) run side by side;
        the lock only keeps a retry and an interval tick of a source apart.
        """
        if recipient is not None:
            return await self._run(name, force, recipient)
        lock = self._running.setdefault(name, asyncio.Lock())
        if lock.locked():
            return FetchOutcome(name, [], skipped=True)
        async with lock:
            return await self._run(name, force, recipient)

    async def _run(self, name: str, force: bool, recipient: Mapping[str, str] | None) -> FetchOutcome:
        source, now = self.sources[name], self._clock()
        state = await self._store.get_fetch_state(name)
        if not force and state and state.retry_at and now < state.retry_at:
            self._metrics.source_fetches.labels(name, "skipped").inc()
            log.debug("source.backing_off source=%s until=%s", name, state.retry_at.isoformat())
            return FetchOutcome(name, [], skipped=True, retry_at=state.retry_at)
        context = _context(now, state, recipient)
        started = time.perf_counter()
        try:
            result = await fetch(source, context)
        except SourceError as e:
            return await self._failed(source, state, e, now)
        took = time.perf_counter() - started
        self._metrics.source_fetch_seconds.labels(name).observe(took)
        if result.items is None:
            await self._store.record_fetch_success(name, now, etag=result.etag, last_modified=result.last_modified)
            self._metrics.source_fetches.labels(name, "not_modified").inc()
            log.info("source.not_modified source=%s took=%.2fs", name, took)
            return FetchOutcome(name, [], not_modified=True)
        return await self._stored(source, result, now, took, personal=recipient is not None)

    async def _stored(self, source: Source, result: FetchResult, now: datetime, took: float, *,
                      personal: bool) -> FetchOutcome:
        name, items = source.options.name, result.items or []
        upserted = await self._store.upsert_items(items, now)
        await self._store.record_fetch_success(
            name, now, etag=result.etag, last_modified=result.last_modified, items_seen=len(items)
        )
        # A per-recipient source holds every employee's items together: a count cap
        # would let one employee's fetch delete another's (and what they were sent).
        cap = None if personal else source.options.max_items
        pruned = await self._store.prune_items(name, now, source.options.keep, cap)
        self._metrics.source_fetches.labels(name, "ok").inc()
        self._metrics.source_items.labels(name, "new").inc(upserted.new)
        self._metrics.source_items.labels(name, "updated").inc(upserted.updated)
        log.info(
            "source.fetched source=%s items=%d new=%d updated=%d unchanged=%d pruned=%d took=%.2fs",
            name, len(items), upserted.new, upserted.updated, upserted.unchanged, pruned, took,
        )
        return FetchOutcome(name, items, upserted.new, upserted.updated)

    async def _failed(self, source: Source, state: FetchState | None, error: SourceError, now: datetime) -> FetchOutcome:
        name = source.options.name
        retry_at = None
        if error.transient:
            failures = (state.consecutive_failures if state else 0) + 1
            retry_at = now + retry_delay(source.options.every, failures, error.retry_after)
        await self._store.record_fetch_failure(name, now, str(error), kind=error.kind, retry_at=retry_at)
        self._metrics.source_fetches.labels(name, "failed").inc()
        self._metrics.source_errors.labels(name, error.kind).inc()
        retry = retry_at.isoformat() if retry_at else "next interval"
        log.warning("source.failed source=%s kind=%s retry=%s error=%r", name, error.kind, retry, str(error))
        return FetchOutcome(name, [], error=error, retry_at=retry_at)


async def fetch(source: Source, context: FetchContext) -> FetchResult:
    """`source.fetch`, with any failure as a `SourceError` (a bug in an adapter included)."""
    try:
        return await source.fetch(context)
    except SourceError:
        raise
    except Exception as e:
        name = source.options.name
        log.exception("source.adapter_bug source=%s", name)
        raise SourceError(name, "adapter", f"{type(e).__name__}: {e}", kind=ErrorKind.INTERNAL) from e


def _context(now: datetime, state: FetchState | None, recipient: Mapping[str, str] | None) -> FetchContext:
    if state is None or recipient is not None:
        return FetchContext(now, recipient=recipient)
    return FetchContext(now, etag=state.etag, last_modified=state.last_modified)
