"""Hot reload on a running daemon: a good config applies as one step, a broken one changes nothing."""

from __future__ import annotations

import asyncio
import functools
import html
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import aiohttp.web
import pytest

from intracast.admin.passwords import hash_password
from tests.intracast.test_daemon import DEADLINE, browser_jar, next_event, read_until, start_daemon

HEAD = """\
intranet: {{name: Plek, url: "https://intranet.example.org", timezone: Europe/Amsterdam}}
server: {{secret: a-test-secret-of-some-length}}
admin: {{password_hash: "{password_hash}"}}
recipients: {{list: [{{email: an@example.org}}]}}
digests: [{{name: daily, schedule: "{schedule}"}}]
screens:
  - {{id: hall, name: Hall, token: hall-token-123, playlist: main}}
  - {{id: lobby, name: Lobby, token: lobby-token-123, playlist: lobby}}
playlists:
  - {{name: main, blocks: [{main}]}}
  - {{name: lobby, blocks: [{{type: announcement, title: Welkom}}]}}
sources:
"""
SOURCE = "  - {{name: {name}, type: rss, url: '{feed}/{name}', every: 1s}}\n"
PASSWORD = "a password for the reload tests"


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


async def admin_overview(session: aiohttp.ClientSession, url: str) -> str:
    """The /admin overview's text, after logging in."""
    async with session.get(f"{url}/admin/login") as response:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await response.text())
    assert csrf is not None
    form = {"username": "admin", "password": PASSWORD, "csrf": csrf.group(1)}
    async with session.post(f"{url}/admin/login", data=form) as response:
        assert response.status == 200, await response.text()
    async with session.get(f"{url}/admin/", headers={"Accept-Language": "en"}) as response:
        return html.unescape(await response.text())


@dataclass
class Daemon:
    proc: asyncio.subprocess.Process
    url: str
    config: Path
    feed: str
    logged: list[str] = field(default_factory=list)

    def write(self, *, sources: list[str], schedule: str = "0 8 * * *", main: str = "{sources: [news]}") -> None:
        text = HEAD.format(schedule=schedule, main=main, password_hash=password_hash())
        text += "".join(SOURCE.format(name=name, feed=self.feed) for name in sources)
        self.config.write_text(text)

    async def log(self, pattern: str) -> str:
        """The next log line matching `pattern`, and everything logged since the last call."""
        start = len(self.logged)

        async def read() -> str:
            while not re.search(pattern, line := (await self.proc.stderr.readline()).decode()):
                if not line:
                    raise AssertionError(f"the daemon stopped before {pattern!r}")
                self.logged.append(line)
            self.logged.append(line)
            return "".join(self.logged[start:])

        try:
            return await asyncio.wait_for(read(), DEADLINE)
        except (TimeoutError, AssertionError) as e:
            raise AssertionError(f"no {pattern!r} in the log:\n{''.join(self.logged[start:])}") from e

    async def jobs_with(self, job: str) -> dict[str, str]:
        while job not in (jobs := (await self.health())["scheduler"]["jobs"]):
            await asyncio.sleep(0.05)  # polling interval, bounded by the caller's deadline
        return jobs

    async def health(self) -> dict:
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/healthz") as response:
            return await response.json()


@pytest.fixture
async def daemon(tmp_path: Path, aiohttp_server) -> AsyncIterator[Daemon]:
    async def feed(request: aiohttp.web.Request) -> aiohttp.web.Response:
        name = request.match_info["name"]
        item = f"<item><title>{name} news</title><link>https://intranet.example.org/{name}</link></item>"
        return aiohttp.web.Response(text=f'<rss version="2.0"><channel><title>{name}</title>{item}</channel></rss>',
                                    content_type="application/rss+xml")

    app = aiohttp.web.Application()
    app.router.add_get("/{name}", feed)
    server = await aiohttp_server(app)
    daemon = Daemon(None, "", tmp_path / "intracast.yaml", str(server.make_url("")).rstrip("/"))  # type: ignore[arg-type]
    daemon.write(sources=["news", "old"])
    daemon.proc = await start_daemon(daemon.config, "run", "--listen", "127.0.0.1:0")
    try:
        match, _ = await asyncio.wait_for(read_until(daemon.proc.stdout, r"running on (http://127\.0\.0\.1:\d+)"),
                                          DEADLINE)
        daemon.url = match.group(1)
        await daemon.log(r"config\.watching")
        yield daemon
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.proc.wait(), DEADLINE) == 0


async def test_an_edited_config_applies_without_a_restart_and_pushes_only_changed_screens(daemon: Daemon) -> None:
    jobs = await asyncio.wait_for(daemon.jobs_with("digest:daily"), DEADLINE)  # after the start-up run
    assert {"source:news", "source:old"} <= set(jobs)
    assert datetime.fromisoformat(jobs["digest:daily"]).astimezone(ZoneInfo("Europe/Amsterdam")).hour == 8
    async with aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
        async with session.get(f"{daemon.url}/screens/lobby/playlist.json?token=lobby-token-123") as lobby:
            assert lobby.status == 200  # the lobby has its playlist: a push would mean it changed
        hall = await session.get(f"{daemon.url}/screens/hall/events?token=hall-token-123")
        assert await asyncio.wait_for(next_event(hall.content), DEADLINE) == "hello"
        daemon.write(sources=["news", "new"], schedule="0 9 * * *", main="{sources: [news]}, {type: announcement, title: Nieuw}")
        logged = await daemon.log(r"config\.reloaded")
        assert "reason=file changed" in logged
        assert await asyncio.wait_for(next_event(hall.content), DEADLINE) == "playlist"
        hall.close()
    during = logged.split("config.reloading")[-1]
    changed = [line for line in during.splitlines() if "screens.changed" in line]
    assert changed and all("lobby" not in line for line in changed), logged  # its playlist did not change
    after = await daemon.health()
    jobs = after["scheduler"]["jobs"]
    assert "source:new" in jobs and "source:old" not in jobs and "source:old" not in after["sources"]
    assert datetime.fromisoformat(jobs["digest:daily"]).astimezone(ZoneInfo("Europe/Amsterdam")).hour == 9


async def test_a_broken_config_is_refused_and_the_daemon_runs_on(daemon: Daemon) -> None:
    text = daemon.config.read_text()
    daemon.config.write_text(text.replace("schedule:", "shedule:") + "  - {name: extra, type: rss, url: x, evry: 1s}\n")
    logged = await daemon.log(r"config\.refused")
    assert "intracast.yaml:5:" in logged and "digests[daily].shedule: unknown key 'shedule'" in logged
    assert "sources[extra].evry: unknown key 'evry'; did you mean 'every'?" in logged
    health = await daemon.health()
    assert {"source:news", "source:old"} <= set(health["scheduler"]["jobs"]) and "extra" not in health["sources"]
    assert health["status"] == "ok"
    async with aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
        overview = await admin_overview(session, daemon.url)
        assert "digests[daily].shedule: unknown key 'shedule'" in overview
        daemon.config.write_text(text)
        await daemon.log(r"config\.reloaded")
        assert "shedule" not in await admin_overview(session, daemon.url)  # fixed: the problems are gone


async def test_sighup_reloads(daemon: Daemon) -> None:
    daemon.proc.send_signal(signal.SIGHUP)
    await daemon.log(r"config\.reloaded reason=SIGHUP")
