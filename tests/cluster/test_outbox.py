"""One outbox drained by several processes on one PostgreSQL database: every recipient gets one digest.

Mail goes to the recording aiosmtpd server of tests/digest/smtpd.py in the
test's own loop, so what reached the server, and from which connection, is
known exactly. The daemons and `intracast digest send` are real processes.
"""

from __future__ import annotations

import asyncio
import csv
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.sender import UNRECORDED_PER_CONNECTION
from tests.cluster.conftest import daemons, query, until, write_config
from tests.digest.smtpd import RecordingHandler, smtp_server
from tests.faults.daemon import Log
from tests.faults.test_digest_kill import message_ids
from tests.intracast.test_digest_faults import address, intracast, kill, start

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_CONNECTIONS = 4
DEADLINE = 120  # seconds for a phase: 2,000 digests rendered and sent by a loaded 2-core machine


def digest_config(folder: Path, database: str, smtp_port: int, recipients: int) -> Path:
    """A digest `daily` whose window ended a minute ago (a daemon's start-up check sends it), `recipients` of them."""
    with (folder / "recipients.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name"])
        writer.writerows([address(n), f"Collega {n}"] for n in range(recipients))
    yesterday = (datetime.now(AMSTERDAM) - timedelta(days=1)).replace(microsecond=0).isoformat()
    due = datetime.now(AMSTERDAM) - timedelta(minutes=1)
    return write_config(folder, database, f"""\
        sources:
          - {{name: news, type: static, items: [{{title: Kantine open, link: "https://intranet.example.org/1",
              starts: "{yesterday}"}}]}}
        digests:
          - {{name: daily, schedule: "{due.minute} {due.hour} * * *", grace: 12h, sources: [news]}}
        smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, rate: 100000,
                max_connections: {MAX_CONNECTIONS}, lease: 10s, timeout: 10}}
        recipients: {{file: recipients.csv}}
        """)


async def states(database: str) -> Counter[str]:
    rows = await query(database, "SELECT state, count(*) AS n FROM deliveries GROUP BY state")
    return Counter({row["state"]: row["n"] for row in rows})


def assert_one_digest_each(handler: RecordingHandler, recipients: int, may_double: set[str]) -> set[str]:
    """Every recipient has their digest; only those in `may_double` twice, and then the same mail. The doubled."""
    ids = message_ids(handler)
    assert set(ids) == {address(n) for n in range(recipients)}, "every recipient got their digest"
    assert all(len(set(copies)) == 1 for copies in ids.values()), "a resend is the same mail, never a second digest"
    doubled = {recipient for recipient, copies in ids.items() if len(copies) > 1}
    assert doubled <= may_double, f"doubled without being in flight: {sorted(doubled - may_double)[:5]}"
    return doubled


@pytest.mark.timeout(300)
async def test_two_daemons_send_a_2000_recipient_digest_once_and_one_killed_midway_loses_nothing(
    tmp_path: Path, database: str,
) -> None:
    recipients = 2000
    handler = RecordingHandler()
    async with smtp_server(handler) as sink:
        config = digest_config(tmp_path, database, sink.port, recipients)
        await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)
        victim = await start(config, "run", "--listen", "127.0.0.1:0", stdout=asyncio.subprocess.DEVNULL)
        victim_log = Log(victim.stderr)
        try:
            await asyncio.wait_for(victim_log.find(r"daemon\.started"), DEADLINE)  # up before the other starts
            async with daemons(config, 1) as [survivor]:
                await survivor.within(until(lambda: len(handler.messages) >= recipients // 4), "a quarter sent")
                await kill(victim)
                # A message can go twice only if its row was leased, unrecorded, when its sender died.
                leased_rows = await query(database, "SELECT id, recipient, lease_until FROM deliveries "
                                                    "WHERE state = 'sending'")
                received_at_kill = len(handler.messages)
                await survivor.within(until(lambda: len(handler.recipients()) >= recipients), "every digest", DEADLINE)
                await survivor.within(until(lambda: _all_sent(database, recipients)), "the outbox settled")
        finally:
            await kill(victim)
            await victim_log.close()
    leased = {row["recipient"] for row in leased_rows}
    doubled = assert_one_digest_each(handler, recipients, leased)
    assert len(doubled) <= (1 + UNRECORDED_PER_CONNECTION) * MAX_CONNECTIONS, f"{len(doubled)} doubled"
    assert received_at_kill < recipients, "the kill came before the end"
    # The survivor finished the victim's run: it sent rows the victim had leased (only after that lease
    # ran out could anyone take them), or it queued the recipients the victim's run had not reached.
    sent_at = {row["id"]: row["sent_at"] for row in await query(database, "SELECT id, sent_at FROM deliveries")}
    reclaimed = sum(sent_at[row["id"]] >= row["lease_until"] for row in leased_rows)
    queued = [int(n) for n in re.findall(r"digest\.ran digest=daily .*queued=(\d+)", survivor.log.text)]
    assert reclaimed or any(queued), f"nothing of the victim's was left to the survivor:\n{victim_log.text}"
    print(f"killed one of two daemons at {received_at_kill} of {recipients} received, {len(leased)} rows leased, "
          f"{reclaimed} of them sent by the survivor after the lease, survivor queued {sum(queued)}; "
          f"{len(doubled)} doubled")


async def _all_sent(database: str, recipients: int) -> bool:
    return await states(database) == Counter(sent=recipients)


@pytest.mark.timeout(300)
async def test_two_digest_sends_started_at_once_give_each_recipient_one_digest(
    tmp_path: Path, database: str,
) -> None:
    recipients = 500
    handler = RecordingHandler()
    async with smtp_server(handler) as sink:
        config = digest_config(tmp_path, database, sink.port, recipients)
        await asyncio.wait_for(intracast(config, "migrate"), DEADLINE)
        await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)
        reports = await asyncio.wait_for(asyncio.gather(*(intracast(config, "digest", "send", "daily")
                                                          for _ in range(2))), DEADLINE * 2)
    assert_one_digest_each(handler, recipients, may_double=set())
    assert len(handler.messages) == recipients
    assert await states(database) == Counter(sent=recipients)
    queued = sorted(int(report.split("queued")[0].split()[-1]) if "queued" in report else 0 for report in reports)
    assert queued == [0, recipients], reports
