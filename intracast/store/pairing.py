"""Codes of new TVs waiting to be paired with a screen (`screens.store.PairingStore`).

They live in the database rather than in a daemon's memory so that the TV's
polls and the admin's claim may reach different daemons behind a load
balancer. Each step is one statement whose WHERE clause holds the whole
rule (unexpired, unclaimed, claimed), so two daemons racing for a code
cannot both win it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from intracast.store.base import StoreBase
from intracast.store.schema import pairing_codes as table


class PairingMixin(StoreBase):
    async def add_pairing_code(self, code: str, secret_hash: str, now: datetime, expires_at: datetime) -> bool:
        insert = self._insert(table).values(code=code, secret_hash=secret_hash, created_at=now, expires_at=expires_at)
        async with self._begin() as conn:
            # Expired codes go first: nobody can use them, and their codes become free again.
            await conn.execute(delete(table).where(table.c.expires_at <= now))
            return (await conn.execute(insert.on_conflict_do_nothing())).rowcount == 1

    async def pairing_code(self, secret_hash: str, now: datetime) -> str | None:
        query = select(table.c.code).where(table.c.secret_hash == secret_hash, table.c.expires_at > now)
        async with self._begin() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def claim_pairing_code(self, code: str, screen: str, by: str, now: datetime) -> bool:
        stmt = update(table).where(
            table.c.code == code, table.c.screen.is_(None), table.c.expires_at > now
        ).values(screen=screen, claimed_by=by, claimed_at=now)
        async with self._begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def collect_pairing_code(self, secret_hash: str, now: datetime) -> str | None:
        stmt = delete(table).where(
            table.c.secret_hash == secret_hash, table.c.screen.is_not(None), table.c.expires_at > now
        ).returning(table.c.screen)
        async with self._begin() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()
