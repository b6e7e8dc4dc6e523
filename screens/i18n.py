"""The screens' translations (`locale/{nl,en}/LC_MESSAGES/screens.po`, through `sources.i18n`),
and the relative dates a slide shows."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from babel.dates import format_date, format_timedelta

from sources.i18n import LOCALES, Catalogue, format_clock, format_day

__all__ = ["CATALOGUE", "LOCALES", "catalogue_path", "format_ago", "format_clock", "format_day", "format_weekday",
           "jinja_environment", "translations"]

CATALOGUE = Catalogue(Path(__file__).parent / "locale", "screens")
catalogue_path = CATALOGUE.path
translations = CATALOGUE.translations
jinja_environment = CATALOGUE.jinja_environment


def format_ago(moment: datetime, now: datetime, locale: str) -> str:
    """"2 uur geleden" / "2 hours ago"; a moment ahead of `now` (clock skew) counts as now."""
    age = max(now - moment, timedelta(seconds=1))  # babel says "in 0 seconds" for zero
    return format_timedelta(-age, add_direction=True, locale=locale)


def format_weekday(moment: datetime, locale: str, zone: tzinfo) -> str:
    """"maandag": the weekday `moment` falls on in the screen's zone."""
    return format_date(moment.astimezone(zone), "EEEE", locale=locale)
