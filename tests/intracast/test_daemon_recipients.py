"""The recipients in a running daemon (`intracast run` as a process): in the store from start-up and after a
reload, for the admin's Recipients page; the CSV's problems logged once, and shown on /admin."""

from __future__ import annotations

import asyncio
import html
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.intracast.test_daemon import DEADLINE, browser_jar, read_until, start_daemon
from tests.intracast.test_reload import Daemon, admin_overview, password_hash

CONFIG = """\
intranet: {{name: Plek, url: "https://intranet.example.org", timezone: Europe/Amsterdam}}
server: {{secret: a-test-secret-of-some-length}}
admin: {{password_hash: "{password_hash}"}}
recipients: {{file: people.csv, list: [{{email: anna@example.org, name: Anna}}]}}
"""
BROKEN = "email;name;groups;timezone\nbram@example.org;Bram;zorg;\nbo@;Bo;;\ncees@example.org;Cees;;Mars/Olympus\n"


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    config = tmp_path / "intracast.yaml"
    config.write_text(CONFIG.format(password_hash=password_hash()))
    (tmp_path / "people.csv").write_text(BROKEN)
    proc = await start_daemon(config, "run", "--listen", "127.0.0.1:0")
    try:
        match, _ = await asyncio.wait_for(read_until(proc.stdout, r"running on (http://127\.0\.0\.1:\d+)"), DEADLINE)
        yield Daemon(proc, match.group(1), config, feed="")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), DEADLINE) == 0


async def found(session: aiohttp.ClientSession, url: str, query: str) -> list[str]:
    """The addresses the Recipients page lists for `query`."""
    async with session.get(f"{url}/admin/recipients", params={"q": query}) as response:
        return re.findall(r'<td data-label="Email">([^<]+)</td>', html.unescape(await response.text()))


async def test_the_store_has_the_recipients_from_start_up_and_each_reload_and_the_overview_their_problems(
    daemon: Daemon,
) -> None:
    logged = await daemon.log(r"config\.watching")  # started, with the recipients loaded
    problems = [line for line in logged.splitlines() if "recipients.problem" in line]
    assert len(problems) == 2, logged  # once each, however often the recipients are used
    assert "people.csv:3: email: missing or not a valid address" in problems[0] and "bo@" not in logged
    async with aiohttp.ClientSession(cookie_jar=browser_jar(), headers={"Accept-Language": "en"}) as session:
        overview = await admin_overview(session, daemon.url)
        assert "Problems with the recipients" in overview
        assert "people.csv:3: email: not a valid address: There must be something after the @-sign." in overview
        assert "people.csv:4: timezone: unknown time zone 'Mars/Olympus'" in overview
        assert await found(session, daemon.url, "") == ["anna@example.org", "bram@example.org"]
        assert await found(session, daemon.url, "ZORG") == ["bram@example.org"]

        (daemon.config.parent / "people.csv").write_text(
            "email;name;groups;timezone\nbo@example.org;Bo;;\ncees@example.org;Cees;zorg;Europe/Paris\n")
        await daemon.log(r"config\.reloaded")
        assert await found(session, daemon.url, "") == ["anna@example.org", "bo@example.org", "cees@example.org"]
        assert await found(session, daemon.url, "zorg") == ["cees@example.org"]
        assert "Problems with the recipients" not in await admin_overview(session, daemon.url)
