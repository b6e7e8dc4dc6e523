"""`python -m bench memory`: the daemon's peak resident memory, idle, after a big digest, and serving screens.

Peak RSS is the daemon process's `VmHWM` (bench/daemon.py), read just
before it is stopped; its parser workers are separate processes, shown
apart. So is the migration process (intracast/store/migrate.py), which
the daemon starts on a database behind the code's schema, waits for, and
outlives: shown apart too, measured alone on a fresh database. The floor
under all three: a process that only imports the daemon's code. Three runs
of the real daemon:

1. the shipped demo config (config/intracast.yaml, copied to a temporary
   folder so its `../var` is not the repository's), after its first fetch
   and a while idle, its digest's schedule moved to later today so that
   nothing is due. Goal: under 100 MB. Then the same with the schedule a
   minute ago, as when the daemon starts after 08:30: its start-up check
   renders and sends the morning's digest (shown, no goal; the shipped
   schedule makes the idle figure depend on the time of day);
2. the digest scenario's config (bench/digest.py) for 10,000 recipients,
   its schedule set to a minute ago so the daemon's start-up run sends it:
   every message selected, rendered, queued and sent to the SMTP sink by
   the daemon itself. Goal: under 250 MB after the run;
3. the screens scenario (bench/screens.py) with 1,000 clients: no goal, shown.

--quick: idle 5 s, 1,000 recipients, 200 clients.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import digest, screens
from bench.daemon import running_daemon
from bench.report import Check, Report
from bench.sink import smtp_sink
from intracast.store import migrate

# seconds idle, digest recipients, screens clients
SIZES = {"full": (30.0, 10_000, 1000), "quick": (5.0, 1_000, 200), "smoke": (0.5, 20, 5)}
DEMO = Path(__file__).resolve().parent.parent / "config" / "intracast.yaml"
IDLE_GOAL, DIGEST_GOAL = 100, 250
TIMEOUT = 60
SEND_TIMEOUT = 600


async def imports_alone() -> float:
    """Peak RSS of a process that only imports the daemon's code: the floor under every figure here."""
    code = "import os, intracast.daemon; from bench.daemon import peak_rss_mb; print(peak_rss_mb(os.getpid()))"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    return float(out)


async def migration_alone() -> float:
    """Peak RSS of the migration process on a fresh SQLite database: the daemon's first start runs it."""
    code = f"{migrate.CHILD}; import os; from bench.daemon import peak_rss_mb; print(peak_rss_mb(os.getpid()))"
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'intracast.db'}"
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate(url.encode())
    if process.returncode != 0:
        raise RuntimeError(f"the migration process exited {process.returncode}: {out.decode()[-2000:]}")
    return float(out)


async def demo_idle(seconds: float, schedule: str, name: str) -> dict[str, float]:
    """The demo daemon's peaks, its digest on `schedule`, after its first fetch and `seconds` idle."""
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        config = Path(folder) / "config" / "intracast.yaml"
        config.parent.mkdir()
        config.write_text(re.sub(r'schedule: "[^"]*"', f'schedule: "{schedule}"', DEMO.read_text(), count=1))
        async with running_daemon(config) as daemon:
            await daemon.wait_log(r"source\.fetched source=demo ", TIMEOUT)
            await daemon.wait_log(r"digest\.ran digest=daily ", TIMEOUT)
            await asyncio.sleep(seconds)  # idle is the point: nothing to wait for
            return {f"{name}_peak_rss_mb": daemon.peak_rss_mb(),
                    f"{name}_workers_peak_rss_mb": daemon.workers_peak_rss_mb()}


def hours_ahead(hours: int, zone: str = "Europe/Amsterdam") -> str:
    """A daily cron schedule `hours` from now: with the demo's 12 h grace, nothing is due at start-up."""
    then = datetime.now(ZoneInfo(zone)) + timedelta(hours=hours)
    return f"{then.minute} {then.hour} * * *"


def a_minute_ago(zone: str = "Europe/Amsterdam") -> str:
    """A daily cron schedule that fired a minute or two ago in the intranet's zone: due at start-up."""
    then = datetime.now(ZoneInfo(zone)) - timedelta(minutes=2)
    return f"{then.minute} {then.hour} * * *"


async def fetch_first(config: Path) -> None:
    """`intracast fetch --store`: the items are in the store before the daemon starts, as after a restart;
    else its start-up digest would race its first fetch, and the first recipients would get nothing."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "intracast", "-c", str(config), "fetch",
                                                   "--store", stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"intracast fetch --store exited {process.returncode}: {stderr.decode()[-2000:]}")


async def digest_run(recipients: int) -> dict[str, float]:
    with smtp_sink() as sink, tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        config = digest.write_config(Path(folder), recipients, sink.port, schedule=a_minute_ago())
        await fetch_first(config)
        async with running_daemon(config) as daemon:
            started = time.perf_counter()
            if not await sink.wait_for(recipients, SEND_TIMEOUT):
                raise RuntimeError(f"the daemon sent {sink.received} of {recipients} in {SEND_TIMEOUT} s:\n"
                                   f"{daemon.tail()}")
            return {"digest_recipients": recipients, "digest_sent_s": time.perf_counter() - started,
                    "digest_peak_rss_mb": daemon.peak_rss_mb(),
                    "digest_workers_peak_rss_mb": daemon.workers_peak_rss_mb()}


def run(size: str) -> Report:
    idle, recipients, clients = SIZES[size]
    f = {"imports_peak_rss_mb": asyncio.run(imports_alone()), "migration_peak_rss_mb": asyncio.run(migration_alone())}
    f |= asyncio.run(demo_idle(idle, hours_ahead(3), "idle"))
    f |= asyncio.run(demo_idle(idle, a_minute_ago(), "idle_digest")) | asyncio.run(digest_run(recipients))
    shown = asyncio.run(screens.measure(clients, seconds=1.0))
    f |= {"screens_clients": clients, "screens_peak_rss_mb": shown["daemon_peak_rss_mb"],
          "screens_workers_peak_rss_mb": shown["workers_peak_rss_mb"]}
    report = Report("memory", size, figures=f)
    report.row("importing the daemon's code alone", f"{f['imports_peak_rss_mb']:.0f} MB")
    report.row("the migration process, fresh database (exits before the daemon serves)",
               f"{f['migration_peak_rss_mb']:.0f} MB")
    report.row(f"demo config, idle {idle:.0f} s", f"{f['idle_peak_rss_mb']:.0f} MB "
               f"(parser workers {f['idle_workers_peak_rss_mb']:.0f} MB each at most)")
    report.row("the same, its start-up sending the morning's digest", f"{f['idle_digest_peak_rss_mb']:.0f} MB")
    report.row(f"after a {recipients}-recipient digest", f"{f['digest_peak_rss_mb']:.0f} MB "
               f"(all sent {f['digest_sent_s']:.0f} s after start; workers {f['digest_workers_peak_rss_mb']:.0f} MB)")
    report.row(f"{clients} screens on live updates", f"{f['screens_peak_rss_mb']:.0f} MB "
               f"(workers {f['screens_workers_peak_rss_mb']:.0f} MB)")
    report.checks += [Check("idle_peak_rss_mb", f["idle_peak_rss_mb"], f"< {IDLE_GOAL}"),
                      Check("digest_peak_rss_mb", f["digest_peak_rss_mb"], f"< {DIGEST_GOAL}")]
    return report
