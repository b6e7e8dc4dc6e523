"""Coalescing concurrent store calls into one query per batch (a DataLoader).

Why: when 1,000 sources tick together, each asks for its fetch state and,
after a 304, records its success. One transaction each, through SQLAlchemy
async and aiosqlite's thread, costs about a millisecond, and SQLite's writers
queue on its one lock: 2,000 transactions made a warm cycle of 1,000 feeds
take 2.75 s. Asked together, the same reads are one `SELECT ... WHERE source
IN (...)` and the writes one transaction (bench/README.md, ingest).

How: a caller of `load(key)` joins the queue; the batcher's one task takes
up to `max_size` queued keys and hands them to `run`, which answers them in
one round trip. Callers arriving meanwhile (while the task is being
scheduled, or while a batch is in flight) form the next batch, so nothing
waits on a timer: a lone call costs one loop iteration more than a direct
one, and under load batches grow by themselves (group commit).

Contract:

- `run(keys)` returns one outcome per key, in order; an `Exception` in place
  of a result is raised to that key's caller alone. If `run` itself raises,
  every caller of the batch gets that exception.
- `load` returns only once `run` has answered its key: for a write, once it
  is committed. Nothing is fire-and-forget.
- The task runs only while some caller waits: it ends when the queue is
  empty, and when the last waiting caller is cancelled it is cancelled too
  (and awaited), so a batcher never outlives its callers or the engine they
  use. `aclose` cancels it outright; whoever still waits gets `StoreError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from intracast.store.errors import StoreError

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


class Batcher(Generic[K, R]):
    def __init__(
        self, run: Callable[[list[K]], Awaitable[Sequence[R | Exception]]], *, max_size: int = 500, name: str = "batch"
    ):
        self._run = run
        self._max_size = max_size
        self._name = name
        self._queue: list[tuple[K, asyncio.Future[R]]] = []
        self._in_flight: list[asyncio.Future[R]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def load(self, key: K) -> R:
        """`run`'s answer for `key`, asked together with whoever else asks meanwhile."""
        if self._closed:
            raise StoreError(f"{self._name}: closed")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((key, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=self._name)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                future.exception()  # answered as we were cancelled: not an unretrieved error
            await self._stop_if_unwaited()
            raise

    async def aclose(self) -> None:
        """Cancel the batch in flight; queued callers get `StoreError`."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        queued, self._queue = self._queue, []
        for _, future in queued:
            if not future.done():
                future.set_exception(StoreError(f"{self._name}: closed"))

    async def _drain(self) -> None:
        me = asyncio.current_task()
        try:
            while self._queue and self._task is me:
                batch = [(key, future) for key, future in self._queue[: self._max_size] if not future.done()]
                del self._queue[: self._max_size]
                if batch:
                    await self._answer(batch)
        finally:
            if self._task is me:
                self._task = None

    async def _answer(self, batch: list[tuple[K, asyncio.Future[R]]]) -> None:
        in_flight = self._in_flight = [future for _, future in batch]
        try:
            outcomes: Sequence[R | Exception] = await self._run([key for key, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{self._name}: {len(outcomes)} outcomes for {len(batch)} keys")
        except Exception as e:
            outcomes = [e] * len(batch)
        except BaseException:  # cancelled: by `aclose`, or because nobody waits any more
            for future in in_flight:
                if not future.done():
                    future.set_exception(StoreError(f"{self._name}: closed"))
            raise
        finally:
            if self._in_flight is in_flight:
                self._in_flight = []
        for (_, future), outcome in zip(batch, outcomes):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _stop_if_unwaited(self) -> None:
        """A cancelled caller was the last one waiting: stop the task rather than leave it running alone."""
        waiting = [future for _, future in self._queue] + self._in_flight
        if self._task is None or any(not future.done() for future in waiting):
            return
        task, self._task = self._task, None
        task.cancel()
        await asyncio.wait({task})
