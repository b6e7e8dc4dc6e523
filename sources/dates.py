"""Dates as feeds and APIs write them -> timezone-aware datetimes.

Every datetime in an `Item` is aware. A date without an offset is read as
UTC: that is what RSS, Atom and JSON Feed mean when they omit it, and a
guess at the intranet's zone would shift items by hours twice a year.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def aware(value: datetime | None) -> datetime | None:
    """`value` with a time zone; a naive one is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def parse_date(value: object) -> datetime | None:
    """ISO 8601 / RFC 3339, RFC 2822, or Unix seconds (a number or digits) -> aware datetime; else None.

    Unreadable dates give None rather than an error: the item is still
    worth showing, as an undated one.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_timestamp(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return _from_timestamp(int(text))
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _from_timestamp(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
