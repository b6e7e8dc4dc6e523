"""The digest under faults, as real processes: a daemon down at send time.

DESIGN.md, delivery semantics: a window missed while the daemon was down is
sent at start-up, within the digest's `grace`. SIGKILL during a run (a crash
duplicates at most the messages in flight and loses none) is in the fault
suite, tests/faults/test_digest_kill.py, which shares this module's helpers.

Every `intracast` here is a real process (`sys.executable -m intracast`); mail
goes into the Maildir outbox. Two time zones through the daemon's clock would
take hours of real time: tests/intracast/test_digests.py covers them with a
controlled clock.
"""

from __future__ import annotations

import pytest

import asyncio
import csv
import mailbox
import os
import re
import signal
import sqlite3
import sys
import textwrap
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.newsfeed import NewsFeed

T = TypeVar("T")

MAX_CONNECTIONS = 4
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Bounds on each phase; a phase takes a few seconds to ~25 s (rendering 2,000 digests) on a loaded 2-core machine.
DEADLINE = 90
POLL = 0.05  # seconds between two looks at a file or a table, always under a deadline


# --- the setting --------------------------------------------------------------------------------------------------


def write_config(tmp_path: Path, *, smtp_port: int | None = None, schedule: str = "30 8 * * *",
                 grace: str = "12h", recipients: int | None = None, listed: tuple[str, ...] = ()) -> Path:
    """A config in tmp_path: three news items from yesterday, one digest `daily`, SQLite and Maildir in var/.

    `recipients`: that many in recipients.csv; `listed`: addresses in the config itself.
    """
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    items = ", ".join(
        f'{{title: "{title}", link: "https://intranet.example.org/news/{n}", starts: "{yesterday}"}}'
        for n, title in enumerate(["Kantine open", "Rooster staat klaar", "Nieuwe collega's"], start=1)
    )
    smtp = ""
    if smtp_port is not None:
        smtp = (f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, rate: 100000, "
                f"max_connections: {MAX_CONNECTIONS}, lease: 2s, timeout: 10}}\n")
    if recipients is not None:
        with (tmp_path / "recipients.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["email", "name"])
            writer.writerows([address(n), f"Collega {n}"] for n in range(recipients))
        recipients_yaml = "recipients: {file: recipients.csv}\n"
    else:
        recipients_yaml = "recipients:\n  list:\n" + "".join(f"    - {{email: {a}}}\n" for a in listed)
    path = tmp_path / "intracast.yaml"
    path.write_text(textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}}
        server: {{public_url: "https://mail.example.org", secret: "${{TEST_SECRET:-a-test-secret-of-enough-length}}"}}
        storage: {{url: "sqlite:///var/intracast.db", maildir: var/outbox}}
        sources:
          - {{name: news, type: static, items: [{items}]}}
        digests:
          - {{name: daily, schedule: "{schedule}", grace: {grace}, sources: [news]}}
        """) + smtp + recipients_yaml)
    return path


def address(n: int) -> str:
    return f"collega{n:04d}@example.org"


def database(config: Path) -> Path:
    return config.parent / "var" / "intracast.db"


def maildir(config: Path) -> Path:
    return config.parent / "var" / "outbox"


# --- processes ----------------------------------------------------------------------------------------------------


async def start(config: Path, *args: str, output: Path | None = None,
                stdout: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    """`intracast -c CONFIG ARGS...`; with `output`, stdout and stderr go to that file (no pipe to fill)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCREEN_", "INTRACAST_"))}
    command = (sys.executable, "-m", "intracast", "-c", str(config), *args)
    if output is None:
        return await asyncio.create_subprocess_exec(*command, env=env, stdout=stdout,
                                                    stderr=asyncio.subprocess.PIPE)
    with output.open("wb") as out:  # the child holds its own copy of the descriptor
        return await asyncio.create_subprocess_exec(*command, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT)


async def intracast(config: Path, *args: str) -> str:
    """Run a command to its end; its stdout, after checking that it exited 0."""
    proc = await start(config, *args)
    try:
        stdout, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, f"intracast {' '.join(args)} exited {proc.returncode}:\n{stderr.decode()}"
    return stdout.decode()


async def before_exit(proc: asyncio.subprocess.Process, awaitable: Awaitable[T], output: Callable[[], str]) -> T:
    """What `awaitable` gives, or an AssertionError with the process's output if the process ends first."""
    waiting, exited = asyncio.ensure_future(awaitable), asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, exited):
            task.cancel()
        await asyncio.gather(waiting, exited, return_exceptions=True)
    if not waiting.done() or waiting.cancelled():
        raise AssertionError(f"the process exited {proc.returncode} too early:\n{output()}")
    return waiting.result()


async def kill(proc: asyncio.subprocess.Process) -> int:
    """SIGKILL, unless it has exited already; its exit status."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    return await proc.wait()


class Stderr:
    """A process's stderr read as it comes, so that a test can await a line; owns its reader task."""

    def __init__(self, stream: asyncio.StreamReader):
        self.lines: list[str] = []
        self.ended = False
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode())
            self._changed.set()
        self.ended = True
        self._changed.set()

    async def line(self, pattern: str) -> str:
        """The first line matching `pattern`, once it is written."""
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if re.search(pattern, line):
                    return line
            seen = len(self.lines)
            if self.ended:
                raise AssertionError(f"stderr ended before {pattern!r}:\n{self.text}")
            self._changed.clear()
            await self._changed.wait()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    async def close(self) -> None:
        """Read to the end (the process has exited)."""
        await self._task


# --- the outbox ---------------------------------------------------------------------------------------------------


def outbox_states(config: Path, *, read_only: bool = True) -> Counter[str] | None:
    """State -> deliveries in it; None while the database or its schema is not there yet.

    Read-only while a process writes; after a SIGKILL, the WAL index may need a
    recovery, which takes write access (as the next `intracast` would).
    """
    uri = f"file:{database(config)}?mode={'ro' if read_only else 'rw'}"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=1)) as conn:
            return Counter(dict(conn.execute("select state, count(*) from deliveries group by state").fetchall()))
    except sqlite3.OperationalError:  # no file yet, no table yet, or the writer holds a lock for a moment
        return None


# --- a daemon that was down at send time --------------------------------------------------------------------------


def hours_ago(hours: int) -> tuple[str, datetime]:
    """A daily cron whose latest time was `hours` ago (and some seconds) in Amsterdam, and that time in UTC.

    Every day (`M H * * *`), so that it does not matter whether that was today or yesterday.
    """
    then = (datetime.now(UTC) - timedelta(hours=hours)).astimezone(AMSTERDAM)
    # fold=0: in the hour the clock shows twice, cron fires at the first showing (digest/windows.py).
    end = then.replace(second=0, microsecond=0, fold=0).astimezone(UTC)
    return f"{then.minute} {then.hour} * * *", end


def mails(config: Path, header: str = "To") -> list[str]:
    """A header of every message in the Maildir outbox (an address for To:), sorted."""
    if not maildir(config).exists():
        return []
    box = mailbox.Maildir(maildir(config), create=False)
    values = [str(box.get_message(key)[header]) for key in box.keys()]
    return sorted(parseaddr(value)[1] if header == "To" else value for value in values)


async def mails_for(config: Path, count: int) -> list[str]:
    while len(found := mails(config)) < count:
        await asyncio.sleep(POLL)  # polling interval, bounded by the caller's deadline
    return found


async def run_daemon(config: Path) -> tuple[asyncio.subprocess.Process, Stderr]:
    proc = await start(config, "run", "--listen", "127.0.0.1:0", stdout=asyncio.subprocess.DEVNULL)  # the banner
    return proc, Stderr(proc.stderr)


async def stop_daemon(proc: asyncio.subprocess.Process, stderr: Stderr) -> int:
    """SIGTERM, and its exit status; one that does not stop within the deadline is killed, and fails."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), DEADLINE)
    finally:
        await kill(proc)
        await stderr.close()


LISTED = ("an@example.org", "bo@example.org", "cy@example.org")


@pytest.mark.clock
async def test_a_daemon_down_at_send_time_sends_the_missed_window_at_start_up(tmp_path: Path) -> None:
    schedule, missed = hours_ago(2)
    config = write_config(tmp_path, schedule=schedule, grace="12h", listed=LISTED)
    await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)  # what the daemon had before going down
    proc, stderr = await run_daemon(config)
    try:
        arrived = before_exit(proc, mails_for(config, len(LISTED)), lambda: stderr.text)
        assert await asyncio.wait_for(arrived, DEADLINE) == sorted(LISTED)
        await asyncio.wait_for(stderr.line(r"digest\.ran digest=daily recipients=3 queued=3"), DEADLINE)
    finally:
        code = await stop_daemon(proc, stderr)
    assert code == 0, stderr.text
    assert f"digest.missed_window digest=daily end={missed.isoformat()}" in stderr.text
    assert "Traceback" not in stderr.text
    assert mails(config) == sorted(LISTED), "one message per recipient, also after the shutdown"
    window = missed.strftime(".%Y%m%dT%H%M%SZ.")  # the delivery key, in the Message-ID (digest/message.py)
    assert all(window in message_id for message_id in mails(config, "Message-ID")), mails(config, "Message-ID")


@pytest.mark.clock
async def test_a_window_missed_longer_ago_than_grace_is_not_sent_at_start_up(tmp_path: Path) -> None:
    schedule, _ = hours_ago(2)
    config = write_config(tmp_path, schedule=schedule, grace="1h", listed=LISTED)
    await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)
    proc, stderr = await run_daemon(config)
    try:
        ran = await asyncio.wait_for(stderr.line(r"digest\.ran digest=daily"), DEADLINE)
    finally:
        code = await stop_daemon(proc, stderr)
    assert code == 0, stderr.text
    assert ran.rstrip().endswith("recipients=3 not_due=3"), ran
    assert "digest.missed_window" not in stderr.text
    assert mails(config) == []


@pytest.mark.clock
async def test_a_first_start_after_a_missed_window_sends_it_with_the_items_of_its_first_fetch(
    tmp_path: Path, aiohttp_server,
) -> None:
    """A new database has no items before the first fetch: the start-up check waits for it (intracast/jobs.py)."""
    schedule, window_end = hours_ago(0)
    # Before the window: in the hour that comes twice the cron fired at the first showing, an hour ago.
    feed = NewsFeed(items=2, published=window_end - timedelta(hours=1))
    release = asyncio.Event()
    held = web.Application()

    async def slow_feed(request: web.Request) -> web.Response:
        await release.wait()  # the feed answers only once the daemon is up and its start-up check is due
        return await feed.serve(request)

    held.router.add_get("/news.rss", slow_feed)
    url = str((await aiohttp_server(held)).make_url("/news.rss"))
    config = write_config(tmp_path, schedule=schedule, grace="12h", listed=LISTED)
    config.write_text(re.sub(r"  - \{name: news, type: static.*\n", f"  - {{name: news, type: rss, url: '{url}'}}\n",
                             config.read_text()))
    proc, stderr = await run_daemon(config)
    try:
        await asyncio.wait_for(stderr.line(r"daemon\.started"), DEADLINE)
        release.set()
        arrived = before_exit(proc, mails_for(config, len(LISTED)), lambda: stderr.text)
        assert await asyncio.wait_for(arrived, DEADLINE) == sorted(LISTED)
    finally:
        code = await stop_daemon(proc, stderr)
    assert code == 0, stderr.text
    box = mailbox.Maildir(maildir(config), create=False)
    assert all("Nieuws 1 v0" in box.get_message(key).as_string() for key in box.keys())
