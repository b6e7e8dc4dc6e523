"""Rendering slides: every kind, safety, language, dates, QR codes, snapshots.

The snapshots in tests/snapshots/screens/ are one slide of each kind in
Dutch; regenerate them with INTRACAST_REGENERATE=1 and review the diff (and
the slides in a browser at 1920x1080 and 1080x1920) before committing.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import segno

from screens.config import ThemeConfig
from screens.playlist import Slide
from screens.render import STYLESHEET, Theme, qr_svg, render_slide, theme_css
from sources.item import Item

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots" / "screens"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 24, 8, 30, tzinfo=timezone.utc)  # dinsdag 24 november, 09:30 in Amsterdam
THEME = Theme(background="#111111", foreground="#ffffff", accent="#1f5fa8", font="system-ui, sans-serif", logo=None)
QR = "qr?key=item%3Anieuws%3A1"  # relative: the page's <base> is its screen
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> "quoted" & javascript:alert(3)'


def news(**fields: object) -> Item:
    base: dict[str, object] = {
        "source": "Nieuws",
        "guid": "n1",
        "title": "Nieuwe koffiemachine op de derde verdieping",
        "link": "https://intranet.example.org/news/1",
        "summary": "Vanaf maandag staat er een nieuwe espressomachine bij de pantry.",
        "published": NOW - timedelta(hours=2),
        "image": "/media/abc123",
    }
    return Item(**{**base, **fields})  # type: ignore[arg-type]


EVENT = news(
    guid="e1",
    title="Vrijdagmiddagborrel",
    summary="",
    image=None,
    start=datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc),
    end=datetime(2026, 11, 27, 17, 0, tzinfo=timezone.utc),
    location="Kantine",
)

SLIDES = {
    "item": Slide("item", 10.0, news().as_json(), "item:Nieuws:n1"),
    "announcement": Slide(
        "announcement", 10.0, {"title": "Brandoefening", "text": "Donderdag om 10:00.", "image": None}, "announcement:1"
    ),
    "image": Slide("image", 10.0, {"url": "https://intranet.example.org/team.jpg", "caption": "Ons team"}, "image:2"),
    "clock": Slide("clock", 10.0, {}, "clock:3"),
    "agenda": Slide("agenda", 10.0, {"events": [EVENT.as_json()] * 2, "page": 1, "pages": 2}, "agenda:4:1"),
    "webpage": Slide("webpage", 10.0, {"url": "https://status.example.org/board"}, "webpage:5"),
    "idle": Slide("idle", 60.0, {"reason": "off", "until": "2026-11-25T07:00:00+01:00"}, "idle:off"),
}


def render(slide: Slide, locale: str = "nl", **options: object) -> str:
    args: dict[str, object] = {"locale": locale, "tz": AMSTERDAM, "now": NOW, "logo": None, "qr": None,
                               "stale_since": None}
    return render_slide(slide, **{**args, **options})  # type: ignore[arg-type]


class Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("kind", SLIDES)
@pytest.mark.parametrize("locale", ["nl", "en"])
def test_every_kind_renders_one_section(kind: str, locale: str) -> None:
    html = render(SLIDES[kind], locale, qr=QR)
    tags = Tags(html).tags
    assert tags[0][0] == "section" and html.strip().endswith("</section>")
    assert [t for t, _ in tags].count("section") == 1
    assert tags[0][1]["data-kind"] == kind and tags[0][1]["lang"] == locale
    for tag, attrs in tags:
        assert "style" not in attrs and tag != "script"
        assert not [a for a in attrs if a.startswith("on")]


@pytest.mark.parametrize("kind", ["item", "announcement", "image", "agenda"])
def test_hostile_feed_text_is_escaped(kind: str) -> None:
    fields = {"title": HOSTILE, "summary": HOSTILE, "text": HOSTILE, "caption": HOSTILE, "location": HOSTILE,
              "source": HOSTILE, "image": "javascript:alert(4)", "url": "javascript:alert(5)"}
    data = {**SLIDES[kind].data, **fields}
    if kind == "agenda":
        data = {**SLIDES[kind].data, "events": [{**EVENT.as_json(), **fields}]}
    html = render(Slide(kind, 10.0, data, f"{kind}:{HOSTILE}"), qr=QR)
    parsed = Tags(html)
    assert [t for t, _ in parsed.tags if t == "script"] == []
    for _tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")]
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").lower().startswith("javascript:")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html and "<img src=x" not in html


def test_item_shows_title_summary_source_age_image_and_qr() -> None:
    html = render(SLIDES["item"], qr=QR)
    text = " ".join(Tags(html).text)
    assert "Nieuwe koffiemachine" in text and "espressomachine" in text
    assert "Nieuws · 2 uur geleden" in text
    assert '<img src="/media/abc123" alt="">' in html
    assert '<img class="qr-code" src="qr?key=item%3Anieuws%3A1"' in html and 'class="qr"' in html
    assert "qr-code" not in render(SLIDES["item"])  # QR codes off


def test_images_go_through_the_media_cache() -> None:
    def media(source: str | None, url: str) -> str:
        return f"/media/{source}/{len(url)}"

    item = Slide("item", 10.0, {**SLIDES["item"].data, "image": "https://intranet.example.org/a.jpg"}, "item:x")
    assert 'src="/media/Nieuws/34"' in render(item, media=media)
    assert 'src="/media/None/37"' in render(SLIDES["image"], media=media)
    assert 'src="/media/None/34"' in render(SLIDES["clock"], media=media, logo="https://intranet.example.org/l.png")
    assert "javascript" not in render(item, media=media, logo="javascript:alert(1)")


def test_item_without_date_or_with_an_undated_feed_shows_no_age() -> None:
    assert "geleden" not in render(Slide("item", 10.0, news(published=None).as_json(), "k"))
    assert "geleden" not in render(Slide("item", 10.0, news(undated=True).as_json(), "k"))


@pytest.mark.parametrize(("locale", "ago", "when"), [
    ("nl", "2 uur geleden", "vrijdag 27 november 16:00 – 18:00"),
    ("en", "2 hours ago", "Friday 27 November 16:00 – 18:00"),
])
def test_relative_dates_and_events_in_the_locale(locale: str, ago: str, when: str) -> None:
    assert ago in render(SLIDES["item"], locale)
    html = render(Slide("item", 10.0, EVENT.as_json(), "item:Nieuws:e1"), locale)
    text = re.sub(r"\s+", " ", " ".join(Tags(html).text))
    assert when in text and "Kantine" in text


@pytest.mark.parametrize(("locale", "stale"), [("nl", "bijgewerkt 2 uur geleden"), ("en", "updated 2 hours ago")])
def test_staleness_is_said(locale: str, stale: str) -> None:
    assert stale in render(SLIDES["item"], locale, stale_since=NOW - timedelta(hours=2))
    assert "updated" not in render(SLIDES["item"], locale) and "bijgewerkt" not in render(SLIDES["item"], locale)


@pytest.mark.parametrize(("locale", "day"), [("nl", "dinsdag 24 november"), ("en", "Tuesday 24 November")])
def test_clock_in_the_locale_and_zone(locale: str, day: str) -> None:
    html = render(SLIDES["clock"], locale)
    assert day in html and ">09:30</time>" in html and 'datetime="2026-11-24T09:30+01:00"' in html


@pytest.mark.parametrize(("locale", "until", "later"), [("nl", "tot woensdag 07:00", "tot 18:00"),
                                                          ("en", "until Wednesday 07:00", "until 18:00")])
def test_idle_says_until_when(locale: str, until: str, later: str) -> None:
    assert until in render(SLIDES["idle"], locale)
    today = Slide("idle", 60.0, {"reason": "off", "until": "2026-11-24T18:00:00+01:00"}, "idle:off")
    assert later in render(today, locale)
    assert "tot" not in render(Slide("idle", 60.0, {"reason": "empty", "until": None}, "idle:empty"))


def test_agenda_lists_several_events_and_its_page() -> None:
    html = render(SLIDES["agenda"])
    assert html.count("<li>") == 2 and "Binnenkort" in html and "1 van 2" in html


def test_webpage_is_a_sandboxed_frame_and_https_only() -> None:
    tags = dict(Tags(render(SLIDES["webpage"])).tags)
    assert tags["iframe"]["sandbox"] == "allow-scripts"
    assert tags["iframe"]["src"] == "https://status.example.org/board"
    with pytest.raises(ValueError, match="https"):
        render(Slide("webpage", 10.0, {"url": "javascript:alert(1)"}, "w"))


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="'video'"):
        render(Slide("video", 10.0, {}, "v"))


def test_logo_only_over_http() -> None:
    logo = "https://intranet.example.org/logo.svg"
    assert 'src="https://intranet.example.org/logo.svg"' in render(SLIDES["clock"], logo=logo)
    assert "javascript" not in render(SLIDES["clock"], logo="javascript:alert(1)")


def test_theme_css_is_custom_properties_and_refuses_injection() -> None:
    assert theme_css(THEME) == ":root{--bg:#111111;--fg:#ffffff;--accent:#1f5fa8;--font:system-ui, sans-serif}"
    theme = Theme.from_config(ThemeConfig(), accent="#AA0000", logo=None)
    assert "--accent:#aa0000" in theme_css(theme)
    for change in ({"accent": "red;}body{x:y"}, {"background": "#11111"}, {"font": "a}</style><script>"},
                   {"foreground": "#222222"}):
        with pytest.raises(ValueError):
            theme_css(Theme(**{**THEME.__dict__, **change}))


def _svg_matrix(svg: str) -> set[tuple[int, int]]:
    """The dark modules drawn by segno's one-path SVG: M/m moves and h runs."""
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg) or re.search(r' d="(M[^"]+)"[^>]*class="qrline"', svg)
    assert path is not None
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.group(1)):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            dark.update((int(x) + i, int(y)) for i in range(int(float(a))))
            x += float(a)
    return dark


@pytest.mark.parametrize("url", [QR, "https://intranet.example.org/r/" + "x" * 120])
def test_qr_svg_is_scalable_and_draws_segnos_matrix(url: str) -> None:
    svg = qr_svg(url)
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert re.search(r'viewBox="0 0 (\d+) \1"', svg) and "width=" not in svg.split(">")[0]
    code = segno.make(url, error="m", micro=False)
    expected = {(x + 4, y + 4) for y, row in enumerate(code.matrix) for x, v in enumerate(row) if v}
    assert _svg_matrix(svg) == expected
    assert '<path fill="#fff" d="M0 0h' in svg and 'stroke="#000"' in svg  # dark on a light quiet zone


def test_stylesheet_keeps_the_legibility_floor() -> None:
    css = STYLESHEET.read_text()
    assert "--title: 6.2vmin" in css and "--body: 3.8vmin" in css and "--small: 3.6vmin" in css
    sizes = [float(v) for v in re.findall(r"font-size: ([\d.]+)vmin", css)]
    assert min(sizes) >= 3.6  # 39 px where the short side is 1080 px
    assert "style=" not in "".join(p.read_text() for p in (STYLESHEET.parent / "slides").glob("*.html"))


@pytest.mark.parametrize("kind", SLIDES)
def test_snapshot(kind: str) -> None:
    html = render(SLIDES[kind], qr=QR if kind == "item" else None,
                  stale_since=NOW - timedelta(hours=2) if kind == "item" else None)
    path = SNAPSHOTS / f"{kind}.nl.html"
    if os.environ.get("INTRACAST_REGENERATE") == "1":
        path.write_text(html, encoding="utf-8")
    assert html == path.read_text(encoding="utf-8")
