"""The config each config file's daemon runs on: its text, when it was loaded, and by which instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from intracast.store.base import StoreBase
from intracast.store.schema import config_in_force


@dataclass(frozen=True, slots=True)
class ConfigInForce:
    path: str
    text: str
    loaded_at: datetime
    instance: str


class ConfigInForceMixin(StoreBase):
    async def record_config(self, record: ConfigInForce) -> None:
        values = {"text": record.text, "loaded_at": record.loaded_at, "instance": record.instance}
        stmt = self._insert(config_in_force).values(path=record.path, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[config_in_force.c.path], set_=values)
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def config_in_force(self, path: str) -> ConfigInForce | None:
        """What a daemon last loaded from the config file at `path` (resolved), if any ever did."""
        async with self._begin() as conn:
            row = (await conn.execute(select(config_in_force).where(config_in_force.c.path == path))).first()
        return ConfigInForce(row.path, row.text, row.loaded_at, row.instance) if row else None
