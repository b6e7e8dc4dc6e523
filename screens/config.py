"""The screens pipeline's part of the config: `screens` and `playlists`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Discriminator, Field, Tag

from sources.fields import Duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScreenConfig(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Unique; part of the screen's URL (a-z, 0-9, - and _)")
    name: str = Field(min_length=1, description="Shown on the dashboard")
    location: str = Field("", description="Where the TV hangs")
    token: str = Field(min_length=8, description="The screen's secret; use ${SCREEN_..._TOKEN}")
    playlist: str = Field(description="Name of the playlist it shows")
    orientation: Literal["landscape", "portrait"] = Field("landscape", description="How the TV is mounted")
    audience: list[str] = Field(default_factory=list, description="Only items for everyone or for these groups")


class _Block(_Strict):
    duration: Duration | None = Field(None, description="Seconds per slide (default 10s, longer for long text)")


class ItemsBlock(_Block):
    type: Literal["items"] = Field("items", description="Slides from items (the default block type)")
    sources: list[str] = Field(default_factory=list, description="Names of sources (empty: all)")
    tags: list[str] = Field(default_factory=list, description="Only items with one of these tags")
    max_items: int = Field(10, ge=1, le=100, description="At most this many items")
    max_age: Duration = Field(timedelta(days=14), description="Leave out items older than this")


class ClockBlock(_Block):
    type: Literal["clock"] = Field(description="Date and time in the intranet's locale")


class AnnouncementBlock(_Block):
    type: Literal["announcement"] = Field(description="A fixed slide written here")
    title: str = Field(min_length=1, description="Headline")
    text: str = Field("", description="Body text")
    image: AnyHttpUrl | None = Field(None, description="Image URL")


def _block_type(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("type", "items")
    return getattr(value, "type", "items")


Block = Annotated[
    Union[
        Annotated[ItemsBlock, Tag("items")],
        Annotated[ClockBlock, Tag("clock")],
        Annotated[AnnouncementBlock, Tag("announcement")],
    ],
    Discriminator(_block_type),
]


class PlaylistConfig(_Strict):
    name: str = Field(min_length=1, description="Unique among playlists; screens refer to it")
    blocks: list[Block] = Field(min_length=1, description="Slides in order: items blocks and fixed slides")
