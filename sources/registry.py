"""The source adapter extension point: a `Source` protocol and a registry.

An adapter is one module that declares its options model and registers its
class under its `type`:

    @register("rss", RssOptions)
    class RssSource:
        def __init__(self, options: RssOptions, http: ClientSession): ...
        async def fetch(self) -> AsyncIterator[Item]: ...

Built-in adapters are loaded the way a third party's are: by importing their
module (third parties name theirs under the `intracast.sources` entry point
group).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from importlib.metadata import entry_points
from typing import Protocol, TypeVar

from aiohttp import ClientSession
from pydantic import BaseModel, ConfigDict, Field

from sources.fields import Duration
from sources.item import Item

BUILTIN_ADAPTERS = ("sources.demo",)
ENTRY_POINT_GROUP = "intracast.sources"


class SourceOptions(BaseModel):
    """What every source accepts; an adapter subclasses it with a `type` literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Unique among sources; used in logs, errors and digests", min_length=1)
    every: Duration = Field(timedelta(minutes=10), description="How often to fetch, e.g. 10m or 1h")


class Source(Protocol):
    """A configured source. `fetch` yields the items the intranet offers now."""

    options: SourceOptions

    def fetch(self) -> AsyncIterator[Item]: ...


SourceFactory = Callable[[SourceOptions, ClientSession], Source]
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


def create(options: SourceOptions, http: ClientSession) -> Source:
    """Build the adapter for one configured source."""
    type_name = getattr(options, "type")
    _, factory = _registry[type_name]
    return factory(options, http)
