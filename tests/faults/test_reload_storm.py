"""100 config reloads in a row, half of them broken, while screens listen and a digest is being sent (issue 8).

The daemon (a real process) starts with a missed digest window, so it
queues a digest for every recipient at once and sends them to the recording
aiosmtpd server at `smtp.rate` a second. As soon as the first has arrived,
the config is reloaded 100 times: rewritten (atomically, as an editor saves)
and picked up by the watcher, or re-read on SIGHUP, each reload awaited in
the log (`config.reloaded` / `config.refused`) before the next. A good
config renames a screen announcement (a `playlist` push to the screens),
adds a source (jobs change) and changes `smtp.rate` (the sender reopens its
connections after the messages in flight); a broken one is broken in one of
the ways an admin breaks YAML.

At the end: the daemon never stopped, each recipient got exactly one digest,
the SSE streams stayed open and were pushed the changes, and the config in
force is the last good one (the last write is a broken one).
"""

from __future__ import annotations

import asyncio
import csv
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.digest.smtpd import RecordingHandler, smtp_server
from tests.faults.daemon import DEADLINE, Daemon, running
from tests.intracast.test_daemon import browser_jar
from tests.intracast.test_digest_faults import hours_ago, intracast

RECIPIENTS = 300
RATE = 15  # messages a second: the sending (20 s) outlasts half the reloads at least (10 to 20 s in all)
SCREENS = ("hall", "lobby")
STREAMS = 3  # per screen
GOOD = """\
intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}}
server: {{public_url: "https://mail.example.org", secret: a-test-secret-of-enough-length}}
storage: {{url: "sqlite:///var/intracast.db"}}
sources:
  - {{name: news, type: static, items: [{{title: Kantine open, link: "https://intranet.example.org/1", starts: "{yesterday}"}}]}}
  - {{name: extra{version}, type: static, items: [{{title: Extra {version}, link: "https://intranet.example.org/x"}}]}}
digests:
  - {{name: daily, schedule: "{schedule}", grace: 12h, sources: [news]}}
recipients: {{file: recipients.csv}}
smtp: {{host: 127.0.0.1, port: {port}, security: none, max_connections: 4, rate: {rate}, lease: 5m, timeout: 10}}
screens:
  - {{id: hall, name: Hall, token: hall-token-123, playlist: main}}
  - {{id: lobby, name: Lobby, token: lobby-token-123, playlist: main}}
playlists:
  - {{name: main, blocks: [{{type: announcement, title: "Versie {version}"}}, {{sources: [news]}}]}}
"""
BREAKAGES: list[Callable[[str], str]] = [
    lambda text: text.replace("schedule:", "shedule:"),  # an unknown key
    lambda text: text + "  - {name: half, type: static\n",  # YAML that does not parse
    lambda text: text.replace('schedule: "', 'schedule: "61 ').replace(' * * *"', ' * *"'),  # a bad cron
    lambda text: text.replace("max_connections: 4", "max_connections: many"),  # a wrong type
    lambda text: text.replace("sources: [news]}", "sources: [nieuws]}"),  # a name that names nothing
    lambda text: text[: text.index("Extra")],  # a save cut short
    lambda text: "",  # an empty file
]


@dataclass
class Step:
    trigger: str  # "file changed" (rewritten) or "SIGHUP" (the same file read again)
    good: bool
    version: int  # of the good config this step writes, or the last one written before it


def plan() -> list[Step]:
    """Blocks of four: a good config written, SIGHUP, a broken one written, SIGHUP; the last write is broken."""
    steps = []
    for block in range(25):
        steps += [Step("file changed", True, block + 1), Step("SIGHUP", True, block + 1),
                  Step("file changed", False, block + 1), Step("SIGHUP", False, block + 1)]
    return steps


@dataclass
class Stream:
    """One screen's SSE stream, read by its own task: the events it got, and whether it ended."""

    response: aiohttp.ClientResponse
    events: list[str] = field(default_factory=list)
    ended: bool = False

    async def read(self) -> None:
        try:
            while line := await self.response.content.readline():
                if line.startswith(b"event: "):
                    self.events.append(line.removeprefix(b"event: ").strip().decode())
        except aiohttp.ClientError:
            pass  # closed by the test
        self.ended = True


def write_atomically(path: Path, text: str) -> None:
    """As an editor saves: a new file beside it, renamed over it (the watcher never reads half a file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


async def received(handler: RecordingHandler, count: int) -> None:
    while len(handler.messages) < count:
        handler.received.clear()
        await handler.received.wait()


async def reload(daemon: Daemon, config: Path, step: Step, text: str) -> None:
    if step.trigger == "SIGHUP":
        daemon.proc.send_signal(signal.SIGHUP)
    else:
        write_atomically(config, text)
    expected = "reloaded" if step.good else "refused"
    match = await daemon.within(daemon.log.next(r"config\.(reloaded|refused) reason=(file changed|SIGHUP)"),
                                f"the reload of {step}")
    assert (match.group(1), match.group(2)) == (expected, step.trigger), (step, match.group(0))


@pytest.mark.timeout(240)
async def test_100_reloads_half_broken_while_screens_listen_and_a_digest_is_sent(
    tmp_path: Path, fault_report: Callable[[str], None],
) -> None:
    schedule, _ = hours_ago(2)  # missed two hours ago: sent at start-up
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    with (tmp_path / "recipients.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["email"], *([f"collega{n:03d}@example.org"] for n in range(RECIPIENTS))])
    handler = RecordingHandler()
    async with smtp_server(handler) as sink:
        def good(version: int) -> str:
            return GOOD.format(yesterday=yesterday, schedule=schedule, port=sink.port, version=version,
                               rate=RATE + version % 2)

        config = tmp_path / "intracast.yaml"
        config.write_text(good(0))
        await asyncio.wait_for(intracast(config, "fetch", "--store"), DEADLINE)  # the items it had before it went down
        async with running(config) as daemon, aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
            await daemon.within(daemon.log.next(r"config\.watching"), "the watcher")
            streams = []
            for screen in SCREENS:
                for _ in range(STREAMS):
                    response = await session.get(f"{daemon.url}/screens/{screen}/events?token={screen}-token-123")
                    assert response.status == 200
                    streams.append(Stream(response))
            async with asyncio.TaskGroup() as readers:
                for stream in streams:
                    readers.create_task(stream.read())
                await daemon.within(received(handler, 1), "a first digest")
                steps, sent = plan(), []
                for n, step in enumerate(steps):
                    text = good(step.version) if step.good else BREAKAGES[n % len(BREAKAGES)](good(step.version))
                    await reload(daemon, config, step, text)
                    sent.append(len(handler.messages))
                await daemon.within(received(handler, RECIPIENTS), f"all {RECIPIENTS} digests")
                last = steps[-1].version  # the last write was broken: the good one before it is in force
                health = await daemon.get_json(session, "/healthz")
                async with session.get(f"{daemon.url}/screens/hall/playlist.json") as response:
                    playlist = await response.text()
                metrics = {name: await daemon.metric(session, name) for name in (
                    'intracast_config_reloads_total{result="ok"}', 'intracast_config_reloads_total{result="refused"}',
                    "intracast_sse_clients", 'intracast_outbox_messages{state="sent"}')}
                stayed = not any(stream.ended for stream in streams)
                for stream in streams:
                    stream.response.close()

    sending = [n for n, count in enumerate(sent) if count < RECIPIENTS]
    assert len(sending) >= len(steps) // 2, f"the digest was still going out during the reloads: {sent}"
    assert handler.recipients() == {f"collega{n:03d}@example.org": 1 for n in range(RECIPIENTS)}, "one each"
    assert metrics['intracast_outbox_messages{state="sent"}'] == RECIPIENTS
    assert metrics['intracast_config_reloads_total{result="ok"}'] == 50
    assert metrics['intracast_config_reloads_total{result="refused"}'] == 50
    assert [job for job in health["scheduler"]["jobs"] if job.startswith("source:extra")] == [f"source:extra{last}"]
    assert f"Versie {last}" in playlist
    assert stayed and metrics["intracast_sse_clients"] == len(streams), "every stream stayed open"
    pushes = [s.events.count("playlist") for s in streams]
    renamed = sum(step.good and step.trigger == "file changed" for step in steps)  # each a new announcement
    assert all(s.events[0] == "hello" for s in streams) and min(pushes) >= renamed, [s.events for s in streams]
    reopened = daemon.log.text.count("digest.delivery_reopened")
    fault_report(f"{len(steps)} reloads (50 refused) while {RECIPIENTS} digests went out ({sent[0]} to "
                 f"{sent[-1]} sent from the first to the last, the sender reopened {reopened} times): "
                 f"each arrived once; "
                 f"{len(streams)} SSE streams stayed, {min(pushes)}-{max(pushes)} playlist pushes each; "
                 f"config {last} in force")
