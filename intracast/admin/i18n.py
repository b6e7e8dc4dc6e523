"""The admin pages' translations: `locale/{nl,en}/LC_MESSAGES/admin.po`, through `sources.i18n`."""

from __future__ import annotations

from pathlib import Path

from sources.i18n import LOCALES, Catalogue

__all__ = ["CATALOGUE", "LOCALES", "N_"]

CATALOGUE = Catalogue(Path(__file__).parent / "locale", "admin")


def N_(msgid: str) -> str:
    """Marks `msgid` for the catalogue; the template translates it when it shows it."""
    return msgid
