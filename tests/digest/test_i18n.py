"""The translation layer: complete catalogues, Jinja2 gettext, dates in the reader's zone."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import DictLoader

import digest
from digest.i18n import LOCALES, catalogue_path, format_clock, format_day, jinja_environment, translations

PACKAGE = Path(digest.__file__).parent
METHODS = [
    ("**.py", "python"),
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("templates/**.txt", "jinja2.ext:babel_extract"),
]
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def used_msgids() -> dict[str, tuple[str, ...]]:
    """msgid -> all its forms (singular, plural), from the code and templates of the package."""
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
    assert "Other" in used  # render.py
    assert "Unsubscribe" in used  # templates
    assert used["%(num)d new post on %(intranet)s"][1] == "%(num)d new posts on %(intranet)s"


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
        if message.id:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert not set(strings) & set(ids), f"nl left in English: {message.id!r}"
    nl = translations("nl")
    assert nl.gettext("Unsubscribe") == "Afmelden"
    assert nl.ngettext("%(num)d new post on %(intranet)s", "%(num)d new posts on %(intranet)s", 1) == (
        "%(num)d nieuw bericht op %(intranet)s"
    )


def test_translations_are_compiled_once() -> None:
    assert translations("nl") is translations("nl")
    assert translations("en").gettext("In this email") == "In this email"


def test_unknown_locale() -> None:
    with pytest.raises(ValueError, match="'de'"):
        translations("de")


def test_templates_translate_and_escape() -> None:
    loader = DictLoader({
        "t.html": '{{ _("Hello %(name)s,", name=name) }} {{ ngettext("And %(num)d more post on %(intranet)s", '
                  '"And %(num)d more posts on %(intranet)s", n, intranet="Plek") }}',
        "t.txt": '{{ _("Hello %(name)s,", name=name) }}',
    })
    nl, en = jinja_environment(loader, "nl"), jinja_environment(loader, "en")
    assert nl.get_template("t.html").render(name="<b>Zoë</b>", n=2) == (
        "Hallo &lt;b&gt;Zoë&lt;/b&gt;, En nog 2 berichten op Plek"
    )
    assert en.get_template("t.html").render(name="Zoë", n=1) == "Hello Zoë, And 1 more post on Plek"
    assert nl.get_template("t.txt").render(name="<b>Zoë</b>") == "Hallo <b>Zoë</b>,"


@pytest.mark.parametrize(("locale", "day"), [("nl", "dinsdag 24 november"), ("en", "Tuesday 24 November")])
def test_day_in_the_readers_zone(locale: str, day: str) -> None:
    late = datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)
    assert format_day(late, locale, AMSTERDAM) == day
    assert format_day(late, locale, timezone.utc) == day.replace("24", "23").replace(
        "dinsdag", "maandag").replace("Tuesday", "Monday")


def test_clock_is_24_hour_in_the_readers_zone() -> None:
    afternoon = datetime(2026, 7, 1, 12, 5, tzinfo=timezone.utc)  # summer time: UTC+2
    assert format_clock(afternoon, "nl", AMSTERDAM) == format_clock(afternoon, "en", AMSTERDAM) == "14:05"
