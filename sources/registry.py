"""The source adapter extension point: a `Source` protocol and a registry.

An adapter is one module that declares its options model and registers its
class under its `type`:

    @register("rss", RssOptions)
    class RssSource(RemoteSource):
        parser = staticmethod(parse_rss)

A registered class is built as `cls(options, services)` and fetched as
`await source.fetch(FetchContext(...))`. Built-in adapters are loaded the
way a third party's are: by importing their module (third parties name
theirs under the `intracast.sources` entry point group).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from sources.fields import Duration
from sources.item import Item

if TYPE_CHECKING:
    from sources.http import Http

BUILTIN_ADAPTERS = ("sources.demo", "sources.static", "sources.rss", "sources.jsonfeed", "sources.json", "sources.ical")
ENTRY_POINT_GROUP = "intracast.sources"


class SourceOptions(BaseModel):
    """What every source accepts; an adapter subclasses it with a `type` literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Unique among sources; used in logs, errors and digests", min_length=1)
    every: Duration = Field(timedelta(minutes=10), description="How often to fetch, e.g. 10m or 1h")
    audience: list[str] = Field(
        default_factory=list, description="Groups every item of this source is for (empty: everyone)"
    )
    audience_map: dict[str, list[str]] = Field(
        default_factory=dict, description="Category -> groups: an item with that category is for those groups"
    )
    summary_length: int = Field(280, ge=40, le=2000, description="Summaries are cut at a word boundary here")
    keep: Duration = Field(timedelta(days=30), description="Keep items this long after they left the feed")
    max_items: int = Field(500, ge=1, le=100_000, description="Keep at most this many items of this source")
    degraded_after: Duration | None = Field(
        None, description="Failing this long makes the source 'degraded' on /healthz (default 3 x every)"
    )

    def degraded_threshold(self) -> timedelta:
        return self.degraded_after or self.every * 3


@dataclass(frozen=True)
class Services:
    """What the daemon lends every adapter; it owns them and closes them."""

    http: Http
    executor: Executor | None = None  # where parsers run; None: a thread
    base_dir: Path = Path(".")  # plain paths and file: URLs are relative to the config's folder
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)


@dataclass(frozen=True)
class FetchContext:
    now: datetime
    etag: str | None = None
    last_modified: str | None = None
    recipient: Mapping[str, str] | None = None  # per-recipient sources: that recipient's fields


@dataclass(frozen=True)
class FetchResult:
    items: list[Item] | None  # None: not modified since the validators we sent
    etag: str | None = None
    last_modified: str | None = None


class Source(Protocol):
    """A configured source. `fetch` returns the items the intranet offers now."""

    options: SourceOptions

    async def fetch(self, context: FetchContext) -> FetchResult: ...


SourceFactory = Callable[[SourceOptions, Services], Source]
_registry: dict[str, tuple[type[SourceOptions], SourceFactory]] = {}
F = TypeVar("F", bound=SourceFactory)


def register(type_name: str, options: type[SourceOptions]) -> Callable[[F], F]:
    """Class decorator: make an adapter available as `type: <type_name>`."""

    def decorate(factory: F) -> F:
        if type_name in _registry:
            raise ValueError(f"source type {type_name!r} is already registered")
        _registry[type_name] = (options, factory)
        return factory

    return decorate


def load_adapters() -> None:
    """Import the built-in adapters and any installed through entry points."""
    for module in BUILTIN_ADAPTERS:
        importlib.import_module(module)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()


def options_models() -> tuple[type[SourceOptions], ...]:
    load_adapters()
    return tuple(options for options, _ in _registry.values())


def types() -> list[str]:
    load_adapters()
    return sorted(_registry)


def adapter(type_name: str) -> tuple[type[SourceOptions], SourceFactory]:
    """The options model and class registered as `type_name` (KeyError if none)."""
    load_adapters()
    return _registry[type_name]


def create(options: SourceOptions, services: Services) -> Source:
    """Build the adapter for one configured source."""
    type_name = getattr(options, "type")
    _, factory = _registry[type_name]
    return factory(options, services)
