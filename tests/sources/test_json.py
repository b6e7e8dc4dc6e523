"""The JSON API adapter: paths, field mapping, errors that name the path, and pagination over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from pydantic import ValidationError

from sources.errors import ParseError
from sources.http import Http
from sources.json import JsonOptions, JsonSource, lookup, parse_json
from sources.registry import FetchContext, Services, adapter
from sources.remote import Page, Parsed

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
URL = "https://intranet.example.org/api/news?page=1"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FIELDS = {"guid": "id", "title": "title", "link": "url", "published": "date"}


def options(**overrides: Any) -> JsonOptions:
    return JsonOptions.model_validate({"name": "api", "type": "json", "url": URL, "fields": FIELDS, **overrides})


def parse(document: Any, url: str = URL, **overrides: Any) -> Parsed:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return parse_json(Page(url, body, "application/json", None, NOW), options(**overrides))


# paths

DOC = {"data": {"items": [{"id": 1, "tags": [{"name": "a"}, {"name": "b"}, {"label": "c"}]}, {"id": 2}]},
       "matrix": [[1, 2], [3, 4]], "flag": False}


@pytest.mark.parametrize(("path", "value"), [
    ("", DOC),
    ("data.items.0.id", 1),
    ("data.items.1.id", 2),
    ("data.items.2.id", None),
    ("data.items.id", [1, 2]),
    ("data.items.0.tags.name", ["a", "b"]),
    ("matrix.1.0", 3),
    ("flag", False),
    ("data.missing", None),
    ("data.items.0.id.deeper", None),
    ("data.items.-1", []),
])
def test_lookup(path: str, value: Any) -> None:
    assert lookup(DOC, path) == value


def test_lookup_without_spreading_needs_positions_in_lists() -> None:
    assert lookup(DOC, "data.items.id", spread=False) is None
    assert lookup(DOC, "data.items.1.id", spread=False) == 2


# entries and fields

def test_entries_at_the_root_or_under_a_path() -> None:
    entry = {"id": "a", "title": "A", "url": "/a", "date": "2026-11-20T10:00:00+01:00"}
    assert parse([entry]).items == parse({"data": {"list": [entry]}}, entries="data.list").items
    assert parse({"pages": [{"items": [entry]}]}, entries="pages.0.items").items[0].guid == "a"


@pytest.mark.parametrize(("document", "entries", "message"), [
    ({"data": {}}, "data.items", r"^entries path 'data\.items' is not in the document$"),
    ({"items": []}, "data.items", r"^entries path 'data\.items' is not in the document$"),
    ({"data": {"items": {"id": 1}}}, "data.items", r"^entries path 'data\.items' is an object, not a list$"),
    ({"data": {"items": None}}, "data.items", r"^entries path 'data\.items' is null, not a list$"),
    ({"data": {"items": "3 items"}}, "data.items", r"^entries path 'data\.items' is a string, not a list$"),
    ({"data": []}, "", r"^entries path '' is an object, not a list$"),
    ([{"data": {"items": []}}], "data.items", r"^entries path 'data\.items' is not in the document$"),
])
def test_a_wrong_entries_path_is_named(document: Any, entries: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(document, entries=entries)


def test_invalid_json_says_line_and_column() -> None:
    with pytest.raises(ParseError, match=r"^invalid JSON at line 2, column 13: Expecting property name enclosed"):
        parse(b'{"items":\n  [{"id": 1,]}')


@pytest.mark.parametrize(("body", "message"), [
    (b"", r"^empty body: not JSON$"),
    (b'\xff\xfe{"a": 1}', r"^cannot decode the body as utf-8: "),
    (b"<!DOCTYPE html><html>login</html>", r"^invalid JSON at line 1, column 1: Expecting value$"),
])
def test_what_is_not_json(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(body)


def test_lone_surrogates_become_replacement_characters() -> None:
    (item,) = parse(b'[{"id": "a\\ud800", "title": "\\udc00 caf\\u00e9 \\ud83d\\ude00", "tags": ["\\uDBFF"]}]',
                    fields={**FIELDS, "tags": "tags"}).items
    assert (item.guid, item.title, item.tags) == ("a\ufffd", "\ufffd café 😀", ("\ufffd",))
    assert item.as_json() and str(item.as_json()).encode()


def test_json_nested_too_deeply() -> None:
    with pytest.raises(ParseError, match=r"^JSON nested too deeply$"):
        parse(b"[" * 100_000 + b"]" * 100_000)


def test_a_bom_and_a_declared_charset_are_fine() -> None:
    body = json.dumps([{"id": 1, "title": "Café"}], ensure_ascii=False)
    page = Page(URL, body.encode("utf-8-sig"), "application/json", "utf-8", NOW)
    assert parse_json(page, options()).items[0].title == "Café"
    page = Page(URL, body.encode("latin-1"), "application/json", "ISO-8859-1", NOW)
    assert parse_json(page, options()).items[0].title == "Café"


def test_missing_paths_leave_fields_empty() -> None:
    (item,) = parse([{"id": 7, "title": "Only a title"}]).items
    assert (item.guid, item.title, item.link, item.published, item.undated) == ("7", "Only a title", URL, None, True)


def test_every_field_can_be_mapped() -> None:
    entry = {
        "id": "e1", "name": "<b>Title</b>", "href": "/e1", "teaser": "Short", "html": "<p>Long</p>",
        "at": 1795444200, "changed": "1795444260", "by": {"name": "An"}, "img": "/e1.jpg",
        "labels": ["x", "y"], "sticky": "yes", "alarm": True, "until": "2026-12-01T00:00:00Z",
        "from": "2026-12-05T16:00:00+01:00", "to": "2026-12-05T18:00:00+01:00", "where": "Canteen",
    }
    fields = {"guid": "id", "title": "name", "link": "href", "summary": "teaser", "content_html": "html",
              "published": "at", "updated": "changed", "author": "by.name", "image": "img", "tags": "labels",
              "pinned": "sticky", "takeover": "alarm", "expires": "until", "start": "from", "end": "to", "location": "where"}
    (item,) = parse([entry], fields=fields).items
    assert item.as_json() == {
        "source": "api", "guid": "e1", "title": "Title", "link": "https://intranet.example.org/e1",
        "summary": "Short", "content_html": "<p>Long</p>",
        "published": "2026-11-23T14:30:00+00:00", "updated": "2026-11-23T14:31:00+00:00",
        "author": "An", "image": "https://intranet.example.org/e1.jpg", "tags": ["x", "y"], "audience": [],
        "pinned": True, "takeover": True, "expires": "2026-12-01T00:00:00+00:00",
        "start": "2026-12-05T16:00:00+01:00", "end": "2026-12-05T18:00:00+01:00", "location": "Canteen",
        "undated": False,
    }


@pytest.mark.parametrize(("value", "pinned"), [
    (True, True), (1, True), ("true", True), ("Yes", True), ("1", True),
    (False, False), (0, False), ("false", False), ("no", False), ("", False), (None, False), ([1], False),
])
def test_pinned(value: Any, pinned: bool) -> None:
    assert parse([{"title": "T", "p": value}], fields={"title": "title", "pinned": "p"}).items[0].pinned is pinned


def test_only_a_pinned_item_takes_over() -> None:
    fields = {"title": "title", "pinned": "p", "takeover": "t"}
    items = parse([{"title": "A", "p": True, "t": True}, {"title": "B", "t": True}], fields=fields).items
    assert [(i.pinned, i.takeover) for i in items] == [(True, True), (False, False)]


def test_entries_that_are_not_objects_are_skipped() -> None:
    assert [i.title for i in parse([{"title": "A"}, "B", 3, None, ["C"]]).items] == ["A"]


# config

def test_unknown_fields_are_refused_at_load_time() -> None:
    with pytest.raises(ValidationError, match=r"unknown item field 'headline'; use title, link, guid"):
        options(fields={"headline": "title"})


def test_some_text_must_be_mapped() -> None:
    with pytest.raises(ValidationError, match=r"map at least one of title, summary, content_html"):
        options(fields={"guid": "id", "link": "url"})


def test_options_are_described_for_the_schema() -> None:
    schema = JsonOptions.model_json_schema()
    assert schema["properties"]["type"]["const"] == "json"
    assert all("description" in field for field in schema["properties"].values())


def test_max_pages_comes_from_the_options() -> None:
    source = JsonSource(options(max_pages=3), Services(http=None))  # type: ignore[arg-type]
    assert source.max_pages == 3


# next page

@pytest.mark.parametrize(("url", "next_url", "expected"), [
    (URL, "?page=2", "https://intranet.example.org/api/news?page=2"),
    (URL, "/api/news?page=2", "https://intranet.example.org/api/news?page=2"),
    (URL, "https://api2.example.org/news?page=2", "https://api2.example.org/news?page=2"),
    ("http://intranet.example.org/api", "https://intranet.example.org/api?page=2",
     "https://intranet.example.org/api?page=2"),
    (URL, URL, None),
    (URL, "", None),
    (URL, None, None),
    (URL, 2, "https://intranet.example.org/api/2"),
    (URL, "file:///etc/passwd", None),
    (URL, "javascript:alert(1)", None),
    ("file:///srv/api/page1.json", "page2.json", "file:///srv/api/page2.json"),
    ("file:///srv/api/page1.json", "https://intranet.example.org/api", None),
])
def test_next_page(url: str, next_url: Any, expected: str | None) -> None:
    assert parse({"items": [], "next": next_url}, url=url, entries="items", next="next").next_url == expected


def test_no_next_without_the_option() -> None:
    assert parse({"items": [], "next": "?page=2"}, entries="items").next_url is None


# over HTTP: RemoteSource follows `next` through the corpus pages

@pytest.fixture
async def api(aiohttp_server) -> str:
    async def news(request: web.Request) -> web.Response:
        page = FEEDS / f"json-api-page{request.query.get('page', '1')}.json"
        if not page.exists():
            raise web.HTTPNotFound()
        return web.Response(body=page.read_bytes(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v2/news", news)
    server = await aiohttp_server(app)
    return str(server.make_url("/api/v2/news?page=1"))


async def fetch(url: str, **overrides: Any) -> list[str]:
    spec = json.loads((FEEDS / "json-api-page1.expected.json").read_text(encoding="utf-8"))
    model, factory = adapter("json")
    async with ClientSession() as session:
        source = factory(model.model_validate({**spec["options"], "url": url, **overrides}),
                         Services(Http(session, Path("."))))
        result = await source.fetch(FetchContext(now=NOW))
    return [item.guid for item in result.items]


async def test_pages_are_followed_until_there_is_no_next(api: str) -> None:
    assert await fetch(api) == ["9001", "9000", "8997", "8990"]


async def test_pages_stop_at_max_pages(api: str) -> None:
    assert await fetch(api, max_pages=1) == ["9001", "9000", "8997"]

