"""The screens' translation layer: complete catalogues, dates in the screen's zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from screens.i18n import CATALOGUE, format_ago, format_clock, format_day, translations
from tests.test_catalogues import used_msgids

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_extraction_finds_code_and_templates() -> None:
    used = used_msgids(CATALOGUE)
    assert "updated %(ago)s" in used  # render.py
    assert "Coming up" in used  # templates/slides/agenda.html


def test_dutch_translations() -> None:
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
