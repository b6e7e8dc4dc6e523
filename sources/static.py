"""`type: static`: items written by the admin in the config itself.

For announcements that live nowhere else, or a banner to the crisis dossier:

    sources:
      - name: announcements
        type: static
        timezone: Europe/Amsterdam        # default; for times written without an offset
        items:
          - title: Crisis dossier
            id: crisis                    # optional; keep it when you edit the title
            text: All updates on <a href="https://intranet.example.org/crisis">the crisis page</a>.
            link: https://intranet.example.org/crisis
            pinned: true                  # a banner over the screens' rotation
            takeover: false               # true: the whole screen, for emergencies
            starts: 2026-11-24 08:00      # not shown before
            expires: 2026-12-01 18:00     # nor after
            audience: [zorg]

An item's identity is its `id`, else its title: editing the text updates the
item where it is shown, while a new title is a new item unless the item has
an `id`. `text` is plain text (blank lines separate paragraphs), or HTML when
it contains a tag; it is sanitised like every feed's HTML. `starts` becomes
the item's publication time; without it the item counts as published when
intracast first saw it.

Every configured item is returned on every fetch, also before it starts and
after it expires: the store, the digest and the screens decide by time what
to show, so an item appears and disappears on the minute, not on the next
fetch. Fetching does no I/O.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sources.fields import TimeZone
from sources.item import Item
from sources.normalise import html_from_text, make_item
from sources.registry import FetchContext, FetchResult, Services, SourceOptions, register

# A text with a tag in it is HTML; any other is plain text, whose line breaks and '<' must survive.
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


class StaticItem(BaseModel):
    """One item as the admin writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(
        None, min_length=1, description="Stable identity; default: the title, so editing the text updates the item"
    )
    title: str = Field(min_length=1, description="Headline of the item")
    text: str = Field("", description="Plain text, or simple HTML when it contains a tag")
    link: AnyHttpUrl | None = Field(None, description="Where the item leads, an http(s) URL")
    image: AnyHttpUrl | None = Field(None, description="Picture for the screens, an http(s) URL")
    pinned: bool = Field(
        False, description="An alert: a banner over the rotation on the screens it targets, and first in digests"
    )
    takeover: bool = Field(False, description="With pinned: take the whole screen instead of a banner")
    starts: datetime | None = Field(None, description="Not shown before this time; its publication time")
    expires: datetime | None = Field(None, description="Not shown from this time on")
    audience: list[str] = Field(default_factory=list, description="Groups this item is for (empty: everyone)")
    tags: list[str] = Field(["announcement"], description="Tags, e.g. for audience_map and playlists")

    @property
    def key(self) -> str:
        """What the item is known by: its id, else its title with whitespace evened out."""
        return self.id or " ".join(self.title.split())


class StaticOptions(SourceOptions):
    type: Literal["static"] = Field(description="Items written in this config: announcements, banners")
    timezone: TimeZone = Field(
        ZoneInfo("Europe/Amsterdam"), description="Time zone of starts and expires written without an offset"
    )
    items: list[StaticItem] = Field(description="The items; each needs a title, and an id or title of its own")

    @field_validator("items")
    @classmethod
    def _check_items(cls, items: list[StaticItem], info: ValidationInfo) -> list[StaticItem]:
        zone = info.data.get("timezone")
        if zone is None:  # the time zone is wrong itself, and its own error says so
            return items
        items = [_localised(item, zone) for item in items]
        problems = [*_order_problems(items), *_duplicate_problems(items)]
        if problems:
            # pydantic-core merges a ValidationError raised in a validator into
            # the outer one, each problem at its own place (items.2.expires),
            # so `intracast check` points at the line; a ValueError would point at `items`.
            raise ValidationError.from_exception_data("StaticOptions", problems)
        return items


def _localised(item: StaticItem, zone: ZoneInfo) -> StaticItem:
    """The item with `starts` and `expires` aware: naive ones are read in `zone`."""
    def aware(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=zone) if value is not None and value.tzinfo is None else value

    return item.model_copy(update={"starts": aware(item.starts), "expires": aware(item.expires)})


def _order_problems(items: list[StaticItem]) -> list[InitErrorDetails]:
    return [
        _problem((index, "expires"), item.expires, "expires_before_starts",
                 "expires ({expires}) must be after starts ({starts})",
                 expires=item.expires.isoformat(), starts=item.starts.isoformat())
        for index, item in enumerate(items)
        if item.starts is not None and item.expires is not None and item.expires <= item.starts
    ]


def _duplicate_problems(items: list[StaticItem]) -> list[InitErrorDetails]:
    first: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        seen = first.setdefault(item.key, index)
        if seen != index:
            problems.append(_problem((index, "id" if item.id else "title"), item.key, "duplicate_item",
                                     "'{key}' is already items[{first}] of this source; give one of them its own id",
                                     key=item.key, first=seen))
    return problems


def _problem(loc: tuple[int | str, ...], value: object, kind: str, template: str,
             **context: object) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, template, context), loc=loc, input=value)


@register("static", StaticOptions)
class StaticSource:
    def __init__(self, options: StaticOptions, services: Services):  # needs none of the services
        self.options = options

    async def fetch(self, context: FetchContext) -> FetchResult:
        return FetchResult([self._item(entry, context.now) for entry in self.options.items])

    def _item(self, entry: StaticItem, now: datetime) -> Item:
        return make_item(
            self.options,
            fetched_at=now,
            base_url=None,
            guid=entry.key,
            link=str(entry.link) if entry.link else None,
            title=escape(entry.title),
            content_html=entry.text if _TAG.search(entry.text) else html_from_text(entry.text),
            published=entry.starts,
            image=str(entry.image) if entry.image else None,
            tags=entry.tags,
            audience=entry.audience,
            pinned=entry.pinned,
            takeover=entry.takeover,
            expires=entry.expires,
        )
