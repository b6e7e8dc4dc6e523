"""The RSS/Atom parser beyond the corpus: what is not a feed, charsets, picture order, hostile feeds."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sources.errors import ParseError
from sources.remote import Page, Parsed
from sources.rss import RssOptions, parse_rss

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
URL = "https://intranet.example.org/feed/"
OPTIONS = RssOptions(name="news", type="rss", url=URL)


def parse(body: bytes | str, content_type: str | None = "application/rss+xml", charset: str | None = None) -> Parsed:
    data = body.encode() if isinstance(body, str) else body
    return parse_rss(Page(URL, data, content_type, charset, datetime(2026, 11, 24, 9, 0, tzinfo=UTC)), OPTIONS)


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (f'{prolog}<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>News</title>'
            f"<link>https://intranet.example.org/</link>{items}</channel></rss>")


# not a feed

HTML_LOGIN = b"""<!DOCTYPE html>
<html lang="en"><head><title>Sign in</title></head>
<body><form method="post" action="/login"><input name="user"><input name="password" type="password"></form>
</body></html>"""


@pytest.mark.parametrize("content_type", ["text/html", "application/rss+xml", None])
def test_an_html_page_is_not_a_feed(content_type: str | None) -> None:
    with pytest.raises(ParseError, match=r"^not an RSS or Atom feed \(got an HTML page\)$"):
        parse(HTML_LOGIN, content_type)


def cut_off(items: str) -> str:
    return rss(items).removesuffix("</channel></rss>")


def test_truncated_xml_before_the_first_entry() -> None:
    with pytest.raises(ParseError, match=r"^broken XML: <unknown>:1:\d+: no element found$"):
        parse(cut_off("<item><title>Half an item"))


def test_truncated_before_the_root_element_is_complete() -> None:
    with pytest.raises(ParseError, match=r"^not an RSS or Atom feed: broken XML: .*unclosed token$"):
        parse(rss("")[:60])


def test_truncated_xml_after_some_entries_is_used_without_the_cut_entry() -> None:
    body = cut_off("<item><title>Whole</title><link>/whole</link></item><item><title>Cut off</title><link>/cu")
    assert [i.title for i in parse(body).items] == ["Whole"]


def test_a_whole_feed_with_an_xml_error_keeps_its_last_entry() -> None:
    """Bozo is common and harmless: here an HTML entity XML does not know."""
    body = rss("<item><title>One&nbsp;two</title><link>/1</link></item><item><title>Last</title><link>/2</link></item>")
    assert [i.title for i in parse(body).items] == ["One two", "Last"]


def test_invalid_utf8_that_leaves_nothing() -> None:
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + bytes(range(0x80, 0x100)) * 4
    with pytest.raises(ParseError, match=r"^not an RSS or Atom feed: the text is not valid utf-8: "
                                         r"invalid start byte at byte 39$"):
        parse(body)


def test_a_compressed_body_is_not_a_feed() -> None:
    body = gzip.compress(rss("<item><title>T</title></item>").encode(), mtime=0)
    with pytest.raises(ParseError, match=r"^not an RSS or Atom feed: the text is not valid utf-8: "
                                         r"invalid start byte at byte 1$"):
        parse(body)


def test_invalid_utf8_in_a_real_feed_is_read_as_windows_1252() -> None:
    """A CMS that says UTF-8 but writes Latin-1 is common; feedparser's fallback reads it right."""
    body = rss("<item><title>Caf\xe9</title><link>/cafe</link></item>").encode("latin-1")
    assert [i.title for i in parse(body, charset="utf-8").items] == ["Café"]


@pytest.mark.parametrize("body", [b"", b"   \n\t  "])
def test_an_empty_body(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"^empty body: not an RSS or Atom feed$"):
        parse(body)


@pytest.mark.parametrize("body", [b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', b"[1, 2]"])
def test_json_is_not_rss(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"got JSON: use type jsonfeed or json"):
        parse(body, "application/json")


def test_other_xml_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match=r"^not an RSS or Atom feed \(no <rss>, <rdf:RDF> or <feed> element\)$"):
        parse('<?xml version="1.0"?><sitemap><url>https://example.org/</url></sitemap>', "application/xml")


def test_plain_text_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match=r"^not an RSS or Atom feed"):
        parse(b"Service Unavailable", "text/plain")


def test_a_feed_without_entries_today_is_fine() -> None:
    assert parse(rss("")).items == []


def test_a_body_is_never_opened_as_a_file_name(tmp_path: Path) -> None:
    """feedparser.parse(bytes) opens the bytes as a path when such a file exists; the parser does no I/O."""
    secret = tmp_path / "feed.rss"
    secret.write_text(rss("<item><title>Local secret</title><link>https://x.example/</link></item>"))
    with pytest.raises(ParseError):
        parse(str(secret).encode(), "text/plain")


# charsets

def test_the_http_charset_decides_when_the_document_does_not_say() -> None:
    body = rss("<item><title>Łódź: spotkanie</title><link>/a</link></item>", prolog='<?xml version="1.0"?>')
    encoded = body.encode("iso-8859-2")
    assert parse(encoded, charset="iso-8859-2").items[0].title == "Łódź: spotkanie"
    assert parse(encoded).items[0].title != "Łódź: spotkanie", "without it, the guess is wrong: the test means it"


def test_the_http_charset_beats_the_xml_declaration() -> None:
    body = rss("<item><title>Ærø</title><link>/a</link></item>", prolog='<?xml version="1.0" encoding="utf-8"?>')
    assert parse(body.encode("iso-8859-1"), charset="iso-8859-1").items[0].title == "Ærø"


def test_without_any_charset_utf8_is_assumed() -> None:
    body = rss("<item><title>Één café</title><link>/a</link></item>", prolog='<?xml version="1.0"?>')
    assert parse(body.encode(), content_type=None).items[0].title == "Één café"


# pictures

def media(enclosure: str = "", content: str = "", thumbnail: str = "", text: str = "") -> str:
    parts = {
        "enclosure": f'<enclosure url="{enclosure}" type="image/jpeg" length="1"/>' if enclosure else "",
        "content": f'<media:content url="{content}" medium="image"/>' if content else "",
        "thumbnail": f'<media:thumbnail url="{thumbnail}"/>' if thumbnail else "",
        "text": f"<description><![CDATA[<img src=\"{text}\">]]></description>" if text else "",
    }
    return rss(f"<item><title>T</title><link>/t</link>{''.join(parts.values())}</item>")


@pytest.mark.parametrize(("feed", "image"), [
    (media("/e.jpg", "/c.jpg", "/t.jpg", "/i.jpg"), "https://intranet.example.org/e.jpg"),
    (media("", "/c.jpg", "/t.jpg", "/i.jpg"), "https://intranet.example.org/c.jpg"),
    (media("", "", "/t.jpg", "/i.jpg"), "https://intranet.example.org/t.jpg"),
    (media("", "", "", "/i.jpg"), "https://intranet.example.org/i.jpg"),
    (media("javascript:alert(1)", "data:image/png;base64,AAAA", "/t.jpg"), "https://intranet.example.org/t.jpg"),
    (media(), None),
])
def test_the_picture_is_chosen_in_order(feed: str, image: str | None) -> None:
    assert parse(feed).items[0].image == image


def test_only_image_enclosures_and_media_count() -> None:
    feed = rss('<item><title>Podcast</title><link>/p</link><enclosure url="/p.mp3" type="audio/mpeg" length="9"/>'
               '<media:content url="/v.mp4" type="video/mp4"/><media:thumbnail url="/a.png" width="30" height="30"/>'
               "</item>")
    assert parse(feed).items[0].image is None


# content

def test_content_encoded_is_preferred_to_the_description() -> None:
    feed = rss("<item><title>T</title><link>/t</link><description>Short.</description>"
               "<content:encoded><![CDATA[<p>The <b>full</b> text.</p>]]></content:encoded></item>")
    (item,) = parse(feed).items
    assert (item.summary, item.content_html) == ("Short.", "<p>The <b>full</b> text.</p>")


def test_an_rss_title_is_html_an_atom_text_title_is_text() -> None:
    assert parse(rss("<item><title>Tom &amp;amp; Jerry &lt;b&gt;live&lt;/b&gt;</title></item>")).items[0].title \
        == "Tom & Jerry live"
    atom = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry>'
            '<id>urn:x</id><title type="text">Use &lt;br&gt; for a break</title><updated>2026-11-20T10:00:00Z</updated>'
            "</entry></feed>")
    assert parse(atom, "application/atom+xml").items[0].title == "Use <br> for a break"


# hostile feeds, through the parser

DANGER = re.compile(r"<\s*(script|iframe|object|embed|svg|style|form)|\son\w+=|javascript:|expression\(|data:text",
                    re.IGNORECASE)


def test_the_hostile_feed_loses_everything_that_runs() -> None:
    items = parse((FEEDS / "hostile.rss").read_bytes()).items
    assert len(items) == 2
    for item in items:
        for text in (item.content_html, item.summary, item.title, item.link, item.image or ""):
            assert not DANGER.search(text), text
        assert item.link.startswith("https://")


def test_entity_encoded_javascript_through_feedparser() -> None:
    feed = rss('<item><title>T</title><link>/t</link><description><![CDATA[<a href="&#106;avascript:alert(1)">a</a>'
               '<a href="jav&#x09;ascript:alert(1)">b</a><svg><a xlink:href="javascript:alert(1)">c</a></svg>'
               '<img src="data:text/html,x" onerror="alert(1)">]]></description></item>')
    (item,) = parse(feed).items
    assert not DANGER.search(item.content_html), item.content_html
    assert "alert" not in item.content_html


# options

def test_options_are_described_for_the_schema() -> None:
    schema = RssOptions.model_json_schema()
    assert schema["properties"]["type"]["const"] == "rss"
    assert all("description" in field for field in schema["properties"].values())
