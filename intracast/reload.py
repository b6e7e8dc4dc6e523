"""Hot reload: the config file (and the recipients CSV and template folders it names) watched, and SIGHUP.

A changed config is loaded and validated whole first. A broken one is
refused: the daemon keeps running on the last good config, and each
problem is logged (`FILE:LINE:COL: key.path: message`) and kept in
`problems` for the dashboard until a good config replaces it. A good one is
handed to `apply` as one step, with the settings that need a restart kept
as they are (intracast/restart.py); reloads never overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from watchfiles import awatch

from intracast.config import ConfigError, LoadedConfig, load_config
from intracast.ingest import Clock, utcnow
from intracast.metrics import Metrics
from intracast.restart import RestartOnly, Unapplied

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300  # an editor's save is several writes (a temp file, a rename): one reload
WATCH_TICK_MS = 1000


class Reloader:
    def __init__(self, loaded: LoadedConfig, apply: Callable[[LoadedConfig], Awaitable[None]], metrics: Metrics,
                 clock: Clock = utcnow) -> None:
        self.loaded = loaded
        self.loaded_at: datetime = clock()
        self.problems: list[str] = []  # of the last refused config, until a good one loads
        self.restart = RestartOnly(loaded.config)
        self.unapplied: list[Unapplied] = []  # settings of the config on disk that wait for a restart
        self._apply, self._metrics, self._clock = apply, metrics, clock
        self._lock = asyncio.Lock()
        self._stamps = _stamps(watched(loaded))  # the watched files as last read

    async def reload(self, reason: str) -> bool:
        """Load the config again and apply it; False when it was refused (the old one stays)."""
        async with self._lock:
            log.info("config.reloading reason=%s file=%s", reason, self.loaded.path)
            self._stamps = _stamps(watched(self.loaded))  # read now: a later change is a new reload
            try:
                new = await asyncio.to_thread(load_config, self.loaded.path)
            except ConfigError as e:
                self.problems = [str(problem) for problem in e.problems]
                for problem in self.problems:
                    log.error("config.problem %s", problem)
                log.error("config.refused reason=%s problems=%d (still running on the config loaded at %s)",
                          reason, len(self.problems), self.loaded_at.isoformat(timespec="seconds"))
                self._metrics.config_reloads.labels("refused").inc()
                return False
            new, unapplied = self.restart.pin(new)
            for setting in unapplied:
                log.warning("config.needs_restart key=%s in_force=%s configured=%s",
                            setting.key, setting.in_force, setting.configured)
            await self._apply(new)
            self.loaded, self.loaded_at, self.problems, self.unapplied = new, self._clock(), [], unapplied
            self._metrics.config_reloads.labels("ok").inc()
            self._metrics.config_loaded.set(self.loaded_at.timestamp())
            log.info("config.reloaded reason=%s", reason)
            return True

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload whenever a watched file changes, until `stop`."""
        while not stop.is_set():
            paths, ready = watched(self.loaded), False
            folders = {path if path.is_dir() else path.parent for path in paths}
            # A batch of events (any file in those folders: a database may live there too) or a quiet
            # tick wakes the loop; whether a watched file changed is decided by its stamp, so a change
            # made before the watch was in place (since the config was read) counts as well.
            async for _ in awatch(*sorted(f for f in folders if f.exists()), stop_event=stop, recursive=False,
                                  debounce=DEBOUNCE_MS, rust_timeout=WATCH_TICK_MS, yield_on_timeout=True,
                                  watch_filter=None):
                if not ready:
                    ready = True
                    log.info("config.watching files=%s", ",".join(sorted(map(str, paths))))
                if _stamps(paths) != self._stamps:
                    await self.reload("file changed")
                    if watched(self.loaded) != paths:
                        break  # the config names other files now: watch those


def watched(loaded: LoadedConfig) -> set[Path]:
    """The config file, the recipients CSV and the digests' template folders."""
    config = loaded.config
    paths = {loaded.path.resolve()}
    if config.recipients.file is not None:
        paths.add(loaded.resolve(config.recipients.file).resolve())
    paths |= {loaded.resolve(d.templates).resolve() for d in config.digests if d.templates is not None}
    return paths


def _stamps(paths: set[Path]) -> dict[Path, tuple[int, int] | None]:
    """Each file's modification time and size (a folder's newest file's), None when missing."""
    def stamp(path: Path) -> tuple[int, int] | None:
        try:
            files = [path, *path.rglob("*")] if path.is_dir() else [path]
            return max((f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        except (FileNotFoundError, ValueError):
            return None
    return {path: stamp(path) for path in paths}
