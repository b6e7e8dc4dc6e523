"""Digest runs: where each recipient's last window ended, and why each run did what it did.

Windows are contiguous: the next starts where the last ended, so the end is
stored once per (digest, recipient) and only ever moves forward, whether the
window was sent, was empty, or was caught up without sending.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from digest.store import Outcome, RunOutcome
from intracast.store.base import StoreBase, normalise_email
from intracast.store.schema import digest_outcomes, digest_windows


class DigestsMixin(StoreBase):
    async def last_window_ends(self, digest: str) -> dict[str, datetime]:
        query = select(digest_windows.c.recipient, digest_windows.c.last_end).where(digest_windows.c.digest == digest)
        async with self._begin() as conn:
            return {recipient: end for recipient, end in await conn.execute(query)}

    async def advance_window(self, digest: str, recipient: str, end: datetime) -> None:
        """Record that the window ended at `end`; an older end changes nothing."""
        recipient = normalise_email(recipient)
        key = (digest_windows.c.digest == digest, digest_windows.c.recipient == recipient)
        insert_new = (
            self._insert(digest_windows)
            .values(digest=digest, recipient=recipient, last_end=end)
            .on_conflict_do_nothing(index_elements=[digest_windows.c.digest, digest_windows.c.recipient])
        )
        async with self._begin() as conn:
            await conn.execute(insert_new)
            await conn.execute(update(digest_windows).where(*key, digest_windows.c.last_end < end).values(last_end=end))

    async def record_outcomes(self, outcomes: list[RunOutcome]) -> None:
        if not outcomes:
            return
        rows = [
            {"digest": o.digest, "recipient": normalise_email(o.recipient), "window_end": o.window_end,
             "outcome": o.outcome.value, "detail": o.detail, "at": o.at}
            for o in outcomes
        ]
        async with self._begin() as conn:
            await conn.execute(insert(digest_outcomes), rows)

    async def outcomes_for(self, recipient: str, limit: int = 20) -> list[RunOutcome]:
        query = (
            select(digest_outcomes)
            .where(digest_outcomes.c.recipient == normalise_email(recipient))
            .order_by(digest_outcomes.c.at.desc(), digest_outcomes.c.id.desc())
            .limit(limit)
        )
        async with self._begin() as conn:
            return [
                RunOutcome(row.digest, row.recipient, row.window_end, Outcome(row.outcome), row.detail, row.at)
                for row in await conn.execute(query)
            ]
