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
from typing import Literal

from aiohttp import web

from digest.links import Links
from intracast import __version__
from intracast.cluster import Cluster, Solo
from intracast.config import LoadedConfig
from intracast.health import SourceState, source_state
from intracast.ingest import Clock, utcnow
from intracast.store import SqlStore
from screens.builds import Builds
from screens.config import ScreenConfig
from screens.hub import ScreenHub
from screens.pairing import add_pairing_routes, claim
from screens.player import PlayerPage, add_player_routes
from screens.present import Presenter
from screens.render import MediaUrl, Theme, theme_css
from screens.store import Override
from screens.web import add_screen_routes

log = logging.getLogger(__name__)

DEFAULT_SIDE = 1920  # px: until a screen has said its size, images fit a 1080p TV
SIZE_MEMORY = timedelta(days=7)  # a screen off for longer no longer sizes the images


class Screens:
    def __init__(self, loaded: LoadedConfig, store: SqlStore, links: Links, *,
                 media: MediaUrl | None = None, clock: Clock = utcnow, cluster: Cluster | None = None):
        """`cluster`: the other daemons on the same database, told of overrides (intracast/cluster.py)."""
        config = loaded.config
        self._cluster = cluster or Solo()
        self.hub = ScreenHub(version=__version__)
        self._media, self._links = media, links
        self.builds = Builds(store, config.playlists, config.screens, clock, self._presenter(loaded),
                             logo=_logo(loaded), stale=self._stale)
        self._store, self._clock, self._screens = store, clock, config.screens
        self._intranet, self._playlists = config.intranet, config.playlists
        self._sources = {source.name: source for source in config.sources}
        self._side = DEFAULT_SIDE
        # The player's page, for the screens and for the admin's preview of them.
        self.player = PlayerPage(self.builds, version=__version__, locale=self.locale, theme=self.theme_css,
                                 frame_hosts=self.frame_hosts)
        # Set by the daemon: run `refresh` again at this instant (an item or alert expires then).
        self.wake_at: Callable[[datetime], None] | None = None

    def mount(self, app: web.Application) -> None:
        """The /screens/ routes; the hub closes its streams when the app shuts down."""
        add_screen_routes(app, screens=self._screens, builds=self.builds, hub=self.hub, store=self._store,
                          clock=self._clock, qr_link=self.qr_link)
        # Before the player's routes: its /screens/{id} would take /screens/pair.
        add_pairing_routes(app, builds=self.builds, store=self._store, clock=self._clock, locale=self.locale)
        add_player_routes(app, self.player)

    async def reconfigure(self, loaded: LoadedConfig, links: Links) -> None:
        """A reloaded config and its links (the digests' own): screens whose page changed (theme, frames,
        language; or gone) reload it, the others get their new playlist only if it changed.

        The links switch first, in one step with the pages that verify them (intracast/daemon.py);
        a QR code made from now on signs with them."""
        self._links = links
        config = loaded.config
        before = {s.id: self._page(s) for s in self._screens}
        await self.builds.reconfigure(config.playlists, config.screens, self._presenter(loaded), logo=_logo(loaded))
        self._screens, self._intranet, self._playlists = config.screens, config.intranet, config.playlists
        self._sources = {source.name: source for source in config.sources}
        after = {s.id: self._page(s) for s in self._screens}
        reload = {screen_id for screen_id, page in before.items() if after.get(screen_id) != page}
        if reload:
            self.hub.publish(reload, "reload", {})
            log.info("screens.reloaded screens=%s", ",".join(sorted(reload)))
        await self.refresh()

    def _presenter(self, loaded: LoadedConfig) -> Presenter:
        intranet = loaded.config.intranet
        return Presenter(intranet.locale, intranet.timezone, __version__, self._media, qr_tag=self._links.tag)

    def _page(self, screen: ScreenConfig) -> tuple[str, str, list[str]]:
        """What a screen's player page is made of besides its playlist: a change reloads the page."""
        return self.locale(), self.theme_css(screen), self.frame_hosts(screen)

    def locale(self) -> str:
        """The language of the screens' pages (the player's, the pairing's): the intranet's."""
        return self._intranet.locale

    def theme_css(self, screen: ScreenConfig) -> str:
        """The screen's colours and font; the accent defaults to the intranet's."""
        return theme_css(Theme.from_config(screen.theme, accent=self._intranet.colour, logo=None))

    def frame_hosts(self, screen: ScreenConfig) -> list[str]:
        """Where the screen's webpage slides may come from: its playlist's allowlist."""
        return [host for playlist in self._playlists if playlist.name == screen.playlist
                for host in playlist.webpage_hosts]

    @property
    def public_url(self) -> str:
        """Where TVs reach the daemon, without a trailing slash: for the set-up links the admin shows."""
        return self._links.public_url

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

    async def override(self, title: str, text: str, *, mode: Literal["banner", "takeover"], screens: list[str],
                       until: datetime | None, by: str) -> int:
        """Put a message over the rotation of `screens` (empty: all) now; its id, to lift it."""
        unknown = sorted(set(screens) - set(self.builds.screens))
        if unknown:
            raise ValueError(f"no screen with id {', '.join(map(repr, unknown))}")
        now = self._clock()
        if until is not None and until <= now:
            raise ValueError("an override must end in the future")
        override_id = await self._store.add_override(
            Override(title, text, mode, tuple(screens), until, now, by)
        )
        log.info("screens.override id=%d mode=%s screens=%s until=%s by=%s", override_id, mode,
                 ",".join(screens) or "all", until.isoformat() if until else "-", by)
        await self._changed_for_all()
        return override_id

    async def lift(self, override_id: int, *, by: str) -> bool:
        """End an override now; False when it was not in force."""
        lifted = await self._store.lift_override(override_id, by, self._clock())
        if lifted:
            log.info("screens.override_lifted id=%d by=%s", override_id, by)
            await self._changed_for_all()
        return lifted

    async def hide(self, source: str, guid: str, version: str, *, by: str) -> None:
        """Take a pinned item off every screen now, while it is this version (its stored content hash)."""
        await self._store.hide_alert(source, guid, version, by, self._clock())
        log.info("screens.alert_hidden source=%s guid=%s by=%s", source, guid, by)
        await self._changed_for_all()

    async def unhide(self, source: str, guid: str, *, by: str) -> bool:
        """Put a hidden pinned item back on the screens; False when it was not hidden."""
        shown = await self._store.unhide_alert(source, guid)
        if shown:
            log.info("screens.alert_shown source=%s guid=%s by=%s", source, guid, by)
            await self._changed_for_all()
        return shown

    async def _changed_for_all(self) -> None:
        """What is over the screens changed: push it here, and tell the other daemons to push it."""
        await self.refresh()
        await self._cluster.announce("overrides")

    async def pair(self, code: str, screen_id: str, *, by: str) -> bool:
        """Make the TV that shows `code` (on /screens/pair) screen `screen_id`; False when no TV waits with it."""
        if screen_id not in self.builds.screens:
            raise ValueError(f"no screen with id {screen_id!r}")
        paired = await claim(self._store, code, screen_id, by, self._clock())
        log.info("screens.pair screen=%s by=%s outcome=%s", screen_id, by, "claimed" if paired else "no-such-code")
        return paired

    async def qr_link(self, screen: ScreenConfig, source: str, guid: str, link: str) -> str:
        """Where a slide's QR code leads: through /r/, counted as a scan by this screen, unless `qr: direct`."""
        item_id = await self._store.item_id(source, guid) if screen.qr == "tracked" else None
        if item_id is None:
            return link
        return self._links.scan(screen.id, item_id, link)

    async def _stale(self, now: datetime) -> Mapping[str, datetime]:
        """Sources degraded (failing longer than they may), with their last good fetch."""
        states = await self._store.fetch_states()
        return {
            name: state.last_success
            for name, state in states.items()
            if name in self._sources and state.last_success is not None
            and source_state(self._sources[name], state, now) == SourceState.DEGRADED
        }


def _logo(loaded: LoadedConfig) -> str | None:
    logo = loaded.config.intranet.logo
    return str(logo) if logo else None
