"""The daemon under test: `python -m intracast run` as a subprocess, its log, and its memory.

The daemon runs as an operator runs it, on a port of its own choosing; its
address comes from its `daemon.started` log line. Its log (stderr, text
format) is kept line by line, so a scenario can wait for an event and read
when the daemon logged it: `source.fetched ... new=1` is the moment an item
was ingested. Memory is read from /proc: `VmHWM` is the peak resident set
of the daemon's own process; its parser workers are separate processes,
reported apart.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

START_TIMEOUT = 120
STOP_TIMEOUT = 60


@dataclass(frozen=True)
class LogLine:
    index: int  # in `Daemon.lines`; wait for a later event with `after=index + 1`
    match: re.Match[str]
    at: float  # when the daemon logged it, as time.time()


@dataclass
class Daemon:
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    ended: bool = False
    base: str = ""  # http://127.0.0.1:PORT, once started
    _grew: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_log(self, pattern: str, timeout: float, after: int = 0) -> LogLine:
        """The first line from `after` on that matches `pattern`, waiting up to `timeout` s for it."""
        regex, index = re.compile(pattern), after
        async with asyncio.timeout(timeout):
            while True:
                for index in range(index, len(self.lines)):
                    if match := regex.search(self.lines[index]):
                        return LogLine(index, match, _logged_at(self.lines[index]))
                index = len(self.lines)
                if self.ended:
                    raise RuntimeError(f"the daemon exited before logging {pattern!r}:\n{self.tail()}")
                async with self._grew:
                    await self._grew.wait()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.lines[-lines:])

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def workers_peak_rss_mb(self) -> float:
        """The largest peak among the daemon's child processes (its parser pool), 0 without any."""
        return max((peak_rss_mb(pid) for pid in children(self.process.pid)), default=0.0)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self._grew:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self._grew.notify_all()
        async with self._grew:
            self.ended = True
            self._grew.notify_all()


def _logged_at(line: str) -> float:
    """The time at the start of a text-format log line, `2026-11-24T08:30:00.123Z INFO ...`."""
    return datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB (10^6 bytes, as the goals are written)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6  # /proc says kB and means KiB
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces; the parent's pid is the second field after it.
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # a process that ended while we looked
    return found


@asynccontextmanager
async def running_daemon(config: Path, *, env: dict[str, str] | None = None) -> AsyncIterator[Daemon]:
    """The daemon on `config`, started and listening; stopped with SIGTERM at the end, which must exit 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "intracast", "-c", str(config), "run", "--listen", "127.0.0.1:0",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    daemon = Daemon(process)
    assert process.stderr is not None
    reader = asyncio.create_task(daemon._read(process.stderr), name="daemon-log")
    try:
        started = await daemon.wait_log(r"daemon\.started .*listen=(\S+)", START_TIMEOUT)
        daemon.base = f"http://{started.match.group(1)}"
        yield daemon
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            code = await process.wait()
        await reader
    if code != 0:
        raise RuntimeError(f"the daemon exited {code}:\n{daemon.tail()}")
