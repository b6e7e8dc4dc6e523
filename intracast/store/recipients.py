"""Recipients (rewritten from config and CSV) and preferences (kept from employees).

The two are separate tables on purpose: every load of the config and its
CSV replaces the whole list of recipients, and an employee's unsubscribe or
frequency choice must survive that, also when they leave the list and come
back. Emails are stored and compared lowercased.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal, select

from intracast.store.base import StoreBase, normalise_email
from intracast.store.schema import UtcDateTime, preferences
from intracast.store.schema import recipients as recipient_table

ORIGINS = ("config", "csv")
COMPARED = ("name", "locale", "timezone", "groups", "frequency", "origin")  # a change in one updates the row
DELETE_CHUNK = 500  # addresses per DELETE: under every driver's limit on bound parameters


@dataclass(frozen=True, slots=True)
class RecipientRow:
    email: str
    name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    groups: tuple[str, ...] = ()
    frequency: str | None = None
    origin: str | None = None  # "config" (the config's list) or "csv" (its file); required by a replace


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    """How many addresses a replace added, changed and removed."""

    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass(frozen=True, slots=True)
class Preference:
    email: str
    frequency: str | None  # None: the digest's own
    unsubscribed_at: datetime | None
    updated_at: datetime


class RecipientsMixin(StoreBase):
    async def replace_recipients(self, recipients: Sequence[RecipientRow], now: datetime) -> ReplaceResult:
        """Make `recipients` the whole list, in one transaction: new addresses are added, changed ones
        updated (their `updated_at` becomes `now`), the others removed. A repeated address counts once
        (its last row wins). Preferences stay as they are.

        Written as upserts, so that daemons on one database loading the same config at once all succeed.
        """
        wanted = {normalise_email(r.email): _values(r, now) for r in recipients}
        async with self._begin() as conn:
            held = {row.email: _compared(row._mapping) for row in await conn.execute(select(recipient_table))}
            upserts = [values for email, values in wanted.items() if held.get(email) != _compared(values)]
            gone = sorted(held.keys() - wanted.keys())
            if upserts:
                insert = self._insert(recipient_table)
                fresh = {column: insert.excluded[column] for column in (*COMPARED, "updated_at")}
                await conn.execute(insert.on_conflict_do_update(index_elements=[recipient_table.c.email], set_=fresh),
                                   upserts)
            for start in range(0, len(gone), DELETE_CHUNK):
                chunk = gone[start:start + DELETE_CHUNK]
                await conn.execute(delete(recipient_table).where(recipient_table.c.email.in_(chunk)))
        added = sum(values["email"] not in held for values in upserts)
        return ReplaceResult(added=added, changed=len(upserts) - added, removed=len(gone))

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


def _values(row: RecipientRow, now: datetime) -> dict[str, Any]:
    if row.origin not in ORIGINS:
        raise ValueError(f"recipient {row.email}: origin {row.origin!r}, expected one of {ORIGINS}")
    return {
        "email": normalise_email(row.email),
        "name": row.name,
        "locale": row.locale,
        "timezone": row.timezone,
        "groups": list(row.groups),
        "frequency": row.frequency,
        "origin": row.origin,
        "updated_at": now,
    }


def _compared(values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(tuple(values[c]) if c == "groups" else values[c] for c in COMPARED)


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
