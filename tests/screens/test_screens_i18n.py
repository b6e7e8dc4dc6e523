"""The screens' translation layer: complete catalogues, dates in the screen's zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import screens
from screens.i18n import LOCALES, catalogue_path, format_ago, format_clock, format_day, translations

PACKAGE = Path(screens.__file__).parent
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")]
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def used_msgids() -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(PACKAGE, method_map=METHODS):
        forms = message if isinstance(message, tuple) else (message,)
        found[forms[0]] = forms
    return found


def catalogue(locale: str) -> Catalog:
    with catalogue_path(locale).open("rb") as po:
        return read_po(po, locale=locale)


def test_extraction_finds_code_and_templates() -> None:
    used = used_msgids()
    assert "updated %(ago)s" in used  # render.py
    assert "Coming up" in used  # templates/slides/agenda.html


@pytest.mark.parametrize("locale", LOCALES)
def test_every_string_is_translated(locale: str) -> None:
    translated = catalogue(locale)
    for msgid, forms in used_msgids().items():
        message = translated.get(msgid)
        assert message is not None, f"{locale}: missing {msgid!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert len(strings) == len(forms) and all(strings), f"{locale}: empty translation of {msgid!r}"
        assert not message.fuzzy, f"{locale}: fuzzy {msgid!r}"
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(forms[0])), (locale, msgid)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_string_is_left_over(locale: str) -> None:
    used = used_msgids()
    assert [m.id for m in catalogue(locale) if m.id and (m.id[0] if isinstance(m.id, tuple) else m.id) not in used] == []


def test_dutch_is_dutch() -> None:
    for message in catalogue("nl"):
        if message.id and not PLACEHOLDER.fullmatch(message.id.replace(" of ", "")):
            assert message.string != message.id, f"nl left in English: {message.id!r}"
    assert translations("nl").gettext("updated %(ago)s") == "bijgewerkt %(ago)s"


def test_unknown_locale() -> None:
    with pytest.raises(ValueError, match="'de'"):
        translations("de")


@pytest.mark.parametrize(("locale", "day"), [("nl", "dinsdag 24 november"), ("en", "Tuesday 24 November")])
def test_day_and_clock_in_the_screens_zone(locale: str, day: str) -> None:
    late = datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)
    assert format_day(late, locale, AMSTERDAM) == day
    assert format_clock(late, locale, AMSTERDAM) == "00:30"


@pytest.mark.parametrize(("locale", "ago"), [("nl", "2 uur geleden"), ("en", "2 hours ago")])
def test_ago(locale: str, ago: str) -> None:
    now = datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)
    assert format_ago(now - timedelta(hours=2), now, locale) == ago
    assert "0" not in format_ago(now + timedelta(minutes=5), now, locale)  # ahead of the clock: just now
