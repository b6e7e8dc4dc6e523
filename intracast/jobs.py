"""What the scheduler runs for a config: fetches on their interval, digests at their windows, screens' refresh.

`Jobs.apply` is called at start and after every reload with the config to
run: it adds what is new, removes what is gone and reschedules what
changed, and leaves alone the jobs whose settings did not change (a source
whose interval stayed keeps its next tick).

With several daemons on one database each schedules every job, and a
source's tick or a digest's window runs where it is claimed
(intracast/cluster.py). A digest's start-up check for missed windows runs
on every instance that starts: it creates only the deliveries no instance
has made yet, so whichever starts first catches a missed window up.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial

from intracast.cluster import Cluster
from intracast.config import Config
from intracast.digests import Digests
from intracast.ingest import Clock, Ingestor, utcnow
from intracast.scheduler import Scheduler, tick
from intracast.screens import Screens

log = logging.getLogger(__name__)

# Screens' hours turn on and off, and relative dates age, between fetches.
SCREENS_REFRESH = timedelta(minutes=1)
# How long a digest's start-up check waits for its sources' first fetch: on a new database the
# items of a missed window are not there before it.
FIRST_FETCH_WAIT_S = 120


class Jobs:
    def __init__(self, scheduler: Scheduler, ingestor: Ingestor, digests: Digests, screens: Screens,
                 cluster: Cluster, clock: Clock = utcnow) -> None:
        self._scheduler, self._ingestor, self._digests, self._screens = scheduler, ingestor, digests, screens
        self._cluster, self._clock = cluster, clock
        self._sources: dict[str, timedelta] = {}  # source -> interval, as scheduled
        self._digest_schedules: dict[str, str] = {}  # digest -> cron, as scheduled
        self._digest_sources: dict[str, list[str]] = {}  # digest -> its sources (empty: all)
        self._first_tick: dict[str, asyncio.Event] = {}  # source -> set once its first tick has run
        self._screens_on = False

    def apply(self, config: Config) -> None:
        self._apply_sources(config)
        self._apply_digests(config)
        if bool(config.screens) != self._screens_on:
            self._screens_on = bool(config.screens)
            if self._screens_on:
                self._scheduler.every("screens:refresh", self._screens.refresh, SCREENS_REFRESH)
                self._screens.wake_at = partial(self._scheduler.once, "screens:expiry", self._screens.refresh)
            else:
                self._scheduler.remove("screens:refresh")
                self._scheduler.remove("screens:expiry")

    def _apply_sources(self, config: Config) -> None:
        # Per-recipient sources are fetched for each recipient when a digest runs, not on a clock.
        wanted = {s.name: s.every for s in config.sources if not getattr(s, "per_recipient", False)}
        for name in self._sources.keys() - wanted.keys():
            self._scheduler.remove(f"source:{name}")
            self._scheduler.remove(f"source:{name}:retry")
        for name, every in wanted.items():
            if self._sources.get(name) != every:
                first = self._clock() if name not in self._sources else None  # a new source: fetch it now
                self._first_tick.setdefault(name, asyncio.Event())
                self._scheduler.every(f"source:{name}", partial(self._tick, name), every, first_run=first)
        self._sources = wanted

    def _apply_digests(self, config: Config) -> None:
        wanted = {d.name: d.schedule for d in config.digests}
        self._digest_sources = {d.name: list(d.sources) for d in config.digests}
        for name in self._digest_schedules.keys() - wanted.keys():
            self._scheduler.remove(f"digest:{name}")
            self._scheduler.remove(f"digest:{name}:startup")
        before, self._digest_schedules = self._digest_schedules, wanted
        for name, schedule in wanted.items():
            if name not in before:
                # A window missed while the daemon was down (or before the digest existed) runs now,
                # within the digest's grace; the next window is on the schedule meanwhile.
                self._scheduler.once(f"digest:{name}:startup", partial(self._digest, name, window=None),
                                     self._clock())
            if before.get(name) != schedule:
                self._schedule_digest(name)

    async def _tick(self, name: str) -> None:
        """A source's interval tick: fetched by the instance that claims it."""
        if name not in self._sources:
            return  # removed by a reload since this run was scheduled
        now = self._clock()
        job = f"source:{name}"
        try:
            if await self._cluster.claim(job, tick(job, self._sources[name], now), now):
                await self._fetch(name)
        finally:
            self._first_tick[name].set()

    async def _fetch(self, name: str) -> None:
        if name not in self._ingestor.sources:
            return  # removed by a reload since this run was scheduled
        outcome = await self._ingestor.run(name)
        if outcome.new or outcome.updated:
            await self.items_changed()
        if outcome.retry_at and not outcome.skipped:
            self._scheduler.once(f"source:{name}:retry", partial(self._fetch, name), outcome.retry_at)

    async def items_changed(self) -> None:
        """A fetch stored new or updated items: the screens here rebuild, and so do the other instances'."""
        await self._screens.refresh()
        await self._cluster.announce("items")

    async def _digest(self, name: str, *, window: datetime | None) -> None:
        """Run the digest at `window` (None: the start-up check), then wake again at the next window end
        in any recipient's time zone.

        Not a cron trigger: 08:30 in Amsterdam and 08:30 in New York are two
        instants, and `digest.windows` reads the schedule in each recipient's zone.
        """
        if name not in self._digest_schedules:
            return  # removed by a reload
        try:
            if window is None:
                await self._first_fetches(name)
            now = self._clock()
            if window is None or await self._cluster.claim(f"digest:{name}", window, now):
                await self._digests.run(name, now, startup=window is None)
        finally:
            self._schedule_digest(name)

    async def _first_fetches(self, digest: str) -> None:
        """Once the first tick of each of the digest's sources has run (or FIRST_FETCH_WAIT_S passed)."""
        names = self._digest_sources.get(digest) or list(self._sources)
        started = [self._first_tick[name].wait() for name in names if name in self._first_tick]
        try:
            await asyncio.wait_for(asyncio.gather(*started), FIRST_FETCH_WAIT_S)
        except TimeoutError:
            log.warning("digest.sources_not_fetched digest=%s waited=%ds", digest, FIRST_FETCH_WAIT_S)

    def _schedule_digest(self, name: str) -> None:
        if name not in self._digest_schedules:
            return  # removed by a reload while it ran
        when = self._digests.next_due(name, self._clock())
        if when is not None:
            self._scheduler.once(f"digest:{name}", partial(self._digest, name, window=when), when)
