"""The translation layer the pipelines share: gettext catalogues, Jinja2 i18n, dates.

Each package keeps its own catalogue (`digest`, `screens`, ...) as .po files
under `locale/{nl,en}/LC_MESSAGES/DOMAIN.po`; code and templates hold English
msgids. The .po files are the only source: they are compiled in memory at
first use (babel), so there is no build step and no .mo file that can drift.
Each package's tests extract every msgid it uses and fail when a catalogue
lacks one, so a new string cannot ship untranslated.

It lives in `sources` because that is the one package every other may import
(the pipelines must not import each other).
"""

from __future__ import annotations

import gettext
from datetime import datetime, tzinfo
from io import BytesIO
from pathlib import Path

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import BaseLoader, Environment, StrictUndefined, select_autoescape

LOCALES = ("nl", "en")

# A weekday and a date without the year ("maandag 23 november"): digests and
# screens show this week's news, and the weekday is what people plan by.
DAY_PATTERN = "EEEE d MMMM"
# 24-hour clock in both languages: the organisations we serve are Dutch, and
# their English-speaking staff read 14:00 on every other sign in the building.
CLOCK_PATTERN = "HH:mm"


class Catalogue:
    """One package's translations, compiled once per process and locale."""

    def __init__(self, folder: Path, domain: str):
        self.folder, self.domain = folder, domain
        self._compiled: dict[str, gettext.GNUTranslations] = {}

    def path(self, locale: str) -> Path:
        return self.folder / locale / "LC_MESSAGES" / f"{self.domain}.po"

    def translations(self, locale: str) -> gettext.GNUTranslations:
        if locale not in LOCALES:
            raise ValueError(f"no {self.domain} catalogue for locale {locale!r}; expected one of {', '.join(LOCALES)}")
        if locale not in self._compiled:
            with self.path(locale).open("rb") as po:
                catalog = read_po(po, locale=locale, domain=self.domain)
            compiled = BytesIO()
            write_mo(compiled, catalog)
            compiled.seek(0)
            self._compiled[locale] = gettext.GNUTranslations(compiled)
        return self._compiled[locale]

    def jinja_environment(self, loader: BaseLoader, locale: str) -> Environment:
        """Templates speaking `locale`, calling `_("Hello %(name)s", name=x)` and `ngettext(...)`.

        New-style gettext: the call formats, and escapes its arguments in HTML.
        `.html` templates autoescape, text templates do not; an undefined name
        is an error, so a typo fails its test instead of leaving a hole on a
        screen or in a mail.
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
        env.install_gettext_translations(self.translations(locale), newstyle=True)  # type: ignore[attr-defined]
        return env


def format_day(moment: datetime, locale: str, zone: tzinfo) -> str:
    """"maandag 23 november": the day `moment` falls on in the reader's zone."""
    return format_date(moment.astimezone(zone), DAY_PATTERN, locale=locale)


def format_clock(moment: datetime, locale: str, zone: tzinfo) -> str:
    """"14:00": the time of day of `moment` in the reader's zone."""
    return format_time(moment.astimezone(zone), CLOCK_PATTERN, locale=locale)
