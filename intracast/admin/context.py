"""`Admin`: what the admin pages read and act on, handed in by the daemon.

The config is read through `ConfigState` at every request, so that a reload
(intracast/reload.py's `Reloader` is one) shows at once: a new config, when
it was loaded, the problems of a refused one, and the settings that wait
for a restart. Later pages (digests, screens) get their part as another
field here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from intracast.config import LoadedConfig
from intracast.digests import Digests
from intracast.ingest import Clock, Ingestor, utcnow
from intracast.restart import Unapplied
from intracast.scheduler import Scheduler
from intracast.screens import Screens
from intracast.store import SqlStore


class ConfigState(Protocol):
    @property
    def loaded(self) -> LoadedConfig: ...

    @property
    def loaded_at(self) -> datetime: ...

    @property
    def problems(self) -> list[str]:
        """Why the config on disk was refused (`FILE:LINE:COL: key.path: message`); empty when it runs."""
        ...

    @property
    def unapplied(self) -> list[Unapplied]:
        """The settings the config on disk changed that wait for a restart (intracast/restart.py)."""
        ...


@dataclass
class FixedConfig:
    """A config that never reloads: for a daemon without the reloader, and for tests."""

    loaded: LoadedConfig
    loaded_at: datetime
    problems: list[str] = field(default_factory=list)
    unapplied: list[Unapplied] = field(default_factory=list)


@dataclass
class Admin:
    """`started` and the clock's now are UTC-aware; `clock` also times sessions and login locks."""

    config: ConfigState
    store: SqlStore
    scheduler: Scheduler
    ingestor: Ingestor
    started: datetime
    clock: Clock = utcnow
    # Run after "fetch now" brought something new (the screens' refresh), as the scheduled fetch does.
    after_fetch: Callable[[], Awaitable[None]] | None = None
    # The digest pipeline the scheduler runs: the Digests page previews and sends through it.
    digests: Digests | None = None
    # The screens pipeline: the Screens page shows, previews, overrides and pairs through it.
    screens: Screens | None = None

    @property
    def loaded(self) -> LoadedConfig:
        return self.config.loaded
