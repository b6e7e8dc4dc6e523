"""Clicks on digest links and screen QR codes, for "unread" and for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from intracast.store.base import StoreBase, normalise_email
from intracast.store.schema import clicks as click_table


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

    async def clicks(self, limit: int = 100) -> list[Click]:
        """The latest clicks, newest first."""
        query = select(click_table).order_by(click_table.c.at.desc(), click_table.c.id.desc()).limit(limit)
        async with self._begin() as conn:
            return [Click(**row._mapping) for row in await conn.execute(query)]
