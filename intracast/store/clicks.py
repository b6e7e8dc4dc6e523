"""Clicks on digest links and screen QR codes, for "unread" and for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from intracast.store.base import StoreBase, normalise_email
from intracast.store.schema import clicks as click_table
from intracast.store.schema import items as item_table


@dataclass(frozen=True, slots=True)
class Click:
    link: str
    at: datetime
    item_id: int | None = None
    recipient: str | None = None
    screen: str | None = None
    id: int | None = None  # given by the store


class ClicksMixin(StoreBase):
    async def record_click(self, click: Click) -> None:
        recipient = None if click.recipient is None else normalise_email(click.recipient)
        stmt = insert(click_table).values(
            item_id=click.item_id, recipient=recipient, screen=click.screen, link=click.link, at=click.at
        )
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def record_read(self, recipient: str, item_id: int, link: str, now: datetime) -> None:
        """A tracked digest link was opened (`digest.store.EmployeeStore`): the item is read for them.

        The item may have been pruned since the mail went out: the click is kept, without it.
        """
        exists = select(item_table.c.id).where(item_table.c.id == item_id).scalar_subquery()
        stmt = insert(click_table).values(item_id=exists, recipient=normalise_email(recipient), link=link, at=now)
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def record_scan(self, screen: str, item_id: int, link: str, now: datetime) -> None:
        """A screen's QR code was scanned: counted per item and screen, read by no one in particular."""
        exists = select(item_table.c.id).where(item_table.c.id == item_id).scalar_subquery()
        async with self._begin() as conn:
            await conn.execute(insert(click_table).values(item_id=exists, screen=screen, link=link, at=now))

    async def clicks(self, limit: int = 100) -> list[Click]:
        """The latest clicks, newest first."""
        query = select(click_table).order_by(click_table.c.at.desc(), click_table.c.id.desc()).limit(limit)
        async with self._begin() as conn:
            return [Click(**row._mapping) for row in await conn.execute(query)]

    async def read_item_ids(self, recipient: str) -> set[int]:
        """Items the recipient opened through a tracked link: read, so no digest lists them again."""
        query = select(click_table.c.item_id).where(
            click_table.c.recipient == normalise_email(recipient), click_table.c.item_id.is_not(None)
        ).distinct()
        async with self._begin() as conn:
            return set((await conn.scalars(query)).all())
