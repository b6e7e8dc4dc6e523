"""`intracast run`: scheduler and web server together, until SIGTERM or SIGINT.

Shutdown order: stop scheduling and let running jobs finish, close the web
server, stop the sender after the SMTP transactions in flight, then close
the HTTP client and the store (the runtime's exit stack).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from aiohttp import web

from digest.web import add_employee_routes
from screens.media import add_media_routes

from intracast import __version__
from intracast.banner import banner
from intracast.config import Config, LoadedConfig
from intracast.digests import Digests
from intracast.ingest import Ingestor, utcnow
from intracast.media import make_media
from intracast.runtime import Runtime, open_runtime
from intracast.scheduler import Scheduler
from intracast.screens import Screens
from intracast.web import make_app

log = logging.getLogger(__name__)

# Items expire and screens' hours turn on and off between fetches.
SCREENS_REFRESH = timedelta(minutes=1)


async def run_daemon(loaded: LoadedConfig, *, listen: str | None = None, out: Callable[[str], None] = print) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(open_runtime(loaded))
        runtime.metrics.config_loaded.set(time.time())
        digests = Digests(loaded, runtime.store, runtime.ingestor)
        await digests.serve(stack)
        media = make_media(loaded, runtime.services, lambda: screens.side())
        screens = Screens(loaded, runtime.store, digests.mailing.links.signer,
                          public_url=digests.mailing.links.public_url, media=media.keys.url)
        scheduler = Scheduler(runtime.metrics, loaded.config.intranet.timezone)
        schedule_jobs(scheduler, runtime, digests, screens)
        app = make_app(runtime.store, scheduler, runtime.metrics, list(loaded.config.sources))
        add_employee_routes(
            app, runtime.store, digests.mailing.links.signer, intranet_url=str(loaded.config.intranet.url),
            intranet_name=loaded.config.intranet.name, allowed_hosts=redirect_hosts(loaded.config),
            locale=loaded.config.intranet.locale, clock=utcnow,
        )
        screens.mount(app)
        add_media_routes(app, media)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        host, _, port = (listen or loaded.config.server.listen).rpartition(":")
        await web.TCPSite(runner, host.strip("[]"), int(port)).start()
        stack.push_async_callback(scheduler.shutdown)
        scheduler.start()
        bound_host, bound_port = runner.addresses[0][:2]
        log.info("daemon.started version=%s listen=%s:%d", __version__, bound_host, bound_port)
        out(banner(loaded, f"http://{_url_host(bound_host)}:{bound_port}"))
        await stop.wait()
        log.info("daemon.stopping")
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    log.info("daemon.stopped")


def schedule_jobs(scheduler: Scheduler, runtime: Runtime, digests: Digests, screens: Screens) -> None:
    config = runtime.loaded.config
    for name, source in runtime.ingestor.sources.items():
        if getattr(source.options, "per_recipient", False):
            continue  # fetched for each recipient when a digest runs
        job = partial(_fetch_job, scheduler, runtime.ingestor, screens, name)
        scheduler.every(f"source:{name}", job, source.options.every, first_run=utcnow())
    if config.screens:
        scheduler.every("screens:refresh", screens.refresh, SCREENS_REFRESH)
        screens.wake_at = partial(scheduler.once, "screens:expiry", screens.refresh)
    for digest in config.digests:
        # A window missed while the daemon was down runs now (within the digest's grace).
        scheduler.once(f"digest:{digest.name}:startup", partial(_digest_job, scheduler, digests, digest.name,
                                                                startup=True), utcnow())


async def _fetch_job(scheduler: Scheduler, ingestor: Ingestor, screens: Screens, name: str) -> None:
    outcome = await ingestor.run(name)
    if outcome.new or outcome.updated:
        await screens.refresh()
    if outcome.retry_at and not outcome.skipped:
        scheduler.once(f"source:{name}:retry", partial(_fetch_job, scheduler, ingestor, screens, name),
                       outcome.retry_at)


async def _digest_job(scheduler: Scheduler, digests: Digests, name: str, *, startup: bool) -> None:
    """Run the digest, then wake again at the next window end in any recipient's time zone.

    Not a cron trigger: 08:30 in Amsterdam and 08:30 in New York are two
    instants, and `digest.windows` reads the schedule in each recipient's zone.
    """
    try:
        await digests.run(name, utcnow(), startup=startup)
    finally:
        when = digests.next_due(name, utcnow())
        if when is not None:
            scheduler.once(f"digest:{name}", partial(_digest_job, scheduler, digests, name, startup=False), when)


def redirect_hosts(config: Config) -> frozenset[str]:
    """Where a tracked link may lead: the intranet's host, its other hosts, and the sources' hosts."""
    urls = [str(config.intranet.url), *(getattr(s, "url", "") for s in config.sources)]
    hosts = {urlsplit(url).hostname for url in urls if url.startswith(("http://", "https://"))}
    return frozenset(host for host in hosts | set(config.intranet.hosts) if host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
