"""What the admin pages ask of the store: today's outbox, one message, digest runs, recipients,
resubscriptions.

A resubscription is an admin overriding an employee's own "stop": it is
allowed only with a reason, and the reason, the admin and when the employee
had unsubscribed are kept, in the same transaction as the change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, and_, cast, func, insert, or_, select, update

from digest.store import Outcome, OutboxRow, OutboxState
from intracast.store.base import StoreBase, normalise_email
from intracast.store.outbox import OUTBOX_COLUMNS, _outbox_row
from intracast.store.schema import deliveries, digest_outcomes, preferences, resubscriptions
from intracast.store.schema import recipients as recipient_table


@dataclass(frozen=True, slots=True)
class OutboxTally:
    """Messages by where they are now; `deferred` are pending after a failed attempt."""

    queued: int = 0
    sending: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class DigestRunTally:
    """One digest's latest run: when, and how many recipients came to each outcome."""

    at: datetime
    outcomes: dict[Outcome, int]


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    email: str
    name: str | None
    origin: str  # config or csv
    groups: tuple[str, ...]
    frequency: str | None  # as the config or CSV set it; None: the digest's own
    chosen: str | None  # their own choice; None: none
    unsubscribed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Resubscription:
    email: str
    reason: str
    admin: str
    unsubscribed_at: datetime
    at: datetime


class AdminMixin(StoreBase):
    async def outbox_tally(self, since: datetime, until: datetime) -> OutboxTally:
        """Messages created in [since, until), by their state now."""
        query = select(deliveries.c.state, deliveries.c.attempts > 0).where(
            deliveries.c.created_at >= since, deliveries.c.created_at < until
        )
        counts = dict.fromkeys(("queued", "sending", "sent", "deferred", "failed"), 0)
        async with self._begin() as conn:
            for state, tried in await conn.execute(query):
                if state == OutboxState.PENDING:
                    counts["deferred" if tried else "queued"] += 1
                else:
                    counts[state] += 1
        return OutboxTally(**counts)

    async def delivery(self, row_id: int) -> OutboxRow | None:
        async with self._begin() as conn:
            row = (await conn.execute(select(*OUTBOX_COLUMNS).where(deliveries.c.id == row_id))).one_or_none()
        return None if row is None else _outbox_row(row)

    async def last_digest_runs(self) -> dict[str, DigestRunTally]:
        """Each digest's latest run, by digest name. A run records all its outcomes with the one `at`
        it ran at, so the outcomes at a digest's latest `at` are its latest run."""
        latest = (select(digest_outcomes.c.digest, func.max(digest_outcomes.c.at).label("at"))
                  .group_by(digest_outcomes.c.digest).subquery())
        query = (
            select(latest.c.digest, latest.c.at, digest_outcomes.c.outcome, func.count())
            .select_from(digest_outcomes.join(latest, and_(digest_outcomes.c.digest == latest.c.digest,
                                                           digest_outcomes.c.at == latest.c.at)))
            .group_by(latest.c.digest, latest.c.at, digest_outcomes.c.outcome)
        )
        runs: dict[str, DigestRunTally] = {}
        async with self._begin() as conn:
            for digest, at, outcome, count in await conn.execute(query):
                runs.setdefault(digest, DigestRunTally(at, {})).outcomes[Outcome(outcome)] = count
        return runs

    async def find_recipients(self, text: str, limit: int) -> list[RecipientStatus]:
        """Recipients whose email, name or a group contains `text` (any case; empty: all), by email.

        Only those the config and its CSV list now: the page is about who gets the digest. The
        preferences of someone who left stay on record (and apply when they come back), unlisted.
        """
        query = (
            select(recipient_table.c.email, recipient_table.c.name, recipient_table.c.origin,
                   recipient_table.c.groups, recipient_table.c.frequency,
                   preferences.c.frequency.label("chosen"), preferences.c.unsubscribed_at)
            .outerjoin(preferences, preferences.c.email == recipient_table.c.email)
            .order_by(recipient_table.c.email)
            .limit(limit)
        )
        if text.strip():
            needle = text.strip().lower()
            # Groups are a JSON list, the same text on SQLite and PostgreSQL (`json`, not `jsonb`); the
            # needle is written as JSON writes a string, so that a quote in it never matches the list's own.
            in_groups = func.lower(cast(recipient_table.c.groups, Text)).contains(json.dumps(needle)[1:-1],
                                                                                 autoescape=True)
            query = query.where(or_(recipient_table.c.email.contains(needle, autoescape=True),
                                    recipient_table.c.name.icontains(needle, autoescape=True), in_groups))
        async with self._begin() as conn:
            rows = await conn.execute(query)
            return [RecipientStatus(**{**row._mapping, "groups": tuple(row.groups)}) for row in rows]

    async def resubscribe_with_reason(self, email: str, admin: str, reason: str, now: datetime) -> bool:
        """Undo their unsubscribe and record why; False (and nothing recorded) if they had not unsubscribed."""
        email = normalise_email(email)
        # The read does not open SQLite's transaction; the UPDATE repeats its condition (see sql.py).
        still_out = (preferences.c.email == email, preferences.c.unsubscribed_at.is_not(None))
        undo = update(preferences).where(*still_out).values(unsubscribed_at=None, updated_at=now)
        async with self._begin() as conn:
            left = await conn.scalar(select(preferences.c.unsubscribed_at).where(*still_out))
            if left is None or (await conn.execute(undo)).rowcount != 1:
                return False
            await conn.execute(insert(resubscriptions).values(email=email, reason=reason, admin=admin,
                                                              unsubscribed_at=left, at=now))
        return True

    async def resubscriptions(self, email: str | None = None, limit: int = 50) -> list[Resubscription]:
        """The latest resubscriptions (of one address, if given), newest first."""
        query = select(resubscriptions).order_by(resubscriptions.c.at.desc(), resubscriptions.c.id.desc()).limit(limit)
        if email is not None:
            query = query.where(resubscriptions.c.email == normalise_email(email))
        async with self._begin() as conn:
            return [Resubscription(row.email, row.reason, row.admin, row.unsubscribed_at, row.at)
                    for row in await conn.execute(query)]
