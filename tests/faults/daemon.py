"""`intracast run` as a real process for the fault tests: its log as it comes, its memory, its sockets.

`running(config)` starts the daemon on a free port (the URL comes from its
`daemon.started` log line), and at the end stops it with SIGTERM and checks
that it exited 0 without a traceback: a fault test's "no crash".
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp

from tests.intracast.test_digest_faults import start

T = TypeVar("T")
DEADLINE = 60  # seconds for one step: the daemon to start, a log line to come, the daemon to stop


class Log:
    """A process's stderr read as it comes, each line with the monotonic time it arrived; owns its reader task."""

    def __init__(self, stream: asyncio.StreamReader):
        self.lines: list[tuple[float, str]] = []
        self.ended = False
        self._cursor = 0
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append((time.monotonic(), line.decode(errors="replace")))
            self._changed.set()
        self.ended = True
        self._changed.set()

    async def find(self, pattern: str, *, start: int = 0) -> tuple[float, re.Match[str]]:
        """The first line from `start` on matching `pattern`, once it is written, and when it came."""
        index = start
        while True:
            for at, line in self.lines[index:]:
                index += 1
                if match := re.search(pattern, line):
                    self._cursor = max(self._cursor, index)
                    return at, match
            if self.ended:
                raise AssertionError(f"the log ended before {pattern!r}:\n{self.text}")
            self._changed.clear()
            await self._changed.wait()

    async def next(self, pattern: str) -> re.Match[str]:
        """The next line matching `pattern` after the last line found."""
        return (await self.find(pattern, start=self._cursor))[1]

    @property
    def text(self) -> str:
        return "".join(line for _, line in self.lines)

    async def close(self) -> None:
        await self._task


@dataclass
class Daemon:
    proc: asyncio.subprocess.Process
    url: str
    log: Log

    async def within(self, awaitable: Awaitable[T], what: str, seconds: float = DEADLINE) -> T:
        """What `awaitable` gives, or an AssertionError naming `what` with the daemon's log after `seconds`."""
        try:
            return await asyncio.wait_for(awaitable, seconds)
        except TimeoutError:
            raise AssertionError(f"{what}: not within {seconds}s; the daemon's log:\n{self.log.text}") from None

    def status(self, field: str) -> int:
        """A `/proc/PID/status` field in kB, such as VmHWM (peak resident memory) or VmRSS."""
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))

    def sockets(self) -> int:
        """Sockets the daemon holds open (its listening one, and one per connection)."""
        count = 0
        for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
            try:
                count += os.readlink(f"/proc/{self.proc.pid}/fd/{fd}").startswith("socket:")
            except FileNotFoundError:
                pass  # closed meanwhile
        return count

    async def get_json(self, session: aiohttp.ClientSession, path: str) -> dict:
        async with session.get(f"{self.url}{path}") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def metric(self, session: aiohttp.ClientSession, name: str) -> float:
        """One unlabelled sample of /metrics."""
        async with session.get(f"{self.url}/metrics") as response:
            text = await response.text()
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
        assert match is not None, f"no {name} in /metrics"
        return float(match.group(1))


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[Daemon]:
    proc = await start(config, "run", "--listen", "127.0.0.1:0", stdout=asyncio.subprocess.DEVNULL)
    log = Log(proc.stderr)
    failed = True
    try:
        _, started = await asyncio.wait_for(log.find(r"daemon\.started .*listen=(\S+)"), DEADLINE)
        yield Daemon(proc, f"http://{started.group(1)}", log)
        failed = False
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), DEADLINE)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await log.close()
    if not failed:
        assert code == 0, f"the daemon exited {code}:\n{log.text}"
        assert "Traceback" not in log.text, log.text
