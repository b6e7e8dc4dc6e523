"""A mail server that restarts mid-run, is busy (421) when it comes back, greylists 30% and refuses some (issue 8).

Every deliverable message arrives exactly once, each refused address ends
`failed` with the server's reply, and the outbox adds up: every delivery is
`sent` or `failed`, and the attempts it records are the sender's outcomes.

In process, through the daemon's composition (`Digests`: a real `DigestRun`,
`Sender` and `SmtpBackend`, SQLite in tmp_path) against a real aiosmtpd
server, because a deferred message is due again only after minutes
(digest/sender.py: 1 min * 2**attempts): the sender's clock runs `SPEED`
times faster than the wall clock, so a minute of backoff takes 50 ms. The
server's busy period (and the backend's 5 s hold-down after a connection
that failed) run on the wall clock, as they would.
"""

from __future__ import annotations

import asyncio
import csv
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.sender import DrainStats
from digest.store import OutboxState
from intracast.config import load_config
from intracast.digests import Digests
from intracast.runtime import open_runtime
from intracast.store import SqlStore
from tests.digest.smtpd import RecordingHandler
from tests.faults.mailserver import RestartingServer

SPEED = 1200  # the sender's clock: 20 minutes a second
RECIPIENTS = 300
BUSY_FOR = 2.0  # seconds of 421 to new connections after the restart
DEADLINE = 90
POLL = 0.02  # between two drains, as the daemon's sender polls its outbox
NOW = datetime.now(UTC).replace(microsecond=0)


def address(n: int) -> str:
    """Every 10th from 3 on is refused (550); 30% greylisted (451 on the first attempt); the rest accepted."""
    if n % 10 == 3:
        return f"hard{n:03d}@example.org"
    if n % 10 < 3:
        return f"soft{n:03d}@example.org"
    return f"collega{n:03d}@example.org"


def write_config(tmp_path: Path, port: int) -> Path:
    yesterday = (NOW - timedelta(days=1)).isoformat()
    with (tmp_path / "recipients.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name"])
        writer.writerows([address(n), f"Collega {n}"] for n in range(RECIPIENTS))
    path = tmp_path / "intracast.yaml"
    path.write_text(textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}}
        server: {{public_url: "https://mail.example.org", secret: a-test-secret-of-enough-length}}
        storage: {{url: "sqlite:///var/intracast.db"}}
        sources:
          - {{name: news, type: static, items: [{{title: Kantine open, link: "https://intranet.example.org/1", starts: "{yesterday}"}}]}}
        digests:
          - {{name: daily, sources: [news]}}
        recipients: {{file: recipients.csv}}
        smtp: {{host: 127.0.0.1, port: {port}, security: none, max_connections: 4, rate: 1000, timeout: 10,
               lease: 1d, retry_for: 7d}}
        """))
    return path


def accelerated() -> Callable[[], datetime]:
    started = time.monotonic()
    return lambda: NOW + timedelta(seconds=(time.monotonic() - started) * SPEED)


async def drain_until_settled(digests: Digests, store: SqlStore) -> Counter[str]:
    """Drain, again and again as the daemon's sender does, until no delivery is pending or sending."""
    totals: Counter[str] = Counter()
    while True:
        stats: DrainStats = await digests.sender.drain()
        totals.update(sent=stats.sent, deferred=stats.deferred, failed=stats.failed)
        counts = await store.outbox_counts(since=NOW - timedelta(days=1))
        if counts[OutboxState.PENDING] == counts[OutboxState.SENDING] == 0:
            return totals
        await asyncio.sleep(POLL)  # polling interval, bounded by the caller's deadline


async def restart_midway(server: RestartingServer, handler: RecordingHandler, after: int) -> int:
    """Restart once `after` messages arrived; how many had when it went down."""
    while len(handler.messages) < after:
        handler.received.clear()
        await handler.received.wait()
    await server.stop()
    at_restart = len(handler.messages)
    await server.start(busy=True)
    await server.up.wait()
    return at_restart


async def test_restart_busy_greylisting_and_refusals_deliver_everything_once_and_add_up(
    tmp_path: Path, fault_report: Callable[[str], None],
) -> None:
    handler = RecordingHandler(soft_failures=1)
    addresses = [address(n) for n in range(RECIPIENTS)]
    refused = {a for a in addresses if a.startswith("hard")}
    deliverable = set(addresses) - refused
    async with RestartingServer(handler, busy_for=BUSY_FOR) as server:
        loaded = load_config(write_config(tmp_path, server.port), env={})
        async with open_runtime(loaded) as runtime:
            store, clock = runtime.store, accelerated()
            assert (await runtime.ingestor.run("news")).new == 1
            digests = Digests(loaded, store, runtime.ingestor, clock=clock)
            stats = await digests.run("daily", clock(), manual=True)
            assert {o.value: n for o, n in stats.outcomes.items()} == {"queued": RECIPIENTS}
            await digests.backend.open()
            try:
                async with asyncio.timeout(DEADLINE), asyncio.TaskGroup() as tasks:
                    fault = tasks.create_task(restart_midway(server, handler, after=len(deliverable) // 3))
                    totals = await drain_until_settled(digests, store)
            finally:
                await digests.backend.close()
            counts = await store.outbox_counts(since=NOW - timedelta(days=1))
            rows = await store.outbox(RECIPIENTS + 1)

    assert handler.recipients() == Counter(dict.fromkeys(deliverable, 1)), "each deliverable message exactly once"
    assert len(rows) == RECIPIENTS
    failed = {row.key.recipient: row.last_reply for row in rows if row.state is OutboxState.FAILED}
    assert failed == dict.fromkeys(refused, "550 5.1.1 No such user")
    assert {state.value: n for state, n in counts.items() if n} == {"sent": len(deliverable), "failed": len(refused)}
    assert sum(counts.values()) == RECIPIENTS
    assert (totals["sent"], totals["failed"]) == (len(deliverable), len(refused))
    assert sum(row.attempts for row in rows) == sum(totals.values()), "each attempt recorded is one the sender reported"
    soft = [a for a in deliverable if a.startswith("soft")]
    assert len(soft) == RECIPIENTS * 3 // 10 and all(handler.attempts[a] >= 2 for a in soft)
    assert totals["deferred"] >= len(soft)
    assert server.restarts == 1 and fault.result() < len(deliverable), "the server restarted in the middle"
    assert server.turned_away >= 1
    fault_report(f"{RECIPIENTS} recipients: {totals['sent']} sent once each, {totals['failed']} failed (550), "
                 f"{totals['deferred']} deferrals ({len(soft)} greylisted, the rest the restart at "
                 f"{fault.result()} sent); "
                 f"{server.turned_away} connection(s) turned away with 421")
