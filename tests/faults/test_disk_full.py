"""The disk holding the Maildir outbox is full: messages stay pending, and go once there is room (issue 8).

Two ways to be full: the disk fills up while the digest is written out (the
outbox's folders exist), or it was full before the daemon started, with no
room for the outbox's folders. Either way no message fails or is lost, and
each is delivered once when there is room; and a daemon started on a full
disk runs (it used to stop at start-up: `MaildirBackend.open()` raised).

The disk is a real one where the machine allows: a small tmpfs mounted on
the outbox's folder (this needs root, or CAP_SYS_ADMIN), 256 KiB, or with
all its inodes taken, then remounted larger, as an admin makes room.
Elsewhere the folders are made read-only (chmod) and writable again: an
unprivileged process cannot mount, and root ignores the mode bits, so root
without mount is skipped. A Maildir's failures are `TemporaryDeliveryError`s:
deferred, never failed.

Delivery is tested in process, through the daemon's composition (`Digests`)
with the sender's clock a parameter: a deferred message is due again after a
minute.
"""

from __future__ import annotations

import asyncio
import csv
import errno
import mailbox
import os
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

import aiohttp
import pytest

from digest.store import OutboxState
from intracast.config import load_config
from intracast.digests import Digests
from intracast.runtime import open_runtime
from tests.faults.daemon import running
from tests.intracast.test_digest_faults import DEADLINE, hours_ago, intracast

RECIPIENTS = 40  # ~10 KB each: about half fit in 256 KiB
NOW = datetime.now(UTC).replace(microsecond=0)
MID_RUN, BEFORE_START = "fills up while sending", "full before the start"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Disk:
    """The folder the outbox goes in, how it was made full, and how to make room."""

    path: Path
    mechanism: str
    fill: Callable[[], None]
    make_room: Callable[[], None]


@contextmanager
def small_disk(tmp_path: Path, way: str) -> Iterator[Disk]:
    """`MID_RUN`: `fill()` once the outbox's folders exist; `BEFORE_START`: before."""
    path = tmp_path / "disk"
    path.mkdir()
    options = "size=256k,mode=0755" + (",nr_inodes=8" if way == BEFORE_START else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode == 0:
        def take_every_inode() -> None:
            for n in range(100):
                try:
                    (path / f"filler{n}").touch()
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    return
            raise AssertionError("the tmpfs has more inodes than asked for")

        def grow() -> None:
            subprocess.run(["mount", "-o", "remount,size=8m,nr_inodes=1000", str(path)], check=True,
                           capture_output=True)

        fill = take_every_inode if way == BEFORE_START else lambda: None
        try:
            yield Disk(path, f"tmpfs ({options}), remounted at 8 MiB", fill, grow)
        finally:
            subprocess.run(["umount", "--lazy", str(path)], check=True, capture_output=True)
        return
    if os.geteuid() == 0:
        pytest.skip(f"root, but mount refuses a tmpfs ({mounted.stderr.strip()}), and root ignores read-only modes")
    outbox = path / "outbox"
    folders = [path] if way == BEFORE_START else [outbox / "tmp", outbox / "new"]

    def set_mode(mode: int) -> None:
        for folder in folders:
            folder.chmod(mode)

    try:
        yield Disk(path, "read-only folders (chmod 555), writable again", lambda: set_mode(0o555),
                   lambda: set_mode(0o755))
    finally:
        if all(folder.exists() for folder in folders):
            set_mode(0o755)


def write_config(tmp_path: Path, maildir: Path, schedule: str = "30 8 * * 1-5") -> Path:
    yesterday = (NOW - timedelta(days=1)).isoformat()
    with (tmp_path / "recipients.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["email"], *([f"collega{n:02d}@example.org"] for n in range(RECIPIENTS))])
    path = tmp_path / "intracast.yaml"
    path.write_text(textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}}
        server: {{public_url: "https://mail.example.org", secret: a-test-secret-of-enough-length}}
        storage: {{url: "sqlite:///var/intracast.db", maildir: "{maildir}"}}
        sources:
          - {{name: news, type: static, items: [{{title: Kantine, link: "https://intranet.example.org/1", starts: "{yesterday}"}}]}}
        digests:
          - {{name: daily, schedule: "{schedule}", grace: 12h, sources: [news]}}
        recipients: {{file: recipients.csv}}
        """))
    return path


def delivered(maildir: Path) -> list[str]:
    if not maildir.exists():
        return []
    box = mailbox.Maildir(maildir, create=False)
    return sorted(parseaddr(str(box.get_message(key)["To"]))[1] for key in box.keys())


def half_written(maildir: Path) -> list[str]:
    return os.listdir(maildir / "tmp") if (maildir / "tmp").exists() else []


@pytest.mark.parametrize("way", [MID_RUN, BEFORE_START])
async def test_a_full_outbox_disk_keeps_messages_pending_until_there_is_room(
    tmp_path: Path, way: str, fault_report: Callable[[str], None],
) -> None:
    with small_disk(tmp_path, way) as disk:
        maildir = disk.path / "outbox"
        loaded = load_config(write_config(tmp_path, maildir), env={})
        async with open_runtime(loaded) as runtime:
            store, clock = runtime.store, Clock(NOW)
            assert (await runtime.ingestor.run("news")).new == 1
            digests = Digests(loaded, store, runtime.ingestor, clock=clock)
            if way == BEFORE_START:
                disk.fill()
            await digests.backend.open()  # as the daemon does at start: no room is no reason to stop
            try:
                if way == MID_RUN:
                    disk.fill()
                stats = await digests.run("daily", clock(), manual=True)
                assert {o.value: n for o, n in stats.outcomes.items()} == {"queued": RECIPIENTS}
                full = await digests.sender.drain()
                counts_full = await store.outbox_counts(since=NOW - timedelta(days=1))
                rows = await store.outbox(RECIPIENTS + 1)
                on_disk, left_in_tmp = delivered(maildir), half_written(maildir)

                disk.make_room()
                clock.now += timedelta(minutes=2)  # past the first retry's backoff (1 min +- 20%)
                room = await digests.sender.drain()
                counts_room = await store.outbox_counts(since=NOW - timedelta(days=1))
            finally:
                await digests.backend.close()
            final = delivered(maildir)

    assert full.failed == 0 and full.sent < RECIPIENTS and full.sent + full.deferred == RECIPIENTS, full
    assert (way == BEFORE_START) == (full.sent == 0), full
    assert counts_full[OutboxState.PENDING] == RECIPIENTS - full.sent and counts_full[OutboxState.FAILED] == 0
    assert len(on_disk) == full.sent and left_in_tmp == [], "no message, and no half of one, beyond what was sent"
    replies = {row.last_reply for row in rows if row.state is OutboxState.PENDING}
    assert replies and all(f"maildir {maildir}: [Errno" in reply for reply in replies), replies
    assert (room.sent, room.deferred, room.failed) == (RECIPIENTS - full.sent, 0, 0)
    assert {state.value: n for state, n in counts_room.items() if n} == {"sent": RECIPIENTS}
    assert final == [f"collega{n:02d}@example.org" for n in range(RECIPIENTS)], "each exactly once"
    fault_report(f"{disk.mechanism}: {full.sent} of {RECIPIENTS} fit, {full.deferred} stayed pending "
                 f"({sorted(replies)[0].split(': ', 1)[1][:40]}...); all {RECIPIENTS} delivered once after making room")


async def test_a_daemon_started_on_a_full_disk_runs_and_keeps_its_digests_pending(tmp_path: Path) -> None:
    with small_disk(tmp_path, BEFORE_START) as disk:
        schedule, _ = hours_ago(2)  # a missed window: queued at start-up
        config = write_config(tmp_path, disk.path / "outbox", schedule)
        await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)
        disk.fill()
        async with running(config) as daemon, aiohttp.ClientSession() as session:
            await daemon.within(daemon.log.next(rf"mail\.drained sent=0 deferred={RECIPIENTS} failed=0"), "a drain")
            assert (await daemon.get_json(session, "/healthz"))["status"] == "ok"
            pending = await daemon.metric(session, 'intracast_outbox_messages{state="pending"}')
        assert pending == RECIPIENTS
        assert "maildir.unavailable" in daemon.log.text
