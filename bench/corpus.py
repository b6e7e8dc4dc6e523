"""`python -m bench corpus`: one fetch cycle of the whole feed corpus, as the daemon runs it.

Serves every feed of tests/data/feeds on loopback (each under its own
prefix), builds the sources as the daemon does (one ClientSession, `Http`,
a spawned parser pool on every core), and times fetching all of them at
once: a cold cycle (the pool starting up included), then warm cycles.

    python -m bench corpus [--quick]      (or python -m bench.corpus)

Then fetches a 5 MB feed and measures how long the event loop was blocked
meanwhile, against parsing the same body on the loop. Warm cycles: 20;
--quick: 5.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import ClientSession, web

from bench.report import Report
from sources import registry
from sources.http import Http
from sources.registry import FetchContext, Services
from sources.remote import Page
from sources.rss import parse_rss

SIZES = {"full": 20, "quick": 5, "smoke": 1}  # warm cycles
FEEDS = Path(__file__).resolve().parent.parent / "tests" / "data" / "feeds"


def corpus() -> list[tuple[str, dict, bytes]]:
    specs = []
    for expected in sorted(FEEDS.glob("*.expected.json")):
        name = expected.name.removesuffix(".expected.json")
        body = next(p for p in FEEDS.glob(f"{name}.*") if not p.name.endswith(".expected.json"))
        specs.append((name, json.loads(expected.read_text()), body.read_bytes()))
    return specs


def app_for(feeds: list[tuple[str, dict, bytes]]) -> web.Application:
    app = web.Application()
    for name, spec, body in feeds:
        content_type = spec["page"]["content_type"] + (f"; charset={spec['page']['charset']}" if spec["page"]["charset"] else "")

        async def handler(request: web.Request, body: bytes = body, content_type: str = content_type) -> web.Response:
            return web.Response(body=body, headers={"Content-Type": content_type})

        app.router.add_get(f"/{name}", handler)
    big = big_feed()
    app.router.add_get("/big", lambda request: web.Response(body=big, content_type="application/rss+xml"))
    return app


async def cycle(sources: list, now: datetime) -> tuple[float, int]:
    started = time.perf_counter()
    results = await asyncio.gather(*(source.fetch(FetchContext(now)) for source in sources))
    return time.perf_counter() - started, sum(len(r.items) for r in results)


def big_feed(megabytes: int = 5) -> bytes:
    item = ("<item><title>Post {i}</title><link>https://intranet.example.org/{i}</link>"
            "<description>" + "Nieuws van de afdeling. " * 30 + "</description></item>")
    count = megabytes * 2**20 // len(item.format(i=0))
    body = "".join(item.format(i=i) for i in range(count))
    return f'<rss version="2.0"><channel><title>Big</title>{body}</channel></rss>'.encode()


async def loop_lag(work) -> tuple[float, float]:
    """(seconds the work took, the longest the event loop was blocked meanwhile)."""
    worst, tick = 0.0, 0.005
    task = asyncio.ensure_future(work)
    started = last = time.perf_counter()
    while not task.done():
        await asyncio.sleep(tick)
        now = time.perf_counter()
        worst, last = max(worst, now - last - tick), now
    await task
    return time.perf_counter() - started, worst


async def big_feed_lag(url: str, services: Services) -> dict:
    model, factory = registry.adapter("rss")
    source = factory(model.model_validate({"name": "big", "type": "rss", "url": url}), services)
    took, lag = await loop_lag(source.fetch(FetchContext(datetime.now(UTC))))
    page = Page(url, big_feed(), "application/rss+xml", None, datetime.now(UTC))
    started = time.perf_counter()
    parse_rss(page, source.options)  # what parsing on the loop would cost: all of it is lag
    direct = time.perf_counter() - started
    return {"big_feed_fetch_s": took, "big_feed_loop_max_lag_ms": lag * 1000, "big_feed_parse_on_loop_lag_ms": direct * 1000}


async def main(cycles: int) -> dict:
    feeds = corpus()
    runner = web.AppRunner(app_for(feeds))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    pool = ProcessPoolExecutor(os.cpu_count() or 2, mp_context=multiprocessing.get_context("spawn"))
    try:
        async with ClientSession() as session:
            services = Services(Http(session, Path(".")), pool)
            sources = []
            for name, spec, _ in feeds:
                model, factory = registry.adapter(spec["options"]["type"])
                options = {**spec["options"], "url": f"http://127.0.0.1:{port}/{name}"}
                if options["type"] == "json":
                    options["max_pages"] = 1  # its next page is not served here
                sources.append(factory(model.model_validate(options), services))
            now = datetime.now(UTC)
            cold, items = await cycle(sources, now)
            warm = [(await cycle(sources, now))[0] for _ in range(cycles)]
            lag = await big_feed_lag(f"http://127.0.0.1:{port}/big", services)
    finally:
        pool.shutdown()
        await runner.cleanup()
    return {"feeds": len(feeds), "items": items, "cold_s": cold, "warm_median_s": statistics.median(warm),
            "warm_min_s": min(warm), **lag}


def run(size: str) -> Report:
    figures = asyncio.run(main(SIZES[size]))
    report = Report("corpus", size, figures=figures)
    report.row("feeds", f"{figures['feeds']}, {figures['items']} items")
    for key in ("cold_s", "warm_median_s", "warm_min_s", "big_feed_fetch_s"):
        report.row(key, f"{figures[key] * 1000:.1f} ms")
    for key in ("big_feed_loop_max_lag_ms", "big_feed_parse_on_loop_lag_ms"):
        report.row(key, f"{figures[key]:.1f} ms")
    return report


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as bench

    bench(["corpus", *sys.argv[1:]])
