"""The store's admin queries on real SQLite and PostgreSQL stores: today's outbox, one message, recipients, resubscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from intracast.admin.facts import day_bounds
from intracast.store import RecipientRow, SqlStore, open_store
from intracast.store.admin import OutboxTally
from tests.intracast.admin.conftest import NOW
from tests.intracast.admin.seed import seed

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with open_store(db_url, tmp_path) as store:
        yield store


async def test_today_counts_the_messages_made_today_by_their_state_now(store: SqlStore) -> None:
    await seed(store, NOW)
    assert await store.outbox_tally(*day_bounds(NOW, AMSTERDAM)) == OutboxTally(queued=1, sent=1, deferred=1, failed=1)
    yesterday = day_bounds(NOW - timedelta(days=1), AMSTERDAM)
    assert await store.outbox_tally(*yesterday) == OutboxTally(sent=1)


@pytest.mark.parametrize(("now", "start", "hours"), [
    (NOW, datetime(2026, 11, 23, 23, 0, tzinfo=UTC), 24),
    (datetime(2026, 11, 24, 23, 30, tzinfo=UTC), datetime(2026, 11, 24, 23, 0, tzinfo=UTC), 24),  # 00:30 local
    (datetime(2026, 10, 25, 12, 0, tzinfo=UTC), datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 25),  # clocks go back
    (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 23),  # clocks go forward
])
def test_today_is_the_intranet_s_local_day(now: datetime, start: datetime, hours: int) -> None:
    since, until = day_bounds(now, AMSTERDAM)
    assert since == start and until - since == timedelta(hours=hours)


async def test_one_delivery_by_its_id(store: SqlStore) -> None:
    await seed(store, NOW)
    [latest, *_] = await store.outbox(1)
    found = await store.delivery(latest.id)
    assert found == latest
    assert await store.delivery(10_000) is None


async def test_a_resubscription_needs_an_unsubscribe_and_keeps_who_why_and_since_when(store: SqlStore) -> None:
    await store.replace_recipients([RecipientRow("an@example.org", "An", origin="config")], NOW)
    assert not await store.resubscribe_with_reason("an@example.org", "admin", "why", NOW)
    await store.unsubscribe("An@Example.org", NOW - timedelta(days=3))
    assert await store.resubscribe_with_reason("AN@example.org", "admin", "asked by phone", NOW)
    assert (await store.get_preference("an@example.org")).unsubscribed_at is None
    assert not await store.resubscribe_with_reason("an@example.org", "admin", "again", NOW)
    [entry] = await store.resubscriptions("an@example.org")
    assert (entry.email, entry.admin, entry.reason) == ("an@example.org", "admin", "asked by phone")
    assert (entry.unsubscribed_at, entry.at) == (NOW - timedelta(days=3), NOW)
    [status] = await store.find_recipients("an", 10)
    assert (status.email, status.unsubscribed_at, status.chosen) == ("an@example.org", None, None)


async def test_recipients_are_found_by_email_name_or_group(store: SqlStore) -> None:
    await seed(store, NOW)

    async def found(text: str) -> list[str]:
        return [status.email for status in await store.find_recipients(text, 10)]

    assert await found("") == ["anna@example.org", "bram@example.org", "cas_1@example.org"]
    assert await found("EXAMPLE") == ["anna@example.org", "bram@example.org", "cas_1@example.org"]
    assert await found("Noord") == ["bram@example.org"]  # "Team Noord", one of Bram's two groups
    assert await found("zorg") == ["anna@example.org"]
    assert await found('ict", "team') == [], "the stored list's quotes and commas are no match"
    [bram] = await store.find_recipients("bram", 10)
    assert bram.groups == ("ict", "Team Noord")


async def test_someone_no_longer_listed_is_not_found_but_their_unsubscribe_stays(store: SqlStore) -> None:
    await seed(store, NOW)  # Bram unsubscribed two days ago
    await store.replace_recipients([RecipientRow("anna@example.org", origin="config")], NOW)
    assert [status.email for status in await store.find_recipients("", 10)] == ["anna@example.org"]
    await store.replace_recipients([RecipientRow("anna@example.org", origin="config"),
                                    RecipientRow("bram@example.org", origin="csv")], NOW)
    [bram] = await store.find_recipients("bram", 10)
    assert bram.unsubscribed_at == NOW - timedelta(days=2), "back on the list, still unsubscribed"
