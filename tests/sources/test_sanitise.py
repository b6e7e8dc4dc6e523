"""The HTML and URL policy: hostile markup never survives, ordinary markup does, URLs end up absolute."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.sanitise import LINK_SCHEMES, absolute_url, sanitise_html

BASE = "https://intranet.example.org/news/feed/"

# What a hostile or careless intranet post may hold; each one must leave nothing that runs.
HOSTILE = {
    "script": "<p>Hi<script>alert(1)</script></p>",
    "script in caps": "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "onerror": '<img src="x.png" onerror="alert(1)">',
    "event handler": '<p onclick="alert(1)" onmouseover=alert(2)>text</p>',
    "javascript link": '<a href="javascript:alert(1)">x</a>',
    "javascript link, mixed case": '<a href="JaVaScRiPt:alert(1)">x</a>',
    "javascript link, entities": '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)">x</a>',
    "javascript link, hex entities": '<a href="&#x6A;avascript&#x3A;alert(1)">x</a>',
    "javascript link, tab inside": '<a href="java&#x09;script:alert(1)">x</a>',
    "javascript link, newline inside": '<a href="java\nscript:alert(1)">x</a>',
    "javascript link, leading space": '<a href=" \x01javascript:alert(1)">x</a>',
    "vbscript link": '<a href="vbscript:msgbox(1)">x</a>',
    "data:text/html link": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "data: image as a link": '<a href="data:image/png;base64,iVBORw0KGgo=">x</a>',
    "data:text/html image": '<img src="data:text/html,<script>alert(1)</script>">',
    "data: svg image": '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+">',
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "iframe srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "object": '<object data="https://evil.example/x.swf"><param name="a" value="b"></object>',
    "embed": '<embed src="https://evil.example/x.swf">',
    "applet": '<applet code="Evil.class"></applet>',
    "css expression": '<p style="width: expression(alert(1))">x</p>',
    "css javascript url": '<div style="background:url(javascript:alert(1))">x</div>',
    "style element": "<style>body{background:url(javascript:alert(1))}</style><p>x</p>",
    "svg with script": '<svg onload="alert(1)"><script>alert(2)</script>'
                       '<a xlink:href="javascript:alert(3)">x</a></svg>',
    "math mutation": '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table>'
                     "</mtext></math>",
    "noscript mutation": '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>',
    "form": '<form action="https://evil.example/"><input name="pw" type="password">'
            '<button formaction="javascript:alert(1)">Go</button></form>',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "base": '<base href="javascript:alert(1)//">',
    "link stylesheet": '<link rel="stylesheet" href="https://evil.example/x.css">',
    "comment": "<!--<script>alert(1)</script>--><p>x</p>",
    "template": "<template><script>alert(1)</script></template>",
    "unclosed attribute": '<img src="x.png" alt="a" onerror="alert(1)',
}
FORBIDDEN = re.compile(
    r"<\s*(script|style|iframe|object|embed|applet|svg|math|form|input|button|meta|base|link|template)\b"
    r"|\son\w+\s*=|javascript:|vbscript:|data:(?!image/png;base64,)|expression\(|\sstyle=|\sclass=|\sid=|srcdoc",
    re.IGNORECASE,
)


@pytest.mark.parametrize("html", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_markup_does_not_survive(html: str) -> None:
    clean = sanitise_html(html, BASE)
    assert not FORBIDDEN.search(clean), clean
    assert sanitise_html(clean, BASE) == clean, "sanitising is stable: a second pass finds nothing to remove"


def test_ordinary_markup_survives_with_absolute_urls_and_safe_rel() -> None:
    html = ('<h2 class="title" id="x" style="color:red">Menu</h2><p>Soup <em>and</em> <strong>bread</strong>.</p>'
            '<ul><li><a href="../menu/today" title="Today">today</a></li><li><a href="mailto:chef@example.org">chef</a>'
            '</li></ul><p><img src="/img/soup.jpg" alt="Soup" width="640" height="480"></p>'
            '<blockquote cite="https://example.org/q">Tasty</blockquote><table><tr><td colspan="2">1</td></tr></table>')
    assert sanitise_html(html, BASE) == (
        '<h2>Menu</h2><p>Soup <em>and</em> <strong>bread</strong>.</p>'
        '<ul><li><a href="https://intranet.example.org/news/menu/today" title="Today" rel="noopener noreferrer">'
        'today</a></li><li><a href="mailto:chef@example.org" rel="noopener noreferrer">chef</a></li></ul>'
        '<p><img src="https://intranet.example.org/img/soup.jpg" alt="Soup" width="640" height="480"></p>'
        '<blockquote cite="https://example.org/q">Tasty</blockquote>'
        '<table><tbody><tr><td colspan="2">1</td></tr></tbody></table>'
    )


def test_an_inline_raster_image_is_kept_but_only_in_img_src() -> None:
    png = ("data:image/png;base64,"
           "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    assert sanitise_html(f'<img src="{png}" alt="dot">', BASE) == f'<img src="{png}" alt="dot">'
    assert sanitise_html(f'<a href="{png}">dot</a>', BASE) == '<a rel="noopener noreferrer">dot</a>'


def test_relative_urls_without_a_base_are_dropped() -> None:
    assert sanitise_html('<a href="/x">x</a><img src="y.png">', None) == '<a rel="noopener noreferrer">x</a><img>'


def test_mailto_is_a_link_not_an_image() -> None:
    assert sanitise_html('<img src="mailto:a@example.org">', BASE) == "<img>"


def test_hidden_content_goes_with_its_tag_but_text_of_stripped_tags_stays() -> None:
    assert sanitise_html("<p>a<iframe>fallback</iframe><font color=red>b</font><marquee>c</marquee></p>", BASE) \
        == "<p>abc</p>"


def test_lone_surrogates_cannot_break_the_sanitiser() -> None:
    assert sanitise_html("<p>a\ud800b</p>", BASE) == "<p>a\ufffdb</p>"


@given(st.text(), st.sampled_from([BASE, None]))
def test_any_text_is_sanitised_to_encodable_text(html: str, base: str | None) -> None:
    sanitise_html(html, base).encode()


def test_empty_input() -> None:
    assert sanitise_html(None, BASE) == sanitise_html("  \n", BASE) == ""


@pytest.mark.parametrize(("url", "base", "expected"), [
    ("/news/1", "https://intranet.example.org/feed", "https://intranet.example.org/news/1"),
    ("1", "https://intranet.example.org/news/", "https://intranet.example.org/news/1"),
    ("//cdn.example.org/a.jpg", "https://intranet.example.org/", "https://cdn.example.org/a.jpg"),
    ("  https://example.org/a  ", None, "https://example.org/a"),
    ("HTTP://Example.org/a", None, "http://Example.org/a"),
    ("https://exa\tmple.org/a\n", None, "https://example.org/a"),
    ("/news/1", None, None),
    ("/news/1", "file:///srv/feeds/news.rss", None),
    ("javascript:alert(1)", "https://intranet.example.org/", None),
    (" \x00javascript:alert(1)", "https://intranet.example.org/", None),
    ("java\tscript:alert(1)", "https://intranet.example.org/", None),
    ("data:text/html,hi", "https://intranet.example.org/", None),
    ("mailto:a@example.org", None, None),
    ("ftp://example.org/a", None, None),
    ("http:relative", None, None),
    ("https://[oops/a", None, None),
    ("", "https://intranet.example.org/", None),
    (None, "https://intranet.example.org/", None),
])
def test_absolute_url(url: str | None, base: str | None, expected: str | None) -> None:
    assert absolute_url(url, base) == expected


def test_absolute_url_with_other_schemes() -> None:
    assert absolute_url("mailto:a@example.org", None, schemes=LINK_SCHEMES) == "mailto:a@example.org"
    assert absolute_url("javascript:x", None, schemes=LINK_SCHEMES) is None
