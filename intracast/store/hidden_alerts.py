"""Pinned items an admin hid from the screens, until they change (issue 14, item 7).

A hide is keyed by the item (source, guid) and holds its content hash at the
time: while the item's hash is still that one, `list_pinned` leaves it out, so
no screen shows it. An update of the item (a new text, a new expiry) makes a new
hash, and the alert is back on the screens; an item that expires leaves anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from intracast.store.base import StoreBase
from intracast.store.items import ITEM_COLUMNS, _current, _item, hides_this_version
from intracast.store.schema import hidden_alerts as hidden
from intracast.store.schema import items as item_table
from sources.item import Item


@dataclass(frozen=True, slots=True)
class HiddenAlert:
    item: Item
    hidden_at: datetime
    hidden_by: str


class HiddenAlertsMixin(StoreBase):
    async def pinned_versions(self, now: datetime) -> dict[tuple[str, str], str]:
        """(source, guid) -> content hash of the current pinned items, hidden or not: the version an admin
        sees. The stored hash, as the item was fetched; an Item read back (its dates in UTC) may hash apart."""
        query = select(item_table.c.source, item_table.c.guid, item_table.c.content_hash).where(
            _current(now), item_table.c.pinned)
        async with self._begin() as conn:
            return {(row.source, row.guid): row.content_hash for row in await conn.execute(query)}

    async def hide_alert(self, source: str, guid: str, content_hash: str, by: str, now: datetime) -> None:
        """Hide the item from the screens while its content hash is `content_hash` (a second hide replaces)."""
        values = {"content_hash": content_hash, "hidden_at": now, "hidden_by": by}
        stmt = self._insert(hidden).values(source=source, guid=guid, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[hidden.c.source, hidden.c.guid], set_=values)
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def unhide_alert(self, source: str, guid: str) -> bool:
        """Show it again; False when it was not hidden."""
        stmt = delete(hidden).where(hidden.c.source == source, hidden.c.guid == guid)
        async with self._begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def hidden_alerts(self, now: datetime) -> list[HiddenAlert]:
        """Current pinned items hidden as they are now, last hidden first."""
        query = (select(*ITEM_COLUMNS, hidden.c.hidden_at, hidden.c.hidden_by)
                 .join(hidden, hides_this_version())
                 .where(_current(now), item_table.c.pinned).order_by(hidden.c.hidden_at.desc()))
        async with self._begin() as conn:
            return [HiddenAlert(_item(row, skip=("hidden_at", "hidden_by")), row.hidden_at, row.hidden_by)
                    for row in await conn.execute(query)]
