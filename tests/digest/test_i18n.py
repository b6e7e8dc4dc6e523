"""The translation layer: complete catalogues, Jinja2 gettext, dates in the reader's zone."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from jinja2 import DictLoader

from digest.i18n import CATALOGUE, format_clock, format_day, jinja_environment, translations
from tests.test_catalogues import used_msgids

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_extraction_finds_code_and_templates() -> None:
    used = used_msgids(CATALOGUE)
    assert "Other" in used  # render.py
    assert "Unsubscribe" in used  # templates
    assert used["%(num)d new post on %(intranet)s"][1] == "%(num)d new posts on %(intranet)s"


def test_dutch_translations() -> None:
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
