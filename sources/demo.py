"""`type: demo`: a bundled, living demo intranet.

Yields a handful of news items, group posts, an event and a pinned
announcement, dated relative to today in the configured time zone, so the
demo digest is never empty and the demo screens are never stale, whatever the
date. Each day (from 10:00, when its morning's posts are all out) brings new
guids, as a real intranet brings new posts.

    sources:
      - {name: demo, type: demo, language: en, every: 15m}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from pydantic import AnyHttpUrl, Field

from sources.fields import TimeZone
from sources.item import Item
from sources.registry import FetchContext, FetchResult, Services, SourceOptions, register


class DemoOptions(SourceOptions):
    type: Literal["demo"] = Field(description="A bundled demo intranet whose items are always recent")
    language: Literal["en", "nl"] = Field("en", description="Language of the demo items")
    intranet: AnyHttpUrl = Field(
        AnyHttpUrl("https://intranet.example.org"), description="Base URL the demo items link to"
    )
    timezone: TimeZone = Field(ZoneInfo("Europe/Amsterdam"), description="Time zone the demo's day runs in")


DAY_TURNS_AT = timedelta(hours=10)


@dataclass(frozen=True)
class _Post:
    slug: str
    day: int  # relative to today
    at: time
    title: dict[str, str]
    summary: dict[str, str]
    tags: tuple[str, ...]
    audience: tuple[str, ...] = ()
    pinned: bool = False
    expires_days: int | None = None


_POSTS = (
    _Post(
        "canteen", 0, time(7, 45),
        {"en": "The new canteen opens on Monday", "nl": "Het nieuwe restaurant opent maandag"},
        {"en": "Fresh soup every day, a salad bar and longer opening hours. Come and have a look.",
         "nl": "Elke dag verse soep, een saladebar en langere openingstijden. Kom gerust kijken."},
        ("news",),
    ),
    _Post(
        "results", -1, time(15, 10),
        {"en": "Quarterly figures: we are growing", "nl": "Kwartaalcijfers: we groeien"},
        {"en": "Our director explains what the figures mean for each team.",
         "nl": "Onze directeur legt uit wat de cijfers betekenen voor elk team."},
        ("news",),
    ),
    _Post(
        "cycling", 0, time(9, 15),
        {"en": "Cycling group: a ride along the river on Friday", "nl": "Fietsgroep: vrijdag een rondje langs de rivier"},
        {"en": "Forty kilometres at an easy pace; everyone is welcome.",
         "nl": "Veertig kilometer in een rustig tempo; iedereen is welkom."},
        ("groups",),
    ),
    _Post(
        "roster", 0, time(8, 5),
        {"en": "Care team: the new roster is out", "nl": "Zorgteam: het nieuwe rooster staat klaar"},
        {"en": "Check your shifts for the next four weeks.", "nl": "Bekijk je diensten voor de komende vier weken."},
        ("news",), audience=("zorg",),
    ),
    _Post(
        "drinks", 0, time(10, 0),
        {"en": "Friday drinks next week", "nl": "Vrijdagmiddagborrel volgende week"},
        {"en": "{when}, in the canteen. Colleagues from all sites are invited.",
         "nl": "{when}, in het restaurant. Collega's van alle locaties zijn uitgenodigd."},
        ("events",),
    ),
    _Post(
        "vpn", 0, time(6, 30),
        {"en": "Maintenance tonight: VPN unavailable 22:00-23:00",
         "nl": "Onderhoud vanavond: VPN niet bereikbaar 22:00-23:00"},
        {"en": "Save your work before ten; the service desk is available by phone.",
         "nl": "Sla je werk op voor tienen; de servicedesk is telefonisch bereikbaar."},
        ("announcements",), pinned=True, expires_days=1,
    ),
)


@register("demo", DemoOptions)
class DemoSource:
    def __init__(self, options: DemoOptions, services: Services | None = None):
        self.options = options

    async def fetch(self, context: FetchContext) -> FetchResult:
        tz = self.options.timezone
        # The demo's "today" turns at 10:00, after its last morning post, so that
        # every item is already published whenever the demo runs (even at 03:00).
        today = (context.now.astimezone(tz) - DAY_TURNS_AT).date()
        return FetchResult([self._item(post, today, tz) for post in _POSTS])

    def _item(self, post: _Post, today: date, tz: ZoneInfo) -> Item:
        lang = self.options.language
        day = today + timedelta(days=post.day)
        published = datetime.combine(day, post.at, tz)
        event_at = datetime.combine(_friday_next_week(today), time(16, 0), tz)
        when = format_datetime(event_at, "EEEE d MMMM, HH:mm", locale=lang)
        summary = post.summary[lang].format(when=when[:1].upper() + when[1:])
        base = str(self.options.intranet).rstrip("/")
        expires = None
        if post.expires_days is not None:
            expires = datetime.combine(day + timedelta(days=post.expires_days), time(0, 0), tz) + DAY_TURNS_AT
        return Item(
            source=self.options.name,
            guid=f"demo:{day.isoformat()}:{post.slug}",
            title=post.title[lang],
            link=f"{base}/{post.tags[0]}/{day.isoformat()}-{post.slug}",
            summary=summary,
            published=published,
            updated=published,
            author="Plek",
            tags=post.tags,
            audience=post.audience,
            pinned=post.pinned,
            expires=expires,
        )


def _friday_next_week(today: date) -> date:
    return today + timedelta(days=7 - today.weekday() + 4)
