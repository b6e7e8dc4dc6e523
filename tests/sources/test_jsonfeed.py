"""JSON Feed 1.0 and 1.1 beyond the corpus: what is not a JSON Feed, and the fields' fallbacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sources.errors import ParseError
from sources.jsonfeed import JsonFeedOptions, parse_jsonfeed
from sources.remote import Page, Parsed

URL = "https://blog.example.org/feed.json"
OPTIONS = JsonFeedOptions(name="blog", type="jsonfeed", url=URL)
V11 = "https://jsonfeed.org/version/1.1"


def parse(body: Any, charset: str | None = None) -> Parsed:
    """`body`: bytes as they are, a str as JSON text, anything else dumped as JSON."""
    data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return parse_jsonfeed(Page(URL, data, "application/feed+json", charset, datetime(2026, 11, 24, tzinfo=UTC)),
                          OPTIONS)


def feed(*items: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": V11, "title": "Blog", **top, "items": list(items)}


@pytest.mark.parametrize("body", [
    {"title": "Blog", "items": []},
    {"version": "https://example.org/my-feed/1", "items": []},
    {"version": 1.1, "items": []},
    [{"id": "1"}],
    "null",
    '"https://jsonfeed.org/version/1.1"',
    {"rss": {"channel": {"item": []}}},
])
def test_json_that_is_not_a_json_feed(body: Any) -> None:
    with pytest.raises(ParseError, match=r'^not a JSON Feed: no "version": "https://jsonfeed.org/version/1.1"'):
        parse(body)


def test_items_must_be_a_list() -> None:
    with pytest.raises(ParseError, match=r'^not a JSON Feed: "items" is missing or not a list$'):
        parse({"version": V11, "items": {"id": "1"}})


def test_invalid_json_says_where() -> None:
    with pytest.raises(ParseError, match=r"^invalid JSON at line 3, column 1: Expecting ',' delimiter$"):
        parse('{"version": "https://jsonfeed.org/version/1.1",\n "items": []\n"title": "x"}')


def test_an_rss_document_is_not_json() -> None:
    with pytest.raises(ParseError, match=r"^invalid JSON at line 1, column 1: Expecting value$"):
        parse('<?xml version="1.0"?><rss version="2.0"></rss>')


def test_an_empty_body() -> None:
    with pytest.raises(ParseError, match=r"^empty body: not JSON$"):
        parse(b"")


def test_both_versions_and_the_early_http_spelling_are_accepted() -> None:
    for version in ("https://jsonfeed.org/version/1", V11, "http://jsonfeed.org/version/1"):
        assert parse({"version": version, "items": [{"id": "1", "title": "T"}]}).items[0].guid == "1"


def test_authors_item_then_feed_then_1_0_author() -> None:
    items = parse(feed(
        {"id": "1", "title": "T", "authors": [{"name": "An"}, {"url": "https://x.example/"}, {"name": "Bo"}]},
        {"id": "2", "title": "T", "author": {"name": "Old style"}},
        {"id": "3", "title": "T"},
        {"id": "4", "title": "T", "authors": "not a list", "author": "not an object"},
        authors=[{"name": "Feed author"}],
    )).items
    assert [i.author for i in items] == ["An, Bo", "Old style", "Feed author", "Feed author"]


def test_content_text_becomes_escaped_paragraphs() -> None:
    (item,) = parse(feed({"id": "1", "content_text": "a < b\nc\n\n<script>x</script>"})).items
    assert item.content_html == "<p>a &lt; b<br>c</p><p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert item.title == "a < b c <script>x</script>"  # plain text, as the feed meant it


def test_title_and_summary_are_text_with_entities_decoded() -> None:
    (item,) = parse(feed({"id": "1", "title": "Collega&#8217;s &amp; <b>vrienden</b>",
                          "summary": "a &lt; b < c"})).items
    assert (item.title, item.summary) == ("Collega’s & <b>vrienden</b>", "a < b < c")


def test_content_html_is_preferred_and_sanitised() -> None:
    (item,) = parse(feed({"id": "1", "title": "T", "content_text": "text",
                          "content_html": '<p onclick="x()">html<script>alert(1)</script></p>'})).items
    assert item.content_html == "<p>html</p>"


def test_link_and_image_fallbacks() -> None:
    items = parse(feed(
        {"id": "1", "title": "T", "url": "/a", "external_url": "https://x.example/", "image": "/i.png",
         "banner_image": "/b.png"},
        {"id": "2", "title": "T", "external_url": "https://x.example/2", "banner_image": "/b.png"},
        {"id": "3", "title": "T", "url": "javascript:alert(1)", "image": "data:image/png;base64,AAAA"},
    )).items
    assert [(i.link, i.image) for i in items] == [
        ("https://blog.example.org/a", "https://blog.example.org/i.png"),
        ("https://x.example/2", "https://blog.example.org/b.png"),
        (URL, None),
    ]


def test_odd_values_are_tolerated() -> None:
    items = parse(feed(
        {"id": 7, "title": ["not", "text"], "summary": None, "tags": "single", "date_published": "yesterday"},
        "not an object",
        {"id": "8", "title": "T", "tags": ["a", 1, None, {"x": 1}, ["nested"]], "date_modified": "2026-11-20T10:00:00"},
    )).items
    assert [(i.guid, i.tags, i.published) for i in items] == [
        ("7", ("single",), None),
        ("8", ("a", "1"), datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),
    ]
    assert items[0].title == "not, text"


def test_a_charset_other_than_utf8_is_honoured() -> None:
    body = json.dumps(feed({"id": "1", "title": "Café"}), ensure_ascii=False).encode("latin-1")
    assert parse(body, charset="iso-8859-1").items[0].title == "Café"
    with pytest.raises(ParseError, match=r"^cannot decode the body as utf-8: .*invalid continuation byte"):
        parse(body)


def test_options_are_described_for_the_schema() -> None:
    schema = JsonFeedOptions.model_json_schema()
    assert schema["properties"]["type"]["const"] == "jsonfeed"
    assert all("description" in field for field in schema["properties"].values())
