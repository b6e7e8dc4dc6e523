"""Sender: the outbox (a real SqlStore on SQLite) drained over SMTP to aiosmtpd on loopback."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.backends.smtp import SmtpBackend
from digest.config import SmtpConfig
from digest.sender import UNRECORDED_PER_CONNECTION, DrainStats, Sender, backoff
from digest.store import DeliveryKey, NewDelivery, OutboxRow, OutboxState
from intracast.store import SqlStore, StoreError, open_store
from tests.digest.smtpd import SENDER, Loopback, RecordingHandler, make_message, opened, smtp_server

T0 = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
WINDOW = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)
LEASE = timedelta(minutes=5)
FAST = 100_000.0  # messages per second: the throttle never waits


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, span: timedelta) -> None:
        self.now += span


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with open_store("sqlite:///var/t.db", tmp_path) as store:
        yield store


def message_id(recipient: str) -> str:
    return f"<daily.{recipient.replace('@', '.')}@intracast.test>"


async def enqueue(store: SqlStore, recipients: list[str], now: datetime = T0) -> None:
    for recipient in recipients:
        key = DeliveryKey("daily", recipient, WINDOW)
        mid = message_id(recipient)
        assert await store.create_delivery(NewDelivery(key, mid, SENDER, make_message(recipient, mid), ()), now)


async def outbox(store: SqlStore) -> dict[str, OutboxRow]:
    return {row.key.recipient: row for row in await store.outbox(limit=10_000)}


@asynccontextmanager
async def smtp(handler: RecordingHandler, connections: int = 4) -> AsyncIterator[tuple[Loopback, SmtpBackend]]:
    async with smtp_server(handler) as server:
        config = SmtpConfig(host="127.0.0.1", port=server.port, security="none", max_connections=connections)
        async with opened(SmtpBackend(config)) as backend:
            yield server, backend


async def test_200_messages_over_4_connections_each_exactly_once(store: SqlStore) -> None:
    recipients = [f"user{n}@example.org" for n in range(200)]
    await enqueue(store, recipients)
    handler = RecordingHandler()
    async with smtp(handler, connections=4) as (_, backend):
        stats = await Sender(store, backend, rate=FAST, clock=Clock()).drain()
    assert stats == DrainStats(sent=200, deferred=0, failed=0)
    assert handler.recipients() == {r: 1 for r in recipients}
    assert handler.connections <= 4  # 200 messages, at most 4 connections: reused
    for received in handler.messages:
        assert f"Message-ID: {message_id(received.recipient)}".encode() in received.content
    rows = await outbox(store)
    assert {row.state for row in rows.values()} == {OutboxState.SENT}
    assert all(row.last_reply and row.last_reply.startswith("250 2.0.0 Ok: queued as ") for row in rows.values())


async def test_greylisted_are_deferred_then_delivered_and_refused_ones_fail(store: SqlStore) -> None:
    fine = [f"user{n}@example.org" for n in range(20)]
    await enqueue(store, [*fine, "soft1@example.org", "soft2@example.org", "hard1@example.org"])
    handler = RecordingHandler(soft_failures=1)
    clock = Clock()
    replies: Counter[int | None] = Counter()
    async with smtp(handler) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=clock, on_reply=lambda code: replies.update([code]))
        assert await sender.drain() == DrainStats(sent=20, deferred=2, failed=1)
        assert replies == {250: 20, 451: 2, 550: 1}  # what the metrics count by class
        rows = await outbox(store)
        for soft in ("soft1@example.org", "soft2@example.org"):
            row = rows[soft]
            assert (row.state, row.attempts) == (OutboxState.PENDING, 1)
            assert row.last_reply == "451 4.7.1 Greylisted, try again later"
            assert T0 + timedelta(seconds=48) <= row.next_attempt_at <= T0 + timedelta(seconds=72)
        hard = rows["hard1@example.org"]
        assert (hard.state, hard.last_reply) == (OutboxState.FAILED, "550 5.1.1 No such user")
        assert sender.throttle.rate < FAST  # 451 is a throttling reply

        assert await sender.drain() == DrainStats()  # not due yet
        clock.advance(timedelta(minutes=2))
        assert await sender.drain() == DrainStats(sent=2)
    assert handler.recipients() == {r: 1 for r in [*fine, "soft1@example.org", "soft2@example.org"]}
    rows = await outbox(store)
    assert rows["soft1@example.org"].state == OutboxState.SENT
    assert rows["hard1@example.org"].state == OutboxState.FAILED


async def test_a_message_still_refused_after_retry_for_fails(store: SqlStore) -> None:
    await enqueue(store, ["soft@example.org"])
    handler = RecordingHandler(soft_failures=100)
    clock = Clock(T0 + timedelta(hours=23, minutes=59, seconds=30))  # the next backoff (>= 48 s) ends past the deadline
    async with smtp(handler) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=clock, retry_for=timedelta(hours=24))
        assert await sender.drain() == DrainStats(deferred=1)
        [row] = (await outbox(store)).values()
        assert row.next_attempt_at == T0 + timedelta(hours=24)  # one last try at the deadline, not after
        clock.now = row.next_attempt_at
        assert await sender.drain() == DrainStats(failed=1)
    [row] = (await outbox(store)).values()
    assert row.state == OutboxState.FAILED
    assert row.last_reply == "451 4.7.1 Greylisted, try again later (gave up after 24h)"
    assert handler.messages == []


async def test_a_connection_dropped_mid_data_loses_nothing_and_duplicates_nothing(store: SqlStore) -> None:
    recipients = [f"user{n}@example.org" for n in range(40)]
    await enqueue(store, recipients)
    handler = RecordingHandler()
    handler.drop_data = 1
    async with smtp(handler) as (_, backend):
        assert await Sender(store, backend, rate=FAST, clock=Clock()).drain() == DrainStats(sent=40)
    assert handler.dropped == 1
    assert handler.recipients() == {r: 1 for r in recipients}
    assert handler.connections <= 5  # the dropped one replaced


async def test_a_message_whose_retry_drops_too_is_deferred_then_sent(store: SqlStore) -> None:
    recipients = [f"user{n}@example.org" for n in range(5)]
    await enqueue(store, recipients)
    handler = RecordingHandler()
    handler.drop_data = 2  # the first message, and its retry on a fresh connection
    clock = Clock()
    async with smtp(handler, connections=1) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=clock)
        assert await sender.drain() == DrainStats(sent=4, deferred=1)
        [deferred] = [row for row in (await outbox(store)).values() if row.state == OutboxState.PENDING]
        assert deferred.last_reply is not None and "connection lost" in deferred.last_reply
        clock.advance(timedelta(minutes=2))
        assert await sender.drain() == DrainStats(sent=1)
    assert handler.recipients() == {r: 1 for r in recipients}


async def test_a_row_left_sending_by_a_crashed_sender_is_sent_once_after_its_lease(store: SqlStore) -> None:
    recipients = ["an@example.org", "bo@example.org"]
    await enqueue(store, recipients)
    assert len(await store.claim_pending(10, LEASE, T0)) == 2  # a sender claimed them, then died
    handler = RecordingHandler()
    clock = Clock(T0 + timedelta(minutes=1))
    async with smtp(handler) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=clock, lease=LEASE)
        assert await sender.drain() == DrainStats()  # still leased
        clock.now = T0 + LEASE
        assert await sender.drain() == DrainStats(sent=2)
        assert await sender.drain() == DrainStats()
    assert handler.recipients() == {r: 1 for r in recipients}
    assert {row.state for row in (await outbox(store)).values()} == {OutboxState.SENT}


async def test_a_throttling_server_slows_the_sender_down(store: SqlStore) -> None:
    await enqueue(store, ["throttle@example.org", "an@example.org"])
    handler = RecordingHandler()
    async with smtp(handler, connections=1) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=Clock())
        assert await sender.drain() == DrainStats(sent=1, deferred=1)
    assert sender.throttle.rate < FAST
    row = (await outbox(store))["throttle@example.org"]
    assert (row.state, row.last_reply) == (OutboxState.PENDING, "421 4.7.0 Too many connections, slow down")


async def test_a_store_error_while_recording_reaches_drain_and_stops_the_sending(
    store: SqlStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recipients = [f"user{n}@example.org" for n in range(20)]
    await enqueue(store, recipients)
    with closing(sqlite3.connect(tmp_path / "var" / "t.db")) as db:  # a database that refuses to record a sent row
        db.execute("CREATE TRIGGER refuse BEFORE UPDATE OF state ON deliveries WHEN NEW.state = 'sent' "
                   "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    handler = RecordingHandler()
    async with smtp(handler, connections=1) as (_, backend):
        with pytest.raises(StoreError, match="disk says no"):
            await Sender(store, backend, rate=FAST, clock=Clock(), lease=LEASE).drain()
    # The first, and those sent while it was being recorded (up to UNRECORDED_PER_CONNECTION outcomes
    # may wait on a connection); then no more.
    sent = len(handler.messages)
    assert 1 <= sent <= 1 + UNRECORDED_PER_CONNECTION
    unrecorded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mail.unrecorded ")]
    assert len(unrecorded) == sent and all("disk says no" in line for line in unrecorded)
    # Unrecorded, and untried, rows stay leased: sent again once the lease runs out.
    assert {row.state for row in (await outbox(store)).values()} == {OutboxState.SENDING}


async def test_an_outcome_for_a_row_another_sender_settled_meanwhile_is_logged(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(store, ["an@example.org"])
    handler = RecordingHandler()
    handler.gate = asyncio.Event()
    async with smtp(handler, connections=1) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=Clock(), lease=LEASE)
        with caplog.at_level(logging.WARNING, logger="intracast.store"):
            async with asyncio.TaskGroup() as tg:
                draining = tg.create_task(sender.drain())
                await handler.in_data.wait()
                [row] = await store.claim_pending(1, LEASE, T0 + LEASE)  # our lease ran out: another sender took it
                await store.mark_failed(row.id, "550 5.1.1 No such user", T0 + LEASE)
                handler.gate.set()
    assert draining.result() == DrainStats(sent=1)
    assert f"store.outbox_stale id={row.id} state=failed outcome=sent" in caplog.text
    [settled] = (await outbox(store)).values()
    assert (settled.state, settled.attempts) == (OutboxState.FAILED, 1)  # theirs stands


class BuggyOnce:
    """A backend with a bug on its first send: the sender must keep the message."""

    concurrency = 1

    def __init__(self) -> None:
        self.calls = 0

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, sender: str, recipient: str, message: bytes) -> str:
        self.calls += 1
        if self.calls == 1:
            raise KeyError("boom")
        return "250 ok"


async def test_a_bug_in_a_backend_defers_the_message(store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    await enqueue(store, ["an@example.org"])
    clock = Clock()
    sender = Sender(store, BuggyOnce(), rate=FAST, clock=clock)
    with caplog.at_level(logging.ERROR, logger="digest.sender"):
        assert await sender.drain() == DrainStats(deferred=1)
    assert "mail.error digest=daily id=1" in caplog.text and "KeyError: 'boom'" in caplog.text
    [row] = (await outbox(store)).values()
    assert (row.state, row.last_reply) == (OutboxState.PENDING, "internal error: KeyError: 'boom'")
    clock.advance(timedelta(minutes=2))
    assert await sender.drain() == DrainStats(sent=1)


async def test_logs_name_the_row_never_the_address(store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    await enqueue(store, ["an@example.org", "hard@example.org"])
    handler = RecordingHandler()
    with caplog.at_level(logging.DEBUG, logger="digest"):
        async with smtp(handler) as (_, backend):
            await Sender(store, backend, rate=FAST, clock=Clock()).drain()
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mail.sent ")]
    assert len(sent) == 1 and sent[0].startswith("mail.sent digest=daily id=")
    [drained] = [r for r in caplog.records if r.getMessage().startswith("mail.drained ")]
    assert drained.levelno == logging.INFO
    assert drained.getMessage().startswith("mail.drained sent=1 deferred=0 failed=1 took=")
    assert not [r for r in caplog.records if "example.org" in r.getMessage()]


async def test_stop_lets_the_message_in_data_finish_and_starts_no_other(store: SqlStore) -> None:
    recipients = ["an@example.org", "bo@example.org", "cy@example.org"]
    await enqueue(store, recipients)
    handler = RecordingHandler()
    handler.gate = asyncio.Event()
    wake, stop = asyncio.Event(), asyncio.Event()
    async with smtp(handler, connections=1) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=Clock(), lease=LEASE)
        async with asyncio.TaskGroup() as tg:
            running = tg.create_task(sender.run(wake, stop))
            await handler.in_data.wait()
            stop.set()  # SIGTERM while the first message is in DATA
            handler.gate.set()
        assert running.done()
    assert len(handler.messages) == 1
    rows = await outbox(store)
    [first] = [rows[m.recipient] for m in handler.messages]
    assert first.state == OutboxState.SENT
    # The others were claimed but never tried: pending again, no attempt counted.
    assert sorted(row.state for row in rows.values()) == [OutboxState.PENDING, OutboxState.PENDING, OutboxState.SENT]
    assert sorted(row.attempts for row in rows.values()) == [0, 0, 1]

    handler.gate = None  # after the restart (or a reload's new connections), the rest go at once
    async with smtp(handler, connections=1) as (_, backend):
        assert await Sender(store, backend, rate=FAST, clock=Clock()).drain() == DrainStats(sent=2)
    assert handler.recipients() == {r: 1 for r in recipients}


async def test_run_drains_what_it_is_woken_for(store: SqlStore) -> None:
    handler = RecordingHandler()
    wake, stop = asyncio.Event(), asyncio.Event()
    async with smtp(handler) as (_, backend):
        async with asyncio.TaskGroup() as tg:
            tg.create_task(Sender(store, backend, rate=FAST, clock=Clock()).run(wake, stop))
            await enqueue(store, ["an@example.org"])
            wake.set()
            await handler.received.wait()
            stop.set()
    assert handler.recipients() == {"an@example.org": 1}
    [row] = (await outbox(store)).values()
    assert row.state == OutboxState.SENT  # recorded before run() returned


async def test_run_returns_at_once_when_stopped_while_idle(store: SqlStore) -> None:
    handler = RecordingHandler()
    wake, stop = asyncio.Event(), asyncio.Event()
    async with smtp(handler) as (_, backend):
        sender = Sender(store, backend, rate=FAST, clock=Clock(), poll=timedelta(hours=1))
        async with asyncio.TaskGroup() as tg:
            running = tg.create_task(sender.run(wake, stop))
            stop.set()
        assert running.done()
    assert handler.connections == 0


@given(attempts=st.integers(0, 1000), seed=st.integers())
def test_backoff_doubles_from_a_minute_to_an_hour_with_jitter(attempts: int, seed: int) -> None:
    base = min(timedelta(hours=1), timedelta(minutes=1) * 2 ** min(attempts, 10))
    delay = backoff(attempts, random.Random(seed))
    assert base * 0.8 <= delay <= base * 1.2
