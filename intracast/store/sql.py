"""`SqlStore`: the daemon's store on SQLite or PostgreSQL, and `open_store`.

One class implements what the pipelines declare they need (`DeliveryStore`
in digest/store.py, `PlaylistStore` in screens/store.py) plus what the daemon
itself keeps; each resource's queries live in their own module. Every
datetime in and out is UTC-aware, and `now` is always a parameter: the store
never reads the clock.

SQLite runs in the sqlite3 driver's default ("legacy") transaction mode,
which begins a transaction at the first write, not at the first read: writes
that belong together share one `_begin()` block, and a read that a write
depends on is repeated in the write's WHERE clause (see `claim_pending`) or
guarded by a constraint (see `upsert_items`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from intracast.store.admin import AdminMixin
from intracast.store.clicks import ClicksMixin
from intracast.store.cluster import ClusterMixin
from intracast.store.config_in_force import ConfigInForceMixin
from intracast.store.digests import DigestsMixin
from intracast.store.engine import create_engine, describe
from intracast.store.fetch_state import FetchStateMixin
from intracast.store.hidden_alerts import HiddenAlertsMixin
from intracast.store.heartbeats import HeartbeatsMixin
from intracast.store.items import ItemsMixin
from intracast.store.migrate import check_version, upgrade
from intracast.store.outbox import OutboxMixin
from intracast.store.overrides import OverridesMixin
from intracast.store.pairing import PairingMixin
from intracast.store.recipients import RecipientsMixin

log = logging.getLogger(__name__)


class SqlStore(
    ItemsMixin, FetchStateMixin, RecipientsMixin, OutboxMixin, DigestsMixin, ClicksMixin, HeartbeatsMixin,
    OverridesMixin, PairingMixin, AdminMixin, ClusterMixin, ConfigInForceMixin, HiddenAlertsMixin,
):
    """The store; implements `digest.store.DeliveryStore`, `screens.store.PlaylistStore` and `PairingStore`.

    Make one with `open_store`, which owns the engine. Raises `StoreError`.
    """

    async def aclose(self) -> None:
        """Stop the store's own tasks (batched calls in flight); `open_store` calls it before the engine goes."""
        await self._close_fetch_state()

    async def ping(self) -> None:
        """Raise `StoreError` unless the database answers."""
        async with self._begin() as conn:
            await conn.execute(select(1))

    async def schema_revision(self) -> str:
        """The database's schema revision (raises if it no longer matches the code)."""
        return await check_version(self._engine)


@asynccontextmanager
async def open_store(url: str, base_dir: Path, *, migrate: bool = True,
                     migrate_apart: bool = False) -> AsyncIterator[SqlStore]:
    """Open the database at the config's `storage.url`, closing it on exit.

    `migrate`: upgrade the schema to the code's head first (`migrate_apart`: in
    a child process, as the daemon does); otherwise the database must already
    be there (`intracast migrate`). Either way a database newer than the code
    raises `SchemaTooNewError`.
    """
    engine = create_engine(url, base_dir)
    try:
        revision = await (upgrade(engine, apart=migrate_apart) if migrate else check_version(engine))
        log.info("store.opened database=%s revision=%s", describe(engine.url), revision)
        store = SqlStore(engine)
        try:
            yield store
        finally:
            await store.aclose()
    finally:
        await engine.dispose()
