"""`intracast status` while the config file is broken: the config a daemon runs on, and the file's problems.

A real daemon records the config it runs on (at start, and again after a good
reload); `status` is the real command, run as a process beside it.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
from pathlib import Path

from intracast import __version__
from tests.intracast.test_cli import intracast
from tests.intracast.test_daemon import DEADLINE, read_until, start_daemon

EXTRA_SOURCE = "  - {name: more, type: demo, language: en, intranet: https://intranet.example.org}\n"


async def test_status_on_a_broken_file_shows_the_config_in_force_and_the_problems(demo_config: Path) -> None:
    proc = await start_daemon(demo_config, "run", "--listen", "127.0.0.1:0")
    try:
        await asyncio.wait_for(read_until(proc.stdout, r"Stop with Ctrl\+C"), DEADLINE)
        good = demo_config.read_text().replace("sources:\n", "sources:\n" + EXTRA_SOURCE)
        demo_config.write_text(good)
        await asyncio.wait_for(read_until(proc.stderr, r"config\.reloaded"), DEADLINE)
        demo_config.write_text(good.replace("every: 15m", "every: soon"))
        await asyncio.wait_for(read_until(proc.stderr, r"config\.refused"), DEADLINE)
        result = await asyncio.to_thread(intracast, "-c", str(demo_config), "status")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.communicate(), DEADLINE) and proc.returncode == 0
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"version: intracast {__version__}"
    assert re.fullmatch(rf"config: {re.escape(str(demo_config))} \(modified [\d-]+ [\d:]+; 1 problem\(s\), "
                        r"listed below; refused\)", lines[1]), lines
    assert re.fullmatch(rf"in force: the config a daemon loaded at [\d-]+ [\d:]+ \({socket.gethostname()}:.*\)",
                        lines[2]), lines
    # The reloaded config is in force: two sources, where the shipped file has one.
    assert re.fullmatch(r"sources: (\d) healthy, (\d) retrying, (\d) degraded, (\d) pending", lines[3]), lines
    assert sum(map(int, re.findall(r"\d", lines[3]))) == 2, lines
    assert lines[4] == "screens: 0 online, 1 offline"
    assert lines[5].startswith("messages today: ")
    [problem] = lines[6:]
    assert re.fullmatch(rf"problem: {re.escape(str(demo_config))}:\d+:\d+: sources\[demo\]\.every: .*", problem)


def test_status_on_a_broken_file_that_no_daemon_ran_says_what_it_cannot_know(demo_config: Path) -> None:
    assert intracast("-c", str(demo_config), "migrate").returncode == 0
    demo_config.write_text(demo_config.read_text().replace("every: 15m", "every: soon"))
    result = intracast("-c", str(demo_config), "status")
    assert result.returncode == 1
    assert result.stdout.splitlines()[2:] == [
        "in force: unknown: no daemon has recorded a config for this file in the database",
        *[line for line in result.stdout.splitlines() if line.startswith("problem: ")],
    ]
    assert len(result.stdout.splitlines()) == 4


def test_status_when_the_storage_section_is_broken_too(demo_config: Path) -> None:
    demo_config.write_text(demo_config.read_text().replace("url: ${INTRACAST_STORAGE_URL", "url: mysql${X"))
    result = intracast("-c", str(demo_config), "status")
    assert result.returncode == 1
    assert result.stdout.splitlines()[2] == (
        "in force: unknown: the file's storage section does not say where the database is"
    )
    assert result.stdout.count("\nproblem: ") == 1, result.stdout
