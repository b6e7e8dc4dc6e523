"""Raw fields of a feed entry -> a clean `Item`: the one place every adapter goes through.

`make_item` applies the same rules to every source, so an RSS item, a JSON
API record and a calendar event look alike to the digest and the screens:

- guid: the entry's own id, else its absolute link, else a sha256 of title
  and date (stable across runs and processes, unlike `hash()`).
- links and images: absolute against the base URL, http(s) only; a link that
  is unsafe or missing falls back to the base URL when that is http(s).
- dates: timezone-aware; `updated` defaults to `published` and the other way
  round. An entry without any date gets `published=None, undated=True` and
  the store records when it first saw it: putting the fetch time in
  `published` would change the content hash on every fetch.
- summary: plain text, cut at a word boundary at the source's
  `summary_length`, taken from the content when the entry has none.
- title: plain text; an untitled post (Mastodon) takes its summary's start.
- content_html: sanitised by `sources.sanitise`, the single HTML policy;
  text without any tag keeps its paragraphs and line breaks.
- image: the adapter's picture, else the first picture in the content;
  an image declared under ICON_SIZE pixels is an emoji, avatar or tracking
  pixel, not a picture.
- tags: trimmed, empty and duplicate (case-insensitively) ones dropped, in order.
- audience: the entry's, the source's `audience`, and `audience_map` of its tags.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape, unescape

import nh3

from sources.dates import aware
from sources.item import Item
from sources.registry import SourceOptions
from sources.sanitise import HIDDEN_TAGS, absolute_url, sanitise_html, without_surrogates

__all__ = ["absolute_url", "cut_summary", "html_from_text", "is_icon", "make_item", "plain_text", "stable_guid"]

ELLIPSIS = "…"
# An untitled post is headed by the start of its text: about one line of a slide or a mail subject.
TITLE_FROM_SUMMARY = 80

# Tags that separate words: kept through the text pass, then each becomes a space ("a</p><p>b" -> "a b").
_BREAKING_TAGS = {
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "img", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
}
_TAG = re.compile(r"<[^>]*>")
_ANY_TAG = re.compile(r"<[a-zA-Z/!?]")
# nh3 writes every attribute as name="value", so these read its output exactly.
_IMG = re.compile(r'<img((?:\s[\w-]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'\s([\w-]+)="([^"]*)"')
# Pixels: an image declared smaller is an emoji, avatar, icon or tracking pixel, not a picture for a slide.
ICON_SIZE = 64


def make_item(
    options: SourceOptions, *, fetched_at: datetime, base_url: str | None,
    guid: str | None, link: str | None, title: str | None,
    summary: str | None = None, content_html: str | None = None,
    published: datetime | None = None, updated: datetime | None = None,
    author: str | None = None, image: str | None = None, tags: Iterable[str] = (),
    audience: Iterable[str] = (), pinned: bool = False, takeover: bool = False, expires: datetime | None = None,
    start: datetime | None = None, end: datetime | None = None, location: str | None = None,
) -> Item:
    """One clean `Item` from an entry's raw fields (the rules are in the module docstring).

    `summary` and `title` may be HTML or plain text (plain text must not
    contain markup: escape it, or use `html_from_text`); `content_html` is
    untrusted HTML. `fetched_at` is part of the adapters' contract, but no
    field derives from it, so an unchanged entry gives an equal Item, and the
    same content hash, on every fetch.
    """
    content = sanitise_html(_paragraphs(content_html) if _is_bare_text(content_html) else content_html, base_url)
    summary_text = cut_summary(plain_text(summary) or plain_text(content), options.summary_length)
    title_text = plain_text(title) or cut_summary(summary_text, TITLE_FROM_SUMMARY)
    published, updated = aware(published or updated), aware(updated or published)
    entry_link = absolute_url(link, base_url)
    clean_tags = _unique(" ".join(tag.split()) for tag in tags if tag)
    return Item(
        source=options.name,
        guid=stable_guid(guid, entry_link, title_text, published),
        title=title_text,
        link=entry_link or absolute_url(base_url, None) or "",
        summary=summary_text,
        content_html=content,
        published=published,
        updated=updated,
        author=plain_text(author) or None,
        image=absolute_url(image, base_url) or _first_image(content),
        tags=clean_tags,
        audience=_audience(options, audience, clean_tags),
        pinned=pinned,
        takeover=pinned and takeover,
        expires=aware(expires),
        start=aware(start),
        end=aware(end),
        location=plain_text(location) or None,
        undated=published is None,
    )


def plain_text(html: str | None) -> str:
    """HTML (or plain text) -> one line of text: tags gone, entities decoded, whitespace collapsed.

    nh3 parses the HTML as a browser would, drops scripts, styles and the
    like with their content, and re-escapes all text; so every '<' left in
    its output opens a tag, and unescaping comes last, exactly once.
    """
    if not html:
        return ""
    kept = nh3.clean(without_surrogates(html), tags=_BREAKING_TAGS, clean_content_tags=set(HIDDEN_TAGS), attributes={},
                     link_rel=None, strip_comments=True)
    return " ".join(unescape(_TAG.sub(" ", kept)).split())


def cut_summary(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut at the last word boundary with "…" added.

    A text without a space in reach (a long URL, Chinese) is cut at `limit`.
    The result has at most `limit` + 1 characters.
    """
    if len(text) <= limit:
        return text
    boundary = max(i for i, char in enumerate(text[:limit + 1]) if i == 0 or char.isspace())
    head = text[:boundary].rstrip()
    return (head or text[:limit]) + ELLIPSIS


def stable_guid(guid: str | None, link: str | None, title: str, published: datetime | None) -> str:
    """The entry's id, else its absolute link, else "sha256:" + a digest of title and date.

    The date is taken in UTC, so a feed that changes its offset keeps its guids.
    """
    if guid and guid.strip():
        return guid.strip()
    if link:
        return link
    when = published.astimezone(UTC).isoformat() if published else ""
    return "sha256:" + hashlib.sha256(f"{title}\n{when}".encode()).hexdigest()


def html_from_text(text: str | None) -> str:
    """Plain text -> HTML paragraphs: blank lines separate them, single line breaks stay."""
    return _paragraphs(escape(text)) if text else ""


def is_icon(width: object, height: object) -> bool:
    """Whether an image's declared width or height (a number, "30" or "30px") is under ICON_SIZE."""
    for size in (width, height):
        try:
            if int(str(size).strip().removesuffix("px")) < ICON_SIZE:
                return True
        except ValueError:
            continue
    return False


def _is_bare_text(html: str | None) -> bool:
    """HTML without a single tag: text whose line breaks the feed meant (YouTube, many RSS descriptions)."""
    return bool(html) and "\n" in html.strip() and not _ANY_TAG.search(html)


def _paragraphs(markup: str | None) -> str:
    if not markup or not markup.strip():
        return ""
    paragraphs = re.split(r"\n\s*\n", markup.strip())
    return "".join("<p>" + p.strip().replace("\n", "<br>") + "</p>" for p in paragraphs)


def _first_image(content_html: str) -> str | None:
    """The first http(s) picture of sanitised content: not an inline data: image, not an icon."""
    for match in _IMG.finditer(content_html):
        attributes = {name: unescape(value) for name, value in _ATTRIBUTE.findall(match.group(1))}
        url = absolute_url(attributes.get("src"), None)
        if url and not is_icon(attributes.get("width"), attributes.get("height")):
            return url
    return None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Non-empty values, first spelling kept when the same value comes again in another case."""
    seen: dict[str, str] = {}
    for value in values:
        if value and value.casefold() not in seen:
            seen[value.casefold()] = value
    return tuple(seen.values())


def _audience(options: SourceOptions, explicit: Iterable[str], tags: Iterable[str]) -> tuple[str, ...]:
    mapped = {category.casefold(): groups for category, groups in options.audience_map.items()}
    groups = {*explicit, *options.audience}
    for tag in tags:
        groups.update(mapped.get(tag.casefold(), ()))
    return tuple(sorted(group for group in groups if group))
