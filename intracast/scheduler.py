"""The scheduler: APScheduler 3.11's AsyncIOScheduler with our job discipline.

Every job is wrapped so that a failure is logged and counted and never stops
the next tick or another job; `coalesce` and `max_instances=1` mean a job
never overlaps itself. Shutdown stops firing first, lets running jobs finish
within a grace period, and only then cancels what is left.

Interval jobs fire on a grid shared by every instance (`tick`): from a fixed
epoch, plus an offset derived from the job's id that spreads jobs out the
way random jitter would. Several daemons on one database then agree on what
"this tick" of a job is, and only the one that claims it runs it
(intracast/cluster.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from intracast.metrics import Metrics

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def tick(job_id: str, interval: timedelta, now: datetime) -> datetime:
    """The latest instant of `job_id`'s grid at or before `now`: the tick a run at `now` belongs to."""
    start = _grid_start(job_id, interval)
    return start + (now - start) // interval * interval


def _grid_start(job_id: str, interval: timedelta) -> datetime:
    """EPOCH plus up to 10% of the interval (at most a minute), the same for `job_id` on every instance."""
    spread = min(interval * 0.1, timedelta(minutes=1))
    fraction = int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4]) / 2**32
    return EPOCH + spread * fraction


class Scheduler:
    def __init__(self, metrics: Metrics, timezone: ZoneInfo):
        self._metrics = metrics
        self._running: set[asyncio.Task[object]] = set()
        self._aps = AsyncIOScheduler(
            timezone=timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )

    def every(self, job_id: str, job: Job, interval: timedelta, *, first_run: datetime | None = None) -> None:
        """Run `job` at each tick of its grid (`tick`).

        A job of the same id is replaced (a reload changed its interval); without `first_run`
        the first run is the grid's next tick.
        """
        trigger = IntervalTrigger(seconds=interval.total_seconds(), start_date=_grid_start(job_id, interval))
        options = {"next_run_time": first_run} if first_run is not None else {}
        self._aps.add_job(self._wrap(job_id, job), trigger, id=job_id, name=job_id, replace_existing=True, **options)

    def once(self, job_id: str, job: Job, at: datetime) -> None:
        """Run `job` once at `at`, replacing a pending one of the same id (a retry)."""
        self._aps.add_job(self._wrap(job_id, job), DateTrigger(run_date=at), id=job_id, name=job_id,
                          replace_existing=True)

    def remove(self, job_id: str) -> None:
        """Unschedule a job (a reload removed what it runs); a run in progress finishes."""
        if self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)

    def start(self) -> None:
        self._aps.start()

    @property
    def running(self) -> bool:
        return self._aps.running

    def jobs(self) -> dict[str, datetime | None]:
        """Each job's next run time."""
        return {job.id: job.next_run_time for job in self._aps.get_jobs()}

    async def shutdown(self, grace: float = 30.0) -> None:
        if not self._aps.running:
            return
        self._aps.pause()
        if self._running:
            log.info("scheduler.draining jobs=%d grace=%.0fs", len(self._running), grace)
            await asyncio.wait(set(self._running), timeout=grace)
        self._aps.shutdown(wait=False)  # cancels whatever outlived the grace period

    def _wrap(self, job_id: str, job: Job) -> Job:
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            except Exception:
                self._metrics.job_runs.labels(job_id, "failed").inc()
                log.exception("job.failed job=%s", job_id)
            else:
                self._metrics.job_runs.labels(job_id, "ok").inc()
            finally:
                self._running.discard(task)

        return run
