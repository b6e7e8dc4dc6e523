from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.config import DigestConfig
from digest.select import select
from digest.store import Candidate
from sources.item import Item

NOW = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


def candidate(id_: int, hours_ago: float = 1, **fields: object) -> Candidate:
    base = {"source": "news", "guid": f"g{id_}", "title": f"Item {id_}", "link": f"https://intranet.example.org/{id_}",
            "published": NOW - timedelta(hours=hours_ago)}
    return Candidate(id_, Item(**(base | fields)))


def titles(selection) -> list[str]:
    return [c.item.title for c in selection.entries]


def run(candidates, digest=None, *, groups=(), delivered=(), read=(), personal=None):
    return select(candidates, digest or DigestConfig(name="daily"), groups=groups, delivered=set(delivered),
                  read=set(read), personal=personal or {})


def test_pinned_first_then_newest() -> None:
    result = run([candidate(1, 5), candidate(2, 1), candidate(3, 9, pinned=True), candidate(4, 3)])
    assert titles(result) == ["Item 3", "Item 2", "Item 4", "Item 1"]


def test_audience_delivered_and_read_are_left_out() -> None:
    items = [candidate(1, 1), candidate(2, 2, audience=("zorg",)), candidate(3, 3, audience=("ict",)), candidate(4, 4), candidate(5, 5)]
    assert titles(run(items, groups=["zorg"], delivered=[4], read=[5])) == ["Item 1", "Item 2"]


def test_the_digest_s_tags_filter_items() -> None:
    items = [candidate(1, tags=("events",)), candidate(2, tags=("news",))]
    assert titles(run(items, DigestConfig(name="d", tags=["events"]))) == ["Item 1"]


def test_one_link_through_two_sources_is_one_entry() -> None:
    items = [candidate(1, source="news"), candidate(2, 2, source="groups", link="https://intranet.example.org/1")]
    assert titles(run(items)) == ["Item 1"]


def test_a_per_recipient_source_lists_only_what_it_returned_for_them() -> None:
    items = [candidate(1, 1, source="unread", guid="an-1"), candidate(2, 2, source="unread", guid="bo-1"), candidate(3, 3)]
    assert titles(run(items, personal={"unread": {"an-1"}})) == ["Item 1", "Item 3"]


def test_max_items_and_the_rest_counted() -> None:
    result = run([candidate(i, i) for i in range(1, 21)], DigestConfig(name="d", max_items=15))
    assert len(result.entries) == 15 and result.more == 5


def test_an_item_without_a_link_is_left_out_not_fatal() -> None:
    items = [candidate(1, 1, link=""), candidate(2, 2)]
    assert titles(run(items)) == ["Item 2"]
