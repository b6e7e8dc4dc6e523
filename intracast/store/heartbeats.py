"""The last heartbeat of each screen: is it alive, what size, which slide."""

from __future__ import annotations

from sqlalchemy import select

from intracast.store.base import StoreBase
from intracast.store.schema import screen_heartbeats
from screens.store import Heartbeat


class HeartbeatsMixin(StoreBase):
    async def record_heartbeat(self, beat: Heartbeat) -> None:
        values = {
            "last_seen": beat.at,
            "width": beat.width,
            "height": beat.height,
            "slide": beat.slide,
            "user_agent": beat.user_agent,
            "playlist_age": beat.playlist_age,
            "version": beat.version,
            "heap": beat.heap,
        }
        stmt = self._insert(screen_heartbeats).values(screen=beat.screen, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[screen_heartbeats.c.screen], set_=values)
        async with self._begin() as conn:
            await conn.execute(stmt)

    async def last_heartbeats(self) -> dict[str, Heartbeat]:
        async with self._begin() as conn:
            rows = await conn.execute(select(screen_heartbeats))
            return {
                row.screen: Heartbeat(
                    screen=row.screen,
                    at=row.last_seen,
                    width=row.width,
                    height=row.height,
                    slide=row.slide,
                    user_agent=row.user_agent,
                    playlist_age=row.playlist_age,
                    version=row.version,
                    heap=row.heap,
                )
                for row in rows
            }
