"""The bundled demo intranet stays alive: items dated relative to today, whatever the date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sources.demo import DemoOptions, DemoSource
from sources.registry import FetchContext


async def items_at(now: datetime, language: str = "en") -> list:
    source = DemoSource(DemoOptions(name="demo", type="demo", language=language))
    return (await source.fetch(FetchContext(now))).items


@pytest.mark.parametrize("now", [
    datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    datetime(2031, 3, 30, 1, 30, tzinfo=UTC),  # the night clocks go forward in Amsterdam
    datetime(2027, 12, 31, 23, 30, tzinfo=UTC),  # already 1 January in Amsterdam
])
async def test_demo_has_news_of_this_morning_an_event_and_an_announcement(now: datetime) -> None:
    items = await items_at(now)
    local_today = (now.astimezone(DemoOptions.model_fields["timezone"].default) - timedelta(hours=10)).date()
    news_today = [i for i in items if "news" in i.tags and i.published.date() == local_today]
    assert news_today, "the demo digest would be empty"
    assert all(i.published.hour < 12 for i in news_today)
    assert all(i.published <= now for i in items), "every demo item is already out, whatever the hour"
    (event,) = [i for i in items if "events" in i.tags]
    next_monday = local_today + timedelta(days=7 - local_today.weekday())
    assert f"Friday {(next_monday + timedelta(days=4)).day} " in event.summary
    (announcement,) = [i for i in items if i.pinned]
    assert announcement.expires > now


async def test_guids_are_stable_within_a_day_and_new_the_next_day() -> None:
    morning = await items_at(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    evening = await items_at(datetime(2026, 11, 24, 20, 0, tzinfo=UTC))
    tomorrow = await items_at(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    assert [i.guid for i in morning] == [i.guid for i in evening]
    assert [i.content_hash() for i in morning] == [i.content_hash() for i in evening]
    assert not {i.guid for i in morning} & {i.guid for i in tomorrow}


async def test_dutch_demo_speaks_dutch() -> None:
    items = await items_at(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), language="nl")
    (event,) = [i for i in items if "events" in i.tags]
    assert event.title == "Vrijdagmiddagborrel volgende week"
    assert event.summary.startswith("Vrijdag 4 december, 16:00")


async def test_audience_and_links() -> None:
    items = await items_at(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    assert [i.audience for i in items if i.audience] == [("zorg",)]
    assert all(i.link.startswith("https://intranet.example.org/") for i in items)
