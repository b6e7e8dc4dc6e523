"""`intracast digest send --dry-run` and `digest preview` say what would happen, as a process prints it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from intracast.ingest import utcnow
from intracast.store import open_store
from tests.intracast.test_cli import intracast


def deliveries(config: Path) -> int:
    with sqlite3.connect(config.parent.parent / "var" / "intracast.db") as db:
        return db.execute("select count(*) from deliveries").fetchone()[0]


def unsubscribe(config: Path, email: str) -> None:
    async def store_it() -> None:
        async with open_store("sqlite:///../var/intracast.db", config.parent, migrate=False) as store:
            await store.unsubscribe(email, utcnow())

    asyncio.run(store_it())


@pytest.mark.clock
def test_a_dry_run_says_would_queue_and_queues_nothing(demo_config: Path) -> None:
    config = ["-c", str(demo_config)]
    assert intracast(*config, "fetch", "--store").returncode == 0
    dry = intracast(*config, "digest", "send", "daily", "--dry-run")
    assert (dry.returncode, dry.stdout) == (0, "daily (dry run): 2 would queue\n"), dry.stderr
    assert deliveries(demo_config) == 0 and not (demo_config.parent.parent / "var" / "outbox").exists()
    sent = intracast(*config, "digest", "send", "daily")
    assert sent.stdout.splitlines()[0] == "daily: 2 queued", "the dry run left both windows open"


@pytest.mark.clock
def test_preview_for_an_unsubscribed_person_says_they_do_not_get_it(demo_config: Path) -> None:
    config = ["-c", str(demo_config)]
    assert intracast(*config, "fetch", "--store").returncode == 0
    unsubscribe(demo_config, "anna@example.org")
    preview = intracast(*config, "digest", "preview", "daily", "--to", "anna@example.org")
    assert preview.returncode == 0
    assert preview.stderr.splitlines()[-1] == (
        "anna@example.org: unsubscribed; daily is not sent to them; below is what they would get otherwise"
    )
    assert "Hello Anna," in preview.stdout
    bram = intracast(*config, "digest", "preview", "daily", "--to", "bram@example.org")
    assert "not sent" not in bram.stderr and "Hallo Bram," in bram.stdout
    dry = intracast(*config, "digest", "send", "daily", "--dry-run")
    assert dry.stdout == "daily (dry run): 1 would queue, 1 unsubscribed\n"
