"""Opening and migrating databases: fresh, current, too new, not yet migrated, failing."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy import create_engine as create_sync_engine

from intracast.store import SchemaTooNewError, StoreError, open_store
from intracast.store.engine import create_engine
from intracast.store.migrate import _config, _graph, head
from intracast.store.schema import metadata

URL = "sqlite:///var/data/intracast.db"


def db_path(base_dir: Path) -> Path:
    return base_dir / "var" / "data" / "intracast.db"


def sql(base_dir: Path, statement: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db_path(base_dir))) as db, db:
        return db.execute(statement).fetchall()


async def test_fresh_database_is_created_at_head(tmp_path: Path) -> None:
    async with open_store(URL, tmp_path) as store:
        assert await store.schema_revision() == head()
        assert store.database == str(db_path(tmp_path))
    assert sql(tmp_path, "SELECT version_num FROM alembic_version") == [(head(),)]
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
            assert await store.schema_revision() == head()
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
    assert f"schema revision {revision!r}" in message and f"head {head()!r}" in message
    assert str(db_path(tmp_path)) in message and "upgrade intracast" in message


async def test_an_empty_database_without_migrate_asks_for_intracast_migrate(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `intracast migrate`") as caught:
        async with open_store(URL, tmp_path, migrate=False):
            pytest.fail("opened a database without a schema")
    assert not isinstance(caught.value, SchemaTooNewError)
    assert sql(tmp_path, "SELECT name FROM sqlite_master WHERE type = 'table'") == []


async def test_migration_creates_exactly_the_schema(db_url: str, tmp_path: Path) -> None:
    async with open_store(db_url, tmp_path):
        pass
    engine = create_engine(db_url, tmp_path)

    def differences(conn: Connection) -> list[object]:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)

    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_daemons_starting_together_on_a_new_database_migrate_it_once(db_url: str, tmp_path: Path) -> None:
    async def open_one() -> str:
        async with open_store(db_url, tmp_path) as store:
            return await store.schema_revision()

    assert await asyncio.gather(*(open_one() for _ in range(3))) == [head()] * 3


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
    migrate_to(tmp_path, "0001")
    sql(tmp_path, "INSERT INTO items (source, guid, title, link, summary, content_html, tags, audience, pinned,"
                  " content_hash, first_seen, last_seen) VALUES ('news', 'g1', 'Kept', 'https://x/1', '', '',"
                  " '[]', '[]', 1, 'h', '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
    sql(tmp_path, "INSERT INTO screen_heartbeats (screen, last_seen, width) VALUES ('hal', '2026-01-01 00:00:00', 1920)")
    async with open_store(URL, tmp_path) as store:
        assert await store.schema_revision() == head()
        [item] = await store.get_items("news")
        beats = await store.last_heartbeats()
    assert (item.title, item.pinned, item.takeover) == ("Kept", True, False)
    assert (beats["hal"].width, beats["hal"].version, beats["hal"].heap) == (1920, None, None)


def migrate_to(base_dir: Path, revision: str) -> None:
    """A database as an older intracast left it, made with Alembic in this process."""
    db_path(base_dir).parent.mkdir(parents=True)
    engine = create_sync_engine(f"sqlite:///{db_path(base_dir)}")
    try:
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@pytest.mark.parametrize("apart", [True, False], ids=["in-a-child", "here"])
async def test_a_failing_migration_is_reported_as_the_store_error_it_raised(tmp_path: Path, apart: bool) -> None:
    """Run in a child process or here, the migration's error reaches the caller as one clear line."""
    migrate_to(tmp_path, "0001")
    sql(tmp_path, "CREATE TABLE screen_overrides (id INTEGER)")  # 0002 creates it: the upgrade fails there
    with pytest.raises(StoreError) as caught:
        async with open_store(URL, tmp_path, migrate_apart=apart):
            pytest.fail("opened a database whose migration failed")
    assert str(caught.value) == f"database {db_path(tmp_path)}: OperationalError: table screen_overrides already exists"
    assert not isinstance(caught.value, SchemaTooNewError)
    assert sql(tmp_path, "SELECT version_num FROM alembic_version") == [("0001",)]


def test_the_revisions_read_from_the_scripts_are_alembics() -> None:
    scripts = ScriptDirectory.from_config(_config())
    assert head() == scripts.get_current_head()
    assert _graph()[1] == {script.revision for script in scripts.walk_revisions()}


def test_migrating_apart_never_imports_alembic(tmp_path: Path) -> None:
    """Alembic runs in the migration process only: the daemon does not carry it (bench/README.md, memory)."""
    code = ("import asyncio, sys; from pathlib import Path; from intracast.store import open_store\n"
            "async def main():\n"
            "    async with open_store(sys.argv[1], Path(sys.argv[2]), migrate_apart=True) as store:\n"
            "        await store.ping()\n"
            "asyncio.run(main()); print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))")
    run = subprocess.run([sys.executable, "-c", code, URL, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    assert sql(tmp_path, "SELECT version_num FROM alembic_version") == [(head(),)]
