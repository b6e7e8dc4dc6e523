"""The config a daemon runs on, recorded in the store so that `intracast status` can show it
while the config file is broken (issue 14, item 7).

A daemon that refuses a broken file keeps running on its last good config,
which then exists only in its memory. So the daemon records the text of the
config it runs on (as read, before `${...}` are substituted: no secret from
the environment lands in the database) at start and after every good reload,
keyed by the file's resolved path. `intracast status` on a broken file finds
the database through the file's own `storage` section, when that part is
valid, and loads the recorded text instead: the sources, screens and mail of
the config in force, beside the file's problems.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from intracast.config import ConfigError, LoadedConfig
from intracast.config.document import parse
from intracast.config.loader import load_text
from intracast.config.model import StorageConfig
from intracast.ingest import Clock
from intracast.store import SqlStore, StoreError
from intracast.store.config_in_force import ConfigInForce

log = logging.getLogger(__name__)


def key(path: Path) -> str:
    return str(path.resolve())


async def record(store: SqlStore, loaded: LoadedConfig, clock: Clock, instance: str) -> None:
    await store.record_config(ConfigInForce(key(loaded.path), loaded.text, clock(), instance))


def recording(apply: Callable[[LoadedConfig], Awaitable[None]], store: SqlStore, clock: Clock, instance: str
              ) -> Callable[[LoadedConfig], Awaitable[None]]:
    """`apply`, then record the config it applied: what a reloader is handed."""
    async def apply_and_record(new: LoadedConfig) -> None:
        await apply(new)
        try:
            await record(store, new, clock, instance)
        except StoreError as e:  # the reload stands; only `status` on a broken file would show the older one
            log.warning("config.not_recorded file=%s error=%s", new.path, e)
    return apply_and_record


def storage_url(path: Path, text: str) -> str | None:
    """The database of a config file that does not load as a whole: its `storage` section's, when that is valid
    (or absent: the default); None when the file is no mapping or its storage section has problems."""
    data = parse(text, str(path), os.environ).data
    if not isinstance(data, dict):
        return None
    try:
        return StorageConfig.model_validate(data.get("storage") or {}).url
    except ValidationError:
        return None


@dataclass(frozen=True)
class InForce:
    record: ConfigInForce
    loaded: LoadedConfig | None  # None: the recorded text does not load here (see `problems`)
    problems: list[str]


async def in_force(store: SqlStore, path: Path) -> InForce | None:
    """The config a daemon last loaded from `path`, loaded again here; None when no daemon recorded one."""
    record_ = await store.config_in_force(key(path))
    if record_ is None:
        return None
    try:
        loaded = load_text(record_.text, path, file=f"{path} (in force)")
    except ConfigError as e:
        return InForce(record_, None, [str(p) for p in e.problems if p.severity == "error"])
    return InForce(record_, loaded, [])
