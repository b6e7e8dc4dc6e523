"""`type: json`: any JSON API that lists items, mapped field by field, with pagination.

    sources:
      - name: staffnews
        type: json
        url: https://intranet.example.org/api/v2/news?status=published
        headers: {Authorization: "Bearer ${STAFFNEWS_TOKEN}"}
        entries: data.items                 # where the list is ("" = the document itself)
        fields:                             # Item field -> where it is within one entry
          guid: id
          title: headline
          link: links.web
          summary: teaser
          content_html: body.html
          published: publishedAt            # ISO 8601, or Unix seconds
          image: media.0.url                # a number picks from a list
          tags: categories.name             # a name on a list: that key of every element
          pinned: sticky
        next: links.next                    # the next page's URL, relative to this page
        max_pages: 5

A path is keys and list positions joined by dots. A path that leads
nowhere in one entry leaves that field empty; a wrong `entries` path, or
a body that is not JSON, is an error that names the path or the line and
column. Dates are ISO 8601 strings or Unix seconds.
"""

from __future__ import annotations

import codecs
import json as jsonlib
import re
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, field_validator

from sources.dates import parse_date
from sources.errors import ParseError
from sources.item import Item
from sources.normalise import make_item
from sources.registry import register
from sources.remote import Page, Parsed, RemoteOptions, RemoteSource
from sources.sanitise import without_surrogates

TEXT_FIELDS = ("title", "link", "guid", "summary", "content_html", "author", "image", "location")
DATE_FIELDS = ("published", "updated", "expires", "start", "end")
FIELDS = (*TEXT_FIELDS, *DATE_FIELDS, "tags", "pinned", "takeover")
_MISSING = object()
_SURROGATE_ESCAPE = re.compile(r"\\ud[89a-f]", re.IGNORECASE)


class JsonOptions(RemoteOptions):
    type: Literal["json"] = Field(description="A JSON API: a list of entries, mapped to items field by field")
    entries: str = Field("", description='Dotted path to the list of entries, e.g. "data.items"; "" = the root')
    fields: dict[str, str] = Field(
        description=f"Item field -> dotted path within one entry; fields: {', '.join(FIELDS)}",
        min_length=1,
    )
    next: str | None = Field(None, description="Dotted path to the next page's URL (relative to this page)")
    max_pages: int = Field(10, ge=1, le=1000, description="Follow `next` for at most this many pages")

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown item field {unknown[0]!r}; use {', '.join(FIELDS)}")
        if not {"title", "summary", "content_html"} & set(fields):
            raise ValueError("map at least one of title, summary, content_html: an item needs some text")
        return fields


def load_json(page: Page) -> Any:
    """The page's body as JSON; UTF-8 (a BOM allowed) unless the server named another charset."""
    charset = page.charset or "utf-8"
    try:
        codec = "utf-8-sig" if codecs.lookup(charset).name == "utf-8" else charset
        text = page.body.decode(codec)
    except LookupError:
        raise ParseError(f"unknown charset {charset!r}") from None
    except UnicodeDecodeError as e:
        raise ParseError(f"cannot decode the body as {charset}: {e}") from None
    if not text.strip():
        raise ParseError("empty body: not JSON")
    try:
        document = jsonlib.loads(text)
        return _without_surrogates(document) if _SURROGATE_ESCAPE.search(text) else document
    except jsonlib.JSONDecodeError as e:
        raise ParseError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise ParseError("JSON nested too deeply") from None


def _without_surrogates(value: Any) -> Any:
    """Every string in a JSON value without lone surrogates, which "\\ud800" escapes can make."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, list):
        return [_without_surrogates(element) for element in value]
    if isinstance(value, dict):
        return {without_surrogates(key): _without_surrogates(element) for key, element in value.items()}
    return value


def lookup(data: Any, path: str, *, spread: bool = True) -> Any:
    """The value at a dotted path, or None.

    With `spread`, a name met on a list applies to each element: "tags.name"
    gives every tag's name. The entries and next paths do not spread: a
    path that passes a list without a position there is a mistake to report.
    """
    value = _lookup(data, path, spread)
    return None if value is _MISSING else value


def _lookup(data: Any, path: str, spread: bool) -> Any:
    keys = path.split(".") if path else []
    for position, key in enumerate(keys):
        if isinstance(data, dict):
            data = data.get(key, _MISSING)
        elif isinstance(data, list) and key.isdigit():
            data = data[int(key)] if int(key) < len(data) else _MISSING
        elif isinstance(data, list) and spread:
            found = (_lookup(element, ".".join(keys[position:]), spread) for element in data)
            return [value for value in found if value is not _MISSING]
        else:
            return _MISSING
        if data is _MISSING:
            return _MISSING
    return data


def parse_json(page: Page, options: JsonOptions) -> Parsed:
    """The items of one page of a JSON API, and the URL of the next page."""
    document = load_json(page)
    entries = _lookup(document, options.entries, spread=False)
    if entries is _MISSING:
        raise ParseError(f"entries path {options.entries!r} is not in the document")
    if not isinstance(entries, list):
        raise ParseError(f"entries path {options.entries!r} is {_kind(entries)}, not a list")
    items = [_item(entry, page, options) for entry in entries if isinstance(entry, dict)]
    return Parsed(items, _next_url(document, page, options))


def _item(entry: dict[str, Any], page: Page, options: JsonOptions) -> Item:
    values = {name: lookup(entry, path) for name, path in options.fields.items()}
    texts = {name: as_text(values.get(name)) for name in TEXT_FIELDS}
    dates = {name: parse_date(values.get(name)) for name in DATE_FIELDS}
    return make_item(
        options, fetched_at=page.fetched_at, base_url=page.url, **texts, **dates,
        tags=as_texts(values.get("tags")), pinned=_truthy(values.get("pinned")),
        takeover=_truthy(values.get("takeover")),
    )


def as_text(value: Any) -> str | None:
    """A string, a number as text, or a list of those joined by ", " (several authors); else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return ", ".join(as_texts(value)) or None
    return None


def as_texts(value: Any) -> list[str]:
    """One string or a list of them (tags); anything else is left out, and so are nested lists."""
    values = value if isinstance(value, list) else [value]
    return [t for t in (as_text(v) for v in values if not isinstance(v, list)) if t]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value is True or (isinstance(value, int | float) and value != 0)


def _next_url(document: Any, page: Page, options: JsonOptions) -> str | None:
    """The next page, when it is another page on the same kind of URL as this one.

    A remote API cannot send us to a file: URL, nor a local file to the network.
    """
    found = as_text(lookup(document, options.next, spread=False)) if options.next else None
    if not found:
        return None
    url = urljoin(page.url, found.strip())
    web = {"http", "https"}
    here, there = urlsplit(page.url).scheme, urlsplit(url).scheme
    if url == page.url or not (there == here or {here, there} <= web):
        return None
    return url


def _kind(value: Any) -> str:
    return {dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


@register("json", JsonOptions)
class JsonSource(RemoteSource):
    options: JsonOptions
    parser = staticmethod(parse_json)

    @property
    def max_pages(self) -> int:
        return self.options.max_pages
