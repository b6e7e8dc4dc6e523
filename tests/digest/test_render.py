"""Rendering a digest: structure, safety, language, dates, grouping, snapshots.

The snapshots in tests/snapshots/digest/ are the whole mail for one fixed
view; regenerate them with INTRACAST_REGENERATE=1 and review the diff (and
the HTML in a browser) before committing.
"""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError, UndefinedError

from digest.config import DigestConfig
from digest.render import (
    DARK,
    LIGHT,
    Branding,
    DigestView,
    Entry,
    contrast,
    one_line,
    palette,
    render,
)
from sources.item import Item

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots" / "digest"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PLEK = Branding(name="Plek", url="https://intranet.example.org/", logo="https://intranet.example.org/logo.png",
                colour="#1f5fa8")
HOSTILE = "<script>alert(1)</script>"
LONG_TITLE = ("Verslag van de werkgroep duurzaamheid: wat we het afgelopen kwartaal hebben bereikt, "
              "wat het heeft opgeleverd en wat er in 2027 op de planning staat")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def news(guid: str, title: str, published: datetime, **fields: object) -> Item:
    fields.setdefault("source", "nieuws")
    link = f"https://intranet.example.org/{fields['source']}/{guid}"
    return Item(guid=guid, title=title, link=link, published=published, **fields)  # type: ignore[arg-type]


# Eight items from three sources, as select hands them over: pinned first, then newest.
ITEMS = [
    news("parkeren", "Nieuwe parkeerregeling vanaf 1 december", utc(2026, 11, 20, 9), pinned=True,
         author="Team Communicatie",
         summary="Vanaf 1 december reserveer je een parkeerplek via de app. Lees hoe het werkt."),
    news("kerstborrel", "Kerstborrel: meld je aan vóór 10 december", utc(2026, 11, 23, 23, 30),
         summary="Dit jaar vieren we het samen in de kantine, met muziek en een quiz."),
    news("duurzaamheid", LONG_TITLE, utc(2026, 11, 23, 14), source="groepen", author="Fatima el Amrani",
         summary="Zonnepanelen, minder printen en een fietsplan: een overzicht van het jaar."),
    news("open-dag", "Open dag nieuwe vestiging Utrecht", utc(2026, 11, 23, 10), source="agenda",
         tags=("event",), start=utc(2026, 11, 27, 13), end=utc(2026, 11, 27, 14, 30),
         location="Catharijnesingel 12, Utrecht", summary="Kom kijken in ons nieuwe kantoor."),
    news("mok", "Wie heeft mijn mok gezien?", utc(2026, 11, 23, 8), source="groepen", summary=HOSTILE),
    news("onderhoud", "IT-onderhoud zaterdag: systemen even niet bereikbaar", utc(2026, 11, 22, 16),
         author="Servicedesk", summary="Tussen 8:00 en 12:00 zijn e-mail en het intranet niet bereikbaar."),
    news("fietsplan", "Fietsplan 2027 is open", utc(2026, 11, 21, 12), source="groepen", tags=("hr", "fiets")),
    news("welkom", "Welkom aan onze nieuwe collega's", utc(2026, 11, 21, 8),
         summary="Deze maand begonnen er zeven nieuwe collega's bij Zorg & Welzijn."),
]


def entries(items: list[Item] = ITEMS) -> list[Entry]:
    # A query string with & shows that hrefs are escaped and still work.
    return [Entry(item, f"{item.link}?from=digest&n={n}") for n, item in enumerate(items, 1)]


def make_view(locale: str = "nl", **changes: object) -> DigestView:
    view = DigestView(
        digest=DigestConfig(name="daily"),
        branding=PLEK,
        recipient_name="Zoë de Vries",
        locale=locale,
        timezone=AMSTERDAM,
        entries=entries(),
        more=3,
        window_start=utc(2026, 11, 16, 7, 30),
        window_end=utc(2026, 11, 24, 7, 30),
        preferences_url="https://intracast.example.org/preferences/tok-en.abc",
        unsubscribe_url="https://intracast.example.org/u/tok-en.abc",
    )
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


def with_digest(view: DigestView, **options: object) -> DigestView:
    return dataclasses.replace(view, digest=view.digest.model_copy(update=options))


class Page(HTMLParser):
    """Every tag with its attributes, and the text, of an HTML document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def hrefs(self) -> list[str]:
        return [attrs["href"] or "" for tag, attrs in self.tags if tag == "a" and "href" in attrs]


@pytest.fixture(params=["nl", "en"])
def locale(request: pytest.FixtureRequest) -> str:
    return request.param


# Structure and safety ------------------------------------------------------


def test_html_parses_and_is_safe(locale: str) -> None:
    html = render(make_view(locale)).html
    page = Page(html)
    assert page.tags[0][0] == "html"
    lowered = html.lower()
    assert "<script" not in lowered
    assert "javascript:" not in lowered
    assert "<link" not in lowered  # no external CSS
    assert not [(tag, name) for tag, attrs in page.tags for name in attrs if name.lower().startswith("on")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_head_keeps_dark_mode_and_phone_rules(locale: str) -> None:
    html = render(make_view(locale)).html
    head = html[: html.index("</head>")]
    assert '<meta name="color-scheme" content="light dark">' in head
    assert '<meta name="supported-color-schemes" content="light dark">' in head
    assert "@media (prefers-color-scheme: dark)" in head
    assert "@media screen and (max-width: 620px)" in head
    assert ":root { color-scheme: light dark;" in head
    # The rest is inlined: the card's colours sit on the element itself.
    assert re.search(r'class="card"[^>]*style="[^"]*background-color: #ffffff', html)


def test_every_entry_links_to_its_url(locale: str) -> None:
    page = Page(render(make_view(locale)).html)
    assert {entry.url for entry in entries()} <= set(page.hrefs())


def test_logo_has_the_intranet_name_as_alt_text() -> None:
    page = Page(render(make_view()).html)
    assert ("img", {"class": "logo", "src": PLEK.logo, "alt": "Plek", "height": "40"}) in [
        (tag, {k: v for k, v in attrs.items() if k != "style"}) for tag, attrs in page.tags
    ]


def test_without_a_logo_the_name_is_the_masthead() -> None:
    html = render(make_view(branding=dataclasses.replace(PLEK, logo=None))).html
    assert "<img" not in html
    assert re.search(r'class="wordmark"[^>]*>\s*Plek\s*</a>', html)


def test_content_html_never_reaches_the_mail() -> None:
    item = dataclasses.replace(ITEMS[1], content_html="<p>HET HELE ARTIKEL</p>")
    rendered = render(make_view(entries=entries([item])))
    assert "HET HELE ARTIKEL" not in rendered.html + rendered.text


def test_an_entry_must_link_over_http() -> None:
    with pytest.raises(ValueError, match="not http"):
        Entry(ITEMS[0], "javascript:alert(1)")


def test_hostile_branding_colour_is_refused() -> None:
    with pytest.raises(ValueError, match="#rrggbb"):
        render(make_view(branding=dataclasses.replace(PLEK, colour="red;}</style><script>")))


# Headlines and "more" -------------------------------------------------------


def test_headlines_above_a_long_list(locale: str) -> None:
    html = render(make_view(locale)).html
    anchors = [href for href in Page(html).hrefs() if href.startswith("#")]
    assert anchors == [f"#item-{n}" for n in range(1, 9)]
    for anchor in anchors:
        assert f'id="{anchor[1:]}"' in html
    # Headlines come first, then the entries they point to.
    assert html.index('href="#item-1"') < html.index('id="item-1"')


def test_no_headlines_for_five_entries(locale: str) -> None:
    rendered = render(make_view(locale, entries=entries(ITEMS[:5])))
    assert not [href for href in Page(rendered.html).hrefs() if href.startswith("#")]
    assert 'class="toc"' not in rendered.html
    assert ("In deze mail" if locale == "nl" else "In this email") not in rendered.text


@pytest.mark.parametrize(("locale", "more", "expected"), [
    ("nl", 3, "En nog 3 berichten op Plek"),
    ("nl", 1, "En nog 1 bericht op Plek"),
    ("en", 3, "And 3 more posts on Plek"),
    ("en", 1, "And 1 more post on Plek"),
])
def test_more_on_the_intranet(locale: str, more: int, expected: str) -> None:
    rendered = render(make_view(locale, more=more))
    assert re.search(rf'<a href="https://intranet.example.org/"[^>]*>{expected} →</a>', rendered.html)
    assert f"{expected}:\nhttps://intranet.example.org/\n" in rendered.text


def test_nothing_more_means_no_more_link() -> None:
    rendered = render(make_view(more=0))
    assert "En nog" not in rendered.html + rendered.text


# Dates and events ----------------------------------------------------------


@pytest.mark.parametrize(("locale", "monday", "tuesday"), [
    ("nl", "maandag 23 november", "dinsdag 24 november"),
    ("en", "Monday 23 November", "Tuesday 24 November"),
])
def test_dates_in_the_recipients_language_and_zone(locale: str, monday: str, tuesday: str) -> None:
    rendered = render(make_view(locale))
    # 2026-11-23T23:30Z is already Tuesday in Amsterdam.
    assert re.search(rf"Kerstborrel.*?{tuesday}", rendered.text, re.S)
    assert re.search(rf"Wie heeft mijn mok gezien\?.*?{monday}", rendered.text, re.S)
    assert tuesday in rendered.html and monday in rendered.html


def test_dates_follow_the_recipient_elsewhere() -> None:
    rendered = render(make_view(timezone=ZoneInfo("America/New_York")))
    assert re.search(r"Kerstborrel.*?maandag 23 november", rendered.text, re.S)


@pytest.mark.parametrize(("locale", "when", "where"), [
    ("nl", "Wanneer: vrijdag 27 november van 14:00 tot 15:30", "Waar: Catharijnesingel 12, Utrecht"),
    ("en", "When: Friday 27 November from 14:00 to 15:30", "Where: Catharijnesingel 12, Utrecht"),
])
def test_event_shows_start_and_place(locale: str, when: str, where: str) -> None:
    rendered = render(make_view(locale))
    assert f"{when}<br>{where}" in rendered.html
    assert f"  {when}\n  {where}\n" in rendered.text


def test_event_without_end_shows_its_start() -> None:
    event = dataclasses.replace(ITEMS[3], end=None)
    assert "Wanneer: vrijdag 27 november om 14:00" in render(make_view(entries=entries([event]))).text


def test_all_day_event_shows_the_day_only() -> None:
    start = datetime(2026, 11, 27, tzinfo=AMSTERDAM)
    event = dataclasses.replace(ITEMS[3], start=start, end=start + timedelta(days=1))
    text = render(make_view(entries=entries([event]), timezone=ZoneInfo("America/New_York"))).text
    assert "Wanneer: vrijdag 27 november\n" in text


def test_undated_item_shows_no_date() -> None:
    item = dataclasses.replace(ITEMS[1], undated=True)
    rendered = render(make_view(entries=entries([item])))
    assert "dinsdag 24 november" not in rendered.text


# Grouping ------------------------------------------------------------------


def headings(html: str) -> list[str]:
    return re.findall(r'<h2 class="group"[^>]*>([^<]*)</h2>', html)


def test_grouped_by_source_in_order_of_first_entry() -> None:
    rendered = render(make_view())
    assert headings(rendered.html) == ["nieuws", "groepen", "agenda"]
    titles = re.findall(r'<h3 class="title"[^>]*><a [^>]*>([^<]*)</a>', rendered.html)
    assert titles[:4] == [ITEMS[i].title for i in (0, 1, 5, 7)]
    assert "NIEUWS\n======\n" in rendered.text


def test_grouped_by_first_tag() -> None:
    html = render(with_digest(make_view("en"), group_by="tag")).html
    assert headings(html) == ["Other", "event", "hr"]


def test_not_grouped() -> None:
    rendered = render(with_digest(make_view(), group_by="none"))
    assert headings(rendered.html) == []
    assert re.findall(r'id="(item-\d)"', rendered.html) == [f"item-{n}" for n in range(1, 9)]


# Text part -----------------------------------------------------------------


def test_text_part_is_complete_on_its_own(locale: str) -> None:
    view = make_view(locale)
    text = render(view).text
    for entry in view.entries:
        assert " ".join(entry.item.title.split()) in " ".join(text.split())
        assert f"  {entry.url}\n" in text
    assert view.unsubscribe_url in text and view.preferences_url in text
    assert ("Hallo Zoë de Vries," if locale == "nl" else "Hello Zoë de Vries,") in text
    assert HOSTILE in text  # plain text: shown as written, nothing to escape
    assert "&amp;" not in text and "&#39;" not in text
    assert all(len(line) <= 72 or line.strip().startswith("https://") for line in text.splitlines())


def test_greeting_without_a_name(locale: str) -> None:
    rendered = render(make_view(locale, recipient_name=""))
    assert ("\nHallo,\n" if locale == "nl" else "\nHello,\n") in rendered.text


def test_no_entries_says_so() -> None:
    rendered = render(make_view(entries=[], more=0))
    assert rendered.subject == "0 nieuwe berichten op Plek"
    assert rendered.preheader == ""
    assert "Niets nieuws sinds maandag 16 november." in rendered.text
    assert "Niets nieuws sinds maandag 16 november." in rendered.html


# Subject, preheader, intro -------------------------------------------------


@pytest.mark.parametrize(("locale", "count", "subject"), [
    ("nl", 3, "3 nieuwe berichten op Plek"),
    ("nl", 1, "1 nieuw bericht op Plek"),
    ("en", 3, "3 new posts on Plek"),
    ("en", 1, "1 new post on Plek"),
])
def test_default_subject_names_the_count(locale: str, count: int, subject: str) -> None:
    rendered = render(make_view(locale, entries=entries(ITEMS[:count]), more=0))
    assert rendered.subject == subject
    assert f"<title>{subject}</title>" in rendered.html


def test_count_includes_what_waits_on_the_intranet() -> None:
    assert render(make_view("en")).subject == "11 new posts on Plek"


def test_custom_subject_template() -> None:
    view = with_digest(make_view(), subject="{{ recipient }}: {{ count }} x {{ intranet }}\n({{ digest }})")
    assert render(view).subject == "Zoë de Vries: 11 x Plek (daily)"


def test_subject_is_one_line_even_with_a_hostile_name() -> None:
    view = with_digest(make_view(recipient_name="Zoë\r\nBcc: all@example.org\x00\t"), subject="Hoi {{ recipient }}")
    assert render(view).subject == "Hoi Zoë Bcc: all@example.org"


def test_subject_template_is_sandboxed() -> None:
    with pytest.raises(SecurityError):
        render(with_digest(make_view(), subject="{{ intranet.__class__.__mro__ }}"))
    with pytest.raises(UndefinedError):
        render(with_digest(make_view(), subject="{{ items }}"))


def test_intro_is_rendered_then_escaped() -> None:
    view = with_digest(make_view(), intro="Goedemorgen {{ recipient }}!\n\nDeze week <b>veel</b> nieuws.")
    rendered = render(view)
    assert ">Goedemorgen Zoë de Vries!</p>" in rendered.html
    assert ">Deze week &lt;b&gt;veel&lt;/b&gt; nieuws.</p>" in rendered.html
    assert "Goedemorgen Zoë de Vries!\n\nDeze week <b>veel</b> nieuws.\n" in rendered.text


def test_preheader_is_the_first_titles() -> None:
    rendered = render(make_view())
    assert rendered.preheader.startswith(
        "Nieuwe parkeerregeling vanaf 1 december · Kerstborrel: meld je aan vóór 10 december · Verslag van")
    assert rendered.preheader.endswith(" …") and len(rendered.preheader) <= 140
    assert re.search(r'<div class="preheader" aria-hidden="true" style="display: none;[^"]*">Nieuwe parkeerregeling',
                     rendered.html)


# Template overrides --------------------------------------------------------


def test_templates_folder_overrides_by_name(tmp_path: Path) -> None:
    (tmp_path / "digest.txt").write_text("{{ count }} voor {{ recipient_name }}\n", encoding="utf-8")
    (tmp_path / "digest.html").write_text(
        '{% extends "shipped/digest.html" %}{% block footer %}<tr><td>Eigen voet</td></tr>{% endblock %}',
        encoding="utf-8",
    )
    rendered = render(with_digest(make_view(), templates=tmp_path))
    assert rendered.text == "11 voor Zoë de Vries\n"
    assert "<td>Eigen voet</td>" in rendered.html
    assert "Afmelden" not in rendered.html
    assert "Nieuwe parkeerregeling vanaf 1 december" in rendered.html


def test_templates_folder_without_a_file_falls_back(tmp_path: Path) -> None:
    (tmp_path / "digest.txt").write_text("kort\n", encoding="utf-8")
    rendered = render(with_digest(make_view(), templates=tmp_path))
    assert rendered.text == "kort\n"
    assert "Afmelden" in rendered.html


# Colours -------------------------------------------------------------------


colours = st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)


@given(colours)
def test_every_brand_colour_gets_aa_contrast_in_light_and_dark(colour: str) -> None:
    scheme = palette(colour)
    assert contrast(scheme.on_brand, scheme.brand) >= 4.5
    for mode in (scheme.light, scheme.dark):
        for ink in (mode.text, mode.muted, mode.link):
            for ground in (mode.page, mode.card, mode.panel):
                assert contrast(ink, ground) >= 4.5, (colour, ink, ground)


def test_a_legible_brand_colour_is_kept() -> None:
    assert palette("#1F5FA8").light.link == "#1f5fa8"
    assert palette("#1f5fa8").dark.link != "#1f5fa8"  # too dark on a dark card
    assert (LIGHT.card, DARK.card) == ("#ffffff", "#181d24")


@given(st.text())
def test_one_line_never_breaks(text: str) -> None:
    line = one_line(text)
    assert len(line.splitlines()) <= 1
    assert line == line.strip()
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", line)


# Snapshots -----------------------------------------------------------------


def snapshot_view(locale: str) -> DigestView:
    return with_digest(make_view(locale), intro="Dit is een voorbeeld van de samenvatting.")


@pytest.mark.parametrize("locale", ["nl", "en"])
@pytest.mark.parametrize("part", ["html", "txt"])
def test_snapshot(locale: str, part: str) -> None:
    rendered = render(snapshot_view(locale))
    actual = rendered.html if part == "html" else rendered.text
    path = SNAPSHOTS / f"digest.{locale}.{part}"
    if os.environ.get("INTRACAST_REGENERATE") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{path} differs; INTRACAST_REGENERATE=1 rewrites it"
