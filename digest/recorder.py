"""Record a sender's outcomes in batches, while its connections carry on.

A committed write per message (`mark_sent`) costs about as much as sending a
message over loopback, and concurrent writers queue on SQLite's lock; so the
sender's workers hand each outcome to a `Recorder` and go on with their next
message. One writer task commits whatever has queued up in one
`settle_many` transaction, and starts the next batch as soon as that commit
ends: a batch is what arrived during the previous commit.

Delivery semantics (DESIGN.md): an outcome not yet committed leaves its row
`sending`, so a crash sends it again after the lease. That is why at most
`limit` outcomes wait unrecorded: `record()` waits for room beyond that.
A crash thus duplicates at most `limit` messages plus one on the wire per
connection.

A failed commit is logged per row (`mail.unrecorded`, those rows go again
after their lease) and kept in `error`; later batches are still tried.
Leaving `async with` (once every `record()` has returned) commits everything
queued, also when the block failed: those messages went. Cancelling it aborts
the commit in progress.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from digest.store import DeliveryStore, OutboxRow, Settlement

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, store: DeliveryStore, *, limit: int):
        self._store = store
        self._room = asyncio.Semaphore(limit)
        self._queue: list[tuple[OutboxRow, Settlement]] = []
        self._queued = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self.error: Exception | None = None

    async def __aenter__(self) -> Recorder:
        self._writer = asyncio.create_task(self._write())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._writer is not None
        self._closing = True
        self._queued.set()
        await self._writer  # cancelling us cancels it too

    async def record(self, row: OutboxRow, settlement: Settlement) -> None:
        """Queue `settlement` for `row`; wait first while `limit` outcomes are unrecorded."""
        await self._room.acquire()
        self._queue.append((row, settlement))
        self._queued.set()

    async def _write(self) -> None:
        while self._queue or not self._closing:
            if not self._queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            batch, self._queue = self._queue, []
            try:
                await self._commit(batch)
            finally:
                for _ in batch:
                    self._room.release()

    async def _commit(self, batch: list[tuple[OutboxRow, Settlement]]) -> None:
        try:
            await self._store.settle_many([settlement for _, settlement in batch])
        except Exception as e:  # the store failed (StoreError): the rows stay `sending`, and go again after the lease
            for row, _ in batch:
                log.error("mail.unrecorded digest=%s id=%d error=%r", row.key.digest, row.id, e)
            self.error = self.error or e
