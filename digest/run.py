"""One run of one digest: for every recipient, a window, a selection, a message in the outbox.

Each recipient ends the run with a recorded outcome (queued, empty,
unsubscribed, ...), so that "why didn't I get it?" has an answer. A message
is written to the outbox (unique per digest, recipient and window) before
anything is sent, and the window advances with it in the same run; the
sender drains the outbox separately. Replaying a window is harmless: the
delivery key exists, and nothing is created twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from digest.config import DigestConfig
from digest.links import Links
from digest.message import build_message, message_id
from digest.recipients import Recipient
from digest.render import Branding, DigestView, Entry, render
from digest.select import Selection, select
from digest.store import Candidate, DeliveryKey, DeliveryStore, NewDelivery, Outcome, RunOutcome
from digest.windows import Window, due_windows

log = logging.getLogger(__name__)

# source name -> the guids it returned for this recipient (after storing them)
PersonalFetch = Callable[[str, Recipient], Awaitable[set[str]]]


@dataclass(frozen=True)
class Mailing:
    """Who the digest comes from, and how it links back."""

    branding: Branding
    sender: str
    domain: str  # Message-IDs and List-Id
    links: Links


@dataclass
class RunStats:
    outcomes: dict[Outcome, int] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class DigestRun:
    def __init__(self, digest: DigestConfig, store: DeliveryStore, mailing: Mailing, *,
                 sources: list[str], personal_sources: list[str], fetch_personal: PersonalFetch,
                 concurrency: int = 8):
        self.digest = digest
        self._store = store
        self._mailing = mailing
        self._sources = sources
        self._personal_sources = personal_sources
        self._fetch_personal = fetch_personal
        self._limit = asyncio.Semaphore(concurrency)  # bounds per-recipient fetches and renders in flight
        self._candidates: dict[tuple[datetime, datetime], list[Candidate]] = {}

    async def run(self, recipients: list[Recipient], now: datetime, *, catchup: bool = False,
                  dry_run: bool = False, record_not_due: bool = True, manual: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> RunStats:
        """`manual`: a run by hand; each window ends now, whatever the schedule says.
        `progress(done, total)` is called as recipients are done."""
        ends = await self._store.last_window_ends(self.digest.name)
        preferences = await self._store.preferences()
        stats, outcomes = RunStats(), []

        async def one(recipient: Recipient) -> None:
            async with self._limit:
                last_end = ends.get(recipient.key)
                window = self._window(recipient, last_end, preferences, now, manual)
                outcome = await self._for(recipient, window, preferences, now, catchup, dry_run)
            stats.count(outcome.outcome)
            if record_not_due or outcome.outcome is not Outcome.NOT_DUE:
                outcomes.append(outcome)
            if progress is not None:
                progress(sum(stats.outcomes.values()), len(recipients))

        async with asyncio.TaskGroup() as group:
            for recipient in recipients:
                group.create_task(one(recipient))
        if not dry_run:
            await self._store.record_outcomes(outcomes)
        log.info("digest.ran digest=%s recipients=%d %s", self.digest.name, len(recipients),
                 " ".join(f"{o.value}={n}" for o, n in sorted(stats.outcomes.items())))
        return stats

    def _window(self, recipient: Recipient, last_end: datetime | None, preferences: Mapping, now: datetime,
                manual: bool) -> Window | None:
        if manual:
            return Window(start=last_end or now - self.digest.lookback, end=now, missed=False)
        return due_windows(self.digest.schedule, recipient.timezone, last_end=last_end, now=now,
                           lookback=self.digest.lookback, grace=self.digest.grace,
                           frequency=_frequency(recipient, preferences))

    async def _for(self, recipient: Recipient, window: Window | None, preferences: Mapping, now: datetime,
                   catchup: bool, dry_run: bool) -> RunOutcome:
        def outcome(kind: Outcome, window: Window | None = None, detail: str | None = None) -> RunOutcome:
            return RunOutcome(self.digest.name, recipient.key, window.end if window else None, kind, detail, now)

        if (skipped := self._skipped(recipient, preferences)) is not None:
            return outcome(skipped)
        if window is None:
            return outcome(Outcome.NOT_DUE)
        if window.missed:
            log.info("digest.missed_window digest=%s end=%s", self.digest.name, window.end.isoformat())
        if catchup:
            if not dry_run:
                await self._store.advance_window(self.digest.name, recipient.key, now)
            return outcome(Outcome.CAUGHT_UP, window)
        try:
            selection = await self._select(recipient, window, now)
            if not selection.entries and self.digest.skip_empty:
                kind, detail = Outcome.EMPTY, None
            else:
                kind, detail = Outcome.QUEUED, await self._queue(recipient, window, selection, now, dry_run)
        except Exception as e:  # one recipient's failure (a template, a per-user feed) never stops the run
            log.exception("digest.recipient_failed digest=%s", self.digest.name)
            return outcome(Outcome.FAILED, window, f"{type(e).__name__}: {e}")
        if not dry_run:
            await self._store.advance_window(self.digest.name, recipient.key, window.end)
        return outcome(kind, window, detail)

    def _skipped(self, recipient: Recipient, preferences: Mapping) -> Outcome | None:
        """Why this digest is never sent to the recipient, whatever is new: unsubscribed, off, or not for them."""
        preference = preferences.get(recipient.key)
        if preference is not None and preference.unsubscribed_at is not None:
            return Outcome.UNSUBSCRIBED
        if _frequency(recipient, preferences) == "off":
            return Outcome.FREQUENCY_OFF
        if not self.digest.reaches(recipient.groups):
            return Outcome.NOT_IN_AUDIENCE
        return None

    async def skipped(self, recipient: Recipient) -> Outcome | None:
        """`_skipped` with the stored preferences: what `digest preview` tells beside the digest it renders."""
        return self._skipped(recipient, await self._store.preferences())

    async def _select(self, recipient: Recipient, window: Window, now: datetime) -> Selection:
        personal = {name: await self._fetch_personal(name, recipient) for name in self._personal_sources}
        span = (window.start, window.end)
        shared = [name for name in self._sources if name not in personal]
        fresh_after = window.end - self.digest.lookback
        if span not in self._candidates:  # recipients in one zone share their window: query once
            self._candidates[span] = (await self._store.candidate_items(shared, *span, now, fresh_after=fresh_after)
                                      if shared else [])
        # A per-recipient source's items were stored just now, for this recipient: never from the cache.
        own = (await self._store.candidate_items(list(personal), *span, now, fresh_after=fresh_after)
               if personal else [])
        return select(
            [*self._candidates[span], *own], self.digest, groups=recipient.groups,
            delivered=await self._store.delivered_item_ids(recipient.key),
            read=await self._store.read_item_ids(recipient.key), personal=personal,
        )

    async def _queue(self, recipient: Recipient, window: Window, selection: Selection, now: datetime,
                     dry_run: bool) -> str:
        key = DeliveryKey(self.digest.name, recipient.key, window.end)
        message = self.message(recipient, window, selection, now, key)
        detail = f"{len(selection.entries)} items"
        if dry_run:
            return detail
        delivery = NewDelivery(key, message["Message-ID"], self._mailing.sender, message.as_bytes(),
                               tuple(c.id for c in selection.entries))
        created = await self._store.create_delivery(delivery, now)
        return detail if created else f"{detail}; already in the outbox"

    async def preview(self, recipient: Recipient, now: datetime) -> EmailMessage | None:
        """The digest the recipient would get if their window ended now; None when it would be empty."""
        last_end = (await self._store.last_window_ends(self.digest.name)).get(recipient.key)
        window = Window(start=last_end or now - self.digest.lookback, end=now, missed=False)
        selection = await self._select(recipient, window, now)
        if not selection.entries:
            return None
        return self.message(recipient, window, selection, now, DeliveryKey(self.digest.name, recipient.key, now))

    def message(self, recipient: Recipient, window: Window, selection: Selection, now: datetime,
                key: DeliveryKey) -> EmailMessage:
        """The digest as a message (also what `digest preview` prints)."""
        links = self._mailing.links
        view = DigestView(
            digest=self.digest, branding=self._mailing.branding, recipient_name=recipient.name,
            locale=recipient.locale, timezone=recipient.timezone,
            entries=[Entry(c.item, links.item(recipient, c, self.digest.track_clicks)) for c in selection.entries],
            more=selection.more, window_start=window.start, window_end=window.end,
            preferences_url=links.preferences(recipient), unsubscribe_url=links.unsubscribe(recipient),
        )
        return build_message(
            render(view), sender=self._mailing.sender, sender_name=self._mailing.branding.name,
            to_email=recipient.email, to_name=recipient.name, key=key, domain=self._mailing.domain,
            list_id=f"{self.digest.name}.{self._mailing.domain}", unsubscribe_url=view.unsubscribe_url,
            unsubscribe_mailto=_mailto(self.digest.unsubscribe_mailto), date=now,
        )


def _mailto(address: str | None) -> str | None:
    return f"mailto:{address}?subject=unsubscribe" if address else None


def _frequency(recipient: Recipient, preferences: Mapping) -> str:
    """The employee's own choice, else the config's."""
    preference = preferences.get(recipient.key)
    return (preference.frequency if preference else None) or recipient.frequency
