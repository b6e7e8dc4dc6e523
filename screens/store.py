"""What the screens pipeline needs stored, as a protocol the daemon's store implements.

Datetimes are UTC-aware. Items come back newest first and never expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sources.item import Item


@dataclass(frozen=True, slots=True)
class Heartbeat:
    screen: str
    at: datetime
    width: int | None = None
    height: int | None = None
    slide: str | None = None
    user_agent: str | None = None
    playlist_age: float | None = None  # seconds since the player last got its playlist
    version: str | None = None  # the player's
    heap: int | None = None  # bytes of JS heap in use, where the browser tells


@dataclass(frozen=True, slots=True)
class Override:
    """An admin's message over the rotation of `screens` (empty: all) until lifted or until `until`."""

    title: str
    text: str
    mode: Literal["banner", "takeover"]
    screens: tuple[str, ...]
    until: datetime | None
    created_at: datetime
    created_by: str
    id: int | None = None  # given by the store

    def applies(self, screen_id: str, now: datetime) -> bool:
        return (not self.screens or screen_id in self.screens) and (self.until is None or self.until > now)


class PlaylistStore(Protocol):
    async def list_items(
        self, sources: list[str], tags: list[str], now: datetime, limit: int
    ) -> list[Item]:
        """Unexpired items from any of `sources` or carrying any of `tags` (both empty: all)."""
        ...

    async def list_pinned(self, now: datetime) -> list[Item]:
        """Current pinned items of every source: the alerts over the screens' rotation. An item an admin
        hid from the screens is left out until it changes."""
        ...

    async def active_overrides(self, now: datetime) -> list[Override]:
        """Overrides not lifted and not past their time."""
        ...

    async def record_heartbeat(self, beat: Heartbeat) -> None: ...

    async def last_heartbeats(self) -> dict[str, Heartbeat]: ...


class PairingStore(Protocol):
    """Codes of TVs waiting to be paired (screens/pairing.py). A code is known by itself to the admin and
    by the hash of a secret to the TV that asked for it; expired codes are never returned, claimed or collected."""

    async def add_pairing_code(self, code: str, secret_hash: str, now: datetime, expires_at: datetime) -> bool:
        """Store a new code; False when that code is taken by another unexpired one."""
        ...

    async def pairing_code(self, secret_hash: str, now: datetime) -> str | None:
        """The unexpired code this secret was given, claimed or not."""
        ...

    async def claim_pairing_code(self, code: str, screen: str, by: str, now: datetime) -> bool:
        """Assign a waiting code to `screen`; False when no unexpired, unclaimed code is `code`."""
        ...

    async def collect_pairing_code(self, secret_hash: str, now: datetime) -> str | None:
        """The screen a claimed code was assigned to, once: the code is gone afterwards."""
        ...
