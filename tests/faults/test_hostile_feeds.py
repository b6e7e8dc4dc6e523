"""Feeds that hang, drip, flood or explode, fetched by the daemon beside a healthy one (issue 8).

Each fails with its own clear error within its limits (the source's
`timeout`, the 10 MiB wire cap, the 50 MiB decompressed cap of
sources/http.py `Limits`), the daemon's peak memory (VmHWM) grows by a
bounded amount (never by the 50 MB body or the 256 MiB bomb), and the healthy
source, fetched every second meanwhile, keeps storing its new items at once.

The healthy feed lives on another server: at most `per_host` (4) requests go
to one host at a time (sources/http.py), so four hanging feeds on one host
hold a fifth of that host until they time out, by design. The daemon starts
with the healthy source alone; its memory then is the baseline, and a reload
adds the hostile ones, which a reload fetches at once.
"""

from __future__ import annotations

import asyncio
import re
import signal
import textwrap
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.faults.daemon import DEADLINE, running
from tests.faults.feeds import Feeds, gzip_bomb

TIMEOUT = 4  # seconds: the hanging sources' `timeout`
SLACK = 3.0  # seconds an error may come after its limit on a loaded machine
# kB the peak may grow by: the 50 MiB decompressed cap, 10 MiB on the wire, buffers; not a whole 50 MB body as well
MEMORY_BOUND = 100 * 1024

HOSTILE = {  # source -> (error kind, words of its message, seconds from its request to its error at most)
    "slowloris": ("timeout", f"timed out after {TIMEOUT}s", TIMEOUT + SLACK),
    "drip": ("timeout", f"timed out after {TIMEOUT}s", TIMEOUT + SLACK),
    "huge": ("too_large", "body larger than 10 MiB", SLACK),
    "bomb": ("too_large", "decompressed body larger than 50 MiB", SLACK),
}


def write_config(path: Path, healthy: str, hostile: str | None) -> None:
    sources = f"  - {{name: healthy, type: rss, url: '{healthy}/feed/healthy', every: 1s}}\n"
    if hostile is not None:
        sources += "".join(
            f"  - {{name: {name}, type: rss, url: '{hostile}/{name}', every: 1h, timeout: {TIMEOUT}s}}\n"
            for name in HOSTILE
        )
    path.write_text(textwrap.dedent("""\
        intranet: {name: Plek, url: "https://intranet.example.org"}
        storage: {url: "sqlite:///var/intracast.db"}
        sources:
        """) + sources)


async def test_hanging_dripping_huge_and_bomb_feeds_fail_clearly_in_bounded_time_and_memory(
    tmp_path: Path, aiohttp_server, fault_report: Callable[[str], None],
) -> None:
    hostile, healthy = Feeds(), Feeds(growing=frozenset({"healthy"}))
    hostile_url = str((await aiohttp_server(hostile.app)).make_url("")).rstrip("/")
    healthy_url = str((await aiohttp_server(healthy.app)).make_url("")).rstrip("/")
    await asyncio.to_thread(gzip_bomb)  # built before the clock starts
    config = tmp_path / "intracast.yaml"
    write_config(config, healthy_url, None)
    async with running(config) as daemon, aiohttp.ClientSession() as session:
        log = daemon.log
        for _ in range(2):
            await asyncio.wait_for(log.next(r"source\.fetched source=healthy .*new=1"), DEADLINE)
        baseline = daemon.status("VmHWM")

        write_config(config, healthy_url, hostile_url)
        daemon.proc.send_signal(signal.SIGHUP)
        await asyncio.wait_for(log.next(r"config\.reloaded"), DEADLINE)
        reloaded = len(log.lines)
        try:
            failures = await asyncio.wait_for(asyncio.gather(*(
                log.find(rf"source\.failed source={name} kind=(\w+) retry=.* error=(.*)$", start=reloaded)
                for name in HOSTILE)), DEADLINE)
        except TimeoutError:
            raise AssertionError(f"not every hostile source failed within {DEADLINE}s:\n{log.text}") from None
        peak = daemon.status("VmHWM")
        health = (await daemon.get_json(session, "/healthz"))["sources"]
        fetched = [(at, line) for at, line in log.lines[reloaded:] if "source.fetched source=healthy" in line]

    timings = {}
    for name, (at, match) in zip(HOSTILE, failures):
        kind, words, bound = HOSTILE[name]
        asked = hostile.hits[f"/{name}"][0]
        timings[name] = at - asked
        assert match.group(1) == kind, (name, match.group(0))
        assert f"source '{name}': {hostile_url}/{name}: " in match.group(2) and words in match.group(2), match.group(0)
        assert timings[name] <= bound, f"{name} failed {timings[name]:.1f}s after its request; bound {bound}s"
        assert health[name]["last_error"]["kind"] == kind and words in health[name]["last_error"]["message"]
        assert health[name]["state"] in ("retrying", "degraded") and health[name]["items_held"] == 0

    # While the hanging feeds hung, the healthy one went on: fetched, new item stored, quickly.
    hung_until = max(at for at, _ in failures[:2])
    during = [line for at, line in fetched if at <= hung_until]
    took = [float(re.search(r"took=([\d.]+)s", line).group(1)) for _, line in fetched]
    assert len(during) >= 2 and all("new=1" in line for line in during), "".join(during)
    assert max(took) < 1.0, took
    assert health["healthy"]["state"] == "healthy"
    assert health["healthy"]["items_held"] >= len(healthy.hits["healthy"]) - 1  # all but one in flight

    grew = peak - baseline
    assert grew < MEMORY_BOUND, f"VmHWM grew by {grew // 1024} MiB (from {baseline // 1024} MiB)"
    fault_report("errors after " + ", ".join(f"{name} {t:.1f}s" for name, t in timings.items())
                 + f"; VmHWM {baseline // 1024} -> {peak // 1024} MiB; healthy fetched {len(during)} times "
                 f"while two feeds hung (slowest {max(took):.2f}s)")
