"""Opening and migrating databases: fresh, current, too new, not yet migrated."""

from __future__ import annotations

import logging
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine

from intracast.store import SchemaTooNewError, StoreError, open_store
from intracast.store.engine import create_engine
from intracast.store.migrate import _config, head
from intracast.store.schema import metadata

URL = "sqlite:///var/data/intracast.db"


def db_path(base_dir: Path) -> Path:
    return base_dir / "var" / "data" / "intracast.db"


def sql(base_dir: Path, statement: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db_path(base_dir))) as db, db:
        return db.execute(statement).fetchall()


async def test_fresh_database_is_created_at_head(tmp_path: Path) -> None:
    async with open_store(URL, tmp_path) as store:
        assert await store.schema_revision() == head() == "0002"
        assert store.database == str(db_path(tmp_path))
    assert sql(tmp_path, "SELECT version_num FROM alembic_version") == [("0002",)]
    assert sql(tmp_path, "PRAGMA journal_mode") == [("wal",)]


async def test_absolute_sqlite_paths_ignore_base_dir(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "x.db"
    async with open_store(f"sqlite:///{path}", tmp_path / "config"):
        pass
    assert path.exists()


async def test_reopening_a_current_database_migrates_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="intracast.store"):
        async with open_store(URL, tmp_path):
            pass
        async with open_store(URL, tmp_path) as store:
            assert await store.schema_revision() == "0002"
        async with open_store(URL, tmp_path, migrate=False) as store:
            await store.ping()
    assert caplog.text.count("store.migrated") == 1
    assert caplog.text.count("store.opened") == 3


@pytest.mark.parametrize("revision", ["abc123", "0"])
@pytest.mark.parametrize("migrate", [True, False])
async def test_a_newer_database_is_refused(tmp_path: Path, revision: str, migrate: bool) -> None:
    async with open_store(URL, tmp_path):
        pass
    sql(tmp_path, f"UPDATE alembic_version SET version_num = '{revision}'")
    with pytest.raises(SchemaTooNewError) as caught:
        async with open_store(URL, tmp_path, migrate=migrate):
            pytest.fail("opened a database newer than the code")
    assert caught.value.revision == revision
    message = str(caught.value)
    assert f"schema revision {revision!r}" in message and "head '0002'" in message
    assert str(db_path(tmp_path)) in message and "upgrade intracast" in message


async def test_an_empty_database_without_migrate_asks_for_intracast_migrate(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `intracast migrate`") as caught:
        async with open_store(URL, tmp_path, migrate=False):
            pytest.fail("opened a database without a schema")
    assert not isinstance(caught.value, SchemaTooNewError)
    assert sql(tmp_path, "SELECT name FROM sqlite_master WHERE type = 'table'") == []


async def test_migration_creates_exactly_the_schema(tmp_path: Path) -> None:
    async with open_store(URL, tmp_path):
        pass
    engine = create_sync_engine(f"sqlite:///{db_path(tmp_path)}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


async def test_postgresql_urls_use_asyncpg(tmp_path: Path) -> None:
    engine = create_engine("postgresql://intracast:secret@db.example.org/intracast", tmp_path)
    try:
        assert engine.url.drivername == "postgresql+asyncpg"
        assert engine.url.database == "intracast"
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@host/db", "unsupported database 'mysql'"),
        ("sqlite:///:memory:", "SQLite needs a file"),
        ("sqlite://", "SQLite needs a file"),
        ("not a url", "storage url"),
    ],
)
async def test_unusable_urls_are_store_errors(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        async with open_store(url, tmp_path):
            pytest.fail("opened an unusable url")


async def test_an_unopenable_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "x.db").write_bytes(b"this is not a database, it is a text file " * 100)
    with pytest.raises(StoreError, match=re.escape(str(Path("var") / "x.db"))):
        async with open_store("sqlite:///var/x.db", tmp_path):
            pytest.fail("opened a file that is not a database")


async def test_a_0001_database_upgrades_and_keeps_its_items(tmp_path: Path) -> None:
    """A database made by an older intracast: its items survive, and get the new columns' defaults."""
    db_path(tmp_path).parent.mkdir(parents=True)
    engine = create_sync_engine(f"sqlite:///{db_path(tmp_path)}")
    try:
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
    finally:
        engine.dispose()
    sql(tmp_path, "INSERT INTO items (source, guid, title, link, summary, content_html, tags, audience, pinned,"
                  " content_hash, first_seen, last_seen) VALUES ('news', 'g1', 'Kept', 'https://x/1', '', '',"
                  " '[]', '[]', 1, 'h', '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
    sql(tmp_path, "INSERT INTO screen_heartbeats (screen, last_seen, width) VALUES ('hal', '2026-01-01 00:00:00', 1920)")
    async with open_store(URL, tmp_path) as store:
        assert await store.schema_revision() == "0002"
        [item] = await store.get_items("news")
        beats = await store.last_heartbeats()
    assert (item.title, item.pinned, item.takeover) == ("Kept", True, False)
    assert (beats["hal"].width, beats["hal"].version, beats["hal"].heap) == (1920, None, None)
