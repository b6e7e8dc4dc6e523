"""The screens pipeline's part of the config: `screens` and `playlists`.

Checked elsewhere because they look across sections (intracast's
`config/references.py`): a playlist's sources and an agenda's `ical` source
exist, and a webpage block's host is in its playlist's `webpage_hosts`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from screens.hours import Hours, parse_hours
from sources.fields import Duration

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# Interpolated into the player's CSS: names, quotes, commas and spaces only, so it cannot end the rule.
_FONT = r"^[A-Za-z0-9 ,'\"-]+$"
MIN_CONTRAST = 4.5  # WCAG 2 AA for body text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_colour(value: str) -> str:
    if not _COLOUR.fullmatch(value):
        raise ValueError(f"expected a colour as #rrggbb, got {value!r}")
    return value.lower()


Colour = Annotated[
    str,
    AfterValidator(_check_colour),
    WithJsonSchema({"type": "string", "pattern": "^#[0-9a-fA-F]{6}$", "examples": ["#1f5fa8"]}),
]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours, 1 to 21."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


class ThemeConfig(_Strict):
    """A screen's look. Accent and logo default to the intranet's `colour` and `logo`."""

    background: Colour = Field("#111111", description="Slide background, as #rrggbb (dark suits most TVs)")
    foreground: Colour = Field(
        "#ffffff",
        validate_default=True,  # a light background alone must fail the contrast check too
        description="Text colour, as #rrggbb; needs a contrast of 4.5:1 with the background (WCAG AA)"
    )
    accent: Colour | None = Field(
        None, description="Bars and highlights, never text, as #rrggbb (default: the intranet's colour)"
    )
    font: str = Field("system-ui, sans-serif", pattern=_FONT, description="CSS font-family list, installed on the TV")
    logo: AnyHttpUrl | None = Field(None, description="Logo in the slides' corner (default: the intranet's logo)")

    @field_validator("foreground")
    @classmethod
    def _legible(cls, foreground: str, info: ValidationInfo) -> str:
        background = info.data.get("background")
        if background is not None and contrast(foreground, background) < MIN_CONTRAST:
            ratio = contrast(foreground, background)
            raise ValueError(
                f"text {foreground} on background {background} has a contrast of {ratio:.2f}:1; "
                f"legible from across a room needs at least {MIN_CONTRAST}:1 (WCAG AA)"
            )
        return foreground


def _parse_hours(value: Any) -> Hours:
    return value if isinstance(value, Hours) else parse_hours(value)


OnHours = Annotated[
    Hours,
    BeforeValidator(_parse_hours),
    PlainSerializer(lambda hours: list(hours.spec), return_type=list[str]),
    WithJsonSchema({
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
        "examples": ["mon-fri 07:00-18:00", ["mon-fri 07:00-18:00", "sat 09:00-13:00"]],
    }),
]


def _yaml_off(value: Any) -> Any:
    """YAML 1.1 reads a bare `off` as false; here it means the word."""
    return "off" if value is False else value


class ScreenConfig(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Unique; part of the screen's URL (a-z, 0-9, - and _)")
    name: str = Field(min_length=1, description="Shown on the dashboard")
    location: str = Field("", description="Where the TV hangs")
    token: str = Field(min_length=8, description="The screen's secret; use ${SCREEN_..._TOKEN}")
    playlist: str = Field(description="Name of the playlist it shows")
    orientation: Literal["landscape", "portrait"] = Field("landscape", description="How the TV is mounted")
    audience: list[str] = Field(default_factory=list, description="Only items for everyone or for these groups")
    hours: OnHours | None = Field(
        None,
        description="When the screen shows its playlist, in the intranet's time zone, e.g. 'mon-fri 07:00-18:00' "
        "or a list of such; outside them a dark idle slide with the time (absent: always on)",
    )
    theme: ThemeConfig = Field(default_factory=ThemeConfig, description="Colours, font and logo")
    qr: Annotated[Literal["tracked", "direct", "off"], BeforeValidator(_yaml_off)] = Field(
        "tracked",
        description="QR codes on item slides: tracked (through /r/, scans counted per item and screen), "
        "direct (the item's own link, nothing counted), off",
    )

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, screen_id: str) -> str:
        if screen_id == "pair":
            raise ValueError("'pair' is taken: /screens/pair is where a new TV is paired with a screen")
        return screen_id


class _Block(_Strict):
    duration: Duration | None = Field(None, description="Seconds per slide (default 10s, longer for long text)")


class ItemsBlock(_Block):
    type: Literal["items"] = Field("items", description="Slides from items (the default block type)")
    sources: list[str] = Field(default_factory=list, description="Names of sources (empty: all)")
    tags: list[str] = Field(default_factory=list, description="Only items with one of these tags")
    max_items: int = Field(10, ge=1, le=100, description="At most this many items")
    max_age: Duration = Field(
        timedelta(days=14), description="Leave out items older than this (pinned items stay until they expire)"
    )
    order: Literal["pinned_first", "newest"] = Field(
        "pinned_first", description="pinned_first: pinned items, then the newest; newest: by date only"
    )


class ClockBlock(_Block):
    type: Literal["clock"] = Field(description="Date and time in the intranet's locale")


class AnnouncementBlock(_Block):
    type: Literal["announcement"] = Field(description="A fixed slide written here")
    title: str = Field(min_length=1, description="Headline")
    text: str = Field("", description="Body text")
    image: AnyHttpUrl | None = Field(None, description="Image URL")


class ImageBlock(_Block):
    type: Literal["image"] = Field(description="A picture filling the screen")
    url: AnyHttpUrl = Field(description="Image URL; fetched and resized by the daemon")
    caption: str = Field("", description="Line shown under the picture")


class AgendaBlock(_Block):
    type: Literal["agenda"] = Field(description="Upcoming events from an ical source, several per slide")
    ical: str = Field(description="Name of a source of type ical")
    days: int = Field(7, ge=1, le=62, description="Events starting today and the next days-1 days (1: today)")
    per_slide: int = Field(4, ge=1, le=8, description="Events per slide; more make more slides")


def _check_https(url: AnyHttpUrl) -> AnyHttpUrl:
    if url.scheme != "https":
        raise ValueError(f"a webpage must be https, got {str(url)!r}")
    return url


class WebpageBlock(_Block):
    type: Literal["webpage"] = Field(description="A web page in a frame; only on hosts in the playlist's webpage_hosts")
    url: Annotated[AnyHttpUrl, AfterValidator(_check_https)] = Field(
        description="An https URL whose host is listed in the playlist's webpage_hosts"
    )


def _block_type(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("type", "items")
    return getattr(value, "type", "items")


Block = Annotated[
    Union[
        Annotated[ItemsBlock, Tag("items")],
        Annotated[ClockBlock, Tag("clock")],
        Annotated[AnnouncementBlock, Tag("announcement")],
        Annotated[ImageBlock, Tag("image")],
        Annotated[AgendaBlock, Tag("agenda")],
        Annotated[WebpageBlock, Tag("webpage")],
    ],
    Discriminator(_block_type),
]

_HOST = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"


class PlaylistConfig(_Strict):
    name: str = Field(min_length=1, description="Unique among playlists; screens refer to it")
    blocks: list[Block] = Field(min_length=1, description="Slides in order: items blocks and fixed slides")
    max_loop: Duration = Field(timedelta(minutes=5), description="A loop through the slides lasts at most this long")
    max_slides: int = Field(20, ge=1, le=200, description="A loop has at most this many slides")
    webpage_hosts: list[Annotated[str, Field(pattern=_HOST)]] = Field(
        default_factory=list,
        description="Hosts (lower case, e.g. status.example.org) that webpage blocks may show; no others",
    )
