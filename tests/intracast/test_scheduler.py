"""The scheduler keeps ticking through failures and shuts down without cutting work short."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from intracast.metrics import Metrics
from intracast.scheduler import EPOCH, Scheduler, tick

TICK = timedelta(milliseconds=50)


@pytest.fixture
async def scheduler():
    scheduler = Scheduler(Metrics(), ZoneInfo("Europe/Amsterdam"))
    yield scheduler
    await scheduler.shutdown(grace=1)


async def test_a_failing_job_does_not_stop_its_next_tick_or_other_jobs(scheduler: Scheduler) -> None:
    runs: Counter[str] = Counter()
    enough = asyncio.Event()

    async def failing() -> None:
        runs["failing"] += 1
        raise RuntimeError("boom")

    async def healthy() -> None:
        runs["healthy"] += 1
        if runs["failing"] >= 3 and runs["healthy"] >= 3:
            enough.set()

    scheduler.every("failing", failing, TICK, first_run=datetime.now(UTC))
    scheduler.every("healthy", healthy, TICK, first_run=datetime.now(UTC))
    scheduler.start()
    await asyncio.wait_for(enough.wait(), timeout=20)
    samples = {
        (s.labels["job"], s.labels["outcome"]): s.value
        for s in scheduler._metrics.job_runs.collect()[0].samples if s.name.endswith("_total")
    }
    assert samples[("failing", "failed")] >= 3
    assert samples[("healthy", "ok")] >= 3


async def test_a_job_never_overlaps_itself(scheduler: Scheduler) -> None:
    active, most, runs = 0, 0, 0
    done = asyncio.Event()

    async def slow() -> None:
        nonlocal active, most, runs
        active += 1
        most = max(most, active)
        await asyncio.sleep(TICK.total_seconds() * 4)  # the job's own work, longer than its interval
        active -= 1
        runs += 1
        if runs >= 2:
            done.set()

    scheduler.every("slow", slow, TICK, first_run=datetime.now(UTC))
    scheduler.start()
    await asyncio.wait_for(done.wait(), timeout=20)
    assert most == 1


async def test_shutdown_lets_a_running_job_finish(scheduler: Scheduler) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished = []

    async def sending() -> None:
        started.set()
        await release.wait()
        finished.append(True)

    scheduler.every("send", sending, timedelta(hours=1), first_run=datetime.now(UTC))
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=10)
    shutdown = asyncio.create_task(scheduler.shutdown(grace=30))
    await asyncio.sleep(0)
    assert not shutdown.done()
    release.set()
    await asyncio.wait_for(shutdown, timeout=10)
    assert finished == [True]
    assert not scheduler.running


async def test_shutdown_cancels_a_job_that_outlives_the_grace_period(scheduler: Scheduler) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler.every("stuck", stuck, timedelta(hours=1), first_run=datetime.now(UTC))
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=10)
    await scheduler.shutdown(grace=0.1)
    await asyncio.wait_for(cancelled.wait(), timeout=10)


async def test_a_job_without_a_first_run_runs_at_its_grid_s_next_tick_and_can_be_rescheduled_or_removed(
    scheduler: Scheduler,
) -> None:
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler.every("tick", job, timedelta(hours=1))
    scheduler.start()
    first, now = scheduler.jobs()["tick"], datetime.now(UTC)
    assert first == tick("tick", timedelta(hours=1), now) + timedelta(hours=1)  # scheduled, not paused
    scheduler.every("tick", job, TICK)  # a reload shortened the interval: the job is replaced
    await asyncio.wait_for(ran.wait(), timeout=20)
    scheduler.remove("tick")
    scheduler.remove("tick")  # removing twice is harmless
    assert "tick" not in scheduler.jobs()


@pytest.mark.parametrize("interval", [timedelta(seconds=1), timedelta(minutes=15), timedelta(hours=6)])
def test_every_instance_puts_a_job_s_ticks_on_the_same_grid_and_jobs_spread_out(interval: timedelta) -> None:
    """Two daemons started at different moments agree which tick a run belongs to (intracast/cluster.py)."""
    now = datetime(2026, 11, 24, 8, 30, 7, 250_000, tzinfo=UTC)
    for job in ("source:news", "source:events"):
        current = tick(job, interval, now)
        assert current <= now < current + interval
        assert tick(job, interval, current) == current == tick(job, interval, current + interval * 0.999)
    offsets = {(tick(f"source:{i}", interval, now) - EPOCH) % interval for i in range(50)}
    assert len(offsets) > 40 and max(offsets) <= min(interval * 0.1, timedelta(minutes=1))
