"""Checks across sections: unique names, names that must refer to something
(an agenda's to an ical source), and webpage hosts their playlist must allow.

They run on the raw document, not on validated models, so a reference to a
missing source is reported even when that digest has other problems too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

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
    problems += _link_secret(doc)
    problems += _admin_secret(doc)
    return problems + _check_agendas(doc, names["sources"]) + _check_webpages(doc)


def _link_secret(doc: Document) -> list[Problem]:
    """Digests sign the links in every mail; a default secret would let anyone forge them."""
    server = doc.data.get("server")
    if not doc.data.get("digests") or (isinstance(server, dict) and server.get("secret")):
        return []
    message = "digests sign their unsubscribe and preference links: set server.secret (secret: ${INTRACAST_SECRET})"
    return [doc.problem(("digests",), message, key=True)]


def _admin_secret(doc: Document) -> list[Problem]:
    """The admin pages sign their session cookies; without a secret anyone could forge a login."""
    server = doc.data.get("server")
    if doc.data.get("admin") is None or (isinstance(server, dict) and server.get("secret")):
        return []
    message = "the admin pages sign their session cookies: set server.secret (secret: ${INTRACAST_SECRET})"
    return [doc.problem(("admin",), message, key=True)]


def _blocks(doc: Document, kind: str, key: str) -> Iterator[tuple[KeyPath, Any, dict[str, Any]]]:
    """(path, value, playlist) of `key` in every playlist block of type `kind`."""
    for path, block in _refs(doc.data, ("playlists", "*", "blocks", "*")):
        if isinstance(block, dict) and block.get("type") == kind and key in block:
            yield path + (key,), block[key], doc.data["playlists"][path[1]]


def _check_agendas(doc: Document, sources: list[str]) -> list[Problem]:
    """An agenda block names an ical source (screens/config.py, AgendaBlock)."""
    sources_data = [source for _, source in _refs(doc.data, ("sources", "*")) if isinstance(source, dict)]
    type_of = {source.get("name"): source.get("type") for source in sources_data}
    problems: list[Problem] = []
    for path, value, _ in _blocks(doc, "agenda", "ical"):
        unknown = _check(doc, path, value, "source", sources)
        kind = type_of.get(value) if isinstance(value, str) else None
        if unknown:
            problems += unknown
        elif kind not in (None, "ical"):
            message = f"source {value!r} is of type {kind}; an agenda needs a source of type ical"
            problems.append(doc.problem(path, message))
    return problems


def _check_webpages(doc: Document) -> list[Problem]:
    """A webpage block shows only hosts its playlist lists in `webpage_hosts` (screens/config.py, WebpageBlock)."""
    problems: list[Problem] = []
    for path, url, playlist in _blocks(doc, "webpage", "url"):
        allowed = playlist.get("webpage_hosts")
        allowed = [h for h in allowed if isinstance(h, str)] if isinstance(allowed, list) else []
        host = _host(url)
        if host and host not in allowed:
            listed = f"listed: {', '.join(allowed)}" if allowed else "none are listed"
            problems.append(doc.problem(path, f"host {host!r} is not in this playlist's webpage_hosts ({listed})"))
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


def _host(url: Any) -> str | None:
    """The URL's host, lower case; None when it has none (the model reports a malformed URL)."""
    try:
        return urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        return None
