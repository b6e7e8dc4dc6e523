"""The digest's translation layer: gettext catalogues, Jinja2 i18n, dates.

Code and templates hold English msgids; `locale/{nl,en}/LC_MESSAGES/digest.po`
translate them. The .po files are the only source: they are compiled in
memory at first use (babel), so there is no build step and no .mo file that
can drift from its .po. `tests/digest/test_i18n.py` extracts every msgid from
this package and fails when a catalogue lacks it, so a new string cannot ship
untranslated.

The pattern for other packages (screens, admin): `translations(locale)` for
Python code, `jinja_environment(loader, locale)` for templates, which call
`_("Hello %(name)s", name=x)` and `ngettext(singular, plural, n)` (new-style
gettext: the call formats, and escapes the arguments in HTML), and
`format_day` / `format_clock` for dates in the reader's own time zone.
"""

from __future__ import annotations

import functools
import gettext
from datetime import datetime, tzinfo
from io import BytesIO
from pathlib import Path

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import BaseLoader, Environment, StrictUndefined, select_autoescape

LOCALES = ("nl", "en")
DOMAIN = "digest"
CATALOGUES = Path(__file__).parent / "locale"

# A weekday and a date without the year ("maandag 23 november"): a digest
# covers days, not years, and the weekday is what people plan by.
DAY_PATTERN = "EEEE d MMMM"
# 24-hour clock in both languages: the organisations we serve are Dutch, and
# their English-speaking staff read 14:00 on every other sign in the building.
CLOCK_PATTERN = "HH:mm"


def catalogue_path(locale: str) -> Path:
    return CATALOGUES / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled catalogue for `locale` (nl or en), built once per process."""
    if locale not in LOCALES:
        raise ValueError(f"no digest catalogue for locale {locale!r}; expected one of {', '.join(LOCALES)}")
    with catalogue_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def jinja_environment(loader: BaseLoader, locale: str) -> Environment:
    """A template environment speaking `locale`.

    HTML templates (`.html`) autoescape, text templates do not; an undefined
    variable is an error rather than an empty string, so a typo in a template
    fails its test instead of sending a mail with a hole in it.
    """
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
    """"maandag 23 november": the day `moment` falls on in the reader's zone."""
    return format_date(moment.astimezone(zone), DAY_PATTERN, locale=locale)


def format_clock(moment: datetime, locale: str, zone: tzinfo) -> str:
    """"14:00": the time of day of `moment` in the reader's zone."""
    return format_time(moment.astimezone(zone), CLOCK_PATTERN, locale=locale)
