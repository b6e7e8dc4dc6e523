"""The screens pipeline composed: shared playlist builds, the SSE hub, and when to push.

Builds are redone when items change (a fetch stored something new or
updated) and once a minute (items expire, screens' hours turn on or off);
only the screens whose playlist actually changed get an event.
"""

from __future__ import annotations

import logging

from aiohttp import web

from intracast.config import LoadedConfig
from intracast.ingest import Clock, utcnow
from intracast.store import SqlStore
from screens.builds import Builds
from screens.hub import ScreenHub
from screens.web import add_screen_routes

log = logging.getLogger(__name__)


class Screens:
    def __init__(self, loaded: LoadedConfig, store: SqlStore, clock: Clock = utcnow):
        config = loaded.config
        self.hub = ScreenHub()
        self.builds = Builds(store, config.playlists, config.screens, clock, config.intranet.timezone)
        self._store, self._clock, self._screens = store, clock, config.screens

    def mount(self, app: web.Application) -> None:
        """The /screens/ routes; the hub closes its streams when the app shuts down."""
        add_screen_routes(app, screens=self._screens, builds=self.builds, hub=self.hub, store=self._store,
                          clock=self._clock)

    async def refresh(self) -> None:
        """Rebuild, and tell the screens whose playlist changed."""
        self.builds.invalidate()
        changed = await self.builds.changed()
        if changed:
            self.hub.publish(changed, "playlist", {})
            log.info("screens.pushed screens=%d", len(changed))
