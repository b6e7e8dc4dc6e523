"""`intracast status` and `intracast admin hash-password`, through click's CliRunner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from intracast.admin.passwords import verify_password
from intracast.cli import main
from intracast.store import open_store
from tests.intracast.admin.conftest import password_hash, write_config
from tests.intracast.admin.seed import seed


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """`main` points the root logger at the runner's stderr, which closes: put pytest's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


# "Today" in Amsterdam, whatever the hour the suite runs: 00:30 (the day that just began), midday, 23:59 (the
# day about to end), and the two DST switch days. `seed` puts one sent message 12 hours before each.
NOWS = [datetime(2026, 12, 8, 23, 30, tzinfo=UTC), datetime(2026, 12, 8, 11, 0, tzinfo=UTC),
        datetime(2026, 12, 8, 22, 59, tzinfo=UTC), datetime(2027, 3, 28, 10, 0, tzinfo=UTC),
        datetime(2027, 10, 31, 22, 30, tzinfo=UTC)]


@pytest.mark.parametrize("now", NOWS, ids=lambda now: now.isoformat(timespec="minutes"))
@pytest.mark.clock
def test_status_prints_the_overview_one_fact_per_line(tmp_path: Path, now: datetime) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")

    async def prepare() -> None:
        async with open_store("sqlite:///var/test.db", tmp_path) as store:
            await seed(store, now)

    asyncio.run(prepare())
    result = CliRunner().invoke(main, ["-c", str(config), "status"],
                                env={"INTRACAST_ADMIN_PASSWORD_HASH": password_hash()}, obj=lambda: now)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["version", "config", "sources", "screens", "messages today"]
    assert lines[1].startswith(f"config: {config} (modified ") and lines[1].endswith("; valid)")
    assert lines[2:] == [
        "sources: 1 healthy, 0 retrying, 1 degraded, 0 pending",
        "screens: 1 online, 1 offline",
        "messages today: 1 sent, 1 deferred, 1 failed, 1 queued",
    ]


def test_status_without_a_database_says_to_migrate(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", admin=False)
    result = CliRunner().invoke(main, ["-c", str(config), "status"])
    assert result.exit_code == 1
    assert "run `intracast migrate`" in result.stderr


def test_hash_password_reads_stdin_and_prints_only_the_hash() -> None:
    result = CliRunner().invoke(main, ["admin", "hash-password", "--stdin"], input="s3cret pass\n")
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert line.startswith("scrypt$16384$8$1$") and verify_password("s3cret pass", line)


def test_hash_password_asks_twice_without_echo() -> None:
    result = CliRunner().invoke(main, ["admin", "hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    hashed = result.stdout.splitlines()[-1]
    assert verify_password("s3cret", hashed)
    assert "s3cret" not in result.output.replace(hashed, "")


def test_hash_password_refuses_an_empty_one() -> None:
    result = CliRunner().invoke(main, ["admin", "hash-password", "--stdin"], input="\n")
    assert result.exit_code == 2
    assert "the password is empty" in result.stderr
