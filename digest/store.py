"""What the digest pipeline needs stored, as a protocol the daemon's store implements.

Invariants: datetimes are UTC-aware; a delivery is unique on its key (a
database constraint, not a check in Python); an outbox row moves
`pending -> sending -> sent`, or to `failed`; a row left in `sending` past its
lease is claimable again, so a crash duplicates at most what was in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """One digest for one recipient for one window; the delivery's identity."""

    digest: str
    recipient: str
    window_end: datetime


@dataclass(frozen=True, slots=True)
class NewDelivery:
    key: DeliveryKey
    message_id: str
    sender: str
    message: bytes  # the rendered RFC 5322 message
    item_ids: tuple[int, ...]  # store ids of the items it lists


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: DeliveryKey
    message_id: str
    sender: str
    message: bytes
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    last_reply: str | None
    created_at: datetime  # a row still not sent `smtp.retry_for` after this fails


class DeliveryStore(Protocol):
    """Outbox and delivery records. May raise `StoreError`."""

    async def create_delivery(self, delivery: NewDelivery, now: datetime) -> bool:
        """Add a pending delivery and record its items as delivered; False if the key exists."""
        ...

    async def claim_pending(self, limit: int, lease: timedelta, now: datetime) -> list[OutboxRow]:
        """Move up to `limit` due rows (pending, or sending with an expired lease) to sending."""
        ...

    async def mark_sent(self, row_id: int, reply: str, now: datetime) -> None: ...

    async def mark_deferred(self, row_id: int, reply: str, retry_at: datetime) -> None:
        """Back to pending after a temporary failure, due again at `retry_at`."""
        ...

    async def mark_failed(self, row_id: int, reply: str, now: datetime) -> None: ...

    async def delivered_item_ids(self, recipient: str) -> set[int]:
        """Store ids of the items this recipient has already been sent."""
        ...
