"""What every part of the store shares: the engine, transactions, error wrapping.

SQLAlchemy and driver errors stop here and leave as `StoreError`, naming the
database and the driver's own message (never the SQL and its parameters,
which may hold a whole mail).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from intracast.store.engine import describe
from intracast.store.errors import StoreError


@contextmanager
def wrap_errors(database: str) -> Iterator[None]:
    """Re-raise database and driver errors from the block as `StoreError`."""
    try:
        yield
    except (SQLAlchemyError, OSError) as e:
        cause = getattr(e, "orig", None) or e
        raise StoreError(f"database {database}: {type(cause).__name__}: {cause}") from e


def normalise_email(email: str) -> str:
    """The form emails are stored and compared in."""
    return email.strip().lower()


class StoreBase:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self.database = describe(engine.url)

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed if the block succeeds, rolled back if not."""
        with wrap_errors(self.database):
            async with self._engine.begin() as conn:
                yield conn

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT with `on_conflict_do_*`, which SQLite and PostgreSQL spell alike."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
