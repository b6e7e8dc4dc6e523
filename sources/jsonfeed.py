"""`type: jsonfeed`: a JSON Feed, version 1.0 or 1.1 (https://www.jsonfeed.org/version/1.1/).

    sources:
      - {name: blog, type: jsonfeed, url: https://blog.example.org/feed.json}

An item's link is its `url`, else its `external_url`; its picture is its
`image`, else its `banner_image`; its text is `content_html`, else
`content_text`. Authors come from the item's `authors` (1.1) or `author`
(1.0), else from the feed's. Only the first page is read: `next_url`
leads into the archive, which a digest does not need.
"""

from __future__ import annotations

import re
from html import escape, unescape
from typing import Any, Literal

from pydantic import Field

from sources.dates import parse_date
from sources.errors import ParseError
from sources.item import Item
from sources.json import as_text, as_texts, load_json
from sources.normalise import html_from_text, make_item
from sources.registry import register
from sources.remote import Page, Parsed, RemoteOptions, RemoteSource

_VERSION = re.compile(r"https?://jsonfeed\.org/version/1(\.\d+)?/?")


class JsonFeedOptions(RemoteOptions):
    type: Literal["jsonfeed"] = Field(description="A JSON Feed, version 1.0 or 1.1")


def parse_jsonfeed(page: Page, options: JsonFeedOptions) -> Parsed:
    """The items of one JSON Feed document; ParseError when it is not a JSON Feed."""
    feed = load_json(page)
    if not isinstance(feed, dict) or not _VERSION.fullmatch(str(feed.get("version", ""))):
        raise ParseError("not a JSON Feed: no \"version\": \"https://jsonfeed.org/version/1.1\" at the top")
    entries = feed.get("items")
    if not isinstance(entries, list):
        raise ParseError("not a JSON Feed: \"items\" is missing or not a list")
    feed_author = _authors(feed)
    return Parsed([_item(entry, page, options, feed_author) for entry in entries if isinstance(entry, dict)])


def _item(entry: dict[str, Any], page: Page, options: JsonFeedOptions, feed_author: str | None) -> Item:
    return make_item(
        options,
        fetched_at=page.fetched_at,
        base_url=page.url,
        guid=as_text(entry.get("id")),
        link=as_text(entry.get("url")) or as_text(entry.get("external_url")),
        title=_plain(entry.get("title")),
        summary=_plain(entry.get("summary")),
        content_html=as_text(entry.get("content_html")) or html_from_text(as_text(entry.get("content_text"))),
        published=parse_date(entry.get("date_published")),
        updated=parse_date(entry.get("date_modified")),
        author=_authors(entry) or feed_author,
        image=as_text(entry.get("image")) or as_text(entry.get("banner_image")),
        tags=as_texts(entry.get("tags")),
    )


def _plain(value: Any) -> str | None:
    """JSON Feed's plain text for make_item, which reads HTML: a "<" stays a character.

    Entities are decoded first: WordPress's JSON Feed plugin writes them
    into titles ("collega&#8217;s").
    """
    found = as_text(value)
    return escape(unescape(found)) if found else None


def _authors(thing: dict[str, Any]) -> str | None:
    """The names of `authors` (1.1), else of `author` (1.0), joined by ", "."""
    authors = thing.get("authors")
    if not isinstance(authors, list):
        authors = [thing.get("author")]
    names = [as_text(author.get("name")) for author in authors if isinstance(author, dict)]
    return ", ".join(name for name in names if name) or None


@register("jsonfeed", JsonFeedOptions)
class JsonFeedSource(RemoteSource):
    parser = staticmethod(parse_jsonfeed)
