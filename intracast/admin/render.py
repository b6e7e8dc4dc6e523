"""The admin pages' HTML: Jinja2 in nl and en, their date filters, and the headers every page sends.

Pages run no inline script or style: the Content-Security-Policy allows
only our own stylesheet (and scripts, should a page ever need one, from
files). A page that previews a mail may frame our own URLs, nothing else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from babel.dates import format_datetime, format_timedelta
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context

from intracast.admin.i18n import CATALOGUE, LOCALES
from screens.i18n import format_ago
from sources.fields import format_duration

TEMPLATES = Path(__file__).parent / "templates"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
FRAMING_CSP = CSP + "; frame-src 'self'"
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
WHEN = "d MMM y HH:mm"


def environments() -> dict[str, Environment]:
    """One environment per locale; templates get `zone` (the intranet's) and `locale` in their context."""
    found = {}
    for locale in LOCALES:
        env = CATALOGUE.jinja_environment(FileSystemLoader(TEMPLATES), locale)
        env.filters.update(when=_when, span=_span, every=format_duration, ago=_ago)
        found[locale] = env
    return found


@pass_context
def _when(context: Context, moment: datetime | None) -> str:
    """"12 mrt 2025 08:00" in the intranet's time zone; a dash for never."""
    if moment is None:
        return "–"
    return format_datetime(moment, WHEN, tzinfo=context["zone"], locale=context["locale"])


@pass_context
def _span(context: Context, length: timedelta) -> str:
    """"3 hours", "2 dagen": a length of time, roughly."""
    return format_timedelta(length, threshold=1.5, locale=context["locale"])


@pass_context
def _ago(context: Context, moment: datetime, now: datetime) -> str:
    """"3 minutes ago", "3 minuten geleden": `moment`, seen from `now`."""
    return format_ago(moment, now, context["locale"])
