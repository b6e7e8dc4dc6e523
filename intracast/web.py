"""The web application: one aiohttp app; health and metrics here, pipelines mount their routes.

`/healthz` answers 200 while the store answers and the scheduler runs, 503
otherwise, with the state of each source either way. A degraded source does
not make the daemon unhealthy: a load balancer must not pull an instance
because an intranet feed is down.
"""

from __future__ import annotations

import time
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web

from intracast import __version__
from intracast.health import source_health
from intracast.ingest import utcnow
from intracast.metrics import Metrics
from intracast.scheduler import Scheduler
from intracast.store import SqlStore, StoreError
from sources.registry import SourceOptions

log = logging.getLogger(__name__)

STORE = web.AppKey("store", SqlStore)
SCHEDULER = web.AppKey("scheduler", Scheduler)
METRICS = web.AppKey("metrics", Metrics)
SOURCES = web.AppKey("sources", Callable[[], list[SourceOptions]])
STARTED = web.AppKey("started", float)
GAUGES = web.AppKey("gauges", Callable[[], Awaitable[None]])


def make_app(
    store: SqlStore, scheduler: Scheduler, metrics: Metrics, sources: Callable[[], list[SourceOptions]],
    gauges: Callable[[], Awaitable[None]],
) -> web.Application:
    """`sources()`: the sources of the config in force (a reload changes them); `gauges()` sets the
    metrics read at each scrape."""
    app = web.Application()
    app[GAUGES] = gauges
    app[STORE], app[SCHEDULER], app[METRICS], app[SOURCES] = store, scheduler, metrics, sources
    app[STARTED] = time.monotonic()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    store_state: dict[str, object] = {"ok": True}
    try:
        await app[STORE].ping()
        states, held = await app[STORE].fetch_states(), await app[STORE].item_counts()
    except StoreError as e:
        store_state, states, held = {"ok": False, "error": str(e)}, {}, {}
    now = utcnow()
    scheduler = app[SCHEDULER]
    body = {
        "status": "ok" if store_state["ok"] and scheduler.running else "unavailable",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - app[STARTED]),
        "scheduler": {"running": scheduler.running, "jobs": _jobs(scheduler.jobs())},
        "store": store_state,
        "sources": {
            options.name: source_health(options, states.get(options.name), held.get(options.name, 0), now)
            for options in app[SOURCES]()
        },
    }
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


def _jobs(jobs: dict[str, datetime | None]) -> dict[str, str | None]:
    return {job: when.isoformat() if when else None for job, when in sorted(jobs.items())}


async def metrics_page(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    try:
        await request.app[GAUGES]()
    except StoreError as e:  # the counters still tell something; /healthz says what is wrong
        log.warning("metrics.gauges_failed error=%s", e)
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = metrics.content_type
    return response
