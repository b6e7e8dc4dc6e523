"""`type: ical`: the occurrences in the window, at the right instants, one item each.

The corpus (tests/data/feeds/*.ics) holds whole Outlook and Google exports;
these tests take one rule at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from pydantic import ValidationError

from sources.errors import ErrorKind, ParseError, SourceError
from sources.http import Http
from sources.ical import IcalOptions, IcalSource, parse_ical
from sources.item import Item
from sources.registry import FetchContext, Services, adapter
from sources.remote import Page

AGENDA_ICS = "https://intranet.example.org/agenda.ics"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def calendar(*events: str, extra: str = "") -> str:
    body = "".join(f"BEGIN:VEVENT\n{event.strip()}\nEND:VEVENT\n" for event in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//intracast tests//EN\n{extra}{body}END:VCALENDAR\n"


def parse(ics: str | bytes, now: datetime = NOW, *, url: str = AGENDA_ICS, charset: str | None = None,
          **options: Any) -> list[Item]:
    body = ics.encode() if isinstance(ics, str) else ics
    page = Page(url, body, "text/calendar", charset, now)
    model = IcalOptions.model_validate({"name": "agenda", "type": "ical", "url": AGENDA_ICS, **options})
    return parse_ical(page, model).items


def utc(item: Item) -> tuple[datetime, datetime]:
    assert item.start is not None and item.end is not None
    return item.start.astimezone(UTC), item.end.astimezone(UTC)


WEEKLY_AMSTERDAM = """
UID:weekly
SUMMARY:Teamoverleg
DTSTART;TZID=Europe/Amsterdam:20260901T100000
DTEND;TZID=Europe/Amsterdam:20260901T110000
RRULE:FREQ=WEEKLY;BYDAY=TU
"""


def test_a_weekly_meeting_keeps_its_local_time_when_the_clocks_go_back() -> None:
    items = parse(calendar(WEEKLY_AMSTERDAM), datetime(2026, 10, 19, 12, 0, tzinfo=UTC))
    assert [item.start.isoformat() for item in items] == ["2026-10-20T10:00:00+02:00", "2026-10-27T10:00:00+01:00"]
    assert [utc(item)[0] for item in items] == [datetime(2026, 10, 20, 8, 0, tzinfo=UTC),   # CEST, summer
                                                 datetime(2026, 10, 27, 9, 0, tzinfo=UTC)]  # CET, winter


def test_a_weekly_meeting_keeps_its_local_time_when_the_clocks_go_forward() -> None:
    meeting = WEEKLY_AMSTERDAM.replace("20260901T", "20260106T")
    items = parse(calendar(meeting), datetime(2026, 3, 23, 12, 0, tzinfo=UTC))
    assert [utc(item)[0] for item in items] == [datetime(2026, 3, 24, 9, 0, tzinfo=UTC),  # CET
                                                 datetime(2026, 3, 31, 8, 0, tzinfo=UTC)]  # CEST since 29 March


def test_an_event_across_the_change_lasts_its_real_length() -> None:
    night = """
UID:night
SUMMARY:Onderhoud
DTSTART;TZID=Europe/Amsterdam:20261025T010000
DTEND;TZID=Europe/Amsterdam:20261025T040000
"""
    (item,) = parse(calendar(night), datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    assert (item.start.isoformat(), item.end.isoformat()) == ("2026-10-25T01:00:00+02:00", "2026-10-25T04:00:00+01:00")
    assert item.end - item.start == timedelta(hours=4)


def test_exdate_removes_and_recurrence_id_moves_an_occurrence() -> None:
    master = WEEKLY_AMSTERDAM + "EXDATE;TZID=Europe/Amsterdam:20261110T100000\n"
    moved = """
UID:weekly
SUMMARY:Teamoverleg (verplaatst)
RECURRENCE-ID;TZID=Europe/Amsterdam:20261103T100000
DTSTART;TZID=Europe/Amsterdam:20261105T143000
DTEND;TZID=Europe/Amsterdam:20261105T153000
"""
    items = parse(calendar(master, moved), datetime(2026, 11, 2, 12, 0, tzinfo=UTC), window="21d")
    assert [(item.title, item.start.isoformat()) for item in items] == [
        ("Teamoverleg (verplaatst)", "2026-11-05T14:30:00+01:00"),
        ("Teamoverleg", "2026-11-17T10:00:00+01:00"),
    ]
    # The moved meeting keeps the identity of its slot: an update, not a new item.
    assert items[0].guid == "weekly/2026-11-03T09:00:00+00:00"
    assert items[1].guid == "weekly/2026-11-17T09:00:00+00:00"


def test_a_this_and_future_override_moves_every_later_occurrence_as_items_of_their_own() -> None:
    moved = """
UID:weekly
SUMMARY:Teamoverleg (nieuwe tijd)
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Amsterdam:20261103T100000
DTSTART;TZID=Europe/Amsterdam:20261103T140000
DTEND;TZID=Europe/Amsterdam:20261103T150000
"""
    items = parse(calendar(WEEKLY_AMSTERDAM, moved), datetime(2026, 11, 2, 12, 0, tzinfo=UTC), window="16d")
    assert [item.start.isoformat() for item in items] == [
        "2026-11-03T14:00:00+01:00", "2026-11-10T14:00:00+01:00", "2026-11-17T14:00:00+01:00"]
    assert len({item.guid for item in items}) == 3


def test_rdate_adds_an_occurrence_in_its_own_zone() -> None:
    call = """
UID:call
SUMMARY:Call with New York
DTSTART;TZID=America/New_York:20261029T100000
DTEND;TZID=America/New_York:20261029T110000
RDATE;TZID=America/New_York:20261105T100000
"""
    items = parse(calendar(call), datetime(2026, 10, 28, tzinfo=UTC))
    # New York leaves summer time on 1 November: 10:00 is 14:00Z before and 15:00Z after.
    assert [item.start.isoformat() for item in items] == ["2026-10-29T10:00:00-04:00", "2026-11-05T10:00:00-05:00"]
    assert [utc(item)[0].hour for item in items] == [14, 15]


def test_a_windows_zone_name_is_read_from_its_vtimezone() -> None:
    vtimezone = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
"""
    meeting = WEEKLY_AMSTERDAM.replace("Europe/Amsterdam", "W. Europe Standard Time")
    items = parse(calendar(meeting, extra=vtimezone), datetime(2026, 10, 19, 12, 0, tzinfo=UTC))
    assert [item.start.isoformat() for item in items] == ["2026-10-20T10:00:00+02:00", "2026-10-27T10:00:00+01:00"]


def test_utc_times_stay_utc_and_floating_times_are_read_in_the_timezone_option() -> None:
    events = ("UID:utc\nSUMMARY:UTC\nDTSTART:20261125T120000Z\nDTEND:20261125T130000Z",
              "UID:floating\nSUMMARY:Floating\nDTSTART:20261125T120000\nDTEND:20261125T130000")
    amsterdam = {item.title: item for item in parse(calendar(*events))}
    assert amsterdam["UTC"].start.isoformat() == "2026-11-25T12:00:00+00:00"
    assert amsterdam["Floating"].start.isoformat() == "2026-11-25T12:00:00+01:00"
    (floating,) = [item for item in parse(calendar(*events), timezone="America/New_York") if item.title == "Floating"]
    assert floating.start.isoformat() == "2026-11-25T12:00:00-05:00"


@pytest.mark.parametrize(("zone", "start", "end"), [
    ("Europe/Amsterdam", "2026-11-27T00:00:00+01:00", "2026-11-28T00:00:00+01:00"),
    ("America/New_York", "2026-11-27T00:00:00-05:00", "2026-11-28T00:00:00-05:00"),
])
def test_an_all_day_event_without_an_end_is_one_day_from_midnight_in_the_timezone(zone: str, start: str,
                                                                                   end: str) -> None:
    (item,) = parse(calendar("UID:day\nSUMMARY:Studiedag\nDTSTART;VALUE=DATE:20261127"), timezone=zone)
    assert (item.start.isoformat(), item.end.isoformat(), item.expires) == (start, end, item.end)


def test_a_multi_day_all_day_event_in_progress_is_shown_and_ends_at_midnight_after_its_last_day() -> None:
    holiday = "UID:holiday\nSUMMARY:Herfstvakantie\nDTSTART;VALUE=DATE:20261017\nDTEND;VALUE=DATE:20261026"
    (item,) = parse(calendar(holiday), datetime(2026, 10, 20, tzinfo=UTC))
    assert (item.start.isoformat(), item.end.isoformat()) == ("2026-10-17T00:00:00+02:00", "2026-10-26T00:00:00+01:00")


def test_duration_gives_the_end() -> None:
    (item,) = parse(calendar("UID:talk\nSUMMARY:Lezing\nDTSTART:20261201T113000Z\nDURATION:PT1H30M"))
    assert utc(item) == (datetime(2026, 12, 1, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, 13, 0, tzinfo=UTC))
    assert item.expires == item.end


def test_a_daily_event_with_count_stops_after_count() -> None:
    daily = "UID:flu\nSUMMARY:Griepprik\nDTSTART:20261123T120000Z\nDTEND:20261123T130000Z\nRRULE:FREQ=DAILY;COUNT=3"
    items = parse(calendar(daily), datetime(2026, 11, 20, tzinfo=UTC))
    assert [utc(item)[0].day for item in items] == [23, 24, 25]


def test_google_utc_times_follow_x_wr_timezone_across_the_change() -> None:
    # Google writes a calendar's events in UTC and means its X-WR-TIMEZONE:
    # a daily 10:00 Amsterdam event stays at 10:00 when the clocks go back.
    daily = "UID:g\nSUMMARY:Stand-up\nDTSTART:20261023T080000Z\nDTEND:20261023T081500Z\nRRULE:FREQ=DAILY;COUNT=4"
    items = parse(calendar(daily, extra="X-WR-TIMEZONE:Europe/Amsterdam\n"), datetime(2026, 10, 22, tzinfo=UTC))
    assert [item.start.isoformat() for item in items] == [
        "2026-10-23T10:00:00+02:00", "2026-10-24T10:00:00+02:00",
        "2026-10-25T10:00:00+01:00", "2026-10-26T10:00:00+01:00"]


def test_cancelled_events_and_cancelled_occurrences_are_left_out() -> None:
    daily = "UID:d\nSUMMARY:Spreekuur\nDTSTART:20261124T120000Z\nDTEND:20261124T130000Z\nRRULE:FREQ=DAILY;COUNT=3"
    one_off = "UID:d\nSUMMARY:Spreekuur\nRECURRENCE-ID:20261125T120000Z\nDTSTART:20261125T120000Z\nSTATUS:CANCELLED"
    party = "UID:p\nSUMMARY:Borrel\nDTSTART:20261127T150000Z\nDTEND:20261127T170000Z\nSTATUS:CANCELLED"
    items = parse(calendar(daily, one_off, party))
    assert [utc(item)[0].day for item in items] == [24, 26]


WINDOW_NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end", "shown"), [
    ("20261124T080000Z", "20261124T090000Z", False),  # ended exactly now
    ("20261124T080000Z", "20261124T090100Z", True),  # in progress
    ("20261124T090000Z", "20261124T100000Z", True),  # starts now
    ("20261125T085900Z", "20261125T100000Z", True),  # starts a minute before the window ends
    ("20261125T090000Z", "20261125T100000Z", False),  # starts as the window ends
    ("20261124T090000Z", None, True),  # no end or duration: an instant, now
    ("20261124T085900Z", None, False),  # an instant, a minute ago
])
def test_window_boundaries(start: str, end: str | None, shown: bool) -> None:
    event = f"UID:e\nSUMMARY:E\nDTSTART:{start}" + (f"\nDTEND:{end}" if end else "")
    assert bool(parse(calendar(event), WINDOW_NOW, window="1d")) is shown


def test_the_window_is_counted_in_real_time_across_the_change() -> None:
    # From 09:00Z on 21 October, 7d ends at 09:00Z on 28 October: 10:00 CET, not 11:00.
    meeting = "UID:m\nSUMMARY:M\nDTSTART;TZID=Europe/Amsterdam:20261028T101500\nDURATION:PT1H"
    assert parse(calendar(meeting), datetime(2026, 10, 21, 9, 0, tzinfo=UTC), window="7d") == []


def test_items_are_sorted_by_start_across_events() -> None:
    events = ("UID:b\nSUMMARY:Later\nDTSTART:20261126T120000Z",
              "UID:a\nSUMMARY:Daily\nDTSTART:20261125T080000Z\nRRULE:FREQ=DAILY;COUNT=3",
              "UID:c\nSUMMARY:New York\nDTSTART;TZID=America/New_York:20261126T050000")  # 10:00Z
    assert [item.title for item in parse(calendar(*events))] == ["Daily", "Daily", "New York", "Later", "Daily"]


def test_an_item_has_the_event_fields() -> None:
    event = r"""
UID:party@intranet.example.org
SUMMARY:Borrel <met> taart & muziek
DESCRIPTION:Iedereen is welkom.\nNeem je collega's mee.
LOCATION:Kantine\, 1e verdieping
CATEGORIES:Personeelsvereniging,Zorg
CATEGORIES:Feest
URL:https://intranet.example.org/events/borrel
DTSTART;TZID=Europe/Amsterdam:20261127T160000
DTEND;TZID=Europe/Amsterdam:20261127T180000
"""
    (item,) = parse(calendar(event), audience=["personeel"], audience_map={"zorg": ["zorg"]})
    assert item.guid == "party@intranet.example.org/2026-11-27T15:00:00+00:00"
    assert item.title == "Borrel <met> taart & muziek"
    assert item.summary == "Iedereen is welkom. Neem je collega's mee."
    assert item.location == "Kantine, 1e verdieping"
    assert item.link == "https://intranet.example.org/events/borrel"
    assert item.tags == ("event", "Personeelsvereniging", "Zorg", "Feest")
    assert item.audience == ("personeel", "zorg")
    assert (item.start.isoformat(), item.end.isoformat(), item.expires) == (
        "2026-11-27T16:00:00+01:00", "2026-11-27T18:00:00+01:00", item.end)


def test_published_is_last_modified_else_created_else_undated_never_dtstamp() -> None:
    base = "SUMMARY:S\nDTSTART:20261127T160000Z\nDTSTAMP:20261124T085959Z\n"
    events = (f"UID:both\n{base}CREATED:20261001T100000Z\nLAST-MODIFIED:20261101T100000Z",
              f"UID:created\n{base}CREATED:20261001T100000Z",
              f"UID:none\n{base}")
    published = {item.guid.split("/")[0]: (item.published, item.undated) for item in parse(calendar(*events))}
    assert published == {
        "both": (datetime(2026, 11, 1, 10, 0, tzinfo=UTC), False),
        "created": (datetime(2026, 10, 1, 10, 0, tzinfo=UTC), False),
        "none": (None, True),
    }


def test_a_new_export_time_changes_nothing() -> None:
    event = "UID:e\nSUMMARY:E\nDTSTART:20261127T160000Z\nRRULE:FREQ=DAILY;COUNT=3\nDTSTAMP:{stamp}"
    first = parse(calendar(event.format(stamp="20261124T085959Z")), NOW)
    later = parse(calendar(event.format(stamp="20261124T095959Z")), NOW + timedelta(hours=1))
    assert [(item.guid, item.content_hash()) for item in first] == [(item.guid, item.content_hash()) for item in later]


@pytest.mark.parametrize(("url_property", "option", "page_url", "link"), [
    ("https://intranet.example.org/events/1", "https://intranet.example.org/agenda", AGENDA_ICS,
     "https://intranet.example.org/events/1"),
    ("/events/1", None, AGENDA_ICS, "https://intranet.example.org/events/1"),
    ("javascript:alert(1)", "https://intranet.example.org/agenda", AGENDA_ICS, "https://intranet.example.org/agenda"),
    (None, "https://intranet.example.org/agenda", AGENDA_ICS, "https://intranet.example.org/agenda"),
    (None, None, AGENDA_ICS, AGENDA_ICS),
    (None, None, "file:///srv/agenda.ics", ""),
])
def test_link_is_the_events_url_else_the_link_option_else_the_calendars_url(
        url_property: str | None, option: str | None, page_url: str, link: str) -> None:
    event = "UID:e\nSUMMARY:E\nDTSTART:20261127T160000Z" + (f"\nURL:{url_property}" if url_property else "")
    options = {"link": option} if option else {}
    (item,) = parse(calendar(event), url=page_url, **options)
    assert item.link == link


@pytest.mark.parametrize(("body", "says"), [
    (b"<!DOCTYPE html>\n<html><body>Log in</body></html>", "it starts with '<!DOCTYPE html>"),
    (b"", "it is empty"),
    (b'{"events": []}', "it starts with '{\"events\": []}'"),
    (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:An\r\nEND:VCARD\r\n", "it holds a VCARD"),
])
def test_a_body_that_is_not_icalendar_is_a_parse_error(body: bytes, says: str) -> None:
    with pytest.raises(ParseError, match="^not an iCalendar file") as raised:
        parse(body)
    assert says in str(raised.value)


def test_a_broken_event_is_skipped_and_the_rest_shown() -> None:
    events = ("UID:no-start\nSUMMARY:Geen begin",
              "UID:bad-rule\nSUMMARY:Kapotte regel\nDTSTART:20261125T080000Z\nRRULE:FREQ=DAILY;UNTIL=gisteren",
              "UID:fine\nSUMMARY:Goed\nDTSTART:20261125T100000Z")
    assert [item.title for item in parse(calendar(*events))] == ["Goed"]


@pytest.mark.parametrize(("body", "charset"), [
    (calendar("UID:e\nSUMMARY:Café\nDTSTART:20261125T100000Z").encode("latin-1"), "iso-8859-1"),
    (b"\xef\xbb\xbf" + calendar("UID:e\nSUMMARY:Café\nDTSTART:20261125T100000Z").encode(), None),
    (calendar("UID:e\nSUMMARY:Café\nDTSTART:20261125T100000Z").encode(), "no-such-charset"),
])
def test_the_body_is_read_in_its_charset_else_utf8(body: bytes, charset: str | None) -> None:
    (item,) = parse(body, charset=charset)
    assert item.title == "Café"


def test_options_are_checked() -> None:
    base = {"name": "agenda", "type": "ical", "url": AGENDA_ICS}
    options = IcalOptions.model_validate(base)
    assert (options.window, str(options.timezone), options.link) == (timedelta(days=14), "Europe/Amsterdam", None)
    for bad in ({"link": "ftp://intranet.example.org/"}, {"window": "two weeks"}, {"timezone": "Mars/Olympus"},
                {"colour": "red"}):
        with pytest.raises(ValidationError):
            IcalOptions.model_validate({**base, **bad})
    assert all(field.description for field in IcalOptions.model_fields.values())


async def test_the_adapter_is_registered_and_fetches_over_http(aiohttp_server) -> None:
    bodies = {"/agenda.ics": calendar("UID:e\nSUMMARY:Borrel\nDTSTART:20261125T150000Z"),
              "/login": "<html><body>Log in</body></html>"}

    async def serve(request: web.Request) -> web.Response:
        return web.Response(text=bodies[request.path], content_type="text/calendar")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = await aiohttp_server(app)
    assert adapter("ical") == (IcalOptions, IcalSource)
    async with ClientSession() as session:
        services = Services(Http(session, Path(".")))
        good = IcalSource(IcalOptions(name="agenda", type="ical", url=str(server.make_url("/agenda.ics"))), services)
        result = await good.fetch(FetchContext(now=NOW))
        bad = IcalSource(IcalOptions(name="agenda", type="ical", url=str(server.make_url("/login"))), services)
        with pytest.raises(SourceError) as raised:
            await bad.fetch(FetchContext(now=NOW))
    assert [item.title for item in result.items] == ["Borrel"]
    assert raised.value.kind is ErrorKind.PARSE
    assert "not an iCalendar file" in str(raised.value)
