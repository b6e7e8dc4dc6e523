"""One recipient's digest as a subject, a preheader, an HTML part and a text part.

`render(view)` takes entries that are already selected and ordered (pinned
first, then newest, at most `max_items`) and only presents them: grouped by
source or first tag, each a link back to the intranet with its date in the
recipient's language and time zone, never the item's content.

Templates: `templates/digest.html` and `templates/digest.txt`, each a
complete mail on its own. A digest's `templates` folder overrides them by
name; an override can also `{% extends "shipped/digest.html" %}` and replace
one block. The context they get:

    view, digest, branding, locale, timezone, recipient_name
    subject, preheader, since (the window's first day, as text), count
    intro        paragraphs of the digest's intro, possibly none
    groups       [Group(heading, lines)]; heading None when not grouping
    headlines    every Line when there are more than HEADLINES_AFTER, else []
    more         how many more items wait on the intranet
    palette      Palette: brand colours and WCAG AA light and dark schemes

The CSS in the HTML template is inlined (css-inline) because Gmail and
Outlook ignore much of a <style> block; blocks marked
`data-css-inline="keep"` stay in the head for the clients that do read them
(dark mode, small screens).

`digest.subject` and `digest.intro` are the admin's templates: they run in a
sandbox, without autoescape, and see only `count`, `intranet`, `digest` and
`recipient` (strings, and an int).
"""

from __future__ import annotations

import functools
import re
import textwrap
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, time
from gettext import GNUTranslations
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined, Template
from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from digest.config import DigestConfig
from digest.i18n import format_clock, format_day, jinja_environment, translations
from sources.item import Item

SHIPPED_TEMPLATES = Path(__file__).parent / "templates"
# Beyond this many entries a list of headlines opens the mail, so that it can
# be scanned in seconds without scrolling.
HEADLINES_AFTER = 5
PREHEADER_TITLES = 3
# Inbox previews show about this much; more is cut by the client anyway.
PREHEADER_WIDTH = 140
AA_TEXT = 4.5  # WCAG 2 AA for body text


@dataclass(frozen=True)
class Branding:
    """The intranet's: the name employees know, its home page, logo and colour (#rrggbb)."""

    name: str
    url: str
    logo: str | None
    colour: str


@dataclass(frozen=True)
class Entry:
    """One item to list; `url` is the item's link, or a tracked /r/ link to it."""

    item: Item
    url: str

    def __post_init__(self) -> None:
        # Sources keep only http(s) links (sources/normalise.py); anything else
        # reaching a mail is a bug upstream, not something to print as an href.
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"item {self.item.source}/{self.item.guid}: link is not http(s): {self.url!r}")


@dataclass(frozen=True)
class DigestView:
    digest: DigestConfig
    branding: Branding
    recipient_name: str
    locale: str
    timezone: ZoneInfo
    entries: list[Entry]
    more: int
    window_start: datetime
    window_end: datetime
    preferences_url: str
    unsubscribe_url: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True)
class Line:
    """An entry as the templates show it: `date` is when it was published, `when` when an event starts."""

    item: Item
    url: str
    anchor: str
    date: str | None
    when: str | None


@dataclass(frozen=True)
class Group:
    heading: str | None
    lines: list[Line]


# Colours -------------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    """One colour scheme. Text, muted and link each reach AA on page, card and panel."""

    page: str
    card: str
    panel: str
    text: str
    muted: str
    rule: str
    link: str = ""


@dataclass(frozen=True)
class Palette:
    brand: str
    on_brand: str  # text on a brand-coloured button
    light: Scheme
    dark: Scheme


LIGHT = Scheme(page="#eef1f5", card="#ffffff", panel="#f4f6f9", text="#1d2530", muted="#566171", rule="#dde3ea")
DARK = Scheme(page="#0e1217", card="#181d24", panel="#20272f", text="#e8ecf1", muted="#a4aebb", rule="#2f3843")


def palette(colour: str) -> Palette:
    """Colours for a brand colour: links darkened (light) or lightened (dark) until they pass AA."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise ValueError(f"brand colour must be #rrggbb, got {colour!r}")
    brand = colour.lower()
    on_brand = max(("#ffffff", "#000000"), key=lambda text: contrast(text, brand))
    return Palette(
        brand=brand,
        on_brand=on_brand,
        light=replace(LIGHT, link=_legible(brand, LIGHT, toward="#000000")),
        dark=replace(DARK, link=_legible(brand, DARK, toward="#ffffff")),
    )


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours, 1 to 21."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _luminance(colour: str) -> float:
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _legible(colour: str, scheme: Scheme, toward: str) -> str:
    """The brand colour itself when it reads well, else the least change toward black or white that does."""
    for step in range(20):
        candidate = _mix(colour, toward, step / 20)
        if all(contrast(candidate, ground) >= AA_TEXT for ground in (scheme.page, scheme.card, scheme.panel)):
            return candidate
    return toward


def _mix(a: str, b: str, share: float) -> str:
    channels = (round(int(a[i : i + 2], 16) * (1 - share) + int(b[i : i + 2], 16) * share) for i in (1, 3, 5))
    return "#" + "".join(f"{c:02x}" for c in channels)


# Templates -----------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _environment(locale: str, templates: Path | None) -> Environment:
    shipped = FileSystemLoader(SHIPPED_TEMPLATES)
    overrides = [FileSystemLoader(templates)] if templates is not None else []
    loader = ChoiceLoader([*overrides, shipped, PrefixLoader({"shipped": shipped})])
    return jinja_environment(loader, locale)


@functools.cache
def _sandbox() -> SandboxedEnvironment:
    # The subject is a header and the intro is escaped where it is placed, so
    # escaping here would only double it.
    return SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@functools.lru_cache(maxsize=64)
def _admin_template(source: str) -> Template:
    return _sandbox().from_string(source)


ADMIN_NAMES = frozenset({"count", "intranet", "digest", "recipient"})


def check_admin_template(source: str) -> None:
    """Raise ValueError, saying what is wrong, unless `source` is a subject or intro template that can render."""
    try:
        parsed = _sandbox().parse(source)
    except TemplateSyntaxError as e:
        raise ValueError(f"template error on its line {e.lineno}: {e.message}") from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - ADMIN_NAMES)
    if unknown:
        raise ValueError(f"unknown name {unknown[0]!r} in the template; use {', '.join(sorted(ADMIN_NAMES))}")


def _inline_css(html: str) -> str:
    # Imported at the first digest: an idle daemon does without its native library.
    import css_inline

    # @media rules belong in a `data-css-inline="keep"` block, which stays as
    # written; no remote stylesheets: a mail must not depend on, or fetch, anything.
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False)
    return inliner.inline(html)


# Text ----------------------------------------------------------------------


def one_line(text: str) -> str:
    """`text` as a single line: control characters and runs of whitespace become one space."""
    visible = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(visible.split())


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _subject(view: DigestView, names: dict[str, Any], tr: GNUTranslations) -> str:
    if view.digest.subject is not None:
        return one_line(_admin_template(view.digest.subject).render(names))
    count = names["count"]
    default = tr.ngettext("%(num)d new post on %(intranet)s", "%(num)d new posts on %(intranet)s", count)
    return one_line(default % {"num": count, "intranet": view.branding.name})


def _preheader(entries: list[Entry]) -> str:
    titles = " · ".join(one_line(entry.item.title) for entry in entries[:PREHEADER_TITLES])
    return textwrap.shorten(titles, PREHEADER_WIDTH, placeholder=" …")


# Entries -------------------------------------------------------------------


def _groups(view: DigestView, tr: GNUTranslations) -> list[Group]:
    """Entries grouped per `group_by`, groups in the order of their first entry, anchors in reading order."""
    grouped: dict[str | None, list[Entry]] = {}
    for entry in view.entries:
        grouped.setdefault(_heading(entry.item, view.digest.group_by, tr), []).append(entry)
    numbers = iter(range(1, len(view.entries) + 1))
    return [
        Group(heading, [_line(entry, f"item-{next(numbers)}", view, tr) for entry in entries])
        for heading, entries in grouped.items()
    ]


def _heading(item: Item, group_by: str, tr: GNUTranslations) -> str | None:
    if group_by == "source":
        return item.source
    if group_by == "tag":
        return item.tags[0] if item.tags else tr.gettext("Other")
    return None


def _line(entry: Entry, anchor: str, view: DigestView, tr: GNUTranslations) -> Line:
    item = entry.item
    date = None
    # An undated item's `published` is only when we first saw it: not a date to
    # show. An event shows when it happens instead.
    if item.published is not None and not item.undated and item.start is None:
        date = format_day(item.published, view.locale, view.timezone)
    return Line(item, entry.url, anchor, date, _when(item, view.locale, view.timezone, tr))


def _when(item: Item, locale: str, zone: ZoneInfo, tr: GNUTranslations) -> str | None:
    """An event's start: its day, and its hours unless it lasts whole days."""
    start, end = item.start, item.end
    if start is None:
        return None
    if end is not None and start.time() == time(0) == end.time() and end > start:
        # All-day: midnight to midnight in the calendar's own zone, which names
        # the day even for a reader elsewhere.
        return format_day(start, locale, start.tzinfo or zone)
    day, begins = format_day(start, locale, zone), format_clock(start, locale, zone)
    if end is not None and start < end and end.astimezone(zone).date() == start.astimezone(zone).date():
        ends = format_clock(end, locale, zone)
        return tr.gettext("%(day)s from %(start)s to %(end)s") % {"day": day, "start": begins, "end": ends}
    return tr.gettext("%(day)s at %(time)s") % {"day": day, "time": begins}


# Rendering -----------------------------------------------------------------


def render(view: DigestView) -> Rendered:
    tr = translations(view.locale)
    count = len(view.entries) + view.more
    names = {"count": count, "intranet": view.branding.name, "digest": view.digest.name,
             "recipient": view.recipient_name}
    subject = _subject(view, names, tr)
    preheader = _preheader(view.entries)
    groups = _groups(view, tr)
    lines = [line for group in groups for line in group.lines]
    intro = _admin_template(view.digest.intro).render(names) if view.digest.intro is not None else ""
    context = {
        "view": view, "digest": view.digest, "branding": view.branding, "locale": view.locale,
        "timezone": view.timezone, "recipient_name": view.recipient_name,
        "subject": subject, "preheader": preheader, "count": count, "more": view.more,
        "since": format_day(view.window_start, view.locale, view.timezone),
        "intro": _paragraphs(intro), "groups": groups,
        "headlines": lines if len(lines) > HEADLINES_AFTER else [],
        "palette": palette(view.branding.colour),
    }
    env = _environment(view.locale, view.digest.templates)
    html = _inline_css(env.get_template("digest.html").render(context))
    text = env.get_template("digest.txt").render(context)
    return Rendered(subject=subject, preheader=preheader, html=html, text=text)
