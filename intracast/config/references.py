"""Checks across sections: unique names, and names that must refer to something.

They run on the raw document, not on validated models, so a reference to a
missing source is reported even when that digest has other problems too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from intracast.config.document import Document
from intracast.config.explain import did_you_mean
from intracast.config.problems import KeyPath, Problem

NAMED_SECTIONS = {"sources": "name", "digests": "name", "playlists": "name", "screens": "id"}


def check_references(doc: Document) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return []
    problems: list[Problem] = []
    names = {section: _unique_names(doc, section, key, problems) for section, key in NAMED_SECTIONS.items()}
    refs = [
        *(_refs(doc.data, ("digests", "*", "sources", "*"))),
        *(_refs(doc.data, ("playlists", "*", "blocks", "*", "sources", "*"))),
    ]
    for path, value in refs:
        problems += _check(doc, path, value, "source", names["sources"])
    for path, value in _refs(doc.data, ("screens", "*", "playlist")):
        problems += _check(doc, path, value, "playlist", names["playlists"])
    return problems


def _unique_names(doc: Document, section: str, key: str, problems: list[Problem]) -> list[str]:
    seen: dict[str, int] = {}
    for path, value in _refs(doc.data, (section, "*", key)):
        if not isinstance(value, str):
            continue
        if value in seen:
            kind = section.removesuffix("s")
            message = f"duplicate {kind} {key} {value!r} (first at line {seen[value]})"
            problems.append(doc.problem(path, message))
        else:
            seen[value] = doc.position(path).line
    return list(seen)


def _check(doc: Document, path: KeyPath, value: Any, kind: str, known: list[str]) -> list[Problem]:
    if not isinstance(value, str) or value in known:
        return []
    hint = did_you_mean(value, known) or (f" (known: {', '.join(known)})" if known else f" (no {kind}s are defined)")
    return [doc.problem(path, f"unknown {kind} {value!r}{hint}")]


def _refs(data: Any, pattern: tuple[str, ...], path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Values at `pattern` ("*" matches every list index) that are present in the data."""
    if not pattern:
        yield path, data
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*" and isinstance(data, list):
        for i, entry in enumerate(data):
            yield from _refs(entry, rest, path + (i,))
    elif isinstance(data, dict) and head in data:
        yield from _refs(data[head], rest, path + (head,))
