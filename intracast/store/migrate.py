"""Schema migrations: Alembic's API, in this process or in a short-lived child.

There is no alembic.ini: the scripts sit beside this module in `migrations/`,
and `migrations/env.py` runs on the connection handed to it (Alembic's
"sharing a connection with a series of migration commands" recipe).

Alembic (with Mako and Pygments) would cost a daemon about 11 MB of memory
for its whole life, to run migrations once at start-up, if at all. So only
the migration itself imports it: the revision check reads the database's
revision (the `alembic_version` table) and the scripts' revisions from
their source (`revision = "0002"`, `down_revision = "0001"`). The daemon
migrates `apart`: `python -c "...; _child()"` opens the same database (its
URL comes on stdin, never on the command line) and upgrades it, and its
error comes back as the same `StoreError` this process would have raised.
One-shot commands and the tests migrate in their own process.

A database at a revision these scripts do not know was migrated by a newer
intracast; it is refused (`SchemaTooNewError`) instead of being guessed at.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from intracast.store.base import wrap_errors
from intracast.store.cluster import exclusive
from intracast.store.engine import create_engine, describe
from intracast.store.errors import SchemaTooNewError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default; env.py does not change it
CHILD = "from intracast.store.migrate import _child; _child()"


async def upgrade(engine: AsyncEngine, *, apart: bool = False) -> str:
    """Bring the database to the code's head revision and return that revision.

    `apart`: in a child process, so that this one never loads Alembic (the daemon).
    """
    if await _revisions(engine) != (head(),):
        # Processes starting together on one database (several daemons, a daemon and the CLI)
        # migrate it one after the other; the next one finds it at head.
        async with exclusive(engine, "intracast:migrate"):
            await _upgrade_if_behind(engine, apart)
    return await check_version(engine)


async def _upgrade_if_behind(engine: AsyncEngine, apart: bool) -> None:
    before = await _revisions(engine)
    if before != (head(),):
        database = describe(engine.url)
        await (_upgrade_in_child(engine, database) if apart else _upgrade_on(engine))
        log.info("store.migrated database=%s from=%s to=%s", database, ",".join(before) or "empty", head())


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
    return _graph()[0]


async def _revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revisions recorded in the database; refuses any the code does not know."""
    database = describe(engine.url)
    with wrap_errors(database):
        async with engine.connect() as conn:
            revisions = await conn.run_sync(_current_heads)
    for revision in revisions:
        if revision not in _graph()[1]:
            raise SchemaTooNewError(database, revision, head())
    return revisions


def _current_heads(connection: Connection) -> tuple[str, ...]:
    """What Alembic's `MigrationContext.get_current_heads` reads, without importing Alembic."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return ()
    return tuple(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


@cache  # the scripts ship with the code: read them once
def _graph() -> tuple[str, frozenset[str]]:
    """The head revision and every known revision, read from the scripts' source as Alembic reads them."""
    down: dict[str, tuple[str, ...]] = {}
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = _assignments(script, {"revision", "down_revision"})
        revision, previous = found.get("revision"), found.get("down_revision")
        assert isinstance(revision, str), f"{script} has no `revision = \"...\"`"
        down[revision] = (previous,) if isinstance(previous, str) else tuple(previous or ())  # None, or a merge
    heads = set(down) - {revision for revisions in down.values() for revision in revisions}
    assert len(heads) == 1, f"migrations in {MIGRATIONS} have heads {sorted(heads)}, not one"
    return heads.pop(), frozenset(down)


def _assignments(script: Path, names: set[str]) -> dict[str, object]:
    """The literal values of a script's module-level `name = ...` (or `name: str = ...`) assignments."""
    found: dict[str, object] = {}
    for node in ast.parse(script.read_text(encoding="utf-8"), str(script)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    return found


async def _upgrade_in_child(engine: AsyncEngine, database: str) -> None:
    """Run `_child` in a process of its own on the same database; its `StoreError` is raised here."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    url = engine.url.render_as_string(hide_password=False)
    out, err = await process.communicate(url.encode())
    if process.returncode == 0:
        return
    try:
        report = json.loads(out.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):  # it died before it could say why: its traceback is the reason
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise StoreError(f"database {database}: migration failed: the migration process exited "
                         f"{process.returncode}: {tail[0]}") from None
    if "too_new" in report:
        raise SchemaTooNewError(database, *report["too_new"])
    raise StoreError(report["error"])


def _child() -> None:
    """The migration process: the URL on stdin; exit 0, or 1 with `{"error": message}` on stdout."""
    url = sys.stdin.read()
    try:
        asyncio.run(_upgrade_here(url))
    except SchemaTooNewError as e:
        print(json.dumps({"too_new": [e.revision, e.head]}))
        sys.exit(1)
    except StoreError as e:
        print(json.dumps({"error": str(e)}))
        sys.exit(1)


async def _upgrade_here(url: str) -> None:
    engine = create_engine(url, Path("/"))  # the parent's URL: SQLite's path is absolute already
    try:
        await _revisions(engine)  # refuses a database newer than our head
        await _upgrade_on(engine)
    finally:
        await engine.dispose()


async def _upgrade_on(engine: AsyncEngine) -> None:
    from alembic.util import CommandError  # loaded only where migrations run (see `upgrade`)

    database = describe(engine.url)
    with wrap_errors(database):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade)
        except CommandError as e:
            raise StoreError(f"database {database}: migration failed: {e}") from e


def _upgrade(connection: Connection) -> None:
    from alembic import command

    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    # The value goes through ConfigParser interpolation: escape '%' in the path.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config
