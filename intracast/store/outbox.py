"""The outbox: deliveries and what they delivered (the digest's `DeliveryStore`).

A delivery is created once per key by the UNIQUE(digest, recipient,
window_end) constraint, not by a check in Python. Rows move
`pending -> sending -> sent | failed`, or back to `pending` when deferred;
`attempts` counts finished attempts, so a claimed row carries the number
before this one. A row left in `sending` past `lease_until` (a crashed
sender) is claimable again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update

from digest.store import DeliveryKey, NewDelivery, OutboxRow, OutboxState
from intracast.store.base import StoreBase, normalise_email
from intracast.store.errors import StoreError
from intracast.store.schema import delivered_items, deliveries

log = logging.getLogger(__name__)

OUTBOX_COLUMNS = (
    deliveries.c.id,
    deliveries.c.digest,
    deliveries.c.recipient,
    deliveries.c.window_end,
    deliveries.c.message_id,
    deliveries.c.sender,
    deliveries.c.message,
    deliveries.c.state,
    deliveries.c.attempts,
    deliveries.c.next_attempt_at,
    deliveries.c.last_reply,
    deliveries.c.created_at,
)
DELIVERY_KEY = (deliveries.c.digest, deliveries.c.recipient, deliveries.c.window_end)


class OutboxMixin(StoreBase):
    async def create_delivery(self, delivery: NewDelivery, now: datetime) -> bool:
        """Add a pending delivery and record its items as delivered; False if the key exists."""
        key, recipient = delivery.key, normalise_email(delivery.key.recipient)
        stmt = (
            self._insert(deliveries)
            .values(
                digest=key.digest,
                recipient=recipient,
                window_end=key.window_end,
                message_id=delivery.message_id,
                sender=delivery.sender,
                message=delivery.message,
                state=OutboxState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=DELIVERY_KEY)
            .returning(deliveries.c.id)
        )
        async with self._begin() as conn:
            delivery_id = (await conn.execute(stmt)).scalar_one_or_none()
            if delivery_id is None:
                return False
            if delivery.item_ids:
                # An item some earlier delivery already carried keeps its first record.
                rows = [
                    {
                        "recipient": recipient,
                        "item_id": item_id,
                        "delivery_id": delivery_id,
                        "delivered_at": now,
                    }
                    for item_id in sorted(set(delivery.item_ids))
                ]
                insert_items = self._insert(delivered_items).on_conflict_do_nothing(
                    index_elements=[delivered_items.c.recipient, delivered_items.c.item_id]
                )
                await conn.execute(insert_items, rows)
        return True

    async def claim_pending(self, limit: int, lease: timedelta, now: datetime) -> list[OutboxRow]:
        """Move up to `limit` due rows (pending, or sending with an expired lease) to sending.

        Safe for concurrent callers: the UPDATE repeats the "due" condition, so a
        row another caller claimed since our SELECT is not updated, and only the
        rows this UPDATE changed come back.
        """
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        due = or_(
            and_(deliveries.c.state == OutboxState.PENDING, deliveries.c.next_attempt_at <= now),
            and_(deliveries.c.state == OutboxState.SENDING, deliveries.c.lease_until <= now),
        )
        candidates = (
            select(deliveries.c.id)
            .where(due)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        async with self._begin() as conn:
            ids = list(await conn.scalars(candidates))
            if not ids:
                return []
            claim = (
                update(deliveries)
                .where(deliveries.c.id.in_(ids), due)
                .values(state=OutboxState.SENDING, lease_until=now + lease)
                .returning(*OUTBOX_COLUMNS)
            )
            rows = [_outbox_row(row) for row in await conn.execute(claim)]
        return sorted(rows, key=lambda row: (row.next_attempt_at, row.id))

    async def mark_sent(self, row_id: int, reply: str, now: datetime) -> None:
        await self._settle(row_id, OutboxState.SENT, last_reply=reply, sent_at=now)

    async def mark_deferred(self, row_id: int, reply: str, retry_at: datetime) -> None:
        """Back to pending after a temporary failure, due again at `retry_at`."""
        await self._settle(row_id, OutboxState.PENDING, last_reply=reply, next_attempt_at=retry_at)

    async def release(self, row_ids: list[int]) -> None:
        stmt = (
            update(deliveries)
            .where(deliveries.c.id.in_(row_ids), deliveries.c.state == OutboxState.SENDING)
            .values(state=OutboxState.PENDING, lease_until=None)
        )
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def mark_failed(self, row_id: int, reply: str, now: datetime) -> None:
        await self._settle(row_id, OutboxState.FAILED, last_reply=reply)

    async def delivered_item_ids(self, recipient: str) -> set[int]:
        """Store ids of the items this recipient has already been sent."""
        query = select(delivered_items.c.item_id).where(
            delivered_items.c.recipient == normalise_email(recipient)
        )
        async with self._begin() as conn:
            return set(await conn.scalars(query))

    async def outbox(self, limit: int = 50, *, recipient: str | None = None) -> list[OutboxRow]:
        """The latest deliveries (of one recipient, if given), newest first."""
        query = (
            select(*OUTBOX_COLUMNS)
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
            .limit(limit)
        )
        if recipient is not None:
            query = query.where(deliveries.c.recipient == normalise_email(recipient))
        async with self._begin() as conn:
            return [_outbox_row(row) for row in await conn.execute(query)]

    async def outbox_counts(self, since: datetime) -> dict[OutboxState, int]:
        """How many deliveries created since `since` are in each state (every state present)."""
        query = (
            select(deliveries.c.state, func.count())
            .where(deliveries.c.created_at >= since)
            .group_by(deliveries.c.state)
        )
        async with self._begin() as conn:
            counts = {OutboxState(state): n for state, n in await conn.execute(query)}
        return {state: counts.get(state, 0) for state in OutboxState}

    async def _settle(self, row_id: int, state: OutboxState, **values: Any) -> None:
        """Record the outcome of an attempt on a row in `sending`.

        A row no longer in `sending` was settled by another sender that
        reclaimed it after our lease ran out: its outcome stands, and the
        mail may have gone twice, which an admin should know about.
        """
        stmt = (
            update(deliveries)
            .where(deliveries.c.id == row_id, deliveries.c.state == OutboxState.SENDING)
            .values(state=state, attempts=deliveries.c.attempts + 1, lease_until=None, **values)
        )
        async with self._begin() as conn:
            if (await conn.execute(stmt)).rowcount == 1:
                return
            current = await conn.scalar(select(deliveries.c.state).where(deliveries.c.id == row_id))
        if current is None:
            raise StoreError(f"database {self.database}: no delivery with id {row_id}")
        log.warning("store.outbox_stale id=%d state=%s outcome=%s", row_id, current, state)


def _outbox_row(row: Row[*tuple[Any, ...]]) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        key=DeliveryKey(digest=row.digest, recipient=row.recipient, window_end=row.window_end),
        message_id=row.message_id,
        sender=row.sender,
        message=row.message,
        state=OutboxState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_reply=row.last_reply,
        created_at=row.created_at,
    )
