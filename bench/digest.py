"""`python -m bench digest`: one digest to every recipient, through the real pipeline, against the SMTP link's limit.

Writes a config in a temporary folder: N recipients (10,000; --quick 1,000)
in a CSV, spread over four groups, and a static source of 20 items with
different audiences (everyone, one group, two groups), so each recipient's
digest is their own selection. Mail goes to the discarding SMTP sink
(bench/sink.py). The config's `smtp:` asks for 4 connections and a rate far
above what the link carries, so the throttle never waits.

Then, as `intracast digest send` does, in this process:

1. `Digests.run(manual=True)`: select, render and queue a message per
   recipient into the SQLite outbox (render+queue time per message);
2. `Sender.drain()` over `SmtpBackend`: claim, send, mark sent (messages per
   second sent);
3. the baseline, side by side: a bare aiosmtplib loop sending the same
   messages, read back from the outbox, over 4 connections to the same sink;
   no store, no throttle, no pool: the physical limit of sending them here
   (the median of 3 passes: one pass alone varies by up to a quarter).

`send_vs_bare` is (2) over (3); the goal is >= 0.7, the sender's bookkeeping
(a claim per 100 rows, a committed `mark_sent` per message) costing at most
30 % of the link. Besides, `render_ms` times building one message alone
(selection and store excluded), to show what of (1) is rendering.

`write_config` is shared with the memory scenario, which runs the same
digest through the daemon.
"""

from __future__ import annotations

import asyncio
import csv
import json
import statistics
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib

from bench.report import Check, Report
from bench.sink import Sink, smtp_sink
from digest.recipients import Recipient
from digest.select import select
from digest.store import DeliveryKey
from digest.windows import Window
from intracast.config import load_config
from intracast.digests import Digests
from intracast.runtime import open_runtime

SIZES = {"full": 10_000, "quick": 1_000, "smoke": 50}  # recipients
CONNECTIONS = 4
ITEMS = 20
GROUPS = ("zorg", "kantoor", "noord", "zuid")
RENDER_SAMPLE = 200
BARE_PASSES = 3
GOAL = 0.7
LOOKBACK = timedelta(days=7)


def audience(n: int) -> list[str]:
    """Items 0, 5, 10, 15 for everyone; the others for one group or two."""
    if n % 5 == 0:
        return []
    if n % 3 == 0:
        return [GROUPS[n % 4], GROUPS[(n + 1) % 4]]
    return [GROUPS[n % 4]]


def write_config(folder: Path, recipients: int, port: int, schedule: str = "30 8 * * 1-5") -> Path:
    """The digest config; its items are two days old, inside any window that ended since."""
    with (folder / "recipients.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "locale", "groups"])
        for n in range(recipients):
            writer.writerow([f"collega{n:05d}@example.org", f"Collega {n}", "nl" if n % 3 else "en", GROUPS[n % 4]])
    published = datetime.now(UTC) - timedelta(days=2)
    items = "".join(
        f"""
          - title: "Bericht {n}: nieuws van de afdeling"
            text: "{'Een korte samenvatting van het bericht, zoals een intranet die geeft. ' * 3}"
            link: "https://intranet.example.org/nieuws/{n}"
            starts: "{(published + timedelta(minutes=n)).isoformat(timespec='seconds')}"
            audience: {json.dumps(audience(n))}
            tags: [nieuws]"""
        for n in range(ITEMS)
    )
    path = folder / "intracast.yaml"
    path.write_text(textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}}
        server: {{public_url: "https://mail.example.org", secret: "${{BENCH_SECRET:-a-bench-secret-of-enough-length}}"}}
        storage: {{url: "sqlite:///intracast.db", maildir: outbox}}
        smtp: {{host: 127.0.0.1, port: {port}, security: none, rate: 1000000, max_connections: {CONNECTIONS}}}
        sources:
          - name: news
            type: static
            items:""") + items + textwrap.dedent(f"""
        digests:
          - {{name: daily, schedule: "{schedule}", sources: [news], max_items: 10}}
        recipients: {{file: recipients.csv}}
        """))
    return path


async def bare(port: int, messages: list[tuple[str, str, bytes]]) -> float:
    """Seconds to send `messages` over CONNECTIONS plain aiosmtplib connections, connecting included."""
    queue = iter(messages)

    async def connection() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
        await smtp.connect()
        try:
            for sender, recipient, message in queue:
                await smtp.sendmail(sender, [recipient], message)
        finally:
            await smtp.quit()

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(CONNECTIONS):
            group.create_task(connection())
    return time.perf_counter() - started


def render_ms(digests: Digests, candidates: list, recipients: list[Recipient], now: datetime) -> float:
    """Median milliseconds to build one recipient's message from its selection: rendering alone."""
    run = digests.run_for(digests.digest("daily"))
    window = Window(start=now - LOOKBACK, end=now, missed=False)
    times = []
    for recipient in recipients[:RENDER_SAMPLE]:
        selection = select(candidates, run.digest, groups=recipient.groups, delivered=set(), read=set(), personal={})
        started = time.perf_counter()
        run.message(recipient, window, selection, now, DeliveryKey("daily", recipient.key, now))
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def measure(config: Path, sink: Sink) -> dict[str, float]:
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        fetched = await runtime.ingestor.run("news", force=True)
        assert fetched.error is None and len(fetched.items) == ITEMS, fetched
        digests = Digests(loaded, runtime.store, runtime.ingestor)
        recipients = digests.recipients()
        now = datetime.now(UTC)
        candidates = await runtime.store.candidate_items(["news"], now - LOOKBACK, now, now,
                                                         fresh_after=now - LOOKBACK)
        render = render_ms(digests, candidates, recipients, now)

        started = time.perf_counter()
        await digests.run("daily", datetime.now(UTC), manual=True)
        queued = time.perf_counter() - started
        await digests.backend.open()
        try:
            started = time.perf_counter()
            drained = await digests.sender.drain()
            sent = time.perf_counter() - started
        finally:
            await digests.backend.close()
        assert drained.sent == len(recipients) == sink.received, (drained, sink.received)

        rows = await runtime.store.outbox(len(recipients))
        messages = [(row.sender, row.key.recipient, row.message) for row in rows]
        passes = [await bare(sink.port, messages) for _ in range(BARE_PASSES)]
        assert sink.received == (1 + BARE_PASSES) * len(recipients)

    n, bare_s = len(recipients), statistics.median(passes)
    return {
        "recipients": n, "message_kb": statistics.mean(len(m) for _, _, m in messages) / 1024,
        "render_ms": render, "queue_s": queued, "queue_ms_per_message": queued / n * 1000,
        "send_s": sent, "send_mps": n / sent, "total_s": queued + sent, "end_to_end_mps": n / (queued + sent),
        "bare_s": bare_s, "bare_min_s": min(passes), "bare_max_s": max(passes), "bare_mps": n / bare_s,
        "send_vs_bare": bare_s / sent,
    }


def run(size: str) -> Report:
    with smtp_sink() as sink, tempfile.TemporaryDirectory(prefix="bench-digest-") as folder:
        f = asyncio.run(measure(write_config(Path(folder), SIZES[size], sink.port), sink))
    report = Report("digest", size, figures=f)
    report.row("recipients", f"{f['recipients']:.0f}, {ITEMS} candidate items with different audiences")
    report.row("message size", f"{f['message_kb']:.1f} KiB")
    report.row("render one message (median)", f"{f['render_ms']:.2f} ms")
    report.row("select + render + queue", f"{f['queue_s']:.2f} s, {f['queue_ms_per_message']:.2f} ms/message")
    report.row(f"send (Sender.drain, {CONNECTIONS} connections)",
               f"{f['send_s']:.2f} s, {f['send_mps']:.0f} messages/s")
    report.row("end to end", f"{f['total_s']:.2f} s, {f['end_to_end_mps']:.0f} messages/s")
    report.row(f"bare aiosmtplib, {CONNECTIONS} connections",
               f"{f['bare_s']:.2f} s, {f['bare_mps']:.0f} messages/s "
               f"(passes {f['bare_min_s']:.2f} to {f['bare_max_s']:.2f} s)")
    report.checks.append(Check("send_vs_bare", f["send_vs_bare"], f">= {GOAL}"))
    return report
