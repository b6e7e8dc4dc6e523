"""SqlStore through its public API, every table, on a real SQLite file and a real PostgreSQL
database (the `db_url` fixture of tests/conftest.py: each test runs on both)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, insert, select, text

from digest.store import DeliveryKey, DeliveryStore, NewDelivery, Outcome, OutboxState, RunOutcome, Settlement
from intracast.store import (
    Click,
    FetchState,
    Preference,
    RecipientRow,
    ReplaceResult,
    SqlStore,
    StoreError,
    UpsertResult,
    open_store,
)
from intracast.store.engine import create_engine as create_store_engine
from intracast.store.schema import UtcDateTime, items
from screens.store import Heartbeat, PlaylistStore
from sources.item import Item

NOW = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
LEASE = timedelta(minutes=5)


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with open_store(db_url, tmp_path) as store:
        yield store


async def test_sql_store_implements_the_pipeline_protocols(store: SqlStore) -> None:
    # Checked by type checkers; the assignment documents the intent.
    delivery_store: DeliveryStore = store
    playlist_store: PlaylistStore = store
    assert delivery_store is store and playlist_store is store


def item(guid: str, **changes: object) -> Item:
    fields: dict[str, object] = {
        "source": "news",
        "guid": guid,
        "title": f"Title {guid}",
        "link": f"https://intranet.example.org/{guid}",
        "published": NOW - timedelta(hours=1),
    }
    return Item(**(fields | changes))  # type: ignore[arg-type]


def delivery(
    recipient: str = "an@example.org", *, item_ids: tuple[int, ...] = (), minute: int = 0
) -> NewDelivery:
    key = DeliveryKey(digest="daily", recipient=recipient, window_end=NOW + timedelta(minutes=minute))
    return NewDelivery(
        key=key,
        message_id=f"<daily.{recipient}.{minute}@intracast>",
        sender="intracast@example.org",
        message=b"From: intracast@example.org\r\n\r\nhi\r\n",
        item_ids=item_ids,
    )


async def last_seen(db_url: str, tmp_path: Path) -> set[datetime]:
    engine = create_store_engine(db_url, tmp_path)
    try:
        async with engine.connect() as conn:
            return set(await conn.scalars(select(items.c.last_seen)))
    finally:
        await engine.dispose()


# items


async def test_item_round_trips_every_field(store: SqlStore) -> None:
    full = item(
        "1",
        summary="Plain text",
        content_html="<p>Hi</p>",
        published=datetime(2025, 3, 10, 9, 30, 15, 123456, tzinfo=CET),
        updated=datetime(2025, 3, 10, 9, 45, tzinfo=CET),
        author="An",
        image="https://intranet.example.org/a.png",
        tags=("hr", "news"),
        audience=("zorg",),
        pinned=True,
        expires=NOW + timedelta(days=2),
    )
    await store.upsert_items([full], NOW)
    [back] = await store.get_items()
    assert back == full
    assert back.published is not None and back.published.tzinfo is UTC
    assert back.published.hour == 8


async def test_item_defaults_round_trip(store: SqlStore) -> None:
    bare = Item(source="news", guid="x", title="T", link="https://intranet.example.org/x")
    await store.upsert_items([bare], NOW)
    assert await store.get_items() == [bare]


async def test_upsert_counts_new_unchanged_updated(store: SqlStore, db_url: str, tmp_path: Path) -> None:
    batch = [item("1"), item("2"), item("3")]
    assert await store.upsert_items(batch, NOW) == UpsertResult(new=3)
    later = NOW + timedelta(minutes=10)
    assert await store.upsert_items(batch, later) == UpsertResult(unchanged=3)
    batch[1] = item("2", title="Changed")
    assert await store.upsert_items(batch, later + timedelta(minutes=10)) == UpsertResult(
        updated=1, unchanged=2
    )
    assert {i.title for i in await store.get_items()} == {"Title 1", "Changed", "Title 3"}
    assert await last_seen(db_url, tmp_path) == {later + timedelta(minutes=10)}


async def test_upsert_counts_a_repeated_guid_once_and_keeps_the_last(store: SqlStore) -> None:
    result = await store.upsert_items([item("1"), item("1", title="Second")], NOW)
    assert result == UpsertResult(new=1)
    assert [i.title for i in await store.get_items()] == ["Second"]


async def test_upsert_of_nothing(store: SqlStore) -> None:
    assert await store.upsert_items([], NOW) == UpsertResult()


async def test_item_id(store: SqlStore) -> None:
    await store.upsert_items([item("1"), item("2")], NOW)
    first, second = await store.item_id("news", "1"), await store.item_id("news", "2")
    assert isinstance(first, int) and isinstance(second, int) and first != second
    assert await store.item_id("news", "3") is None
    assert await store.item_id("events", "1") is None


async def test_get_items_newest_first_by_source_with_limit(store: SqlStore) -> None:
    await store.upsert_items(
        [
            item("old", published=NOW - timedelta(days=2)),
            item("new", published=NOW - timedelta(minutes=1)),
            item("undated", published=None),  # sorts by first seen: NOW
            item("e", source="events", published=NOW - timedelta(days=1)),
        ],
        NOW,
    )
    assert [i.guid for i in await store.get_items()] == ["undated", "new", "e", "old"]
    assert [i.guid for i in await store.get_items("news", limit=2)] == ["undated", "new"]
    assert [i.guid for i in await store.get_items("events")] == ["e"]


async def test_list_items_filters_expired_sources_and_tags(store: SqlStore) -> None:
    await store.upsert_items(
        [
            item("n1", published=NOW - timedelta(hours=1)),
            item("n2", published=NOW - timedelta(hours=2), tags=("hr",)),
            item("gone", expires=NOW),
            item(
                "e1", source="events", published=NOW - timedelta(hours=3), expires=NOW + timedelta(seconds=1)
            ),
            item("b1", source="blog", published=NOW - timedelta(hours=4), tags=("hr", "it")),
            item("b2", source="blog", published=NOW - timedelta(hours=5)),
        ],
        NOW,
    )

    async def guids(sources: list[str], tags: list[str], limit: int = 10) -> list[str]:
        return [i.guid for i in await store.list_items(sources, tags, NOW, limit)]

    assert await guids([], []) == ["n1", "n2", "e1", "b1", "b2"]
    assert await guids(["events"], []) == ["e1"]
    assert await guids([], ["hr"]) == ["n2", "b1"]
    assert await guids(["events"], ["it"]) == ["e1", "b1"]
    assert await guids(["news", "blog"], [], limit=3) == ["n1", "n2", "b1"]
    assert await guids(["blog"], ["hr"], limit=2) == ["n2", "b1"]
    assert await guids(["nowhere"], ["nothing"]) == []


async def test_an_undated_item_is_dated_by_first_sight_for_good(store: SqlStore) -> None:
    undated = item("u1", published=None, updated=None, undated=True)
    await store.upsert_items([undated], NOW)
    later = NOW + timedelta(hours=3)
    result = await store.upsert_items([replace(undated, summary="Edited")], later)
    assert result == UpsertResult(updated=1)
    (stored,) = await store.get_items()
    assert (stored.published, stored.undated, stored.summary) == (NOW, True, "Edited")


async def test_an_item_published_in_the_future_waits_for_its_time(store: SqlStore) -> None:
    starts = NOW + timedelta(hours=2)
    await store.upsert_items([item("later", published=starts), item("now", published=NOW)], NOW)
    assert [i.guid for i in await store.list_items([], [], NOW, 10)] == ["now"]
    assert [i.guid for i in await store.list_items([], [], starts, 10)] == ["later", "now"]


async def test_event_fields_round_trip(store: SqlStore) -> None:
    event = item("e", start=NOW + timedelta(days=2), end=NOW + timedelta(days=2, hours=1), location="Kantine")
    await store.upsert_items([event], NOW)
    assert await store.get_items() == [event]


async def test_prune_keeps_recent_items_up_to_the_cap(store: SqlStore) -> None:
    old = [item(f"old{i}", published=NOW - timedelta(days=60 + i)) for i in range(3)]
    await store.upsert_items(old, NOW - timedelta(days=40))
    fresh = [item(f"new{i}", published=NOW - timedelta(hours=i)) for i in range(5)]
    await store.upsert_items(fresh, NOW)
    await store.upsert_items([item("other", source="events")], NOW - timedelta(days=40))
    assert await store.prune_items("news", NOW, keep=timedelta(days=30), max_items=4) == 4
    assert [i.guid for i in await store.get_items("news")] == ["new0", "new1", "new2", "new3"]
    assert await store.item_counts() == {"news": 4, "events": 1}


async def test_prune_without_a_cap_drops_only_what_is_past_keep(store: SqlStore) -> None:
    await store.upsert_items([item("gone")], NOW - timedelta(days=40))
    await store.upsert_items([item(f"u{i}") for i in range(5)], NOW)
    assert await store.prune_items("news", NOW, keep=timedelta(days=30), max_items=None) == 1
    assert len(await store.get_items("news")) == 5


# fetch state


async def test_fetch_state_counts_failures_and_success_resets(store: SqlStore) -> None:
    assert await store.get_fetch_state("news") is None
    retry = NOW + timedelta(minutes=20)
    await store.record_fetch_failure("news", NOW, "HTTP 503", kind="http")
    await store.record_fetch_failure("news", NOW + timedelta(minutes=1), "timeout", kind="timeout", retry_at=retry)
    failing = await store.get_fetch_state("news")
    assert failing == FetchState(
        source="news",
        etag=None,
        last_modified=None,
        last_attempt=NOW + timedelta(minutes=1),
        last_success=None,
        last_error="timeout",
        last_error_at=NOW + timedelta(minutes=1),
        last_error_kind="timeout",
        failing_since=NOW,
        retry_at=retry,
        consecutive_failures=2,
        items_seen=0,
    )
    later = NOW + timedelta(minutes=2)
    await store.record_fetch_success(
        "news", later, etag='"abc"', last_modified="Mon, 10 Mar 2025", items_seen=7
    )
    ok = await store.get_fetch_state("news")
    assert ok is not None
    assert (ok.consecutive_failures, ok.items_seen, ok.etag) == (0, 7, '"abc"')
    assert (ok.failing_since, ok.retry_at) == (None, None)
    assert ok.last_success == ok.last_attempt == later
    assert ok.last_success is not None
    assert (ok.last_error, ok.last_error_at, ok.last_error_kind) == ("timeout", NOW + timedelta(minutes=1), "timeout")
    assert ok.last_success.tzinfo is UTC
    await store.record_fetch_success("news", later + timedelta(minutes=10), etag='"abc"')  # a 304
    assert (await store.get_fetch_state("news")).items_seen == 7


async def test_fetch_states_lists_every_source(store: SqlStore) -> None:
    await store.record_fetch_success("news", NOW, items_seen=1)
    await store.record_fetch_failure("events", NOW, "DNS", kind="connection")
    states = await store.fetch_states()
    assert set(states) == {"news", "events"}
    assert states["events"].consecutive_failures == 1
    assert states["news"].last_success == NOW


# recipients and preferences


async def test_replacing_the_recipients_adds_changes_and_removes_only_what_differs(store: SqlStore) -> None:
    an = RecipientRow(email="An@Example.org", name="An", locale="nl", timezone="Europe/Amsterdam", groups=("zorg",),
                      origin="config")
    bo = RecipientRow(email="bo@example.org", frequency="weekly", origin="csv")
    assert await store.replace_recipients([an, bo], NOW) == ReplaceResult(added=2)
    assert await store.list_recipients() == [replace(an, email="an@example.org"), bo]
    assert await store.replace_recipients([an, bo], NOW) == ReplaceResult(), "the same list changes nothing"
    moved = replace(an, groups=("zorg", "ict"), origin="csv")  # from the config's list into the file
    cy = RecipientRow(email="cy@example.org", origin="csv")
    assert await store.replace_recipients([moved, cy], NOW) == ReplaceResult(added=1, changed=1, removed=1)
    assert [(r.email, r.groups, r.origin) for r in await store.list_recipients()] == [
        ("an@example.org", ("zorg", "ict"), "csv"), ("cy@example.org", (), "csv")]


async def test_a_repeated_address_counts_once_and_every_row_names_its_origin(store: SqlStore) -> None:
    rows = [RecipientRow(email="an@example.org", name="An", origin="config"),
            RecipientRow(email="AN@example.org", name="Anna", origin="csv")]
    assert await store.replace_recipients(rows, NOW) == ReplaceResult(added=1)
    assert [(r.name, r.origin) for r in await store.list_recipients()] == [("Anna", "csv")]
    for origin in (None, "ldap"):
        with pytest.raises(ValueError, match="origin"):
            await store.replace_recipients([RecipientRow(email="a@example.org", origin=origin)], NOW)
    assert len(await store.list_recipients()) == 1, "a refused list changes nothing"


async def test_thousands_of_recipients_are_replaced_and_removed_at_once(store: SqlStore) -> None:
    rows = [RecipientRow(email=f"collega{n:04d}@example.org", origin="csv") for n in range(1_200)]
    assert await store.replace_recipients(rows, NOW) == ReplaceResult(added=1_200)
    assert await store.replace_recipients(rows[:1], NOW) == ReplaceResult(removed=1_199)
    assert [r.email for r in await store.list_recipients()] == ["collega0000@example.org"]


async def test_daemons_replacing_the_same_recipients_at_once_all_succeed(store: SqlStore) -> None:
    rows = [RecipientRow(email=f"collega{n:03d}@example.org", origin="csv") for n in range(200)]
    results = await asyncio.gather(*(store.replace_recipients(rows, NOW) for _ in range(3)))
    assert sum(result.added for result in results) >= 200  # each may count them, as it found none
    assert len(await store.list_recipients()) == 200


async def test_preferences_survive_recipient_replacement(store: SqlStore) -> None:
    an = RecipientRow(email="an@example.org", origin="csv")
    await store.replace_recipients([an], NOW)
    await store.set_frequency("AN@example.org", "weekly", NOW)
    await store.unsubscribe("an@example.org", NOW + timedelta(minutes=1))
    await store.replace_recipients([], NOW)
    await store.replace_recipients([an], NOW)
    assert await store.get_preference("an@example.org") == Preference(
        email="an@example.org",
        frequency="weekly",
        unsubscribed_at=NOW + timedelta(minutes=1),
        updated_at=NOW + timedelta(minutes=1),
    )


async def test_unsubscribe_keeps_first_date_and_resubscribe_clears(store: SqlStore) -> None:
    assert await store.get_preference("an@example.org") is None
    await store.unsubscribe("an@example.org", NOW.astimezone(CET))
    await store.unsubscribe("an@example.org", NOW + timedelta(days=1))
    pref = await store.get_preference("An@Example.org")
    assert pref is not None
    assert (pref.unsubscribed_at, pref.updated_at, pref.frequency) == (NOW, NOW + timedelta(days=1), None)
    await store.resubscribe("an@example.org", NOW + timedelta(days=2))
    pref = await store.get_preference("an@example.org")
    assert pref is not None and pref.unsubscribed_at is None
    await store.set_frequency("an@example.org", None, NOW + timedelta(days=3))
    assert (await store.get_preference("an@example.org")) == Preference(
        email="an@example.org", frequency=None, unsubscribed_at=None, updated_at=NOW + timedelta(days=3)
    )


# deliveries


async def test_delivery_is_created_once_per_key(store: SqlStore) -> None:
    assert await store.create_delivery(delivery(), NOW) is True
    again = NewDelivery(
        key=DeliveryKey("daily", "AN@example.org", NOW.astimezone(CET)),
        message_id="<another@intracast>",
        sender="intracast@example.org",
        message=b"x",
        item_ids=(),
    )
    assert await store.create_delivery(again, NOW) is False
    [row] = await store.outbox()
    assert (row.key, row.state, row.attempts, row.message_id) == (
        delivery().key,
        OutboxState.PENDING,
        0,
        delivery().message_id,
    )
    assert row.message == delivery().message
    assert row.next_attempt_at == NOW and row.key.window_end.tzinfo is UTC


async def test_claim_leases_and_reclaims_after_the_lease(store: SqlStore) -> None:
    await store.create_delivery(delivery(), NOW)
    [claimed] = await store.claim_pending(10, LEASE, NOW)
    assert (claimed.state, claimed.attempts) == (OutboxState.SENDING, 0)
    assert await store.claim_pending(10, LEASE, NOW + LEASE - timedelta(seconds=1)) == []
    [reclaimed] = await store.claim_pending(10, LEASE, NOW + LEASE)
    assert reclaimed.id == claimed.id and reclaimed.state == OutboxState.SENDING


async def test_claim_takes_due_rows_oldest_first_up_to_limit(store: SqlStore) -> None:
    for minute in range(3):
        await store.create_delivery(delivery(minute=minute), NOW + timedelta(minutes=minute))
    assert await store.claim_pending(10, LEASE, NOW - timedelta(seconds=1)) == []
    claimed = await store.claim_pending(2, LEASE, NOW + timedelta(hours=1))
    assert [row.key.window_end for row in claimed] == [NOW, NOW + timedelta(minutes=1)]


async def test_concurrent_claims_never_share_a_row(store: SqlStore) -> None:
    for minute in range(20):
        await store.create_delivery(delivery(minute=minute), NOW)
    batches = await asyncio.gather(*(store.claim_pending(8, LEASE, NOW) for _ in range(4)))
    ids = [row.id for batch in batches for row in batch]
    assert ids and len(ids) == len(set(ids))
    rest = [row.id for row in await store.claim_pending(20, LEASE, NOW)]
    assert sorted(ids + rest) == list(range(1, 21))


async def test_senders_in_several_processes_each_get_a_full_batch_of_their_own(db_url: str, tmp_path: Path) -> None:
    """Senders claiming at the same moment pass over each other's rows (SKIP LOCKED) instead of waiting
    for them and coming back empty while rows are due."""
    async with open_store(db_url, tmp_path) as a, open_store(db_url, tmp_path) as b:
        for minute in range(60):
            await a.create_delivery(delivery(minute=minute), NOW)
        batches = await asyncio.gather(*(store.claim_pending(10, LEASE, NOW) for store in (a, b) * 3))
    assert [len(batch) for batch in batches] == [10] * 6
    assert len({row.id for batch in batches for row in batch}) == 60


async def test_next_due_is_the_first_pending_row_or_lease_end(store: SqlStore) -> None:
    assert await store.next_due() is None
    await store.create_delivery(delivery(minute=0), NOW)
    await store.create_delivery(delivery(minute=1), NOW)
    [first] = await store.claim_pending(1, LEASE, NOW)
    await store.mark_deferred(first.id, "421 later", NOW + timedelta(hours=1))
    assert await store.next_due() == NOW  # the other row has been due since it was queued
    await store.claim_pending(1, LEASE, NOW)
    assert await store.next_due() == NOW + LEASE  # leased: claimable again when its lease ends


async def test_mark_sent(store: SqlStore) -> None:
    await store.create_delivery(delivery(), NOW)
    [row] = await store.claim_pending(1, LEASE, NOW)
    await store.mark_sent(row.id, "250 OK", NOW + timedelta(seconds=3))
    [sent] = await store.outbox()
    assert (sent.state, sent.attempts, sent.last_reply) == (OutboxState.SENT, 1, "250 OK")
    assert await store.claim_pending(1, LEASE, NOW + timedelta(days=1)) == []


async def test_mark_deferred_retries_at_the_given_time(store: SqlStore) -> None:
    await store.create_delivery(delivery(), NOW)
    [row] = await store.claim_pending(1, LEASE, NOW)
    retry_at = NOW + timedelta(minutes=2)
    await store.mark_deferred(row.id, "421 try later", retry_at)
    assert await store.claim_pending(1, LEASE, retry_at - timedelta(seconds=1)) == []
    [again] = await store.claim_pending(1, LEASE, retry_at)
    assert (again.attempts, again.last_reply, again.next_attempt_at) == (1, "421 try later", retry_at)


async def test_mark_failed_is_final(store: SqlStore) -> None:
    await store.create_delivery(delivery(), NOW)
    [row] = await store.claim_pending(1, LEASE, NOW)
    await store.mark_failed(row.id, "550 no such user", NOW)
    [failed] = await store.outbox()
    assert (failed.state, failed.attempts, failed.last_reply) == (OutboxState.FAILED, 1, "550 no such user")
    assert await store.claim_pending(1, LEASE, NOW + timedelta(days=1)) == []


async def test_a_late_mark_does_not_undo_a_settled_row(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.create_delivery(delivery(), NOW)
    [first] = await store.claim_pending(1, LEASE, NOW)
    [second] = await store.claim_pending(1, LEASE, NOW + LEASE)
    await store.mark_sent(second.id, "250 OK", NOW + LEASE)
    with caplog.at_level(logging.WARNING, logger="intracast.store"):
        await store.mark_deferred(first.id, "421 late", NOW + LEASE * 2)
    [row] = await store.outbox()
    assert (row.state, row.attempts, row.last_reply) == (OutboxState.SENT, 1, "250 OK")
    assert "store.outbox_stale" in caplog.text
    with pytest.raises(StoreError, match="no delivery with id 999"):
        await store.mark_sent(999, "250 OK", NOW)


async def test_settle_many_records_each_outcome_in_one_update(
    store: SqlStore, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for minute in range(4):
        await store.create_delivery(delivery(minute=minute), NOW)
    stale, sent, deferred, failed = [row.id for row in await store.claim_pending(4, LEASE, NOW)]
    [theirs] = await store.claim_pending(1, LEASE, NOW + LEASE)  # our lease ran out: another sender took the oldest
    await store.mark_sent(theirs.id, "250 theirs", NOW + LEASE)
    retry_at = NOW + LEASE + timedelta(minutes=2)
    engine = create_store_engine(db_url, tmp_path)  # the same database, on an engine whose statements we count
    updates: list[str] = []
    commits: list[object] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: updates.append(statement) if "UPDATE" in statement else None)
    event.listen(engine.sync_engine, "commit", commits.append)
    try:
        with caplog.at_level(logging.WARNING, logger="intracast.store"):
            await SqlStore(engine).settle_many([
                Settlement(stale, OutboxState.SENT, "250 ours", NOW + LEASE),
                Settlement(sent, OutboxState.SENT, "250 OK", NOW + LEASE),
                Settlement(deferred, OutboxState.PENDING, "421 try later", retry_at),
                Settlement(failed, OutboxState.FAILED, "550 no such user", NOW + LEASE),
            ])
    finally:
        await engine.dispose()
    assert (len(updates), len(commits)) == (1, 1)
    rows = {row.id: row for row in await store.outbox()}
    assert {row_id: (row.state, row.attempts, row.last_reply) for row_id, row in rows.items()} == {
        stale: (OutboxState.SENT, 1, "250 theirs"),  # theirs stands
        sent: (OutboxState.SENT, 1, "250 OK"),
        deferred: (OutboxState.PENDING, 1, "421 try later"),
        failed: (OutboxState.FAILED, 1, "550 no such user"),
    }
    assert rows[deferred].next_attempt_at == retry_at and rows[sent].next_attempt_at == NOW
    assert [r.getMessage() for r in caplog.records if "store.outbox_stale" in r.getMessage()] == [
        f"store.outbox_stale id={stale} state=sent outcome=sent"
    ]
    [again] = await store.claim_pending(10, LEASE, retry_at)
    assert again.id == deferred
    with pytest.raises(StoreError, match="no delivery with id 999"):  # and nothing of the batch is recorded
        await store.settle_many([Settlement(again.id, OutboxState.SENT, "250 OK", retry_at),
                                 Settlement(999, OutboxState.SENT, "250 OK", retry_at)])
    assert {row.id: row.state for row in await store.outbox()}[deferred] == OutboxState.SENDING


async def test_outbox_newest_first_and_counts(store: SqlStore) -> None:
    for minute in range(3):
        await store.create_delivery(delivery(minute=minute), NOW + timedelta(minutes=minute))
    [oldest, _] = await store.claim_pending(2, LEASE, NOW + timedelta(hours=1))
    await store.mark_sent(oldest.id, "250 OK", NOW + timedelta(hours=1))
    assert [row.key.window_end.minute for row in await store.outbox()] == [2, 1, 0]
    assert [row.key.window_end.minute for row in await store.outbox(limit=1)] == [2]
    assert await store.outbox_counts(NOW) == {
        OutboxState.PENDING: 1,
        OutboxState.SENDING: 1,
        OutboxState.SENT: 1,
        OutboxState.FAILED: 0,
    }
    assert (await store.outbox_counts(NOW + timedelta(minutes=2)))[OutboxState.PENDING] == 1
    assert sum((await store.outbox_counts(NOW + timedelta(minutes=3))).values()) == 0


async def test_delivered_item_ids(store: SqlStore) -> None:
    await store.upsert_items([item("1"), item("2"), item("3")], NOW)
    ids = [await store.item_id("news", guid) for guid in ("1", "2", "3")]
    assert await store.create_delivery(delivery("An@example.org", item_ids=(ids[0], ids[1])), NOW)  # type: ignore[arg-type]
    assert await store.create_delivery(delivery(item_ids=(ids[1], ids[2]), minute=1), NOW)  # type: ignore[arg-type]
    assert await store.delivered_item_ids("AN@EXAMPLE.ORG") == set(ids)
    assert await store.delivered_item_ids("bo@example.org") == set()


async def test_delivery_with_an_unknown_item_is_not_created(store: SqlStore) -> None:
    with pytest.raises(StoreError, match=r"(?i)foreign key"):
        await store.create_delivery(delivery(item_ids=(12345,)), NOW)
    assert await store.outbox() == []
    assert await store.create_delivery(delivery(), NOW) is True


# clicks and screens


async def test_clicks_round_trip_newest_first(store: SqlStore) -> None:
    await store.upsert_items([item("1")], NOW)
    item_id = await store.item_id("news", "1")
    await store.record_click(
        Click(link="https://intranet.example.org/1", at=NOW, item_id=item_id, recipient="An@example.org")
    )
    await store.record_click(
        Click(link="https://intranet.example.org/2", at=NOW + timedelta(seconds=1), screen="kantine")
    )
    newest, oldest = await store.clicks()
    assert (newest.screen, newest.item_id, newest.recipient, newest.at) == (
        "kantine",
        None,
        None,
        NOW + timedelta(seconds=1),
    )
    assert (oldest.item_id, oldest.recipient, oldest.at) == (item_id, "an@example.org", NOW)
    assert isinstance(oldest.id, int)
    assert len(await store.clicks(limit=1)) == 1


async def test_heartbeats_keep_the_last_per_screen(store: SqlStore) -> None:
    assert await store.last_heartbeats() == {}
    await store.record_heartbeat(
        Heartbeat(screen="kantine", at=NOW, width=1920, height=1080, slide="s1", user_agent="TV")
    )
    await store.record_heartbeat(Heartbeat(screen="hal", at=NOW))
    later = Heartbeat(screen="kantine", at=NOW + timedelta(seconds=30), width=1080, height=1920, slide="s2")
    await store.record_heartbeat(later)
    assert await store.last_heartbeats() == {"kantine": later, "hal": Heartbeat(screen="hal", at=NOW)}


# errors and datetimes


async def test_ping(store: SqlStore) -> None:
    await store.ping()


async def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="naive datetime"):
        await store.record_heartbeat(Heartbeat(screen="kantine", at=datetime(2025, 3, 10, 8, 0)))
    assert await store.last_heartbeats() == {}


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()))
def test_utc_datetime_round_trips_the_instant(moment: datetime) -> None:
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime))
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(insert(table).values(at=moment))
            back = conn.scalar(select(table.c.at))
    finally:
        engine.dispose()
    assert back is not None and back.tzinfo is UTC
    assert back == moment.astimezone(UTC)


# digest runs


async def test_candidate_items_are_the_window_s_new_and_updated_items(store: SqlStore) -> None:
    since, until = NOW - timedelta(days=1), NOW
    old = item("old", published=since - timedelta(hours=1), updated=since - timedelta(hours=1))
    await store.upsert_items([old], since - timedelta(minutes=30))  # seen before the window began
    await store.upsert_items([
        old,
        item("new", published=since + timedelta(hours=1), updated=since + timedelta(hours=1)),
        item("edited", published=since - timedelta(days=3), updated=since + timedelta(hours=2)),
        item("future", published=until + timedelta(hours=1), updated=until + timedelta(hours=1)),
        item("expired", published=since + timedelta(hours=3), expires=NOW - timedelta(minutes=1)),
        item("other", source="events", published=since + timedelta(hours=4)),
    ], NOW)
    fresh = since - timedelta(days=7)
    candidates = await store.candidate_items(["news"], since, until, NOW, fresh_after=fresh)
    assert [c.item.guid for c in candidates] == ["new", "edited"]
    assert candidates[0].id == await store.item_id("news", "new")
    everything = await store.candidate_items([], since, until, NOW, fresh_after=fresh)
    assert {c.item.guid for c in everything} == {"new", "edited", "other"}


async def test_an_item_fetched_after_its_window_ran_counts_in_the_next_one(store: SqlStore) -> None:
    """Published during Monday's window, fetched only after it ran: Tuesday's digest lists it."""
    monday, tuesday = NOW - timedelta(days=1), NOW
    late = item("late", published=monday - timedelta(hours=1), updated=monday - timedelta(hours=1))
    archive = item("archive", published=NOW - timedelta(days=90), updated=NOW - timedelta(days=90))
    await store.upsert_items([late, archive], monday + timedelta(minutes=5))
    fresh_after = tuesday - timedelta(days=7)
    candidates = await store.candidate_items(["news"], monday, tuesday, NOW, fresh_after=fresh_after)
    assert [c.item.guid for c in candidates] == ["late"], "an old archive seen for the first time is not news"


async def test_a_window_end_only_moves_forward(store: SqlStore) -> None:
    await store.advance_window("daily", "An@Example.org", NOW)
    await store.advance_window("daily", "an@example.org", NOW - timedelta(days=1))
    await store.advance_window("weekly", "an@example.org", NOW - timedelta(days=3))
    assert await store.last_window_ends("daily") == {"an@example.org": NOW}
    await store.advance_window("daily", "an@example.org", NOW + timedelta(days=1))
    assert await store.last_window_ends("daily") == {"an@example.org": NOW + timedelta(days=1)}


async def test_outcomes_answer_why_newest_first(store: SqlStore) -> None:
    await store.record_outcomes([
        RunOutcome("daily", "an@example.org", NOW - timedelta(days=1), Outcome.EMPTY, None, NOW - timedelta(days=1)),
        RunOutcome("daily", "An@example.org", NOW, Outcome.QUEUED, "3 items", NOW),
        RunOutcome("daily", "bo@example.org", NOW, Outcome.UNSUBSCRIBED, None, NOW),
    ])
    assert [(o.outcome, o.detail) for o in await store.outcomes_for("AN@example.org")] == [
        (Outcome.QUEUED, "3 items"), (Outcome.EMPTY, None)]


async def test_a_tracked_click_marks_the_item_read(store: SqlStore) -> None:
    await store.upsert_items([item("n1")], NOW)
    item_id = await store.item_id("news", "n1")
    await store.record_click(Click(link="https://intranet.example.org/n1", at=NOW, item_id=item_id, recipient="An@example.org"))
    await store.record_click(Click(link="https://intranet.example.org/n1", at=NOW, item_id=item_id, screen="hall"))
    assert await store.read_item_ids("an@example.org") == {item_id}
    assert await store.read_item_ids("bo@example.org") == set()


async def test_preferences_lists_every_choice(store: SqlStore) -> None:
    await store.unsubscribe("An@example.org", NOW)
    await store.set_frequency("bo@example.org", "weekly", NOW)
    prefs = await store.preferences()
    assert prefs["an@example.org"].unsubscribed_at == NOW
    assert prefs["bo@example.org"].frequency == "weekly"


async def test_concurrent_upserts_of_one_new_item_store_it_once(store: SqlStore) -> None:
    """Two employees' per-user feeds fetched side by side carry the same new post."""
    results = await asyncio.gather(*(store.upsert_items([item("shared"), item(f"own{i}")], NOW) for i in range(4)))
    assert sum(r.new for r in results) >= 5  # each own item once; "shared" counted by whoever got there
    assert sorted(i.guid for i in await store.get_items("news")) == ["own0", "own1", "own2", "own3", "shared"]


# job claims (several daemons on one database)


async def test_of_instances_claiming_one_tick_at_once_exactly_one_wins(db_url: str, tmp_path: Path) -> None:
    """Each instance has a store (an engine and pool) of its own, as separate daemons do."""
    async with open_store(db_url, tmp_path) as a, open_store(db_url, tmp_path) as b:
        for minute in range(5):
            tick = NOW + timedelta(minutes=minute)
            claims = [store.claim_tick("source:news", tick, name, NOW) for _ in range(4) for name, store in
                      (("a", a), ("b", b))]
            assert sum(await asyncio.gather(*claims)) == 1


async def test_a_claim_only_moves_a_job_s_tick_forward(store: SqlStore) -> None:
    assert await store.claim_tick("digest:daily", NOW, "a", NOW)
    assert not await store.claim_tick("digest:daily", NOW - timedelta(minutes=1), "b", NOW)
    assert await store.claim_tick("source:news", NOW, "b", NOW)  # another job: its own ticks
    assert await store.claim_tick("digest:daily", NOW + timedelta(days=1), "b", NOW)
