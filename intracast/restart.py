"""The settings a reload cannot apply: one list, kept at their start-up values until a restart.

A reload hands every component the new config with these settings as they
were at start (`RestartOnly.pin`), so that none of them is half-applied: a
mail never links to an address nobody listens on yet. Each one that differs
is logged (`config.needs_restart`) and shown on /admin, until a restart or a
config that puts it back.

- `server.listen`: the socket is bound once, before the daemon answers
  anything; rebinding would drop the screens' event streams and the requests
  in flight, and a port already taken would leave the daemon deaf.
- `storage.url`: the database holds the daemon's state, not only its data:
  outbox leases, job claims, digest windows and advisory locks, and the
  cluster's LISTEN connection. Switching mid-run would leave messages claimed
  in the old database and run jobs twice; a restart closes the old one after
  the work in flight and migrates the new one before any work starts.

`media.cache` is not on the list: the image cache is only a cache, so a
reload starts an empty one in the new folder (screens/media.py).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from intracast.config import Config, LoadedConfig

M = TypeVar("M", bound=BaseModel)


def _without_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


# Setting -> how the log and /admin show its value (no passwords).
RESTART_ONLY: dict[str, Callable[[str], str]] = {
    "server.listen": str,
    "storage.url": _without_password,
}


@dataclass(frozen=True)
class Unapplied:
    """A setting the config changed that waits for a restart; values as shown."""

    key: str
    in_force: str
    configured: str


class RestartOnly:
    def __init__(self, started: Config) -> None:
        self._started = started
        self._in_force = {key: shown(_get(started, key)) for key, shown in RESTART_ONLY.items()}

    def listening(self, address: str) -> None:
        """The address the daemon is bound to (`--listen` overrides the config's), as in force."""
        self._in_force["server.listen"] = address

    def pin(self, loaded: LoadedConfig) -> tuple[LoadedConfig, list[Unapplied]]:
        """`loaded` with the restart-only settings of the start, and those it would have changed."""
        config, unapplied = loaded.config, []
        for key, shown in RESTART_ONLY.items():
            configured, started = _get(config, key), _get(self._started, key)
            if configured != started:
                unapplied.append(Unapplied(key, self._in_force[key], shown(configured)))
                config = _with(config, key, started)
        return dataclasses.replace(loaded, config=config), unapplied


def _get(config: Config, key: str) -> str:
    return functools.reduce(getattr, key.split("."), config)  # type: ignore[arg-type, return-value]


def _with(model: M, key: str, value: object) -> M:
    head, _, rest = key.partition(".")
    return model.model_copy(update={head: _with(getattr(model, head), rest, value) if rest else value})
