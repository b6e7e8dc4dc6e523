"""One digest to every recipient, through the real pipeline, against the physical limit of the SMTP link.

    python -m bench.digest [--recipients N]

Writes a config in a temporary folder: N recipients (default 2,000) in a CSV,
spread over four groups, and a static source of 20 items with different
audiences (everyone, one group, two groups), so each recipient's digest is
their own selection. Mail goes to an aiosmtpd server on loopback (its
`Controller`) that accepts every message and discards it, run in a process of
its own: in a thread it would share this process's GIL with the event loop
and aiosqlite's thread, and measure the contention more than the pipeline.
The config's `smtp:` asks for 4 connections and a rate far above what the
link carries, so the throttle never waits.

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

Prints a table, then one JSON line:
`{"scenario": "digest", "machine": {...}, "figures": {...}, "checks": [...]}`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import os
import platform
import socket
import statistics
import tempfile
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from digest.recipients import Recipient
from digest.select import select
from digest.store import DeliveryKey
from digest.windows import Window
from intracast.config import load_config
from intracast.digests import Digests
from intracast.runtime import open_runtime

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

CONNECTIONS = 4
ITEMS = 20
GROUPS = ("zorg", "kantoor", "noord", "zuid")
RENDER_SAMPLE = 200
BARE_PASSES = 3
GOAL = 0.7


class Discard:
    """Accepts every message and keeps only a count, shared with the parent process."""

    def __init__(self, count: Synchronized[int]) -> None:
        self.count = count

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.count.get_lock():
            self.count.value += len(envelope.rcpt_tos)
        return "250 2.0.0 Ok: discarded"


def serve_sink(port: int, count: Synchronized[int], ready: Event) -> None:
    """The sink process: serve until terminated."""
    Controller(Discard(count), hostname="127.0.0.1", port=port).start()
    ready.set()
    threading.Event().wait()


def free_port() -> int:
    # aiosmtpd's Controller checks it is up by connecting to its port, so it needs a real number, not 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def audience(n: int) -> list[str]:
    """Items 0, 5, 10, 15 for everyone; the others for one group or two."""
    if n % 5 == 0:
        return []
    if n % 3 == 0:
        return [GROUPS[n % 4], GROUPS[(n + 1) % 4]]
    return [GROUPS[n % 4]]


def write_config(folder: Path, recipients: int, port: int) -> Path:
    with (folder / "recipients.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "locale", "groups"])
        for n in range(recipients):
            writer.writerow([f"collega{n:05d}@example.org", f"Collega {n}", "nl" if n % 3 else "en", GROUPS[n % 4]])
    published = datetime.now(UTC) - timedelta(days=1)
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
            items:""") + items + textwrap.dedent("""
        digests:
          - {name: daily, schedule: "30 8 * * 1-5", sources: [news], max_items: 10}
        recipients: {file: recipients.csv}
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
    window = Window(start=now - timedelta(days=7), end=now, missed=False)
    times = []
    for recipient in recipients[:RENDER_SAMPLE]:
        selection = select(candidates, run.digest, groups=recipient.groups, delivered=set(), read=set(), personal={})
        started = time.perf_counter()
        run.message(recipient, window, selection, now, DeliveryKey("daily", recipient.key, now))
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def measure(config: Path, sink: Synchronized[int], port: int) -> dict[str, float]:
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        fetched = await runtime.ingestor.run("news", force=True)
        assert fetched.error is None and len(fetched.items) == ITEMS, fetched
        digests = Digests(loaded, runtime.store, runtime.ingestor)
        recipients = digests.recipients()
        now = datetime.now(UTC)
        candidates = await runtime.store.candidate_items(["news"], now - timedelta(days=7), now, now)
        render = render_ms(digests, candidates, recipients, now)

        started = time.perf_counter()
        stats = await digests.run("daily", datetime.now(UTC), manual=True)
        queued = time.perf_counter() - started
        await digests.backend.open()
        try:
            started = time.perf_counter()
            drained = await digests.sender.drain()
            sent = time.perf_counter() - started
        finally:
            await digests.backend.close()
        assert drained.sent == len(recipients) == sink.value, (stats, drained, sink.value)

        rows = await runtime.store.outbox(len(recipients))
        messages = [(row.sender, row.key.recipient, row.message) for row in rows]
        size = statistics.mean(len(m) for _, _, m in messages)
        passes = [await bare(port, messages) for _ in range(BARE_PASSES)]
        bare_s = statistics.median(passes)
        assert sink.value == (1 + BARE_PASSES) * len(recipients)

    n = len(recipients)
    return {
        "recipients": n,
        "message_kb": size / 1024,
        "render_ms": render,
        "queue_s": queued,
        "queue_ms_per_message": queued / n * 1000,
        "send_s": sent,
        "send_mps": n / sent,
        "total_s": queued + sent,
        "end_to_end_mps": n / (queued + sent),
        "bare_s": bare_s,
        "bare_min_s": min(passes),
        "bare_max_s": max(passes),
        "bare_mps": n / bare_s,
        "send_vs_bare": bare_s / sent,
    }


def machine(load: float) -> dict[str, object]:
    model = next((line.partition(":")[2].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else None
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "load_1m_before": load}


def main(recipients: int) -> None:
    load = os.getloadavg()[0]
    spawn = multiprocessing.get_context("spawn")
    count, ready, port = spawn.Value("q", 0), spawn.Event(), free_port()
    server = spawn.Process(target=serve_sink, args=(port, count, ready), name="smtp-sink", daemon=True)
    server.start()
    try:
        if not ready.wait(timeout=60):
            raise SystemExit("the SMTP sink did not start within 60 s")
        with tempfile.TemporaryDirectory(prefix="bench-digest-") as folder:
            figures = asyncio.run(measure(write_config(Path(folder), recipients, port), count, port))
    finally:
        server.terminate()
        server.join()
    rows = [
        ("recipients", f"{figures['recipients']}"),
        ("message size", f"{figures['message_kb']:.1f} KiB"),
        ("render one message (median)", f"{figures['render_ms']:.2f} ms"),
        ("select + render + queue", f"{figures['queue_s']:.2f} s, {figures['queue_ms_per_message']:.2f} ms/message"),
        ("send (Sender.drain, 4 connections)", f"{figures['send_s']:.2f} s, {figures['send_mps']:.0f} messages/s"),
        ("end to end", f"{figures['total_s']:.2f} s, {figures['end_to_end_mps']:.0f} messages/s"),
        ("bare aiosmtplib, 4 connections", f"{figures['bare_s']:.2f} s, {figures['bare_mps']:.0f} messages/s "
                                            f"(passes {figures['bare_min_s']:.2f} to {figures['bare_max_s']:.2f} s)"),
        ("send / bare", f"{figures['send_vs_bare']:.2f} (goal >= {GOAL})"),
    ]
    for name, value in rows:
        print(f"{name:<38}{value}")
    check = {"name": "send_vs_bare", "value": round(figures["send_vs_bare"], 3), "goal": f">= {GOAL}",
             "met": figures["send_vs_bare"] >= GOAL}
    print(json.dumps({"scenario": "digest", "machine": machine(load),
                      "figures": {k: round(v, 4) for k, v in figures.items()}, "checks": [check]}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000, help="How many recipients (default 2000)")
    main(parser.parse_args().recipients)
