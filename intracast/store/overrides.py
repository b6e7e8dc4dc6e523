"""Admins' overrides of screens: a message over the rotation until lifted or until its time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update

from intracast.store.base import StoreBase
from intracast.store.schema import screen_overrides as table
from screens.store import Override


class OverridesMixin(StoreBase):
    async def add_override(self, override: Override) -> int:
        values = {
            "title": override.title, "text": override.text, "mode": override.mode,
            "screens": list(override.screens), "until": override.until,
            "created_at": override.created_at, "created_by": override.created_by,
        }
        async with self._begin() as conn:
            return (await conn.execute(insert(table).values(**values).returning(table.c.id))).scalar_one()

    async def lift_override(self, override_id: int, by: str, now: datetime) -> bool:
        """False when there is no such override in force."""
        stmt = update(table).where(table.c.id == override_id, table.c.lifted_at.is_(None)).values(
            lifted_at=now, lifted_by=by
        )
        async with self._begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def active_overrides(self, now: datetime) -> list[Override]:
        """Not lifted and not past their time, oldest first."""
        query = select(table).where(
            and_(table.c.lifted_at.is_(None), or_(table.c.until.is_(None), table.c.until > now))
        ).order_by(table.c.id)
        async with self._begin() as conn:
            return [
                Override(row.title, row.text, row.mode, tuple(row.screens), row.until, row.created_at,
                         row.created_by, row.id)
                for row in await conn.execute(query)
            ]
