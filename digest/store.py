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

from sources.item import Item


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


@dataclass(frozen=True, slots=True)
class Settlement:
    """How one attempt on a claimed (`sending`) row ended, for `settle_many`."""

    row_id: int
    state: OutboxState  # SENT, FAILED, or PENDING: deferred
    reply: str
    at: datetime  # SENT: when it went; PENDING: when it is due again; FAILED: when it failed


class Outcome(StrEnum):
    """What a digest run did for one recipient."""

    QUEUED = "queued"  # a message is in the outbox
    EMPTY = "empty"  # nothing new for them
    UNSUBSCRIBED = "unsubscribed"
    FREQUENCY_OFF = "frequency_off"
    NOT_DUE = "not_due"  # weekly, or their window has not come yet
    NOT_IN_AUDIENCE = "not_in_audience"
    CAUGHT_UP = "caught_up"  # `digest send --catchup`: marked delivered, not sent
    FAILED = "failed"  # could not be made (a per-user source failed, a template error)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    digest: str
    recipient: str
    window_end: datetime | None
    outcome: Outcome
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item as the digest sees it: with its store id, which deliveries record."""

    id: int
    item: Item


class PreferenceView(Protocol):
    frequency: str | None
    unsubscribed_at: datetime | None


class DeliveryStore(Protocol):
    """Outbox and delivery records. May raise `StoreError`."""

    async def create_delivery(self, delivery: NewDelivery, now: datetime) -> bool:
        """Add a pending delivery and record its items as delivered; False if the key exists."""
        ...

    async def claim_pending(self, limit: int, lease: timedelta, now: datetime) -> list[OutboxRow]:
        """Move up to `limit` due rows (pending, or sending with an expired lease) to sending."""
        ...

    async def next_due(self) -> datetime | None:
        """When the next row becomes claimable: the earliest pending row's time, or leased row's lease end."""
        ...

    async def mark_sent(self, row_id: int, reply: str, now: datetime) -> None: ...

    async def mark_deferred(self, row_id: int, reply: str, retry_at: datetime) -> None:
        """Back to pending after a temporary failure, due again at `retry_at`."""
        ...

    async def release(self, row_ids: list[int]) -> None:
        """Claimed rows that were not tried (the sender stopped): pending again at once, no attempt counted."""
        ...

    async def mark_failed(self, row_id: int, reply: str, now: datetime) -> None: ...

    async def settle_many(self, settlements: list[Settlement]) -> None:
        """Record several attempts' outcomes, as `mark_*` would one by one, in one transaction.

        A row no longer `sending` (another sender reclaimed and settled it) keeps
        its outcome; that is logged, not raised.
        """
        ...

    async def delivered_item_ids(self, recipient: str) -> set[int]:
        """Store ids of the items this recipient has already been sent."""
        ...

    async def read_item_ids(self, recipient: str) -> set[int]:
        """Store ids of the items this recipient opened through a tracked link."""
        ...

    async def candidate_items(
        self, sources: list[str], since: datetime, until: datetime, now: datetime, *, fresh_after: datetime
    ) -> list[Candidate]:
        """Current items of `sources` (empty: all) published or updated in (since, until], or first
        seen in it while published after `fresh_after`."""
        ...

    async def last_window_ends(self, digest: str) -> dict[str, datetime]:
        """Per recipient (lowercased email), where their last window of `digest` ended."""
        ...

    async def advance_window(self, digest: str, recipient: str, end: datetime) -> None:
        """Record that the recipient's window ended at `end` (never moves backwards)."""
        ...

    async def record_outcomes(self, outcomes: list[RunOutcome]) -> None: ...

    async def outcomes_for(self, recipient: str, limit: int = 20) -> list[RunOutcome]:
        """The recipient's latest outcomes, newest first."""
        ...

    async def preferences(self) -> dict[str, PreferenceView]:
        """Every employee's own choice (frequency, unsubscribe), by lowercased email."""
        ...


class EmployeeStore(Protocol):
    """What the employee's pages change (digest/web.py): their own choices and reads.

    `email` and `recipient` are a token's recipient, compared lowercased. Every
    call is idempotent, so a repeated click or a retried POST does no harm.
    May raise `StoreError`.
    """

    async def unsubscribe(self, email: str, now: datetime) -> None:
        """Stop every digest for them; a repeated unsubscribe keeps the first date."""
        ...

    async def resubscribe(self, email: str, now: datetime) -> None: ...

    async def set_frequency(self, email: str, frequency: str | None, now: datetime) -> None:
        """daily, weekly or off; None: back to what the organisation set."""
        ...

    async def get_preference(self, email: str) -> PreferenceView | None:
        """Their own choice; None when they never made one."""
        ...

    async def record_read(self, recipient: str, item_id: int, link: str, now: datetime) -> None:
        """They opened the item through a tracked link: it counts as read."""
        ...

    async def record_scan(self, screen: str, item_id: int, link: str, now: datetime) -> None:
        """Someone scanned the item's QR code on a screen."""
        ...
