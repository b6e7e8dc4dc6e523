"""Items: upserted from sources, listed for screens and digests.

An item is identified by (source, guid); its content hash (`Item.content_hash`)
tells an update from a re-fetch of the same thing. `last_seen` moves on every
fetch that still carries the item. The scheduler fetches a source once at a
time; should two upserts of the same new item race anyway, UNIQUE(source,
guid) makes the second fail with `StoreError` instead of storing it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from intracast.store.base import StoreBase
from intracast.store.schema import hidden_alerts
from intracast.store.schema import items as item_table
from digest.store import Candidate
from sources.item import Item

ITEM_FIELDS = tuple(f.name for f in fields(Item))
ITEM_COLUMNS = tuple(item_table.c[name] for name in ITEM_FIELDS)
# Items without a publication date sort by when we first saw them.
MAX_PINNED = 50  # alerts over a screen: more than a few is a mistake, more than this a flood
NEWEST_FIRST = (func.coalesce(item_table.c.published, item_table.c.first_seen).desc(), item_table.c.id.desc())


@dataclass(frozen=True, slots=True)
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


class ItemsMixin(StoreBase):
    async def upsert_items(self, items: Sequence[Item], now: datetime) -> UpsertResult:
        """Insert new items, update changed ones, mark all as seen at `now`; one transaction.

        A guid repeated within the batch counts once, and its last occurrence wins.
        Safe beside a concurrent upsert of the same source (per-recipient fetches
        run side by side): an item the other inserted first is left to it.
        """
        by_key = {(item.source, item.guid): item for item in items}
        if not by_key:
            return UpsertResult()
        async with self._begin() as conn:
            existing = await _existing_hashes(conn, by_key)
            new = [item for key, item in by_key.items() if key not in existing]
            known = [(existing[key], item) for key, item in by_key.items() if key in existing]
            changed = [(id_, item) for (id_, hash_), item in known if hash_ != item.content_hash()]
            unchanged = [id_ for (id_, hash_), item in known if hash_ == item.content_hash()]
            if new:
                rows = [_values(item) | _first_seen(item, now) for item in new]
                key = [item_table.c.source, item_table.c.guid]
                await conn.execute(self._insert(item_table).on_conflict_do_nothing(index_elements=key), rows)
            for undated in (False, True):  # executemany needs one column set per statement
                rows = [_values(item) | {"row_id": id_, "last_seen": now}
                        for id_, item in changed if item.undated is undated]
                if undated:
                    rows = [{k: v for k, v in row.items() if k != "published"} for row in rows]
                if rows:
                    stmt = update(item_table).where(item_table.c.id == bindparam("row_id"))
                    await conn.execute(stmt, rows)
            if unchanged:
                await conn.execute(
                    update(item_table).where(item_table.c.id.in_(unchanged)).values(last_seen=now)
                )
        return UpsertResult(new=len(new), updated=len(changed), unchanged=len(unchanged))

    async def item_id(self, source: str, guid: str) -> int | None:
        async with self._begin() as conn:
            query = select(item_table.c.id).where(item_table.c.source == source, item_table.c.guid == guid)
            return await conn.scalar(query)

    async def get_items(self, source: str | None = None, limit: int = 100) -> list[Item]:
        """Items newest first, expired ones included, of one source or all."""
        query = select(*ITEM_COLUMNS).order_by(*NEWEST_FIRST).limit(limit)
        if source is not None:
            query = query.where(item_table.c.source == source)
        async with self._begin() as conn:
            return [_item(row) for row in await conn.execute(query)]

    async def list_items(self, sources: list[str], tags: list[str], now: datetime, limit: int) -> list[Item]:
        """Current items from any of `sources` or carrying any of `tags` (both empty: all).

        Current: not expired, and not published in the future (an announcement with `starts`).
        """
        unexpired = _current(now)
        query = select(*ITEM_COLUMNS).where(unexpired).order_by(*NEWEST_FIRST)
        async with self._begin() as conn:
            if not tags:
                if sources:
                    query = query.where(item_table.c.source.in_(sources))
                return [_item(row) for row in await conn.execute(query.limit(limit))]
            ids = await _matching_ids(conn, unexpired, set(sources), set(tags), limit)
            return [_item(row) for row in await conn.execute(query.where(item_table.c.id.in_(ids)))]


    async def list_pinned(self, now: datetime) -> list[Item]:
        """Current pinned items, but those an admin hid from the screens as they are now."""
        shown = ~exists().where(hides_this_version())
        query = select(*ITEM_COLUMNS).where(_current(now), item_table.c.pinned, shown).order_by(*NEWEST_FIRST)
        async with self._begin() as conn:
            return [_item(row) for row in await conn.execute(query.limit(MAX_PINNED))]

    async def candidate_items(
        self, sources: list[str], since: datetime, until: datetime, now: datetime, *, fresh_after: datetime
    ) -> list[Candidate]:
        """Current items of `sources` (empty: all) new to the window (since, until], newest first.

        New: published or updated in the window, or first seen by us in it while
        published after `fresh_after` (a feed fetched late still counts; an
        archive seen for the first time does not flood the next digest).
        """
        changed = func.coalesce(item_table.c.updated, item_table.c.published)
        current = and_(
            or_(item_table.c.expires.is_(None), item_table.c.expires > now),
            or_(item_table.c.published.is_(None), item_table.c.published <= now),
        )
        in_window = or_(
            and_(changed > since, changed <= until),
            and_(item_table.c.published > since, item_table.c.published <= until),
            and_(item_table.c.first_seen > since, item_table.c.first_seen <= until,
                 item_table.c.published > fresh_after),
        )
        query = select(item_table.c.id, *ITEM_COLUMNS).where(current, in_window).order_by(*NEWEST_FIRST)
        if sources:
            query = query.where(item_table.c.source.in_(sources))
        async with self._begin() as conn:
            rows = await conn.execute(query)
            return [Candidate(row.id, _item(row, skip=("id",))) for row in rows]

    async def prune_items(self, source: str, now: datetime, keep: timedelta, max_items: int | None) -> int:
        """Drop the source's items unseen for longer than `keep`, and all but its newest `max_items` (None: no cap)."""
        of_source = item_table.c.source == source
        stale = item_table.c.last_seen < now - keep
        if max_items is not None:
            newest = select(item_table.c.id).where(of_source).order_by(*NEWEST_FIRST).limit(max_items)
            stale = or_(stale, item_table.c.id.not_in(newest.scalar_subquery()))
        async with self._begin() as conn:
            result = await conn.execute(delete(item_table).where(of_source, stale))
        return result.rowcount

    async def item_counts(self) -> dict[str, int]:
        """Items held per source."""
        query = select(item_table.c.source, func.count()).group_by(item_table.c.source)
        async with self._begin() as conn:
            return {source: count for source, count in await conn.execute(query)}


async def _existing_hashes(
    conn: AsyncConnection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """(source, guid) -> (id, content_hash) for the keys already stored."""
    query = select(item_table.c.source, item_table.c.guid, item_table.c.id, item_table.c.content_hash).where(
        tuple_(item_table.c.source, item_table.c.guid).in_(list(keys))
    )
    return {(row.source, row.guid): (row.id, row.content_hash) for row in await conn.execute(query)}


async def _matching_ids(
    conn: AsyncConnection, unexpired: Any, sources: set[str], tags: set[str], limit: int
) -> list[int]:
    """The newest `limit` unexpired ids by source or tag.

    Tags are a JSON list, which SQLite and PostgreSQL search with different
    SQL; matching the (small) id/source/tags columns here keeps the query portable.
    """
    query = (
        select(item_table.c.id, item_table.c.source, item_table.c.tags)
        .where(unexpired)
        .order_by(*NEWEST_FIRST)
    )
    rows = await conn.execute(query)
    matches = (row.id for row in rows if row.source in sources or tags.intersection(row.tags))
    return list(islice(matches, limit))


def hides_this_version() -> ColumnElement[bool]:
    """A `hidden_alerts` row for the item as it is now (intracast/store/hidden_alerts.py)."""
    return and_(hidden_alerts.c.source == item_table.c.source, hidden_alerts.c.guid == item_table.c.guid,
                hidden_alerts.c.content_hash == item_table.c.content_hash)


def _current(now: datetime) -> ColumnElement[bool]:
    return and_(
        or_(item_table.c.expires.is_(None), item_table.c.expires > now),
        or_(item_table.c.published.is_(None), item_table.c.published <= now),
    )


def _first_seen(item: Item, now: datetime) -> dict[str, Any]:
    """An undated item is dated by when we first saw it, once and for good."""
    seen = {"first_seen": now, "last_seen": now}
    return seen | {"published": now} if item.undated else seen


def _values(item: Item) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in ITEM_FIELDS}
    values["tags"] = list(item.tags)
    values["audience"] = list(item.audience)
    values["content_hash"] = item.content_hash()
    return values


def _item(row: Row[*tuple[Any, ...]], skip: tuple[str, ...] = ()) -> Item:
    values = {key: value for key, value in row._mapping.items() if key not in skip}
    values["tags"] = tuple(values["tags"])
    values["audience"] = tuple(values["audience"])
    return Item(**values)
