"""Recipients (rewritten from config and CSV) and preferences (kept from employees).

The two are separate tables on purpose: a config reload or a CSV re-import
replaces every recipient of its origin, and an employee's unsubscribe or
frequency choice must survive that. Emails are stored and compared lowercased.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select

from intracast.store.base import StoreBase, normalise_email
from intracast.store.schema import UtcDateTime, preferences
from intracast.store.schema import recipients as recipient_table

log = logging.getLogger(__name__)

ORIGINS = ("config", "csv")


@dataclass(frozen=True, slots=True)
class RecipientRow:
    email: str
    name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    groups: tuple[str, ...] = ()
    frequency: str | None = None
    origin: str | None = None  # "config" or "csv"; filled in by the store


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    written: int
    # Addresses another origin already lists; that origin's row stays.
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Preference:
    email: str
    frequency: str | None  # None: the digest's own
    unsubscribed_at: datetime | None
    updated_at: datetime


class RecipientsMixin(StoreBase):
    async def replace_recipients(
        self, origin: str, recipients: Sequence[RecipientRow], now: datetime
    ) -> ReplaceResult:
        """Make `recipients` the whole list from `origin`, in one transaction.

        A repeated address counts once (its last row wins); an address that the
        other origin already lists is skipped and reported, not overwritten.
        """
        if origin not in ORIGINS:
            raise ValueError(f"recipient origin {origin!r}: expected one of {ORIGINS}")
        rows = {normalise_email(r.email): _values(r, origin, now) for r in recipients}
        others = select(recipient_table.c.email).where(recipient_table.c.origin != origin)
        async with self._begin() as conn:
            await conn.execute(delete(recipient_table).where(recipient_table.c.origin == origin))
            taken = set(await conn.scalars(others)) & rows.keys()
            values = [row for email, row in rows.items() if email not in taken]
            if values:
                await conn.execute(insert(recipient_table), values)
        if taken:
            log.warning(
                "store.recipients_skipped origin=%s count=%d reason=listed_by_other_origin",
                origin,
                len(taken),
            )
        return ReplaceResult(written=len(values), skipped=tuple(sorted(taken)))

    async def list_recipients(self) -> list[RecipientRow]:
        async with self._begin() as conn:
            rows = await conn.execute(select(recipient_table).order_by(recipient_table.c.email))
            return [_recipient(row._mapping) for row in rows]

    async def set_frequency(self, email: str, frequency: str | None, now: datetime) -> None:
        """`frequency` None: back to the digest's own."""
        await self._set_preference(email, now, frequency=frequency)

    async def unsubscribe(self, email: str, now: datetime) -> None:
        """Idempotent: a repeated unsubscribe keeps the first date."""
        first = func.coalesce(preferences.c.unsubscribed_at, literal(now, UtcDateTime()))
        await self._set_preference(email, now, unsubscribed_at=now, on_update={"unsubscribed_at": first})

    async def resubscribe(self, email: str, now: datetime) -> None:
        await self._set_preference(email, now, unsubscribed_at=None)

    async def preferences(self) -> dict[str, Preference]:
        """Every employee's own choice, by (lowercased) email."""
        async with self._begin() as conn:
            rows = await conn.execute(select(preferences))
            return {row.email: Preference(**row._mapping) for row in rows}

    async def get_preference(self, email: str) -> Preference | None:
        query = select(preferences).where(preferences.c.email == normalise_email(email))
        async with self._begin() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else Preference(**row._mapping)

    async def _set_preference(
        self, email: str, now: datetime, *, on_update: dict[str, Any] | None = None, **values: Any
    ) -> None:
        """Insert the preference with `values`, or update it with `values` and `on_update`."""
        values["updated_at"] = now
        stmt = self._insert(preferences).values(email=normalise_email(email), **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[preferences.c.email], set_=values | (on_update or {})
        )
        async with self._begin() as conn:
            await conn.execute(stmt)


def _values(row: RecipientRow, origin: str, now: datetime) -> dict[str, Any]:
    if row.origin not in (None, origin):
        raise ValueError(f"recipient {row.email}: origin {row.origin!r} given to a replace of {origin!r}")
    return {
        "email": normalise_email(row.email),
        "name": row.name,
        "locale": row.locale,
        "timezone": row.timezone,
        "groups": list(row.groups),
        "frequency": row.frequency,
        "origin": origin,
        "updated_at": now,
    }


def _recipient(values: Any) -> RecipientRow:
    return RecipientRow(
        email=values["email"],
        name=values["name"],
        locale=values["locale"],
        timezone=values["timezone"],
        groups=tuple(values["groups"]),
        frequency=values["frequency"],
        origin=values["origin"],
    )
