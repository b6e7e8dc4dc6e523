"""Slides as HTML fragments, rendered on the server (issue 6, "Slides").

`render_slide` turns one `Slide` of a playlist into one `<section>`; the
player shows the sections in turn, with `templates/slides.css` (`STYLESHEET`)
and the theme's custom properties from `theme_css`, both served as files.
Nothing else carries style: no `style=` attributes, no inline scripts, no
event handlers, so the page's CSP needs no `unsafe-inline`.

Everything in a slide's data may come from a feed and is untrusted: it
reaches the HTML only as autoescaped text, or as an `src` that is http(s) or
a path on the daemon (`/media/...`); anything else is dropped. The QR code
is an image the player fetches (`qr_svg` draws it), so that one rendering
serves every screen. One template per kind (`templates/slides/{kind}.html`), each with a
view function here that turns `data` into display strings, so templates
format nothing.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import segno
from jinja2 import Environment, FileSystemLoader

from screens.config import MIN_CONTRAST, ThemeConfig, contrast
from screens.i18n import format_ago, format_clock, format_day, format_weekday, jinja_environment, translations
from screens.playlist import Slide

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = TEMPLATES / "slides.css"

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_FONT = re.compile(r"[A-Za-z0-9 ,'\"-]+")  # as ThemeConfig: cannot end the CSS rule


@dataclass(frozen=True)
class Theme:
    background: str
    foreground: str
    accent: str
    font: str
    logo: str | None

    @classmethod
    def from_config(cls, config: ThemeConfig, *, accent: str, logo: str | None) -> Theme:
        """A screen's theme; `accent` and `logo` are the intranet's, used when the theme sets none."""
        return cls(
            background=config.background,
            foreground=config.foreground,
            accent=config.accent or accent,
            font=config.font,
            logo=str(config.logo) if config.logo else logo,
        )


# (source or None, http(s) URL) -> where the daemon serves it: "/media/<key>".
MediaUrl = Callable[[str | None, str], str]


@dataclass(frozen=True)
class _Context:
    locale: str
    tz: ZoneInfo
    now: datetime
    media: MediaUrl | None


def theme_css(theme: Theme) -> str:
    """`:root{--bg:...}`: the theme as CSS custom properties, for the page's one nonce'd `<style>`.

    Checked again here, not trusted from the config: this string is CSS, and
    a colour or font that could close the rule would be an injection.
    """
    for name in ("background", "foreground", "accent"):
        if not _COLOUR.fullmatch(getattr(theme, name)):
            raise ValueError(f"theme {name}: expected a colour as #rrggbb, got {getattr(theme, name)!r}")
    if not _FONT.fullmatch(theme.font):
        raise ValueError(f"theme font: only names, quotes, commas, hyphens and spaces, got {theme.font!r}")
    if contrast(theme.foreground, theme.background) < MIN_CONTRAST:
        raise ValueError(f"theme: {theme.foreground} on {theme.background} is below {MIN_CONTRAST}:1")
    return (
        f":root{{--bg:{theme.background.lower()};--fg:{theme.foreground.lower()};"
        f"--accent:{theme.accent.lower()};--font:{theme.font}}}"
    )


def stylesheet() -> str:
    """The slides' CSS, the same for every screen."""
    return STYLESHEET.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=2048)  # a screen asks for each item's code again after every reload
def qr_svg(url: str) -> str:
    """`url` as a QR code: an SVG document (with its namespace: browsers draw it as an `<img>`), no
    XML declaration, no size (it scales by its viewBox), dark modules on a light quiet zone of 4
    modules so phones read it on a dark slide."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", xmldecl=False, svgns=True, omitsize=True, border=4, dark="#000000", light="#ffffff"
    )
    return out.getvalue().decode()


def render_slide(
    slide: Slide,
    *,
    locale: str,
    tz: ZoneInfo,
    now: datetime,
    logo: str | None,
    qr: str | None,
    stale_since: datetime | None,
    media: MediaUrl | None = None,
) -> str:
    """One `<section>` for `slide` in `locale`, dates in `tz` relative to `now`.

    `qr` is the address of the slide's QR code image (None where QR codes are
    off); `stale_since`, when the slide's source has been failing too long,
    adds "updated 2 hours ago"; `media` maps image URLs (the logo's too) to
    the daemon's `/media/` (None: used as they are).
    """
    view = _VIEWS.get(slide.kind)
    if view is None:
        raise ValueError(f"no template for slide kind {slide.kind!r}; expected one of {', '.join(_VIEWS)}")
    context = _Context(locale, tz, now, media)
    gettext = translations(locale).gettext
    values = {
        "kind": slide.kind,
        "key": slide.key,
        "locale": locale,
        "logo": _image_src(logo, None, context),
        "qr": qr,
        "stale": gettext("updated %(ago)s") % {"ago": format_ago(stale_since, now, locale)} if stale_since else None,
        **view(slide.data, context),
    }
    return _environment(locale).get_template(f"slides/{slide.kind}.html").render(values)


@functools.cache
def _environment(locale: str) -> Environment:
    return jinja_environment(FileSystemLoader(TEMPLATES), locale)


def _safe_src(url: Any) -> str | None:
    """An http(s) URL or a path on the daemon; a `javascript:`, `data:` or protocol-relative one is dropped."""
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("/"):
        return url if not url.startswith("//") and "\\" not in url else None
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


def _image_src(url: Any, source: Any, context: _Context) -> str | None:
    """A safe image address, through the daemon's media cache when there is one."""
    src = _safe_src(url)
    if src is None or context.media is None or src.startswith("/"):
        return src
    return context.media(source if isinstance(source, str) else None, src)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _event(data: dict[str, Any], context: _Context) -> dict[str, str] | None:
    """Day, time and place of an event; None for an item that is not one."""
    start, end = _when(data.get("start")), _when(data.get("end"))
    if start is None:
        return None
    local_start = start.astimezone(context.tz)
    time = format_clock(start, context.locale, context.tz)
    if end is not None and end.astimezone(context.tz).date() == local_start.date() and end > start:
        time = f"{time} – {format_clock(end, context.locale, context.tz)}"
    return {
        "day": format_day(start, context.locale, context.tz),
        "time": time,
        "location": _text(data.get("location")),
    }


def _item(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    # An undated item's `published` is when intracast first saw it: not a date to show.
    when = None if data.get("undated") else _when(data.get("published")) or _when(data.get("updated"))
    return {
        "title": _text(data.get("title")),
        "summary": _text(data.get("summary")),
        "source": _text(data.get("source")),
        "ago": format_ago(when, context.now, context.locale) if when else None,
        "image": _image_src(data.get("image"), data.get("source"), context),
        "event": _event(data, context),
    }


def _announcement(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    image = _image_src(data.get("image"), None, context)
    return {"title": _text(data.get("title")), "text": _text(data.get("text")), "image": image}


def _image(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    return {"url": _image_src(data.get("url"), None, context), "caption": _text(data.get("caption"))}


def _clock(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    return {
        "iso": context.now.astimezone(context.tz).isoformat(timespec="minutes"),
        "day": format_day(context.now, context.locale, context.tz),
        "time": format_clock(context.now, context.locale, context.tz),
    }


def _agenda(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    events = [{"title": _text(e.get("title")), **(_event(e, context) or {})} for e in data.get("events", [])]
    return {"events": [e for e in events if "day" in e], "page": data.get("page", 1), "pages": data.get("pages", 1)}


def _webpage(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    # The config allows https URLs on the playlist's webpage_hosts only; checked again at the last step.
    url = _text(data.get("url"))
    if urlsplit(url).scheme != "https":
        raise ValueError(f"a webpage slide needs an https URL, got {url!r}")
    return {"url": url, "host": urlsplit(url).hostname or ""}


def _alert(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    return {**_item(data, context), "mode": "takeover" if data.get("takeover") else "banner"}


def _idle(data: dict[str, Any], context: _Context) -> dict[str, Any]:
    until = _when(data.get("until"))
    gettext = translations(context.locale).gettext
    note = None
    if until is not None:
        clock = format_clock(until, context.locale, context.tz)
        if until.astimezone(context.tz).date() == context.now.astimezone(context.tz).date():
            note = gettext("until %(time)s") % {"time": clock}
        else:
            day = format_weekday(until, context.locale, context.tz)
            note = gettext("until %(day)s %(time)s") % {"day": day, "time": clock}
    return {**_clock(data, context), "until": note}


# Slide kind -> the view that turns its data into what its template shows.
_VIEWS: dict[str, Callable[[dict[str, Any], _Context], dict[str, Any]]] = {
    "item": _item,
    "announcement": _announcement,
    "image": _image,
    "clock": _clock,
    "agenda": _agenda,
    "webpage": _webpage,
    "idle": _idle,
    "alert": _alert,
}
