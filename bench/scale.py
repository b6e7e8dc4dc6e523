"""`python -m bench scale`: several daemons on one PostgreSQL database (issue 9), against one daemon on SQLite.

Everything runs on the tests' throw-away PostgreSQL server (tests/postgres.py),
a fresh database per configuration, and real daemons (bench/daemon.py):
`python -m intracast run`, several on one config whose `storage.url` names
that database, started side by side.

1. Digest: the digest scenario's config (bench/digest.py) for 10,000
   recipients (--quick 1,000), its schedule set to a minute ago so that the
   start-up check runs it (bench/memory.py), the items stored first with
   `intracast fetch --store`, mail to the discarding sink (bench/sink.py).
   Once on SQLite with one daemon (the baseline), then on PostgreSQL with 1,
   2 and 4 daemons. Every instance runs the start-up check; runs of one
   digest take turns (an advisory lock), so the first queues every message
   and the others find nothing due; every instance's sender drains the one
   outbox (`FOR UPDATE SKIP LOCKED`). Measured: messages per second from the
   daemons' start to the sink holding all N, and from the `digest.ran` line
   that queued them to the last message (mostly sending: senders wake when
   that run ends, but a daemon that starts late drains at once what is
   already queued); and what each daemon sent (its `mail.drained` lines).
   Check: after the daemons stopped, the sink received exactly N messages
   in every configuration (it counts, it cannot tell duplicates apart; the
   outbox's unique delivery key does the rest).
2. Screens: the screens scenario's config (bench/screens.py: one feed
   fetched every second, one screen per client) on two daemons, the
   clients (1,000; --quick 200) split evenly between them. A new item in
   the feed; from the `source.fetched ... new=1` line of whichever daemon
   fetched it to each client's `playlist` event: p50, p99, max, and p99 for
   the clients of the fetching daemon and of the other one (which hears of
   it over LISTEN/NOTIFY). Goal: p99 under 2 s.
3. Each daemon's peak RSS (VmHWM) in each configuration, read before it stops.
"""

from __future__ import annotations

import asyncio
import resource
import sqlite3
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import make_url

from bench import digest, screens
from bench.daemon import Daemon, LogLine, running_daemon
from bench.feeds import FeedServer, feed_server
from bench.memory import a_minute_ago, fetch_first
from bench.report import Check, Report
from bench.sink import Sink, smtp_sink
from tests.postgres import PostgresServer, postgres_server

# digest recipients, screens clients
SIZES = {"full": (10_000, 1000), "quick": (1_000, 200), "smoke": (50, 6)}
DAEMONS = (1, 2, 4)
# configuration -> (label, daemons): the baseline first
RUNS = {"sqlite": ("SQLite, 1 daemon", 1)} | {f"pg{n}": (f"PostgreSQL, {n} daemon{'s' * (n > 1)}", n) for n in DAEMONS}
SQLITE = 'storage: {url: "sqlite:///intracast.db", maildir: outbox}'  # as digest.py and screens.py write it
LATENCY_GOAL = 2.0
TIMEOUT = 60
SEND_TIMEOUT = 1800
QUEUED = r"digest\.ran digest=daily .*queued=(\d+)"
DRAINED = "mail.drained sent="  # each sender's passes over the outbox: what this daemon sent


def on_postgres(config: Path, url: str) -> Path:
    """The same config with its `storage.url` on PostgreSQL (the maildir is unused: mail goes over SMTP)."""
    text = config.read_text()
    if text.count(SQLITE) != 1:
        raise RuntimeError(f"{config}: no `{SQLITE}` line to replace")
    config.write_text(text.replace(SQLITE, f'storage: {{url: "{url}", maildir: outbox}}'))
    return config


async def side_by_side(stack: AsyncExitStack, config: Path, count: int) -> list[Daemon]:
    """`count` daemons on `config`, started together; each stopped (and its exit checked) with `stack`."""
    return list(await asyncio.gather(*(stack.enter_async_context(running_daemon(config)) for _ in range(count))))


async def first_logged(daemons: list[Daemon], pattern: str, timeout: float,
                       after: list[int] | None = None) -> tuple[int, LogLine]:
    """Which daemon logged `pattern` first (from `after[i]` on), and its line."""
    waits = {asyncio.ensure_future(d.wait_log(pattern, timeout, after=after[i] if after else 0)): i
             for i, d in enumerate(daemons)}
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        found = [(waits[task], task.result()) for task in done]
        return min(found, key=lambda pair: pair[1].at)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def sending(config: Path, sink: Sink, recipients: int, count: int, *, startup_run: bool) -> dict[str, float]:
    """`count` daemons on `config` until the sink has `recipients` more messages; seconds from their start.
    `startup_run`: their start-up check queues the digest (else the outbox is full already)."""
    base = sink.received
    async with AsyncExitStack() as stack:
        started = time.time()
        daemons = await side_by_side(stack, config, count)
        up = time.time()
        if not await sink.wait_for(base + 1, SEND_TIMEOUT):
            raise RuntimeError(f"no message within {SEND_TIMEOUT} s:\n{daemons[0].tail()}")
        first = time.time()
        if not await sink.wait_for(base + recipients, SEND_TIMEOUT):
            raise RuntimeError(f"{sink.received - base} of {recipients} sent in {SEND_TIMEOUT} s:\n"
                               f"{daemons[0].tail()}")
        last = time.time()
        ran = (await first_logged(daemons, QUEUED, TIMEOUT))[1] if startup_run else None
        peaks = [d.peak_rss_mb() for d in daemons]
    if ran is not None and int(ran.match.group(1)) != recipients:
        raise RuntimeError(f"the start-up run queued {ran.match.group(1)} of {recipients}")
    f = {"started_s": up - started, "first_sent_s": first - started, "sent_s": last - started,
         "mps": recipients / (last - started),
         "off_by": abs(sink.received - base - recipients),  # the daemons have stopped: late duplicates count
         "peak_rss_mb": max(peaks)}
    f |= {"queued_s": ran.at - started} if ran is not None else {"drain_mps": recipients / (last - up)}
    return f | {f"daemon{n}_peak_rss_mb": peak for n, peak in enumerate(peaks)} | {
        f"daemon{n}_sent": sum(int(line.split("sent=")[1].split()[0]) for line in d.lines if DRAINED in line)
        for n, d in enumerate(daemons)}


def resend(config: Path, database: str | None, server: PostgresServer) -> None:
    """Every message in the outbox pending again, as if queued and never sent (the windows stay recorded,
    so a start-up check finds nothing due)."""
    sql = "UPDATE deliveries SET state = 'pending', attempts = 0, lease_until = NULL, sent_at = NULL"
    if database is None:
        with sqlite3.connect(config.parent / "intracast.db") as connection:
            connection.execute(sql)
    else:
        server.psql(sql, database)


async def digests(server: PostgresServer, folder: Path, recipients: int) -> dict[str, float]:
    """The baseline on SQLite, then 1, 2 and 4 daemons on PostgreSQL; a fresh sink and database for each.
    Each runs twice: the start-up digest (queue and send), then the same outbox sent again (send alone)."""
    f: dict[str, float] = {"recipients": recipients}
    for name, (_, count) in RUNS.items():
        here, database = folder / name, None
        here.mkdir()
        with smtp_sink() as sink:
            config = digest.write_config(here, recipients, sink.port, schedule=a_minute_ago())
            if name != "sqlite":
                url = server.fresh_database()
                on_postgres(config, url)
                database = make_url(url).database
            await fetch_first(config)  # it migrates the database too: the daemons start on a current one
            run = await sending(config, sink, recipients, count, startup_run=True)
            resend(config, database, server)
            drain = await sending(config, sink, recipients, count, startup_run=False)
        f |= {f"{name}_{key}": value for key, value in run.items()}
        f |= {f"{name}_drain_{key}": value for key, value in drain.items() if key != "drain_mps"}
        f[f"{name}_drain_mps"] = drain["drain_mps"]
    for name in RUNS:
        f[f"{name}_vs_sqlite"] = f[f"{name}_mps"] / f["sqlite_mps"]
        f[f"{name}_drain_vs_sqlite"] = f[f"{name}_drain_mps"] / f["sqlite_drain_mps"]
    return f


async def latency(daemons: list[Daemon], feeds: FeedServer, audience: screens.Audience,
                  on: list[int]) -> dict[str, float]:
    """A new item in the feed; from the fetching daemon's ingest to each client's `playlist` event, in ms.
    `on[n]`: the daemon client n follows."""
    marks = [len(d.lines) for d in daemons]
    audience.arm()
    await feeds.change([0])
    fetcher, ingested = await first_logged(daemons, r"source\.fetched source=news .* new=1 ", TIMEOUT, marks)
    await asyncio.wait_for(audience.updated.done.wait(), TIMEOUT)
    ms = [(min(t for t in v.playlists if t >= audience.armed_at) - ingested.at) * 1000 for v in audience.viewers]
    here = [t for t, n in zip(ms, on, strict=True) if n == fetcher]
    there = [t for t, n in zip(ms, on, strict=True) if n != fetcher]
    return {"latency_p50_ms": statistics.median(ms), "latency_p99_ms": screens.percentile(ms, 99),
            "latency_max_ms": max(ms), "fetcher_p99_ms": screens.percentile(here, 99),
            "other_p99_ms": screens.percentile(there, 99), "other_max_ms": max(there)}


async def live(daemons: list[Daemon], feeds: FeedServer, clients: int) -> dict[str, float]:
    """Clients alternate between the daemons; all connected (their `hello`), then one update measured."""
    audience, on = screens.Audience(clients), [n % len(daemons) for n in range(clients)]
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1: a bare IP is "unsafe" to aiohttp
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as session, asyncio.TaskGroup() as group:
        started = time.perf_counter()
        tasks = [group.create_task(screens.follow(session, daemons[n].base, viewer, audience))
                 for viewer, n in zip(audience.viewers, on, strict=True)]
        await asyncio.wait_for(audience.greeted.done.wait(), TIMEOUT)
        connect = time.perf_counter() - started
        figures = await latency(daemons, feeds, audience, on)
        for task in tasks:
            task.cancel()
    return {"clients": clients, "connect_s": connect, **figures}


async def two_screens(server: PostgresServer, folder: Path, clients: int) -> dict[str, float]:
    # The daemons (children) inherit the raised limit: both ends hold a socket per client.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * clients + 1024)), hard))
    with feed_server(1, datetime.now(UTC)) as feeds:
        config = on_postgres(screens.write_config(folder, feeds.url(0), clients), server.fresh_database())
        async with AsyncExitStack() as stack:
            daemons = await side_by_side(stack, config, 2)
            for daemon in daemons:  # the first fetch built and pushed on both (each pushes an empty build first)
                built = await daemon.wait_log(r"screens\.built playlist=main .* slides=([2-9]|\d\d)", TIMEOUT)
                await daemon.wait_log(r"screens\.pushed", TIMEOUT, after=built.index + 1)
            f = await live(daemons, feeds, clients)
            peaks = [d.peak_rss_mb() for d in daemons]
    return {f"screens_{key}": value for key, value in f.items()} | {
        "screens_peak_rss_mb": max(peaks), **{f"screens_daemon{n}_peak_rss_mb": p for n, p in enumerate(peaks)}}


async def measure(recipients: int, clients: int) -> dict[str, float]:
    with postgres_server() as server, tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        f = await digests(server, Path(folder), recipients)
        (Path(folder) / "screens").mkdir()
        return f | await two_screens(server, Path(folder) / "screens", clients)


def run(size: str) -> Report:
    recipients, clients = SIZES[size]
    f = asyncio.run(measure(recipients, clients))
    report = Report("scale", size, figures=f)
    report.row("digest", f"{recipients} recipients, mail to the discarding sink; clock from the daemons' start")
    for name, (label, count) in RUNS.items():
        report.row(f"  {label}", f"{f[f'{name}_mps']:.0f} messages/s, {f[f'{name}_vs_sqlite']:.2f}x SQLite "
                   f"(all received {f[f'{name}_sent_s']:.1f} s after start)")
        report.row("    up, first sent, run ended (digest.ran)", f"{f[f'{name}_started_s']:.1f} s, "
                   f"{f[f'{name}_first_sent_s']:.1f} s, {f[f'{name}_queued_s']:.1f} s")
        report.row("    the same outbox again, send alone", f"{f[f'{name}_drain_mps']:.0f} messages/s once all are up, "
                   f"{f[f'{name}_drain_vs_sqlite']:.2f}x SQLite (all {f[f'{name}_drain_sent_s']:.1f} s "
                   f"after start)")
        for run, what in (("", "queue and send"), ("drain_", "send alone")):
            sent = ", ".join(f"{f[f'{name}_{run}daemon{n}_sent']:.0f}" for n in range(count))
            peaks = ", ".join(f"{f[f'{name}_{run}daemon{n}_peak_rss_mb']:.0f}" for n in range(count))
            report.row(f"    {what}: sent by each; peak RSS", f"{sent}; {peaks} MB")
    report.row("screens, 2 daemons",
               f"{clients} SSE clients, half on each, connected in {f['screens_connect_s']:.2f} s")
    report.row("  new item: ingest -> every client",
               f"p50 {f['screens_latency_p50_ms']:.0f} ms, p99 {f['screens_latency_p99_ms']:.0f} ms, "
               f"max {f['screens_latency_max_ms']:.0f} ms")
    report.row("  p99 on the fetching daemon / the other",
               f"{f['screens_fetcher_p99_ms']:.0f} ms / {f['screens_other_p99_ms']:.0f} ms")
    report.row("  peak RSS", ", ".join(f"{f[f'screens_daemon{n}_peak_rss_mb']:.0f}" for n in range(2)) + " MB")
    report.checks += [Check("messages_off_by", max(f[f"{name}_{run}off_by"] for name in RUNS for run in ("", "drain_")),
                            "<= 0"),
                      Check("latency_p99_s", f["screens_latency_p99_ms"] / 1000, f"< {LATENCY_GOAL}")]
    return report
