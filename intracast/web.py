"""The web application: one aiohttp app; health and metrics here, pipelines mount their routes.

`/healthz` answers 200 while the store answers and the scheduler runs, 503
otherwise, with the state of each source either way.
"""

from __future__ import annotations

import time
from datetime import datetime

from aiohttp import web

from intracast import __version__
from intracast.metrics import Metrics
from intracast.scheduler import Scheduler
from intracast.store import FetchState, SqlStore, StoreError

STORE = web.AppKey("store", SqlStore)
SCHEDULER = web.AppKey("scheduler", Scheduler)
METRICS = web.AppKey("metrics", Metrics)
SOURCES = web.AppKey("sources", list[str])
STARTED = web.AppKey("started", float)

# Consecutive failures before a source counts as failing rather than degraded.
FAILING_AFTER = 3


def make_app(store: SqlStore, scheduler: Scheduler, metrics: Metrics, sources: list[str]) -> web.Application:
    app = web.Application()
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
        states = await app[STORE].fetch_states()
    except StoreError as e:
        store_state, states = {"ok": False, "error": str(e)}, {}
    scheduler = app[SCHEDULER]
    body = {
        "status": "ok" if store_state["ok"] and scheduler.running else "unavailable",
        "version": __version__,
        "uptime_seconds": round(time.monotonic() - app[STARTED]),
        "scheduler": {"running": scheduler.running, "jobs": _jobs(scheduler.jobs())},
        "store": store_state,
        "sources": {name: _source_health(states.get(name)) for name in app[SOURCES]},
    }
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


def _jobs(jobs: dict[str, datetime | None]) -> dict[str, str | None]:
    return {job: when.isoformat() if when else None for job, when in sorted(jobs.items())}


def _source_health(state: FetchState | None) -> dict[str, object]:
    if state is None or state.last_attempt is None:
        return {"state": "pending"}
    failures = state.consecutive_failures
    return {
        "state": "healthy" if failures == 0 else "degraded" if failures < FAILING_AFTER else "failing",
        "last_success": state.last_success.isoformat() if state.last_success else None,
        "last_error": state.last_error,
        "consecutive_failures": failures,
        "items_seen": state.items_seen,
    }


async def metrics_page(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = metrics.content_type
    return response
