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

from sqlalchemy import Column, ColumnElement, Row, and_, case, func, literal, or_, select, update

from digest.store import DeliveryKey, NewDelivery, OutboxRow, OutboxState, Settlement
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

        One statement, safe for any number of senders in any number of
        processes: on PostgreSQL the rows are chosen `FOR UPDATE SKIP LOCKED`,
        so a sender passes over the rows another is claiming instead of
        waiting for them (and then finding them taken); SQLite runs the whole
        UPDATE under its one write lock.
        """
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        due = or_(
            and_(deliveries.c.state == OutboxState.PENDING, deliveries.c.next_attempt_at <= now),
            and_(deliveries.c.state == OutboxState.SENDING, deliveries.c.lease_until <= now),
        )
        # A CTE, not a subquery: PostgreSQL may run a subquery again per row, and pick other rows.
        chosen = (
            select(deliveries.c.id)
            .where(due)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("chosen")
        )
        claim = (
            update(deliveries)
            .where(deliveries.c.id.in_(select(chosen.c.id)), due)
            .values(state=OutboxState.SENDING, lease_until=now + lease)
            .returning(*OUTBOX_COLUMNS)
        )
        async with self._begin() as conn:
            rows = [_outbox_row(row) for row in await conn.execute(claim)]
        return sorted(rows, key=lambda row: (row.next_attempt_at, row.id))

    async def next_due(self) -> datetime | None:
        pending = select(func.min(deliveries.c.next_attempt_at)).where(deliveries.c.state == OutboxState.PENDING)
        leased = select(func.min(deliveries.c.lease_until)).where(deliveries.c.state == OutboxState.SENDING)
        async with self._begin() as conn:
            times = (await conn.execute(select(pending.scalar_subquery(), leased.scalar_subquery()))).one()
        return min((t for t in times if t is not None), default=None)

    async def mark_sent(self, row_id: int, reply: str, now: datetime) -> None:
        await self.settle_many([Settlement(row_id, OutboxState.SENT, reply, now)])

    async def mark_deferred(self, row_id: int, reply: str, retry_at: datetime) -> None:
        """Back to pending after a temporary failure, due again at `retry_at`."""
        await self.settle_many([Settlement(row_id, OutboxState.PENDING, reply, retry_at)])

    async def release(self, row_ids: list[int]) -> None:
        stmt = (
            update(deliveries)
            .where(deliveries.c.id.in_(row_ids), deliveries.c.state == OutboxState.SENDING)
            .values(state=OutboxState.PENDING, lease_until=None)
        )
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def mark_failed(self, row_id: int, reply: str, now: datetime) -> None:
        await self.settle_many([Settlement(row_id, OutboxState.FAILED, reply, now)])

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

    async def settle_many(self, settlements: list[Settlement]) -> None:
        """Record the outcomes of attempts on rows in `sending`, in one UPDATE.

        Each row gets its own values through a CASE on its id, and RETURNING
        names the rows that were still ours (an executemany's rowcount is a
        sum, and not even that on every driver). A row no longer in `sending`
        was settled by another sender that reclaimed it after our lease ran
        out: its outcome stands, and the mail may have gone twice, which an
        admin should know about.
        """
        if not settlements:
            return
        ids = [s.row_id for s in settlements]
        stmt = (
            update(deliveries)
            .where(deliveries.c.id.in_(ids), deliveries.c.state == OutboxState.SENDING)
            .values(
                state=_per_row(deliveries.c.state, {s.row_id: s.state for s in settlements}),
                last_reply=_per_row(deliveries.c.last_reply, {s.row_id: s.reply for s in settlements}),
                sent_at=_per_row(deliveries.c.sent_at, _at(settlements, OutboxState.SENT)),
                next_attempt_at=_per_row(deliveries.c.next_attempt_at, _at(settlements, OutboxState.PENDING)),
                attempts=deliveries.c.attempts + 1,
                lease_until=None,
            )
            .returning(deliveries.c.id)
        )
        async with self._begin() as conn:
            stale = set(ids) - set(await conn.scalars(stmt))
            states = select(deliveries.c.id, deliveries.c.state).where(deliveries.c.id.in_(stale))
            current = {row_id: state for row_id, state in await conn.execute(states)} if stale else {}
            if missing := sorted(stale - current.keys()):
                # Raised inside the transaction: a batch is recorded whole or not at all.
                raise StoreError(f"database {self.database}: no delivery with id {', '.join(map(str, missing))}")
        for settlement in settlements:
            if settlement.row_id in current:
                log.warning("store.outbox_stale id=%d state=%s outcome=%s",
                            settlement.row_id, current[settlement.row_id], settlement.state)


def _per_row(column: Column[Any], values: dict[int, Any]) -> ColumnElement[Any]:
    """`column` set to each row's own value; a row not in `values` keeps its own."""
    if not values:
        return column
    whens = {row_id: literal(value, column.type) for row_id, value in values.items()}
    return case(whens, value=deliveries.c.id, else_=column)


def _at(settlements: list[Settlement], state: OutboxState) -> dict[int, datetime]:
    return {s.row_id: s.at for s in settlements if s.state == state}


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
