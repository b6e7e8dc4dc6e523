"""SIGKILL during a 2,000-recipient digest run, first while it queues, then while it sends (issue 8).

DESIGN.md, delivery semantics: a delivery is created once per (digest,
recipient, window); a row left in `sending` by a crash is claimed again after
its lease, so a crash duplicates at most the messages in flight and loses
none. Here `intracast digest send` is a real process, killed twice in one
run; mail goes to the recording aiosmtpd server of tests/digest/smtpd.py in
the test's own loop, so that what reached the server at the kill is known
exactly: a message the server took whose row is still `sending` was in
flight, and is the one message that may arrive twice.

(Moved here from tests/intracast/test_digest_faults.py, which keeps the
processes' helpers and the daemon-down tests.)
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from digest.sender import UNRECORDED_PER_CONNECTION
from tests.digest.smtpd import Loopback, RecordingHandler, smtp_server
from tests.intracast.test_digest_faults import (
    DEADLINE,
    MAX_CONNECTIONS,
    POLL,
    address,
    before_exit,
    database,
    intracast,
    kill,
    outbox_states,
    start,
    write_config,
)

RECIPIENTS = 2000
QUEUE_KILL_AT = RECIPIENTS // 2  # deliveries in the outbox when the first run is killed
SEND_KILL_AT = 550  # messages received when the second is: it claims 100 rows at a time, ~50 left unstarted


async def received(handler: RecordingHandler, count: int) -> None:
    """Once the sink has recorded `count` messages."""
    while len(handler.messages) < count:
        handler.received.clear()
        await handler.received.wait()


def message_ids(handler: RecordingHandler) -> dict[str, list[str]]:
    """Recipient -> the Message-ID of every copy it received, in order."""
    parser = BytesHeaderParser(policy=policy.default)
    ids: dict[str, list[str]] = defaultdict(list)
    for message in handler.messages:
        ids[message.recipient].append(parser.parsebytes(message.content)["Message-ID"])
    return ids


async def deliveries(config: Path, at_least: int) -> int:
    """The number of deliveries in the outbox, once there are `at_least`."""
    while True:
        states = outbox_states(config)
        if states is not None and states.total() >= at_least:
            return states.total()
        await asyncio.sleep(POLL)  # polling interval, bounded by the caller's deadline


async def settled(sink: Loopback) -> None:
    """Once the server has handled the last bytes of every connection (the killed client's are closed)."""
    while any(p._handler_coroutine is not None and not p._handler_coroutine.done() for p in sink.protocols):
        await asyncio.sleep(POLL)  # polling interval, bounded by the caller's deadline


def recipients_in(config: Path, state: str) -> set[str]:
    with closing(sqlite3.connect(database(config))) as conn:
        return {r for (r,) in conn.execute("select recipient from deliveries where state = ?", (state,))}


async def killed_when(config: Path, output: Path, reached: Callable[[], object]) -> None:
    """Start `digest send daily`, and SIGKILL it once `reached()` (an awaitable) is done."""
    proc = await start(config, "digest", "send", "daily", output=output)
    try:
        await asyncio.wait_for(before_exit(proc, reached(), output.read_text), DEADLINE)
    finally:
        status = await kill(proc)
    assert status == -signal.SIGKILL, f"the run ended before the kill:\n{output.read_text()}"


@pytest.mark.timeout(300)  # four runs over 2,000 recipients: about a minute, several on a loaded machine
async def test_sigkill_while_queuing_then_while_sending_loses_nothing_and_doubles_only_what_was_in_flight(
    ram_path: Path, fault_report: Callable[[str], None],
) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as sink:
        config = write_config(ram_path, smtp_port=sink.port, recipients=RECIPIENTS)
        await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)

        await killed_when(config, ram_path / "send-1.log", lambda: deliveries(config, QUEUE_KILL_AT))
        queued = outbox_states(config, read_only=False)
        assert queued is not None and QUEUE_KILL_AT <= queued.total() < RECIPIENTS, queued
        assert handler.messages == [], "a run queues every digest before it sends one"

        # The second run queues the rest (the first half's items are delivered: nothing new for them), then sends.
        await killed_when(config, ram_path / "send-2.log", lambda: received(handler, SEND_KILL_AT))
        await asyncio.wait_for(settled(sink), DEADLINE)
        at_kill = handler.recipients()
        leased = recipients_in(config, "sending")
        in_flight = leased & set(at_kill)  # the server took them; the killed sender never recorded it
        assert len(at_kill) < RECIPIENTS and leased, f"nothing left leased at the kill: {outbox_states(config)}"

        # Pending rows go at once; the killed run's `sending` rows once their 2 s lease has passed.
        runs = 0
        try:
            async with asyncio.timeout(DEADLINE):
                while len(handler.recipients()) < RECIPIENTS:
                    report = await intracast(config, "digest", "send", "daily")
                    runs += 1
                    assert report.startswith(f"daily: {RECIPIENTS} empty\n"), report  # no second digest
        except TimeoutError:
            missing = RECIPIENTS - len(handler.recipients())
            raise AssertionError(f"{missing} recipients still without a digest after {runs} runs; "
                                 f"outbox {outbox_states(config, read_only=False)}") from None

    ids = message_ids(handler)
    assert set(ids) == {address(n) for n in range(RECIPIENTS)}, "every recipient got their digest"
    assert all(len(set(copies)) == 1 for copies in ids.values()), "a retry is the same mail, never a second digest"
    doubled = {recipient for recipient, copies in ids.items() if len(copies) > 1}
    assert {len(copies) for copies in ids.values()} <= {1, 2}
    assert doubled == in_flight, "exactly the messages in flight at the kill arrived twice"
    assert len(in_flight) <= (1 + UNRECORDED_PER_CONNECTION) * MAX_CONNECTIONS  # on the wire, and unrecorded
    assert outbox_states(config, read_only=False) == {"sent": RECIPIENTS}
    fault_report(f"killed while queuing at {queued.total()} of {RECIPIENTS} queued; killed while sending at "
                 f"{len(at_kill)} received, {len(leased)} rows leased, {len(in_flight)} in flight "
                 f"(smtp.max_connections {MAX_CONNECTIONS}), {len(doubled)} doubled; {runs} resumed run(s)")
