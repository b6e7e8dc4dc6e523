"""`intracast run`: scheduler and web server together, until SIGTERM or SIGINT.

A config change (the file, or SIGHUP) is validated whole and applied as
one step (intracast/reload.py); a broken one is refused and logged.

Shutdown order: stop watching the config, stop scheduling and let running
jobs finish, close the web server, stop the sender after the SMTP transactions in flight, then close
the HTTP client and the store (the runtime's exit stack).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from digest.web import add_employee_routes
from screens.media import add_media_routes

from intracast import __version__
from intracast.admin.context import Admin
from intracast.admin.web import add_admin_routes
from intracast.banner import banner
from intracast.cluster import Cluster, make_cluster
from intracast.config import Config, LoadedConfig
from intracast.config_in_force import record, recording
from intracast.digests import Digests
from intracast.health import is_online
from intracast.ingest import utcnow
from intracast.jobs import Jobs
from intracast.listen import bind
from intracast.media import ScreenMedia
from intracast.reload import Reloader
from intracast.runtime import Runtime, create_sources, open_runtime
from intracast.scheduler import Scheduler
from intracast.screens import Screens
from intracast.web import make_app

log = logging.getLogger(__name__)

async def run_daemon(loaded: LoadedConfig, *, listen: str | None = None, out: Callable[[str], None] = print) -> None:
    stop, hangup = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stopper(stop, hangup))
    loop.add_signal_handler(signal.SIGHUP, hangup.set)
    sockets = bind(listen or loaded.config.server.listen)  # first: a busy port stops us before any work
    async with AsyncExitStack() as stack:
        for sock in sockets:
            stack.callback(sock.close)
        runtime = await stack.enter_async_context(open_runtime(loaded))
        runtime.metrics.config_loaded.set(time.time())
        cluster = make_cluster(runtime.store, loaded.config.storage.url)
        digests = Digests(loaded, runtime.store, runtime.ingestor, metrics=runtime.metrics, cluster=cluster)
        await digests.save_recipients()  # for the admin's Recipients page; each reload saves them again
        await digests.serve(stack)

        async def apply(new: LoadedConfig) -> None:
            # Every component that reads a setting gets the new config here. The digests go first: they
            # wait for the mail in flight, then switch, and the rest switches with them before anything
            # else runs, so that no link is signed with a key the pages or the screens do not use yet.
            await digests.reconfigure(new)
            links = digests.mailing.links
            runtime.ingestor.reconfigure(create_sources(new, runtime.services))
            employee.configure(signer=links.signer, **_employee_settings(new.config))
            media.reconfigure(new)
            await screens.reconfigure(new, links)
            jobs.apply(new.config)
            if (shown := banner(new, base_url)) != banner(reloader.loaded, base_url):
                out(shown)  # a new screen's URL, another mail server: where the admin looked at start

        await record(runtime.store, loaded, utcnow, cluster.instance)  # for `intracast status` on a broken file
        reloader = Reloader(loaded, recording(apply, runtime.store, utcnow, cluster.instance), runtime.metrics)
        media = ScreenMedia(lambda: reloader.loaded, runtime.services, lambda: screens.side())
        screens = Screens(loaded, runtime.store, digests.mailing.links, media=media.url, cluster=cluster)
        # Every job is given aware instants (a digest's in each recipient's zone): the scheduler's own
        # zone decides nothing, so it is not the intranet's, which a reload may change.
        scheduler = Scheduler(runtime.metrics, ZoneInfo("UTC"))
        jobs = Jobs(scheduler, runtime.ingestor, digests, screens, cluster)
        jobs.apply(loaded.config)
        _hear_the_others(cluster, screens, digests)
        app = make_app(runtime.store, scheduler, runtime.metrics, lambda: list(reloader.loaded.config.sources),
                       partial(_gauges, runtime, screens))
        employee = add_employee_routes(app, runtime.store, digests.mailing.links.signer, clock=utcnow,
                                       **_employee_settings(loaded.config))
        screens.mount(app)
        add_media_routes(app, media)
        add_admin_routes(app, Admin(reloader, runtime.store, scheduler, runtime.ingestor, started=utcnow(),
                                    after_fetch=jobs.items_changed, digests=digests, screens=screens))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        stack.push_async_callback(scheduler.shutdown)
        scheduler.start()
        bound_host, bound_port = runner.addresses[0][:2]
        log.info("daemon.started version=%s listen=%s:%d", __version__, bound_host, bound_port)
        address = f"{_url_host(bound_host)}:{bound_port}"
        reloader.restart.listening(address)
        base_url = f"http://{address}"
        out(banner(loaded, base_url))
        # Both end at `stop`, after the reload in progress, if any: a reload is never cut in half.
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(reloader.watch(stop), name="config-watch")
            tasks.create_task(_on_hangup(hangup, stop, reloader), name="config-sighup")
            tasks.create_task(cluster.serve(stop), name="cluster")
            await stop.wait()
            log.info("daemon.stopping")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(sig)
    log.info("daemon.stopped")


async def _gauges(runtime: Runtime, screens: Screens) -> None:
    """The metrics read at each scrape: items held, the outbox by state, screens online, SSE streams."""
    metrics, store, now = runtime.metrics, runtime.store, utcnow()
    for source, held in (await store.item_counts()).items():
        metrics.items.labels(source).set(held)
    for state, count in (await store.outbox_counts(since=datetime.min.replace(tzinfo=UTC))).items():
        metrics.outbox.labels(state.value).set(count)
    beats = (await store.last_heartbeats()).values()
    metrics.screens_online.set(sum(is_online(beat, now) for beat in beats))
    metrics.sse_clients.set(screens.hub.count())


def _hear_the_others(cluster: Cluster, screens: Screens, digests: Digests) -> None:
    """What another daemon on the same database announces: screens rebuild, the sender drains."""
    async def drain() -> None:
        digests.wake.set()

    cluster.on("items", screens.refresh)
    cluster.on("overrides", screens.refresh)
    cluster.on("outbox", drain)


def _stopper(stop: asyncio.Event, hangup: asyncio.Event) -> Callable[[], None]:
    def stopping() -> None:
        stop.set()
        hangup.set()  # wakes `_on_hangup` to see the stop
    return stopping


async def _on_hangup(hangup: asyncio.Event, stop: asyncio.Event, reloader: Reloader) -> None:
    while True:
        await hangup.wait()
        hangup.clear()
        if stop.is_set():
            return
        await reloader.reload("SIGHUP")


def _employee_settings(config: Config) -> dict[str, Any]:
    return {"intranet_url": str(config.intranet.url), "intranet_name": config.intranet.name,
            "allowed_hosts": redirect_hosts(config), "locale": config.intranet.locale}


def redirect_hosts(config: Config) -> frozenset[str]:
    """Where a tracked link may lead: the intranet's host, its other hosts, and the sources' hosts."""
    urls = [str(config.intranet.url), *(getattr(s, "url", "") for s in config.sources)]
    hosts = {urlsplit(url).hostname for url in urls if url.startswith(("http://", "https://"))}
    return frozenset(host for host in hosts | set(config.intranet.hosts) if host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
