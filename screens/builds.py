"""Playlist builds: what `GET /screens/{id}/playlist.json` serves, built once and shared.

A build is the JSON body of a loop (`build_playlist`) with an ETag that
hashes the body. Screens that show the same playlist to the same audience
in the same hours state get the same build, the same object (issue 6:
"many screens share one build"); the body names no screen for that reason.

Builds are made on demand and kept until `invalidate` (items changed, the
config reloaded) or until a screen's hours flip, which gives it a new key:
on, or off until a given instant (the idle slide shows that instant).
`changed` rebuilds and names the screens whose body differs from the one
they had, so only those get an SSE `playlist` event; the daemon calls it
after `invalidate`, and once a minute so that hours flips are pushed too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from screens.config import AgendaBlock, ItemsBlock, PlaylistConfig, ScreenConfig
from screens.playlist import Slide, build_playlist, override_alerts, pick_alerts
from screens.present import Presenter, qr_key
from screens.store import Override, PlaylistStore
from sources.item import Item

log = logging.getLogger(__name__)

ITEMS_PER_BLOCK = 200  # candidates fetched per items block, before audience and age filters
EVENTS_PER_SOURCE = 500

# playlist, audience, "on" or "off-until-<iso>", logo, QR codes, the ids of the overrides over it
BuildKey = tuple[str, tuple[str, ...], str, str | None, str, tuple[int, ...]]
# now -> the sources failing for longer than they may, each with its last good fetch
Staleness = Callable[[datetime], Awaitable[Mapping[str, datetime]]]


@dataclass(frozen=True, slots=True, eq=False)
class Build:
    etag: str  # quoted, strong: '"<hex>"'
    body: bytes  # UTF-8 JSON: screens.present.Presenter.body
    slides: int
    links: Mapping[str, tuple[str, str, str]]  # an item slide's QR key -> (source, guid, link)
    expires: datetime | None  # when the first item or alert in it expires: rebuild then
    alerts: tuple[Slide, ...] = ()  # over the rotation, in the order the player shows them
    titles: Mapping[str, str] = field(default_factory=dict)  # slide key -> its name, for slides that have one


def make_build(body: bytes, slides: list[Slide], alerts: list[Slide]) -> Build:
    links = {qr_key(s.key): (s.data["source"], s.data["guid"], s.data["link"]) for s in slides
             if s.kind == "item" and s.data.get("link")}
    ends = [datetime.fromisoformat(s.data["expires"]) for s in slides + alerts if s.data.get("expires")]
    titles = {s.key: title for s in slides + alerts if (title := slide_title(s))}
    return Build(f'"{hashlib.sha256(body).hexdigest()[:32]}"', body, len(slides), links, min(ends, default=None),
                 tuple(alerts), titles)


def slide_title(slide: Slide) -> str | None:
    """What people call a slide (an item's or alert's title, an image's caption, a web page's address);
    None for the kinds that have no name of their own (clock, agenda, idle)."""
    return slide.data.get("title") or slide.data.get("caption") or slide.data.get("url") or None


class Builds:
    def __init__(
        self,
        store: PlaylistStore,
        playlists: Iterable[PlaylistConfig],
        screens: Iterable[ScreenConfig],
        clock: Callable[[], datetime],
        presenter: Presenter,
        *,
        logo: str | None = None,
        stale: Staleness | None = None,
    ) -> None:
        """`logo`: the intranet's, for screens whose theme has none; `stale`: None, nothing is ever stale."""
        self._store, self._clock, self._presenter = store, clock, presenter
        self._tz, self._logo, self._stale = presenter.tz, logo, stale
        self._playlists = {p.name: p for p in playlists}
        self._screens = {s.id: s for s in screens}
        _check(self._screens, self._playlists)
        self._cache: dict[BuildKey, Build] = {}
        self._etags: dict[str, str] = {}  # per screen: the ETag of the build it was last given
        self._overrides: list[Override] | None = None  # read again after `invalidate`
        self._lock = asyncio.Lock()

    def screen(self, screen_id: str) -> ScreenConfig | None:
        return self._screens.get(screen_id)

    @property
    def screens(self) -> dict[str, ScreenConfig]:
        return dict(self._screens)

    async def reconfigure(self, playlists: Iterable[PlaylistConfig], screens: Iterable[ScreenConfig],
                          presenter: Presenter, *, logo: str | None = None) -> None:
        """A reloaded config: everything is rebuilt on the next `changed` or `get`.
        Waits for a build in progress, so that no build mixes two configs."""
        async with self._lock:
            playlists_, screens_ = {p.name: p for p in playlists}, {s.id: s for s in screens}
            _check(screens_, playlists_)
            self._presenter, self._tz, self._logo = presenter, presenter.tz, logo
            self._playlists, self._screens = playlists_, screens_
            self._etags = {k: v for k, v in self._etags.items() if k in self._screens}
            self.invalidate()

    def next_expiry(self) -> datetime | None:
        """When the first item or alert shown now expires, so its screens can be told on time."""
        return min((b.expires for b in self._cache.values() if b.expires is not None), default=None)

    def invalidate(self) -> None:
        """Items, overrides or config changed: drop every build."""
        self._cache.clear()
        self._overrides = None

    async def get(self, screen_id: str) -> Build:
        """The current build for a screen, as given to it (KeyError: no such screen)."""
        build = await self.peek(screen_id)
        self._etags[screen_id] = build.etag
        return build

    async def peek(self, screen_id: str) -> Build:
        """The current build for a screen, for a look at it: not counted as given to the screen, so that
        `changed` still tells the screen when it differs from what the screen has (KeyError: no such screen)."""
        screen = self._screens[screen_id]
        now = self._clock()
        key = self._key(screen, now, await self._active_overrides(now))
        build = self._cache.get(key)
        if build is None:
            async with self._lock:
                build = await self._build(key, screen)
        return build

    async def changed(self) -> set[str]:
        """Build what is missing (after `invalidate`, or for an hours flip); the screens whose body changed."""
        async with self._lock:
            now = self._clock()
            overrides = await self._active_overrides(now)
            keys = {screen_id: self._key(screen, now, overrides) for screen_id, screen in self._screens.items()}
            out: set[str] = set()
            for screen_id, key in keys.items():
                build = await self._build(key, self._screens[screen_id], now)
                if self._etags.get(screen_id) != build.etag:
                    out.add(screen_id)
                self._etags[screen_id] = build.etag
            for stale in set(self._cache) - set(keys.values()):
                del self._cache[stale]
        if out:
            log.info("screens.changed screens=%s", ",".join(sorted(out)))
        return out

    async def _active_overrides(self, now: datetime) -> list[Override]:
        if self._overrides is None:
            self._overrides = await self._store.active_overrides(now)
        return self._overrides

    def _key(self, screen: ScreenConfig, now: datetime, overrides: list[Override]) -> BuildKey:
        state = "on"
        if screen.hours is not None and not screen.hours.is_on(now, self._tz):
            until = screen.hours.next_change(now, self._tz)
            state = f"off-until-{until.isoformat() if until else 'never'}"
        logo = str(screen.theme.logo) if screen.theme.logo else self._logo
        over = tuple(o.id for o in overrides if o.id is not None and o.applies(screen.id, now))
        return (screen.playlist, tuple(sorted(set(screen.audience))), state, logo, screen.qr, over)

    async def _build(self, key: BuildKey, screen: ScreenConfig, now: datetime | None = None) -> Build:
        """Under the lock: the cached build for `key`, or a new one made for `screen` (any screen with that key)."""
        build = self._cache.get(key)
        if build is not None:
            return build
        now = now or self._clock()
        playlist = self._playlists[screen.playlist]
        items, events = await self._inputs(playlist, now) if key[2] == "on" else ([[] for _ in playlist.blocks], {})
        slides = build_playlist(playlist, screen, items, now=now, tz=self._tz, events=events)
        overrides = [o for o in self._overrides or [] if o.id in key[5]]
        alerts = override_alerts(overrides) + pick_alerts(await self._store.list_pinned(now), screen, now)
        stale = await self._stale(now) if self._stale else {}
        body = self._presenter.body(slides, alerts, now=now, logo=key[3], qr=key[4] != "off", stale=stale)
        build = self._cache[key] = make_build(body, slides, alerts)
        log.info("screens.built playlist=%s audience=%s state=%s slides=%d etag=%s",
                 key[0], ",".join(key[1]) or "-", key[2], build.slides, build.etag)
        return build

    async def _inputs(self, playlist: PlaylistConfig, now: datetime) -> tuple[list[list[Item]], dict[str, list[Item]]]:
        fetched: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Item]] = {}
        items: list[list[Item]] = []
        events: dict[str, list[Item]] = {}
        for block in playlist.blocks:
            if isinstance(block, ItemsBlock):
                query = (tuple(block.sources), tuple(block.tags))
                if query not in fetched:
                    fetched[query] = await self._store.list_items(block.sources, block.tags, now, ITEMS_PER_BLOCK)
                items.append(fetched[query])
            else:
                items.append([])
            if isinstance(block, AgendaBlock) and block.ical not in events:
                events[block.ical] = await self._store.list_items([block.ical], [], now, EVENTS_PER_SOURCE)
        return items, events


def _check(screens: Mapping[str, ScreenConfig], playlists: Mapping[str, PlaylistConfig]) -> None:
    for screen in screens.values():
        if screen.playlist not in playlists:
            raise ValueError(f"screen {screen.id!r}: no playlist named {screen.playlist!r}")
