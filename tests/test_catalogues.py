"""Every package's catalogue is complete: each msgid its code and templates use is translated
in nl and en, with the same placeholders, none fuzzy, none left over, and Dutch really Dutch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import digest.i18n
import intracast.admin.i18n
import screens.i18n
from sources.i18n import LOCALES, Catalogue

TEMPLATES = [("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract"),
             ("templates/**.txt", "jinja2.ext:babel_extract")]
CATALOGUES = {"digest": digest.i18n.CATALOGUE, "screens": screens.i18n.CATALOGUE,
              "admin": intracast.admin.i18n.CATALOGUE}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def used_msgids(catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    """msgid -> all its forms (singular, plural), from the package's code and templates."""
    package = catalogue.folder.parent
    found: dict[str, tuple[str, ...]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(package, method_map=TEMPLATES):
        forms = message if isinstance(message, tuple) else (message,)
        found[forms[0]] = forms
    return found


def read(catalogue: Catalogue, locale: str) -> Catalog:
    with catalogue.path(locale).open("rb") as po:
        return read_po(po, locale=locale)


def forms_of(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


each = pytest.mark.parametrize(("name", "locale"), [(n, loc) for n in CATALOGUES for loc in LOCALES])


@each
def test_every_string_is_translated(name: str, locale: str) -> None:
    catalogue = CATALOGUES[name]
    translated = read(catalogue, locale)
    used = used_msgids(catalogue)
    assert used, f"{name}: no msgids found; is the extraction looking in the right place?"
    for msgid, forms in used.items():
        message = translated.get(msgid)
        assert message is not None, f"{name}/{locale}: missing {msgid!r}"
        strings = forms_of(message.string)
        assert len(strings) == len(forms) and all(strings), f"{name}/{locale}: empty translation of {msgid!r}"
        assert not message.fuzzy, f"{name}/{locale}: fuzzy {msgid!r}"
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(forms[0])), (name, locale, msgid)


@each
def test_no_string_is_left_over(name: str, locale: str) -> None:
    used = used_msgids(CATALOGUES[name])
    left = [m.id for m in read(CATALOGUES[name], locale) if m.id and forms_of(m.id)[0] not in used]
    assert left == []


@pytest.mark.parametrize("name", CATALOGUES)
def test_dutch_is_dutch(name: str) -> None:
    for message in read(CATALOGUES[name], "nl"):
        ids = forms_of(message.id) if message.id else ()
        words = [i for i in ids if PLACEHOLDER.sub("", i).strip(" %()of")]  # "%(page)d of %(pages)d" has no words
        assert not set(forms_of(message.string)) & set(words), f"{name}: nl left in English: {message.id!r}"
