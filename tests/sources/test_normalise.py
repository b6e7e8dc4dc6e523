"""make_item's rules, and the properties of its pure helpers."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.item import Item
from sources.normalise import (
    ELLIPSIS, cut_summary, html_from_text, is_icon, make_item, plain_text, stable_guid,
)
from sources.registry import SourceOptions

FETCHED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
BASE = "https://intranet.example.org/news/"
WHEN = datetime(2026, 11, 23, 7, 45, tzinfo=UTC)


def options(**overrides: Any) -> SourceOptions:
    return SourceOptions(name="news", **overrides)


def item(options: SourceOptions | None = None, **fields: Any) -> Item:
    fields = {"guid": None, "link": None, "title": None, "base_url": BASE, "fetched_at": FETCHED, **fields}
    return make_item(options or SourceOptions(name="news"), **fields)


# guid and link

def test_the_entry_id_is_the_guid() -> None:
    assert item(guid=" 4182 ", link="/a", title="A").guid == "4182"


def test_without_an_id_the_absolute_link_is_the_guid() -> None:
    made = item(link="2026/a", title="A")
    assert made.guid == made.link == "https://intranet.example.org/news/2026/a"


def test_without_id_and_link_the_guid_is_a_digest_of_title_and_date() -> None:
    made = item(title="A", published=WHEN)
    assert made.guid == stable_guid(None, None, "A", WHEN)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", made.guid)
    assert made.link == BASE


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,x", "vbscript:x", " ", None])
def test_an_unsafe_or_missing_link_falls_back_to_the_base(link: str | None) -> None:
    made = item(link=link, title="A")
    assert made.link == BASE
    assert made.guid.startswith("sha256:"), "the base URL is shared by every such entry: no guid"


def test_a_base_that_is_not_http_gives_no_link() -> None:
    assert item(link="javascript:x", title="A", base_url="file:///srv/feed.rss").link == ""


# dates

def test_naive_dates_are_utc_and_offsets_are_kept() -> None:
    plus_one = timezone(timedelta(hours=1))
    made = item(title="A", published=datetime(2026, 11, 23, 7, 45),
                updated=datetime(2026, 11, 23, 9, 0, tzinfo=plus_one),
                expires=datetime(2026, 12, 1), start=datetime(2026, 12, 5, 16, 0), end=datetime(2026, 12, 5, 18, 0))
    assert made.published == datetime(2026, 11, 23, 7, 45, tzinfo=UTC)
    assert made.updated.utcoffset() == timedelta(hours=1)
    assert all(d.tzinfo is not None for d in (made.expires, made.start, made.end))


def test_updated_and_published_stand_in_for_each_other() -> None:
    assert item(title="A", published=WHEN).updated == WHEN
    assert item(title="A", updated=WHEN).published == WHEN


def test_an_undated_entry_is_marked_and_its_item_does_not_change_between_fetches() -> None:
    first = item(title="A", link="/a")
    later = item(title="A", link="/a", fetched_at=FETCHED + timedelta(hours=5))
    assert first.published is None and first.updated is None and first.undated
    assert first == later and first.content_hash() == later.content_hash()


# text

def test_summary_is_plain_text_cut_at_the_source_length() -> None:
    words = " ".join(f"word{i}" for i in range(100))
    made = item(title="A", summary=f"<p>{words}</p>", options=options(summary_length=40))
    assert made.summary == "word0 word1 word2 word3 word4 word5…"  # "word6" would end at 41
    assert len(made.summary) <= 41


def test_summary_falls_back_to_the_content() -> None:
    made = item(title="A", summary=" <p> </p> ", content_html="<p>Soup &amp; bread<script>x()</script></p>")
    assert made.summary == "Soup & bread"


def test_title_is_plain_text_never_cut() -> None:
    title = "<b>Long</b> &amp; " + "very " * 100 + "long"
    assert item(title=title).title == "Long & " + "very " * 100 + "long"


def test_an_untitled_post_is_headed_by_the_start_of_its_text() -> None:
    text = "Good morning! The new canteen is open today; come by between twelve and half past one for free soup."
    made = item(content_html=f"<p>{text}</p>")
    assert made.title == "Good morning! The new canteen is open today; come by between twelve and half…"
    assert made.summary == text


def test_bare_text_keeps_its_paragraphs() -> None:
    made = item(title="A", content_html="First line\nsecond line\n\nNew paragraph & more")
    assert made.content_html == "<p>First line<br>second line</p><p>New paragraph &amp; more</p>"


def test_html_from_text_escapes() -> None:
    assert html_from_text("a < b\n\n<script>") == "<p>a &lt; b</p><p>&lt;script&gt;</p>"
    assert html_from_text("") == html_from_text(None) == ""


# hostile content: make_item itself, whatever the adapter did before

HOSTILE = ('<p onclick="x()">Hello<script>alert(1)</script><iframe src="https://evil.example/">f</iframe>'
           '<a href="javascript:alert(1)">a</a><a href="&#106;avascript:alert(1)">b</a>'
           '<a href="data:text/html;base64,PHNjcmlwdD4=">c</a><object data="x.swf"></object>'
           '<svg><script>alert(2)</script></svg><img src="x" onerror="alert(3)">'
           '<p style="width:expression(alert(4))">styled</p><embed src="e.swf"></p>')


def test_hostile_content_does_not_survive_make_item() -> None:
    made = item(title=HOSTILE, summary=HOSTILE, content_html=HOSTILE)
    for text in (made.content_html, made.summary, made.title):
        lowered = text.lower()
        for bad in ("<script", "onclick", "onerror", "javascript:", "<iframe", "<object", "<embed", "<svg",
                    "expression(", "style=", "data:", "alert("):
            assert bad not in lowered, (bad, text)
    assert made.summary == "Helloabc styled"


# images

def test_the_explicit_image_wins_and_is_made_absolute() -> None:
    assert item(title="A", image="/img/a.jpg", content_html='<img src="b.jpg">').image == \
        "https://intranet.example.org/img/a.jpg"


def test_otherwise_the_first_picture_of_the_content() -> None:
    content = ('<img src="data:image/png;base64,iVBORw0KGgo=">'
               '<img src="/emoji/smile.png" width="20" height="20"><img src="https://t.example/p.gif" width="1">'
               '<img alt="x&quot;>" src="photo.jpg?a=1&amp;b=2"><img src="second.jpg">')
    assert item(title="A", image="javascript:x", content_html=content).image == \
        "https://intranet.example.org/news/photo.jpg?a=1&b=2"


def test_no_picture() -> None:
    assert item(title="A", content_html="<p>no picture</p>").image is None


@pytest.mark.parametrize(("width", "height", "icon"), [
    ("20", "20", True), (30, None, True), ("48px", "", True), ("640", "480", False), (None, None, False),
    ("100%", "auto", False), ("64", "64", False),
])
def test_is_icon(width: object, height: object, icon: bool) -> None:
    assert is_icon(width, height) is icon


# tags and audience

def test_tags_are_trimmed_deduplicated_in_order() -> None:
    made = item(title="A", tags=[" News ", "", "Care  team", "news", "Events", "  "])
    assert made.tags == ("News", "Care team", "Events")


def test_audience_joins_explicit_source_and_mapped_groups() -> None:
    made = item(title="A", tags=["Zorg", "Events"], audience=["board"],
                options=options(audience=["staff"], audience_map={"zorg": ["care", "staff"], "other": ["x"]}))
    assert made.audience == ("board", "care", "staff")
    assert made.source == "news"


def test_other_fields_pass_through_cleaned() -> None:
    made = item(title="A", author="  <b>Jane</b>  Doe ", location=" Canteen,\n 1st floor ", pinned=True)
    assert (made.author, made.location, made.pinned) == ("Jane Doe", "Canteen, 1st floor", True)
    assert item(title="A", author=" ", location="").author is None


# properties

words = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=12)
sentences = st.lists(words, min_size=1, max_size=60).map(" ".join)


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_cut_summary_never_exceeds_the_limit(text: str, limit: int) -> None:
    assert len(cut_summary(text, limit)) <= limit + 1


@given(sentences, st.integers(min_value=1, max_value=300))
def test_cut_summary_cuts_between_words_when_it_can(text: str, limit: int) -> None:
    cut = cut_summary(text, limit)
    if len(text) <= limit:
        assert cut == text
        return
    assert cut.endswith(ELLIPSIS)
    head = cut[:-1]
    assert text.startswith(head)
    if " " in text[1:limit + 1]:
        assert text[len(head)] == " ", "cut inside a word"


@given(st.text(max_size=100))
def test_cut_summary_leaves_short_text_alone(text: str) -> None:
    assert cut_summary(text, 100) == text
    assert cut_summary(cut_summary(text, 100), 100) == text


dates = st.datetimes(timezones=st.just(UTC)) | st.none()


@given(st.text(), dates)
def test_stable_guid_is_stable(title: str, published: datetime | None) -> None:
    assert stable_guid(None, None, title, published) == stable_guid(None, None, title, published)
    if published is not None:
        same_instant = published.astimezone(timezone(timedelta(hours=5)))
        assert stable_guid(None, None, title, same_instant) == stable_guid(None, None, title, published)


@given(st.text(), st.text(), dates, dates)
def test_stable_guid_differs_with_title_or_date(title: str, other: str, published, other_date) -> None:
    if (title, published) != (other, other_date):
        assert stable_guid(None, None, title, published) != stable_guid(None, None, other, other_date)


def test_stable_guid_is_the_same_in_every_process() -> None:
    assert stable_guid(None, None, "A", WHEN) == \
        "sha256:" + hashlib.sha256(b"A\n2026-11-23T07:45:00+00:00").hexdigest()


tag_names = st.sampled_from(["p", "b", "a", "div", "script", "style", "img", "br", "svg", "iframe", "span", "x-y"])
attributes = st.sampled_from(['', ' class="c"', ' href="javascript:x"', ' onerror="alert(1)"', " title='<b>'"])
texts = st.text(st.characters(blacklist_characters="<&"), max_size=10)


@st.composite
def html_documents(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 12))):
        name = draw(tag_names)
        parts.append(draw(st.sampled_from([f"<{name}{draw(attributes)}>", f"</{name}>", f"<{name}/>", draw(texts)])))
    return "".join(parts)


@given(html_documents())
def test_plain_text_has_no_tags_left(html: str) -> None:
    text = plain_text(html)
    assert not re.search(r"<[a-zA-Z/!?]", text), text
    assert text == " ".join(text.split())


@given(st.text())
def test_plain_text_takes_any_text(html: str) -> None:
    text = plain_text(html)
    assert text == " ".join(text.split())
    text.encode()


@pytest.mark.parametrize(("html", "text"), [
    ("<p>One</p><p>two</p>", "One two"),
    ("A<b>B</b>C", "ABC"),
    ("line<br>break", "line break"),
    ("Fish &amp; chips &lt;3 &nbsp; &eacute;&#233;&#xE9;", "Fish & chips <3 ééé"),
    ("a < b > c", "a < b > c"),
    ("<script>alert(1)</script><style>p{}</style>visible", "visible"),
    ("<!-- hidden -->shown", "shown"),
    ("  spaced \n\t out  ", "spaced out"),
    ("unclosed <b", "unclosed"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ("", ""),
    (None, ""),
])
def test_plain_text(html: str | None, text: str) -> None:
    assert plain_text(html) == text
