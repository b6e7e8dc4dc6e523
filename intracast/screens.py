"""The screens pipeline composed: shared playlist builds, the SSE hub, and when to push.

Builds are redone when items change (a fetch stored something new or
updated), when the first item or alert shown expires, and once a minute
(screens' hours turn on or off, relative dates age); only the screens whose
playlist actually changed get an event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from aiohttp import web

from digest.tokens import Claims, Signer
from intracast import __version__
from intracast.config import LoadedConfig
from intracast.health import source_state
from intracast.ingest import Clock, utcnow
from intracast.store import SqlStore
from screens.builds import Builds
from screens.config import ScreenConfig
from screens.hub import ScreenHub
from screens.present import Presenter
from screens.render import MediaUrl
from screens.web import add_screen_routes

log = logging.getLogger(__name__)

DEFAULT_SIDE = 1920  # px: until a screen has said its size, images fit a 1080p TV
SIZE_MEMORY = timedelta(days=7)  # a screen off for longer no longer sizes the images


class Screens:
    def __init__(self, loaded: LoadedConfig, store: SqlStore, signer: Signer, *, public_url: str,
                 media: MediaUrl | None = None, clock: Clock = utcnow):
        config = loaded.config
        self.hub = ScreenHub(version=__version__)
        presenter = Presenter(config.intranet.locale, config.intranet.timezone, __version__, media)
        logo = str(config.intranet.logo) if config.intranet.logo else None
        self.builds = Builds(store, config.playlists, config.screens, clock, presenter, logo=logo, stale=self._stale)
        self._store, self._clock, self._screens = store, clock, config.screens
        self._sources = {source.name: source for source in config.sources}
        self._signer, self._public_url = signer, public_url
        self._side = DEFAULT_SIDE
        # Set by the daemon: run `refresh` again at this instant (an item or alert expires then).
        self.wake_at: Callable[[datetime], None] | None = None

    def mount(self, app: web.Application) -> None:
        """The /screens/ routes; the hub closes its streams when the app shuts down."""
        add_screen_routes(app, screens=self._screens, builds=self.builds, hub=self.hub, store=self._store,
                          clock=self._clock, qr_link=self.qr_link)

    def side(self) -> int:
        """The longest side of the largest screen seen lately, px: what images are resized to."""
        return self._side

    async def refresh(self) -> None:
        """Rebuild, and tell the screens whose playlist changed."""
        beats = await self._store.last_heartbeats()
        recent = [max(b.width or 0, b.height or 0) for b in beats.values() if self._clock() - b.at < SIZE_MEMORY]
        self._side = max(recent, default=0) or DEFAULT_SIDE
        self.builds.invalidate()
        changed = await self.builds.changed()
        if changed:
            self.hub.publish(changed, "playlist", {})
            log.info("screens.pushed screens=%d", len(changed))
        expiry = self.builds.next_expiry()
        if expiry is not None and self.wake_at is not None:
            self.wake_at(expiry)

    async def qr_link(self, screen: ScreenConfig, source: str, guid: str, link: str) -> str:
        """Where a slide's QR code leads: through /r/, counted as a scan by this screen, unless `qr: direct`."""
        item_id = await self._store.item_id(source, guid) if screen.qr == "tracked" else None
        if item_id is None:
            return link
        token = self._signer.sign(Claims("scan", screen.id, item_id, link))
        return f"{self._public_url}/r/{token}"

    async def _stale(self, now: datetime) -> Mapping[str, datetime]:
        """Sources degraded (failing longer than they may), with their last good fetch."""
        states = await self._store.fetch_states()
        return {
            name: state.last_success
            for name, state in states.items()
            if name in self._sources and state.last_success is not None
            and source_state(self._sources[name], state, now) == "degraded"
        }
