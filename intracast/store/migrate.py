"""Schema migrations, run by intracast itself through Alembic's API.

There is no alembic.ini: the scripts sit beside this module in `migrations/`,
and `migrations/env.py` runs on the connection handed to it (Alembic's
"sharing a connection with a series of migration commands" recipe), so the
CLI, the daemon and the tests migrate exactly the database they opened.

A database at a revision these scripts do not know was migrated by a newer
intracast; it is refused (`SchemaTooNewError`) instead of being guessed at.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from intracast.store.base import wrap_errors
from intracast.store.engine import describe
from intracast.store.errors import SchemaTooNewError, StoreError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


async def upgrade(engine: AsyncEngine) -> str:
    """Bring the database to the code's head revision and return that revision."""
    database = describe(engine.url)
    before = await _revisions(engine)
    if before != (head(),):
        with wrap_errors(database):
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(_upgrade)
            except CommandError as e:
                raise StoreError(f"database {database}: migration failed: {e}") from e
        log.info("store.migrated database=%s from=%s to=%s", database, ",".join(before) or "empty", head())
    return await check_version(engine)


async def check_version(engine: AsyncEngine) -> str:
    """The database's revision; raises `StoreError` unless it is the code's head."""
    revisions = await _revisions(engine)
    if revisions == (head(),):
        return head()
    database = describe(engine.url)
    if not revisions:
        raise StoreError(
            f"database {database} has no intracast schema yet; run `intracast migrate` to create it"
        )
    raise StoreError(
        f"database {database} is at schema revision {','.join(revisions)!r}, older than this "
        f"intracast (head {head()!r}); run `intracast migrate` to upgrade it"
    )


def head() -> str:
    """The newest revision the code knows."""
    revision = _scripts().get_current_head()
    assert revision is not None, f"no migrations in {MIGRATIONS}"
    return revision


async def _revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions recorded in the database; refuses any the code does not know."""
    database = describe(engine.url)
    with wrap_errors(database):
        async with engine.connect() as conn:
            revisions = await conn.run_sync(_current_heads)
    known = {script.revision for script in _scripts().walk_revisions()}
    for revision in revisions:
        if revision not in known:
            raise SchemaTooNewError(database, revision, head())
    return revisions


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(connection).get_current_heads()


def _upgrade(connection: Connection) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@cache  # the scripts ship with the code: read them once
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config() -> Config:
    config = Config()
    # The value goes through ConfigParser interpolation: escape '%' in the path.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config
