"""`type: rss`: an RSS (0.9x, 1.0, 2.0) or Atom (0.3, 1.0) feed, such as WordPress, Drupal,
SharePoint, Confluence, HumHub, Discourse, Mastodon, GitHub or YouTube publish.

    sources:
      - {name: news, type: rss, url: https://intranet.example.org/feed/}
      - {name: it, type: rss, url: https://wiki.example.org/createrssfeed.action?spaceKey=IT,
         username: intracast, password: "${WIKI_PASSWORD}", audience_map: {Zorg: [zorg]}}

Each entry becomes an item: its categories are its tags, its picture is
the first of an image enclosure, an image media:content, a
media:thumbnail, or the first image in its text. The feed's character set
comes from the HTTP Content-Type when the server sends one (RFC 3023, as
feedparser applies it), else from the XML declaration, else UTF-8.

A slightly broken feed is used as it is (feedparser's `bozo` flag is set
for many real feeds that read fine, e.g. a wrong declared charset or a
text/html media type, so it is no reason to complain). A body that holds
no feed at all (an HTML login page, XML cut off before its first entry,
text that will not decode) is an error that says which of these it is.
"""

from __future__ import annotations

import io
import re
import time
import xml.sax
from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any, Literal

from pydantic import Field

from sources.errors import ParseError
from sources.item import Item
from sources.normalise import absolute_url, html_from_text, is_icon, make_item
from sources.registry import register
from sources.remote import Page, Parsed, RemoteOptions, RemoteSource

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CLOSED = re.compile(rb"</(?:[\w.-]+:)?(?:rss|RDF|feed)\s*>\s*\Z")
_PROLOG_ENCODING = re.compile(rb"""(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']""")


class RssOptions(RemoteOptions):
    type: Literal["rss"] = Field(description="An RSS 0.9x/1.0/2.0 or Atom 0.3/1.0 feed")


def parse_rss(page: Page, options: RssOptions) -> Parsed:
    """The items of one RSS or Atom document; ParseError when it holds no feed."""
    # Imported here: parsers run in the worker processes, so the daemon itself never loads feedparser.
    import feedparser

    if not page.body.strip():
        raise ParseError("empty body: not an RSS or Atom feed")
    parsed = feedparser.parse(
        # A file object, not bytes: feedparser treats bytes as a file name to open, and a parser does no I/O.
        io.BytesIO(page.body),
        response_headers=_headers(page),
        # Defence in depth: feedparser's sanitiser runs first, `sources.sanitise` has the last word (as in
        # reader). Ours must: feedparser's keeps e.g. <svg><a xlink:href="javascript:..."> and data:text/html.
        sanitize_html=True,
        # `sources.sanitise` makes URLs absolute, after decoding entities; feedparser's resolver runs on the
        # raw markup and would turn href="&#106;avascript:..." into a path under the feed's URL.
        resolve_relative_uris=False,
    )
    broken = isinstance(parsed.get("bozo_exception"), xml.sax.SAXException)
    entries = [entry for entry in parsed.entries if _has_substance(entry)]
    if broken and not _CLOSED.search(page.body[-256:]):
        # Cut off (a dropped connection, a script that died): the last entry may be half of one, whose
        # title-and-date guid would outlive the whole entry as an item of its own.
        entries = entries[:-1]
    if not entries:
        _raise_unless_feed(page, parsed)
    feed_author = _author(parsed.feed)
    atom = parsed.get("version", "").startswith("atom")
    return Parsed([_item(entry, page, options, feed_author, atom) for entry in entries])


def _headers(page: Page) -> dict[str, str]:
    """What feedparser needs of the response: the charset and the base for relative links.

    Without a Content-Type feedparser falls back to ISO-8859-1 for
    undeclared documents; XML's default, and ours, is UTF-8.
    """
    content_type = page.content_type or "application/xml"
    if page.charset:
        content_type += f"; charset={page.charset}"
    return {"content-type": content_type, "content-location": page.url}


def _has_substance(entry: Any) -> bool:
    """False for what is left of an entry cut off by truncated XML."""
    return any(entry.get(key) for key in ("id", "link", "title", "summary", "content"))


def _raise_unless_feed(page: Page, parsed: Any) -> None:
    """No entries: fine for a feed that is empty today, an error for anything else."""
    problem = parsed.get("bozo_exception")
    broken = isinstance(problem, xml.sax.SAXException)
    if parsed.get("version") and not broken:
        return
    if not parsed.get("version") and (_looks_like(page, b"<!doctype html", b"<html")
                                      or page.content_type == "text/html"):
        raise ParseError("not an RSS or Atom feed (got an HTML page)")
    if _looks_like(page, b"{", b"["):
        raise ParseError("not an RSS or Atom feed (got JSON: use type jsonfeed or json)")
    _raise_if_undecodable(page)
    if broken:
        prefix = "" if parsed.get("version") else "not an RSS or Atom feed: "
        raise ParseError(f"{prefix}broken XML: {problem}")
    raise ParseError("not an RSS or Atom feed (no <rss>, <rdf:RDF> or <feed> element)")


def _raise_if_undecodable(page: Page) -> None:
    """Text that is not in its declared charset (or UTF-8): say so, rather than what feedparser's guess left."""
    declared = _PROLOG_ENCODING.match(page.body)
    charset = page.charset or (declared.group(1).decode() if declared else "utf-8")
    try:
        page.body.decode(charset)
    except LookupError:
        raise ParseError(f"not an RSS or Atom feed: unknown charset {charset!r}") from None
    except UnicodeDecodeError as e:
        raise ParseError(f"not an RSS or Atom feed: the text is not valid {charset}: "
                         f"{e.reason} at byte {e.start}") from None


def _looks_like(page: Page, *starts: bytes) -> bool:
    head = page.body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(starts)


def _item(entry: Any, page: Page, options: RssOptions, feed_author: str | None, atom: bool) -> Item:
    base_url = _base(entry) or page.url
    # An Atom title says its type; an RSS title is HTML in practice, whatever feedparser guesses.
    title = _html(entry.get("title_detail")) if atom else entry.get("title")
    return make_item(
        options,
        fetched_at=page.fetched_at,
        base_url=base_url,
        guid=entry.get("id"),
        link=entry.get("link"),
        title=title,
        summary=_html(entry.get("summary_detail")),
        content_html=_content(entry),
        published=_date(entry, "published_parsed") or _date(entry, "created_parsed"),
        updated=_date(entry, "updated_parsed"),
        author=_author(entry) or feed_author,
        image=next((url for url in _images(entry) if absolute_url(url, base_url)), None),
        tags=[tag.get("term") or tag.get("label") or "" for tag in entry.get("tags", ())],
    )


def _html(detail: Any) -> str | None:
    """A feedparser text construct as HTML: plain text is escaped, so "<br>" in a title stays text."""
    if not detail or not detail.get("value"):
        return None
    if detail.get("type") == "text/plain":
        return escape(detail["value"])
    return detail["value"]


def _content(entry: Any) -> str | None:
    """The full text as HTML: HTML content (content:encoded, Atom content), else an HTML summary, else text.

    Plain-text content comes last because feedparser files media:description
    there too: in Mastodon's feeds that is an image's alt text, not the post.
    """
    details = [*entry.get("content", ()), entry.get("summary_detail")]
    details = [detail for detail in details if detail and detail.get("value")]
    for detail in details:
        if detail.get("type") in _HTML_TYPES:
            return detail["value"]
    return html_from_text(details[0]["value"]) if details else None


def _base(entry: Any) -> str | None:
    """The xml:base in effect for the entry's text, as feedparser resolved it."""
    for detail in (*entry.get("content", ()), entry.get("summary_detail"), entry.get("title_detail")):
        if detail and detail.get("base"):
            return detail["base"]
    return None


def _date(entry: Any, key: str) -> datetime | None:
    """feedparser's parsed date (a UTC struct_time) as an aware datetime.

    `key in entry` rather than `entry.get(key)`: for "updated_parsed"
    feedparser's get() falls back to the published date with a
    DeprecationWarning (feedparser issue 310).
    """
    if key not in entry or entry[key] is None:
        return None
    value: time.struct_time = entry[key]
    return datetime(*value[:6], tzinfo=UTC)


def _author(thing: Any) -> str | None:
    """The author's name; "jane@example.org (Jane Doe)" gives "Jane Doe"."""
    detail = thing.get("author_detail") or {}
    return detail.get("name") or thing.get("author") or None


def _images(entry: Any) -> Iterator[str]:
    """Enclosures, then media:content, then media:thumbnail; the first image in the text is make_item's.

    A media image declared icon-sized is passed over: GitHub's thumbnail is the author's 30px avatar.
    """
    for enclosure in entry.get("enclosures", ()):
        if enclosure.get("type", "").startswith("image/") and enclosure.get("href"):
            yield enclosure["href"]
    pictures = [media for media in entry.get("media_content", ())
                if media.get("medium") == "image" or media.get("type", "").startswith("image/")]
    for media in [*pictures, *entry.get("media_thumbnail", ())]:
        if media.get("url") and not is_icon(media.get("width"), media.get("height")):
            yield media["url"]


@register("rss", RssOptions)
class RssSource(RemoteSource):
    parser = staticmethod(parse_rss)
