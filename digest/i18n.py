"""The digest's translations: `locale/{nl,en}/LC_MESSAGES/digest.po`, through `sources.i18n`."""

from __future__ import annotations

from pathlib import Path

from sources.i18n import LOCALES, Catalogue, format_clock, format_day

__all__ = ["CATALOGUE", "LOCALES", "catalogue_path", "format_clock", "format_day", "jinja_environment", "translations"]

CATALOGUE = Catalogue(Path(__file__).parent / "locale", "digest")
catalogue_path = CATALOGUE.path
translations = CATALOGUE.translations
jinja_environment = CATALOGUE.jinja_environment
