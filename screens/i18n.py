"""The screens' translation layer: gettext catalogues, Jinja2 i18n, dates.

The same pattern as the digest's (`digest/i18n.py`), with the screens' own
catalogues, because screens must not import digest: code and templates hold
English msgids; `locale/{nl,en}/LC_MESSAGES/screens.po` translate them, are
the only source, and are compiled in memory at first use (babel), so there
is no .mo file to drift. `tests/screens/test_screens_i18n.py` fails when a
msgid used in this package is missing from a catalogue.
"""

from __future__ import annotations

import functools
import gettext
from datetime import datetime, timedelta, tzinfo
from io import BytesIO
from pathlib import Path

from babel.dates import format_date, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import BaseLoader, Environment, StrictUndefined, select_autoescape

LOCALES = ("nl", "en")
DOMAIN = "screens"
CATALOGUES = Path(__file__).parent / "locale"

# "dinsdag 24 november": a screen shows this week's news, the weekday is what
# people plan by, and the year would only take room from across the hall.
DAY_PATTERN = "EEEE d MMMM"
# 24-hour clock in both languages, as on every other sign in a Dutch building.
CLOCK_PATTERN = "HH:mm"


def catalogue_path(locale: str) -> Path:
    return CATALOGUES / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled catalogue for `locale` (nl or en), built once per process."""
    if locale not in LOCALES:
        raise ValueError(f"no screens catalogue for locale {locale!r}; expected one of {', '.join(LOCALES)}")
    with catalogue_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def jinja_environment(loader: BaseLoader, locale: str) -> Environment:
    """A template environment speaking `locale`: HTML autoescaped, undefined names are errors."""
    env = Environment(
        loader=loader,
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def format_day(moment: datetime, locale: str, zone: tzinfo) -> str:
    """"dinsdag 24 november": the day `moment` falls on in the screen's zone."""
    return format_date(moment.astimezone(zone), DAY_PATTERN, locale=locale)


def format_clock(moment: datetime, locale: str, zone: tzinfo) -> str:
    """"09:30": the time of day of `moment` in the screen's zone."""
    return format_time(moment.astimezone(zone), CLOCK_PATTERN, locale=locale)


def format_ago(moment: datetime, now: datetime, locale: str) -> str:
    """"2 uur geleden" / "2 hours ago"; a moment ahead of `now` (clock skew) counts as now."""
    age = max(now - moment, timedelta(seconds=1))  # babel says "in 0 seconds" for zero
    return format_timedelta(-age, add_direction=True, locale=locale)


def format_weekday(moment: datetime, locale: str, zone: tzinfo) -> str:
    """"maandag": the weekday `moment` falls on in the screen's zone."""
    return format_date(moment.astimezone(zone), "EEEE", locale=locale)
