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
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from screens.config import AgendaBlock, ItemsBlock, PlaylistConfig, ScreenConfig
from screens.playlist import Slide, build_playlist
from screens.store import PlaylistStore
from sources.item import Item

log = logging.getLogger(__name__)

FORMAT = 1  # playlist.json's `format`; bump when the player must read it differently
ITEMS_PER_BLOCK = 200  # candidates fetched per items block, before audience and age filters
EVENTS_PER_SOURCE = 500

BuildKey = tuple[str, tuple[str, ...], str]  # playlist, audience, "on" or "off-until-<iso>"


@dataclass(frozen=True, slots=True, eq=False)
class Build:
    etag: str  # quoted, strong: '"<hex>"'
    body: bytes  # UTF-8 JSON: {"format": 1, "slides": [{kind, duration, key, data}]}
    slides: int


def encode_slides(slides: list[Slide]) -> bytes:
    data = {
        "format": FORMAT,
        "slides": [{"kind": s.kind, "duration": s.duration, "key": s.key, "data": s.data} for s in slides],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"slide data holds a {type(value).__name__}, not JSON")


def make_build(slides: list[Slide]) -> Build:
    body = encode_slides(slides)
    return Build(f'"{hashlib.sha256(body).hexdigest()[:32]}"', body, len(slides))


class Builds:
    def __init__(
        self,
        store: PlaylistStore,
        playlists: Iterable[PlaylistConfig],
        screens: Iterable[ScreenConfig],
        clock: Callable[[], datetime],
        tz: ZoneInfo,
    ) -> None:
        self._store, self._clock, self._tz = store, clock, tz
        self._playlists = {p.name: p for p in playlists}
        self._screens = {s.id: s for s in screens}
        self._check()
        self._cache: dict[BuildKey, Build] = {}
        self._etags: dict[str, str] = {}  # per screen: the ETag of the build it was last given
        self._lock = asyncio.Lock()

    def screen(self, screen_id: str) -> ScreenConfig | None:
        return self._screens.get(screen_id)

    @property
    def screens(self) -> dict[str, ScreenConfig]:
        return dict(self._screens)

    def reconfigure(self, playlists: Iterable[PlaylistConfig], screens: Iterable[ScreenConfig]) -> None:
        """A reloaded config: new playlists and screens; everything is rebuilt on the next `changed` or `get`."""
        self._playlists = {p.name: p for p in playlists}
        self._screens = {s.id: s for s in screens}
        self._check()
        self._etags = {k: v for k, v in self._etags.items() if k in self._screens}
        self.invalidate()

    def invalidate(self) -> None:
        """Items or config changed: drop every build."""
        self._cache.clear()

    async def get(self, screen_id: str) -> Build:
        """The current build for a screen (KeyError: no such screen)."""
        screen = self._screens[screen_id]
        key = self._key(screen, self._clock())
        build = self._cache.get(key)
        if build is None:
            async with self._lock:
                build = await self._build(key, screen)
        self._etags[screen_id] = build.etag
        return build

    async def changed(self) -> set[str]:
        """Build what is missing (after `invalidate`, or for an hours flip); the screens whose body changed."""
        async with self._lock:
            now = self._clock()
            keys = {screen_id: self._key(screen, now) for screen_id, screen in self._screens.items()}
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

    def _key(self, screen: ScreenConfig, now: datetime) -> BuildKey:
        state = "on"
        if screen.hours is not None and not screen.hours.is_on(now, self._tz):
            until = screen.hours.next_change(now, self._tz)
            state = f"off-until-{until.isoformat() if until else 'never'}"
        return (screen.playlist, tuple(sorted(set(screen.audience))), state)

    async def _build(self, key: BuildKey, screen: ScreenConfig, now: datetime | None = None) -> Build:
        """Under the lock: the cached build for `key`, or a new one made for `screen` (any screen with that key)."""
        build = self._cache.get(key)
        if build is not None:
            return build
        now = now or self._clock()
        playlist = self._playlists[screen.playlist]
        items, events = await self._inputs(playlist, now) if key[2] == "on" else ([[] for _ in playlist.blocks], {})
        slides = build_playlist(playlist, screen, items, now=now, tz=self._tz, events=events)
        build = self._cache[key] = make_build(slides)
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

    def _check(self) -> None:
        for screen in self._screens.values():
            if screen.playlist not in self._playlists:
                raise ValueError(f"screen {screen.id!r}: no playlist named {screen.playlist!r}")
