"""Which items one recipient's digest lists: the selection rules, as a pure function.

From the window's candidates: only items with a link (a digest is links back
to the intranet), only the digest's tags (if it names any), only
items for everyone or for one of the recipient's groups, nothing already
delivered to them or read by them (a tracked click), and from a per-recipient
source only what it returned for this recipient (the store holds every
employee's items of such a source). The same link through two sources is one
entry. Order: pinned first, then newest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from digest.config import DigestConfig
from digest.store import Candidate
from sources.item import Item

_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Selection:
    entries: list[Candidate]  # at most the digest's max_items, in order
    more: int  # how many more there were


def for_audience(item: Item, groups: Iterable[str]) -> bool:
    """An item is for everyone (no audience), or for the groups it names."""
    return not item.audience or not set(item.audience).isdisjoint(groups)


def select(
    candidates: Iterable[Candidate],
    digest: DigestConfig,
    *,
    groups: Iterable[str],
    delivered: set[int],
    read: set[int],
    personal: Mapping[str, set[str]],
) -> Selection:
    """`personal`: per-recipient source -> the guids it returned for this recipient."""
    groups, tags = set(groups), set(digest.tags)
    chosen: list[Candidate] = []
    links: set[str] = set()
    for candidate in sorted(candidates, key=_order):
        item = candidate.item
        if not item.link.startswith(("https://", "http://")):
            continue  # a digest is links back to the intranet; a link-less announcement is for screens
        if tags and tags.isdisjoint(item.tags):
            continue
        if not for_audience(item, groups) or candidate.id in delivered or candidate.id in read:
            continue
        if item.source in personal and item.guid not in personal[item.source]:
            continue
        if item.link in links:
            continue
        links.add(item.link)
        chosen.append(candidate)
    return Selection(chosen[: digest.max_items], max(0, len(chosen) - digest.max_items))


def _order(candidate: Candidate) -> tuple[bool, float, int]:
    item = candidate.item
    return (not item.pinned, -(item.published or item.updated or _EPOCH).timestamp(), -candidate.id)
