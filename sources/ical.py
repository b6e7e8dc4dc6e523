"""`type: ical`: upcoming events from an iCalendar (.ics) feed.

    sources:
      - name: agenda
        type: ical
        url: https://intranet.example.org/agenda.ics
        window: 14d                                  # default
        timezone: Europe/Amsterdam                   # default
        link: https://intranet.example.org/agenda    # optional

Each occurrence that has not ended at fetch time and starts within `window`
of it becomes one item, sorted by start; an event in progress is included,
one starting exactly at the end of the window is not. Recurrences are
expanded (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) by
recurring-ical-events, which also honours Google's X-WR-TIMEZONE.

Times keep the offset the calendar gave them (TZID with its VTIMEZONE, or
UTC). Floating times are read in `timezone`, and an all-day event runs from
midnight to midnight there (one day when it has no end).

Per occurrence:

- guid: the UID and, in UTC, the start the recurrence rule gave it (its
  RECURRENCE-ID). A moved meeting therefore stays the same item with a new
  time, instead of a new item while the old slot lingers on the screens.
- link: the event's URL, else `link`, else the calendar's URL when http(s).
- start, end, location; tags: `event` and the CATEGORIES.
- published: LAST-MODIFIED, else CREATED, else none (the item is undated).
  Never DTSTAMP: many servers set it to the export time, so every fetch
  would look like an update of every event.
- expires: the end, so the event leaves the screens when it is over.

Cancelled events and cancelled single occurrences (STATUS:CANCELLED) are
left out. An event without DTSTART, or a series with a rule the library
cannot expand, is skipped so the rest of the calendar still shows.
"""

from __future__ import annotations

import codecs
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from pydantic import AnyHttpUrl, Field

from sources.errors import ParseError
from sources.fields import Duration, TimeZone
from sources.item import Item
from sources.normalise import absolute_url, make_item
from sources.registry import register
from sources.remote import Page, Parsed, RemoteOptions, RemoteSource

if TYPE_CHECKING:
    from icalendar import Calendar, Component
    from recurring_ical_events import CalendarQuery


class IcalOptions(RemoteOptions):
    type: Literal["ical"] = Field(description="Upcoming events from an iCalendar (.ics) feed")
    window: Duration = Field(
        timedelta(days=14), description="Show occurrences starting within this long after each fetch, e.g. 14d"
    )
    timezone: TimeZone = Field(
        ZoneInfo("Europe/Amsterdam"), description="Time zone of floating times and all-day events"
    )
    link: AnyHttpUrl | None = Field(
        None, description="The intranet's agenda page: the link of events that have no URL of their own"
    )


def parse_ical(page: Page, options: IcalOptions) -> Parsed:
    """The occurrences in the window after `page.fetched_at`, one item each, by start."""
    # Imported here: parsers run in the worker processes, so the daemon itself never loads them (about 4 MB).
    import recurring_ical_events

    calendar = _calendar(page)
    now = page.fetched_at.astimezone(UTC)
    # Floating and all-day events are compared by their wall-clock time in
    # the query's zone, so the window is given in `timezone`.
    window_start = now.astimezone(options.timezone)
    window_end = (now + options.window).astimezone(options.timezone)
    query = recurring_ical_events.of(calendar, skip_bad_series=True, calendar_query=_query())
    items = [
        _item(event, page, options)
        for event in query.between(window_start, window_end)
        if str(event.get("STATUS", "")).upper() != "CANCELLED"
    ]
    items.sort(key=lambda item: (item.start, item.guid))
    return Parsed(items)


@cache  # one class, made at the first parse: recurring-ical-events is imported then, not with this module
def _query() -> type[CalendarQuery]:
    from recurring_ical_events import CalendarQuery

    class Query(CalendarQuery):
        """Skips a series that cannot be expanded, such as one whose RRULE dateutil cannot read
        (a ValueError), so that one broken event does not hide the whole agenda."""

        suppressed_errors = [*CalendarQuery.suppressed_errors, ValueError]

    return Query


def _calendar(page: Page) -> Calendar:
    from icalendar import Calendar  # as in parse_ical: only the parser workers load it

    text = _decode(page)
    try:
        calendar = Calendar.from_ical(text)
    except ValueError as e:
        opening = text.lstrip()[:40]
        found = f"it starts with {opening!r}" if opening else "it is empty"
        raise ParseError(f"not an iCalendar file ({found})") from e
    if calendar.name != "VCALENDAR":
        raise ParseError(f"not an iCalendar file: it holds a {calendar.name}, not a VCALENDAR")
    # recurring-ical-events fails the whole query on an event without a start.
    calendar.subcomponents = [
        component for component in calendar.subcomponents
        if component.name != "VEVENT" or "DTSTART" in component
    ]
    return calendar


def _decode(page: Page) -> str:
    """The body as text: in the declared charset if Python knows it, else UTF-8 (RFC 5545's)."""
    charset = "utf-8"
    if page.charset:
        try:
            charset = codecs.lookup(page.charset).name
        except LookupError:
            pass
    return page.body.decode(charset, errors="replace").removeprefix("\ufeff")


def _item(event: Component, page: Page, options: IcalOptions) -> Item:
    tz = options.timezone
    start = _aware(event["DTSTART"].dt, tz)
    end = _aware(event["DTEND"].dt, tz) if "DTEND" in event else start
    # The library gives every occurrence a RECURRENCE-ID (its start, when the
    # event has none). With RANGE=THISANDFUTURE all later occurrences share
    # the override's, so those are told apart by their start.
    recurrence_id = event.get("RECURRENCE-ID")
    slot = start if recurrence_id is None or "RANGE" in recurrence_id.params else _aware(recurrence_id.dt, tz)
    uid = _text(event, "UID") or _text(event, "SUMMARY") or ""  # RFC 5545 requires a UID; hand-made files forget it
    changed = event.get("LAST-MODIFIED") or event.get("CREATED")
    return make_item(
        options,
        fetched_at=page.fetched_at,
        base_url=page.url,
        guid=f"{uid}/{slot.astimezone(UTC).isoformat()}",
        link=_link(event, page, options),
        title=_escaped(event, "SUMMARY"),
        # Read as HTML, not escaped: Google writes HTML into DESCRIPTION, and
        # Outlook's plain text puts links in <...>, which a summary is better without.
        summary=_text(event, "DESCRIPTION"),
        published=_aware(changed.dt, tz) if changed is not None else None,
        tags=["event", *_categories(event)],
        expires=end,
        start=start,
        end=end,
        location=_escaped(event, "LOCATION"),
    )


def _aware(value: date | datetime, tz: ZoneInfo) -> datetime:
    """An iCalendar time as an aware datetime; dates are midnight and floating times are read in `tz`.

    The result has a fixed offset: the instant and the offset the calendar
    gave, without dateutil's VTIMEZONE objects, and with arithmetic that is
    absolute (with a zone, `start + timedelta(hours=24)` across a clock
    change is 23 or 25 real hours).
    """
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(timezone(value.utcoffset() or timedelta(0)))


def _link(event: Component, page: Page, options: IcalOptions) -> str | None:
    """The event's own web page, else the agenda page; make_item falls back to the calendar's URL."""
    return absolute_url(_text(event, "URL"), page.url) or (str(options.link) if options.link else None)


def _text(event: Component, name: str) -> str | None:
    value = str(event.get(name, "")).strip()
    return value or None


def _escaped(event: Component, name: str) -> str | None:
    """A plain-text property, escaped so make_item keeps a literal '<' as text."""
    value = _text(event, name)
    return escape(value) if value else None


def _categories(event: Component) -> list[str]:
    """CATEGORIES may repeat, each with a comma-separated list."""
    value = event.get("CATEGORIES", [])
    lists = value if isinstance(value, list) else [value]
    names = (str(name).strip() for categories in lists for name in categories.cats)
    return [name for name in names if name]


@register("ical", IcalOptions)
class IcalSource(RemoteSource):
    parser = staticmethod(parse_ical)
