"""Config field types shared by every package's options: durations and time zones.

They live in `sources` because it is the one package all others may import.
Each validates at load time and describes itself in the JSON Schema.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DURATION_PATTERN = r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"


def parse_duration(value: Any) -> timedelta:
    """`5m`, `1h30m`, `2d`, `45s` (units w d h m s, largest first) -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 5m or 1h30m, got {value!r}")
    match = _DURATION.fullmatch(value.strip())
    if not value.strip() or match is None:
        raise ValueError(f"invalid duration {value!r}: use units w, d, h, m, s, e.g. 5m or 1h30m")
    seconds = sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS.values()) if n)
    if seconds == 0:
        raise ValueError(f"duration {value!r} is zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_timezone(value: Any) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected an IANA time zone such as Europe/Amsterdam, got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Amsterdam") from None


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["10m", "1h30m"]}),
]

TimeZone = Annotated[
    ZoneInfo,
    BeforeValidator(parse_timezone),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["Europe/Amsterdam"]}),
]
