from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer, postgres_server

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = REPO / "config" / "intracast.yaml"


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """The shipped config, copied so that its `../var` lands in tmp_path."""
    path = tmp_path / "config" / "intracast.yaml"
    path.parent.mkdir()
    shutil.copy(SHIPPED_CONFIG, path)
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (tests/postgres.py); missing PostgreSQL fails, never skips."""
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A `storage.url` for an empty database, once on SQLite and once on PostgreSQL
    (SQLite's path is relative to the test's `tmp_path`, which `open_store` is given)."""
    if request.param == "sqlite":
        return "sqlite:///var/test.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.fresh_database()
