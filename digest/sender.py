"""Drain the outbox through a delivery backend: claim, send, record each outcome.

`Sender.drain()` claims due rows (`claim_pending`, under a lease) and sends
them over the backend, `backend.concurrency` at a time and paced by a
`Throttle`, until nothing is due. Each row ends in one `Settlement`:

- delivered -> sent, with the server's reply;
- `TemporaryDeliveryError` -> deferred (pending again), due after an
  exponential backoff with jitter (1 min * 2**attempts, at most 1 h, +-20 %),
  or failed once the row is `retry_for` old; a throttling reply also slows
  the throttle down;
- `PermanentDeliveryError` -> failed, with the server's reply;
- any other exception is a bug: logged with its traceback and deferred, so a
  bug never loses a message.

A worker hands its settlement to the drain's `Recorder` (digest/recorder.py),
which commits them in batches, and goes on with its next message; at most
`backend.concurrency` outcomes wait unrecorded, so a crash duplicates at most
those and one message on the wire per connection. `drain()` returns once
every outcome is committed; a store error there halts the drain, which
raises it.

`Sender.run()` is the daemon's loop around it; setting `stop` lets the
messages in flight finish and be recorded, starts no new one, and returns.
Rows claimed but not yet started stay leased and are claimed again once the
lease runs out (after a restart, at most `lease` later); none is sent twice.
Cancelling `run()` instead aborts the transactions in flight: those rows are
sent again after the lease, which may duplicate them.

Logs name the digest and the row id, never the address: `mail.sent` per
message at debug, `mail.drained` per drain at info.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from digest.backends.base import Backend
from digest.errors import DeliveryError, PermanentDeliveryError, TemporaryDeliveryError
from digest.recorder import Recorder
from digest.store import DeliveryStore, OutboxRow, OutboxState, Settlement
from digest.throttle import Throttle

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
JITTER = 0.2
COUNTED_AS = {OutboxState.SENT: "sent", OutboxState.PENDING: "deferred", OutboxState.FAILED: "failed"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt (0-based), with jitter."""
    base = min(LONGEST_RETRY, FIRST_RETRY * 2 ** min(attempts, 16))
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


SHORTEST_WAIT_S = 0.5
# Outcomes a connection may leave unrecorded while it sends on (digest/recorder.py): what a crash may
# send twice besides the message on the wire. Each recorded batch costs a transaction of 2 to 5 ms
# through SQLAlchemy async and aiosqlite; with 1 per connection the writer could not keep up.
UNRECORDED_PER_CONNECTION = 4


@dataclass(frozen=True, slots=True)
class DrainStats:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


@dataclass
class _Pass:
    """One drain's shared state: what happened, and whether to start more."""

    stop: asyncio.Event
    recorder: Recorder
    counts: Counter[str] = field(default_factory=Counter)
    untried: list[int] = field(default_factory=list)  # claimed, then halted before their turn

    @property
    def halted(self) -> bool:
        """Stopped, or the store failed: sending what we cannot record would only duplicate it later."""
        return self.stop.is_set() or self.recorder.error is not None


class Sender:
    def __init__(
        self,
        store: DeliveryStore,
        backend: Backend,
        *,
        rate: float,
        lease: timedelta = timedelta(minutes=5),
        retry_for: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = _utc_now,
        batch: int = 100,
        poll: timedelta = timedelta(seconds=30),
        rng: random.Random | None = None,
        on_reply: Callable[[int | None], None] = lambda code: None,
    ):
        """`on_reply(code)`: each message's outcome as an SMTP code (None: no reply came), for metrics."""
        self._store = store
        self._backend = backend
        self._lease = lease
        self._retry_for = retry_for
        self._clock = clock
        self._batch = batch
        self._poll = poll
        self._rng = rng or random.Random()
        self._on_reply = on_reply
        self.throttle = Throttle(rate, burst=max(1, backend.concurrency))

    async def run(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Drain, then wait for `wake` (new rows), the next row due (a retry, or a lease another
        sender left when it died), the next poll or `stop`; until `stop`."""
        while not stop.is_set():
            wake.clear()
            wait = self._poll.total_seconds()
            try:
                await self.drain(stop)
                wait = self._until_due(await self._store.next_due(), wait)
            except Exception:  # the store failed; the rows are safe in it: try again at the next poll
                log.exception("mail.drain_failed")
            await _first_of(wake, stop, timeout=wait)

    def _until_due(self, due: datetime | None, longest: float) -> float:
        """Seconds to wait for `due`; at least `SHORTEST_WAIT_S`: a due row another sender is
        claiming right now is skipped, and must not make this one spin."""
        if due is None:
            return longest
        return min(longest, max(SHORTEST_WAIT_S, (due - self._clock()).total_seconds()))

    async def drain(self, stop: asyncio.Event | None = None) -> DrainStats:
        """Send every due row; with `stop` set, finish the messages in flight and return."""
        started = time.monotonic()
        # As many unrecorded outcomes as connections: a crash duplicates at most two messages per connection.
        async with Recorder(self._store, limit=UNRECORDED_PER_CONNECTION * self._backend.concurrency) as recorder:
            run = _Pass(stop or asyncio.Event(), recorder)
            while not run.halted:
                rows = await self._store.claim_pending(self._claim_size(), self._lease, self._clock())
                if not rows:
                    break
                await self._send_all(rows, run)
        stats = DrainStats(run.counts["sent"], run.counts["deferred"], run.counts["failed"])
        log.log(
            logging.INFO if stats != DrainStats() else logging.DEBUG,
            "mail.drained sent=%d deferred=%d failed=%d took=%.3fs",
            stats.sent, stats.deferred, stats.failed, time.monotonic() - started,
        )
        if recorder.error is not None:
            raise recorder.error
        return stats

    def _claim_size(self) -> int:
        """A batch the throttle can send well within the lease, so that no other sender reclaims it."""
        sendable = self.throttle.rate * self._lease.total_seconds() / 2
        return max(1, min(self._batch, int(sendable)))

    async def _send_all(self, rows: list[OutboxRow], run: _Pass) -> None:
        queue = iter(rows)
        async with asyncio.TaskGroup() as tg:
            for _ in range(min(self._backend.concurrency, len(rows))):
                tg.create_task(self._worker(queue, run))
        untried = run.untried + [row.id for row in queue]
        if untried and run.recorder.error is None:  # a stop: the next sender (a restart, a reload) takes them at once, not after the lease
            await self._store.release(untried)

    async def _worker(self, queue: Iterator[OutboxRow], run: _Pass) -> None:
        for row in queue:
            if not await self._turn(run):
                run.untried.append(row.id)
                return
            outcome = await self._deliver(row)
            await run.recorder.record(row, outcome)
            run.counts[COUNTED_AS[outcome.state]] += 1

    async def _turn(self, run: _Pass) -> bool:
        """Wait until the throttle lets the next message go; False if the drain halts meanwhile."""
        if run.halted:
            return False
        delay = self.throttle.reserve()
        if delay > 0:
            await _first_of(run.stop, timeout=delay)  # a stop need not wait out a slowed-down throttle
        return not run.halted

    async def _deliver(self, row: OutboxRow) -> Settlement:
        started = time.monotonic()
        try:
            reply = await self._backend.send(row.sender, row.key.recipient, row.message)
        except DeliveryError as e:
            self._on_reply(e.code)
            return self._undelivered(row, e)
        except Exception as e:
            self._on_reply(None)
            log.exception("mail.error digest=%s id=%d", row.key.digest, row.id)
            reply = f"internal error: {type(e).__name__}: {e}"
            return Settlement(row.id, OutboxState.PENDING, reply, self._clock() + backoff(row.attempts, self._rng))
        self._on_reply(_code(reply) or 250)  # a Maildir's "reply" has no code: it took the message
        self.throttle.succeeded()
        ms = (time.monotonic() - started) * 1000
        log.debug("mail.sent digest=%s id=%d ms=%d", row.key.digest, row.id, ms)
        return Settlement(row.id, OutboxState.SENT, reply, self._clock())

    def _undelivered(self, row: OutboxRow, error: DeliveryError) -> Settlement:
        if isinstance(error, PermanentDeliveryError):
            log.warning("mail.failed digest=%s id=%d code=%s", row.key.digest, row.id, error.code)
            return Settlement(row.id, OutboxState.FAILED, error.reply, self._clock())
        return self._retry_later(row, error)

    def _retry_later(self, row: OutboxRow, error: DeliveryError) -> Settlement:
        now = self._clock()
        if isinstance(error, TemporaryDeliveryError) and error.throttled:
            self.throttle.slow_down()
        deadline = row.created_at + self._retry_for
        if now >= deadline:
            log.warning(
                "mail.gave_up digest=%s id=%d attempts=%d code=%s",
                row.key.digest, row.id, row.attempts + 1, error.code,
            )
            return Settlement(row.id, OutboxState.FAILED, f"{error.reply} (gave up after {_span(self._retry_for)})", now)
        retry_at = min(deadline, now + backoff(row.attempts, self._rng))
        log.debug(
            "mail.deferred digest=%s id=%d code=%s retry_in=%ds",
            row.key.digest, row.id, error.code, (retry_at - now).total_seconds(),
        )
        return Settlement(row.id, OutboxState.PENDING, error.reply, retry_at)


def _span(span: timedelta) -> str:
    """24h, 90m, 45s: the largest unit that divides it."""
    seconds = int(span.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of `events` is set, or `timeout` seconds; the waiters are ours and end here."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def _code(reply: str) -> int | None:
    """The SMTP code a reply starts with ("250 2.0.0 Ok: queued"), if any."""
    head = reply[:3]
    return int(head) if head.isdigit() else None
