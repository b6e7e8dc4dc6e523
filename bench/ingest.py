"""`python -m bench ingest`: fetch cycles of 1,000 feeds through the real Ingestor, against rss2email and feedparser.

The feeds (bench/feeds.py: 50 items, about 60 KB each, shaped like
WordPress and SharePoint output) are served with ETags by a server in its
own process. A generated config names each as an `rss` source, on SQLite
in a temporary folder; `open_runtime` builds what the daemon builds (one
ClientSession, the spawned parser pool on every core, the store), and a
cycle fetches every source at once through `Ingestor.run`, as the
scheduler does when they fall due together:

- cold: every feed new, 50,000 items stored (the parser pool is started
  before, as in a daemon that has run a while; its start is shown apart);
- warm: every feed answers 304;
- changed: 10 % of the feeds have one new item.

Side by side, in the same run:

- the limit: a bare loop calling `feedparser.parse` on the same bodies
  already in memory, in this process, on one core; goal: cold <= 1.5x it;
- the peer: rss2email 3.14 (bench/rss2email.py) reading the same feeds
  once and mailing their entries to the discarding SMTP sink; goal: cold
  >= 20x faster.

The warm cycle's goal is under a second per 1,000 feeds. --quick: 100 feeds.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from bench import rss2email
from bench.feeds import ITEMS, FeedServer, feed_body, feed_server
from bench.report import Check, Report
from bench.sink import smtp_sink
from intracast.config import load_config
from intracast.ingest import FetchOutcome, Ingestor
from intracast.runtime import open_runtime
from sources.registry import Services
from sources.remote import Page
from sources.rss import RssOptions, parse_rss

SIZES = {"full": 1000, "quick": 100, "smoke": 10}  # feeds
CHANGED = 0.1
PEER_GOAL, LIMIT_GOAL, WARM_GOAL = 20, 1.5, 1.0


def write_config(folder: Path, server: FeedServer, feeds: int) -> Path:
    sources = "".join(f'  - {{name: f{n:04d}, type: rss, url: "{server.url(n)}"}}\n' for n in range(feeds))
    path = folder / "intracast.yaml"
    path.write_text('intranet: {name: Plek, url: "https://intranet.example.org"}\n'
                    'storage: {url: "sqlite:///intracast.db"}\n'
                    f"sources:\n{sources}")
    return path


def bare_feedparser(bodies: list[bytes]) -> float:
    """Seconds for feedparser alone on every body, in memory, on this core."""
    started = time.perf_counter()
    for body in bodies:
        feedparser.parse(io.BytesIO(body))
    return time.perf_counter() - started


async def start_pool(services: Services, body: bytes) -> float:
    """Seconds to start the parser processes: a parse per core and some, so that every worker spawns."""
    page = Page("http://127.0.0.1/warm", body, "application/rss+xml", "utf-8", datetime.now(UTC))
    options = RssOptions(name="warm", type="rss", url=page.url)
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    await asyncio.gather(*(loop.run_in_executor(services.executor, parse_rss, page, options) for _ in range(4)))
    return time.perf_counter() - started


async def cycle(ingestor: Ingestor) -> tuple[float, list[FetchOutcome]]:
    """Every source fetched at once, as the scheduler runs them when they fall due together."""
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(ingestor.run(name) for name in ingestor.sources))
    failed = [o for o in outcomes if o.error or o.skipped]
    if failed:
        raise RuntimeError(f"{len(failed)} fetches failed, e.g. {failed[0]}")
    return time.perf_counter() - started, outcomes


async def ours(config: Path, server: FeedServer, feeds: int, first_body: bytes) -> dict[str, float]:
    async with open_runtime(load_config(config, env={})) as runtime:
        pool = await start_pool(runtime.services, first_body)
        cold, outcomes = await cycle(runtime.ingestor)
        assert sum(o.new for o in outcomes) == feeds * ITEMS, "the cold cycle stores every item"
        warm, outcomes = await cycle(runtime.ingestor)
        assert all(o.not_modified for o in outcomes), "the warm cycle is all 304"
        changed = list(range(0, feeds, round(1 / CHANGED)))
        await server.change(changed)
        changed_s, outcomes = await cycle(runtime.ingestor)
        assert sum(o.new for o in outcomes) == len(changed), "one new item per changed feed"
    return {"pool_start_s": pool, "cold_s": cold, "warm_s": warm, "changed_s": changed_s,
            "changed_feeds": len(changed)}


async def peer(server: FeedServer, feeds: int, folder: Path) -> dict[str, float] | str:
    """rss2email's one run over the same feeds, or why it could not run."""
    r2e = await asyncio.to_thread(rss2email.install)
    if isinstance(r2e, str):
        return r2e
    with smtp_sink() as sink:
        config = rss2email.write_config(folder, [server.url(n) for n in range(feeds)], sink.port)
        took = await rss2email.run(r2e, config)
        return {"rss2email_s": took, "rss2email_mails": sink.received}


async def measure(feeds: int, with_peer: bool) -> tuple[dict[str, float], str | None]:
    epoch = datetime.now(UTC)
    bodies = [feed_body(n, 0, epoch) for n in range(feeds)]
    figures = {"feeds": feeds, "items": feeds * ITEMS, "feed_kb": sum(map(len, bodies)) / feeds / 1024,
               "feedparser_s": bare_feedparser(bodies)}
    with feed_server(feeds, epoch) as server, tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        figures |= await ours(write_config(Path(folder), server, feeds), server, feeds, bodies[0])
        found = await peer(server, feeds, Path(folder)) if with_peer else "not run at the smoke size"
    if isinstance(found, str):
        return figures, found
    return figures | found, None


def run(size: str) -> Report:
    figures, missing = asyncio.run(measure(SIZES[size], with_peer=size != "smoke"))
    f, n = figures, SIZES[size]
    f["cold_vs_feedparser"] = f["cold_s"] / f["feedparser_s"]
    f["warm_s_per_1000"] = f["warm_s"] * 1000 / n
    if missing is None:
        f["rss2email_vs_cold"] = f["rss2email_s"] / f["cold_s"]
    report = Report("ingest", size, figures=f)
    report.row("feeds", f"{n} of {ITEMS} items, {f['feed_kb']:.0f} KiB on average, WordPress and SharePoint shapes")
    report.row("parser pool start", f"{f['pool_start_s']:.2f} s (before the cold cycle)")
    report.row("cold cycle (all new)", f"{f['cold_s']:.2f} s, {f['items'] / f['cold_s']:.0f} items/s")
    report.row("warm cycle (all 304)", f"{f['warm_s']:.3f} s, {f['warm_s_per_1000']:.3f} s per 1,000 feeds")
    report.row(f"changed cycle ({f['changed_feeds']:.0f} feeds)", f"{f['changed_s']:.3f} s")
    report.row("bare feedparser.parse loop", f"{f['feedparser_s']:.2f} s (one core, bodies in memory)")
    report.row("cold / feedparser", f"{f['cold_vs_feedparser']:.2f}")
    if missing is None:
        report.row("rss2email 3.14, one run", f"{f['rss2email_s']:.1f} s, {f['rss2email_mails']:.0f} mails sent")
        report.row("rss2email / cold", f"{f['rss2email_vs_cold']:.1f}x")
    report.checks += [
        Check("rss2email_vs_cold", f.get("rss2email_vs_cold"), f">= {PEER_GOAL}", reason=missing),
        Check("cold_vs_feedparser", f["cold_vs_feedparser"], f"<= {LIMIT_GOAL}"),
        Check("warm_s_per_1000", f["warm_s_per_1000"], f"< {WARM_GOAL}"),
    ]
    return report
