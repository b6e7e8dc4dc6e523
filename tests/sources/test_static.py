"""`type: static`: items written in the config, validated at load time and returned as they are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from pydantic import ValidationError

from sources.http import Http
from sources.item import Item
from sources.registry import FetchContext, Services, adapter
from sources.static import StaticItem, StaticOptions, StaticSource

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    async with ClientSession() as session:
        yield Services(Http(session, Path(".")))


def options(*items: dict[str, Any], **source: Any) -> StaticOptions:
    return StaticOptions.model_validate({"name": "announcements", "type": "static", **source, "items": list(items)})


async def fetch(services: Services, *items: dict[str, Any], **source: Any) -> list[Item]:
    result = await StaticSource(options(*items, **source), services).fetch(FetchContext(now=NOW))
    assert result.items is not None
    return result.items


def problems(*items: dict[str, Any], **source: Any) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        options(*items, **source)
    return [(error["loc"], error["msg"]) for error in raised.value.errors()]


async def test_an_item_is_built_from_its_config(services: Services) -> None:
    (item,) = await fetch(services, {
        "id": "crisis",
        "title": "Crisis dossier",
        "text": "Alle updates staan op het intranet.",
        "link": "https://intranet.example.org/crisis",
        "image": "https://intranet.example.org/img/crisis.png",
        "pinned": True,
        "takeover": True,
        "starts": "2026-11-24T08:00:00+01:00",
        "expires": "2026-12-01T18:00:00+01:00",
        "audience": ["zorg"],
    })
    assert item.as_json() == {
        "source": "announcements",
        "guid": "crisis",
        "title": "Crisis dossier",
        "link": "https://intranet.example.org/crisis",
        "summary": "Alle updates staan op het intranet.",
        "content_html": "<p>Alle updates staan op het intranet.</p>",
        "published": "2026-11-24T08:00:00+01:00",
        "updated": "2026-11-24T08:00:00+01:00",
        "author": None,
        "image": "https://intranet.example.org/img/crisis.png",
        "tags": ["announcement"],
        "audience": ["zorg"],
        "pinned": True,
        "takeover": True,
        "expires": "2026-12-01T18:00:00+01:00",
        "start": None,
        "end": None,
        "location": None,
        "undated": False,
    }


async def test_a_minimal_item_is_undated_unlinked_and_an_announcement(services: Services) -> None:
    (item,) = await fetch(services, {"title": "Welkom op Plek"})
    assert (item.guid, item.title, item.link, item.summary, item.content_html) == (
        "Welkom op Plek", "Welkom op Plek", "", "", "")
    assert (item.published, item.undated, item.expires, item.pinned) == (None, True, None, False)
    assert item.tags == ("announcement",)


async def test_plain_text_keeps_its_paragraphs_and_html_is_sanitised(services: Services) -> None:
    plain, html = await fetch(
        services,
        {"title": "Plain", "text": "Regel 1\nRegel 2\n\nAlinea 2: 5 < 6 & 7 > 3"},
        {"title": "Html", "text": '<p>Zie <a href="https://intranet.example.org/x">het dossier</a>'
                                  '<script>alert(1)</script></p>'},
    )
    assert plain.content_html == "<p>Regel 1<br>Regel 2</p><p>Alinea 2: 5 &lt; 6 &amp; 7 &gt; 3</p>"
    assert plain.summary == "Regel 1 Regel 2 Alinea 2: 5 < 6 & 7 > 3"
    assert "script" not in html.content_html
    assert 'href="https://intranet.example.org/x"' in html.content_html
    assert html.summary == "Zie het dossier"


async def test_a_title_is_plain_text(services: Services) -> None:
    (item,) = await fetch(services, {"title": "R&D <nieuw> team"})
    assert item.title == "R&D <nieuw> team"


async def test_items_are_returned_before_they_start_and_after_they_expire(services: Services) -> None:
    items = await fetch(
        services,
        {"title": "Future", "starts": "2026-12-01T08:00:00Z"},
        {"title": "Expired", "expires": "2026-11-01T08:00:00Z"},
        {"title": "Current"},
    )
    assert [item.title for item in items] == ["Future", "Expired", "Current"]
    assert items[0].published == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert items[1].expires == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


async def test_editing_the_text_updates_the_item_and_a_new_title_without_an_id_is_a_new_item(
        services: Services) -> None:
    (before,) = await fetch(services, {"title": "Kerstborrel", "text": "Vrijdag om vier uur."})
    (edited,) = await fetch(services, {"title": "Kerstborrel", "text": "Vrijdag om vijf uur."})
    (retitled,) = await fetch(services, {"title": "Kerstborrel!", "text": "Vrijdag om vijf uur."})
    assert edited.guid == before.guid and edited.content_hash() != before.content_hash()
    assert retitled.guid != edited.guid


async def test_an_id_keeps_the_item_through_a_new_title(services: Services) -> None:
    (before,) = await fetch(services, {"id": "party", "title": "Kerstborrel"})
    (after,) = await fetch(services, {"id": "party", "title": "Kerstborrel verplaatst"})
    assert before.guid == after.guid == "party"


async def test_the_same_config_gives_the_same_items_at_every_fetch(services: Services) -> None:
    source = StaticSource(options({"title": "A", "text": "x"}, {"title": "B"}), services)
    first = await source.fetch(FetchContext(now=NOW))
    later = await source.fetch(FetchContext(now=datetime(2026, 11, 25, tzinfo=UTC)))
    assert first == later


@pytest.mark.parametrize(("written", "zone", "expected"), [
    ("2026-11-24 08:00", None, "2026-11-24T08:00:00+01:00"),  # Amsterdam, winter
    ("2026-07-01 08:00", None, "2026-07-01T08:00:00+02:00"),  # Amsterdam, summer
    ("2026-11-24", None, "2026-11-24T00:00:00+01:00"),  # a date: midnight
    ("2026-11-24 08:00", "America/New_York", "2026-11-24T08:00:00-05:00"),
    ("2026-11-24T08:00:00Z", "America/New_York", "2026-11-24T08:00:00+00:00"),  # an offset is kept
])
def test_times_without_an_offset_are_read_in_the_timezone_option(written: str, zone: str | None,
                                                                  expected: str) -> None:
    source = {"timezone": zone} if zone else {}
    (item,) = options({"title": "A", "starts": written, "expires": "2027-01-01T00:00:00Z"}, **source).items
    assert item.starts is not None and item.starts.isoformat() == expected
    assert item.expires == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_naive_expires_is_read_in_the_timezone_option_too() -> None:
    (item,) = options({"title": "A", "expires": "2026-11-24 18:00"}).items
    assert item.expires is not None and item.expires.isoformat() == "2026-11-24T18:00:00+01:00"


@pytest.mark.parametrize(("starts", "expires"), [
    ("2026-11-24 10:00", "2026-11-24 09:00"),
    ("2026-11-24 10:00", "2026-11-24 10:00"),
])
def test_expires_must_come_after_starts(starts: str, expires: str) -> None:
    ((loc, message),) = problems({"title": "Ok"}, {"title": "A", "starts": starts, "expires": expires})
    assert loc == ("items", 1, "expires")
    assert message.startswith("expires (2026-11-24T") and "must be after starts (2026-11-24T10:00:00+01:00)" in message


def test_expires_and_starts_are_compared_as_instants() -> None:
    # 09:30 UTC is 10:30 in Amsterdam: after a naive 10:00 start there, before a 10:00 UTC one.
    assert options({"title": "A", "starts": "2026-11-24 10:00", "expires": "2026-11-24T09:30:00Z"})
    ((loc, _),) = problems({"title": "A", "starts": "2026-11-24T10:00:00Z", "expires": "2026-11-24T09:30:00Z"})
    assert loc == ("items", 0, "expires")


@pytest.mark.parametrize(("items", "loc", "duplicate"), [
    ([{"id": "crisis", "title": "A"}, {"id": "crisis", "title": "B"}], ("items", 1, "id"), "'crisis'"),
    ([{"title": "Welkom"}, {"title": "Nieuws"}, {"title": " Welkom "}], ("items", 2, "title"), "'Welkom'"),
    ([{"title": "Welkom"}, {"id": "Welkom", "title": "Hallo"}], ("items", 1, "id"), "'Welkom'"),
])
def test_duplicate_items_are_refused_by_name(items: list[dict[str, Any]], loc: tuple[int | str, ...],
                                             duplicate: str) -> None:
    ((where, message),) = problems(*items)
    assert where == loc
    assert message.startswith(f"{duplicate} is already items[0] of this source")


def test_the_same_title_with_different_ids_is_fine() -> None:
    assert len(options({"id": "a", "title": "Welkom"}, {"id": "b", "title": "Welkom"}).items) == 2


async def test_audience_merges_the_items_the_sources_and_the_mapped_tags(services: Services) -> None:
    items = await fetch(
        services,
        {"title": "Rooster", "audience": ["zorg"], "tags": ["Roosters"]},
        {"title": "Voor iedereen in Noord"},
        audience=["noord"], audience_map={"roosters": ["planning"]},
    )
    assert [item.audience for item in items] == [("noord", "planning", "zorg"), ("noord",)]
    assert items[0].tags == ("Roosters",)


@pytest.mark.parametrize("item", [
    {"title": ""},
    {"text": "no title"},
    {"title": "A", "link": "ftp://intranet.example.org/a"},
    {"title": "A", "link": "/relative"},
    {"title": "A", "image": "javascript:alert(1)"},
    {"title": "A", "starts": "next monday"},
    {"title": "A", "colour": "red"},
])
def test_bad_items_are_refused(item: dict[str, Any]) -> None:
    assert problems(item)


def test_a_bad_timezone_is_one_problem_of_its_own() -> None:
    ((loc, message),) = problems({"title": "A", "starts": "2026-11-24 10:00"}, timezone="Europe/Amsterdm")
    assert loc == ("timezone",) and "unknown time zone" in message


def test_every_option_is_described() -> None:
    for model in (StaticOptions, StaticItem):
        assert all(field.description for field in model.model_fields.values()), model


async def test_the_adapter_is_registered_as_static(services: Services) -> None:
    model, factory = adapter("static")
    source = factory(model.model_validate({"name": "banner", "type": "static", "items": [{"title": "A"}]}), services)
    result = await source.fetch(FetchContext(now=NOW))
    assert (model, factory) == (StaticOptions, StaticSource)
    assert [item.source for item in result.items or []] == ["banner"]
